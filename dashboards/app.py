"""The Dash application: ``create_dash_app(api_base_url, store_dir)``.

It is a Flask WSGI app; Spyglass mounts it under ``/`` of its FastAPI app with
``a2wsgi.WSGIMiddleware`` after the API routes, so the UI and the APIs share one
port. Every page reads data only through the Prometheus HTTP API and the
Alertmanager API v2 at the given base URLs::

    app = create_dash_app("http://127.0.0.1:9700", data_dir / "dashboards")
    fastapi_app.include_router(grafana_router(app.spyglass.store))
    fastapi_app.mount("/", WSGIMiddleware(app.server))
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dash
import httpx
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate
from prometheus_client import CollectorRegistry

from dashboards.client import AlertmanagerClient, PrometheusClient
from dashboards.components import NAV, shell
from dashboards.context import AppContext
from dashboards.grafana.timerange import DEFAULT_SCRAPE_INTERVAL_MS
from dashboards.pages import (
    alerts,
    dashboard,
    dashboards_list,
    explore,
    home,
    rules,
    status,
    targets,
)
from dashboards.querycache import QueryCache
from dashboards.responses import install as install_response_policy
from dashboards.store import DashboardStore, open_store
from dashboards.telemetry import DashboardsTelemetry
from dashboards.urlstate import parse_query
from dashboards.variables import VariableCache

ASSETS_DIR = Path(__file__).parent / "assets"

_ROUTES: list[tuple[re.Pattern[str], Callable[..., Any]]] = []


def route(ctx: AppContext, pathname: str, search: str) -> Any:
    """The page for a browser path (prefix already stripped)."""
    q = parse_query(search)
    path = pathname.rstrip("/") or "/"
    m = re.match(r"^/d/([A-Za-z0-9_-]+)(?:/[^/]*)?$", path)
    if m:
        return dashboard.layout(ctx, m.group(1), q)
    pages: dict[str, Callable[[], Any]] = {
        "/": lambda: home.layout(ctx),
        "/dashboards": lambda: dashboards_list.layout(ctx, q),
        "/dashboard/import": lambda: dashboards_list.layout(ctx, q, show_import=True),
        "/explore": lambda: explore.layout(ctx, q),
        "/alerting": lambda: alerts.layout(ctx),
        "/alerting/list": lambda: alerts.layout(ctx),
        "/alerts": lambda: alerts.layout(ctx),
        "/rules": lambda: rules.layout(ctx),
        "/targets": lambda: targets.layout(ctx),
        "/status": lambda: status.layout(ctx),
    }
    page = pages.get(path)
    if page is None:
        return html.Div([html.H2("Page not found"), html.P(f"Nothing lives at {pathname}.")],
                        className="page-pad")
    return page()


def create_dash_app(api_base_url: str, store_dir: str | Path, *,
                    requests_pathname_prefix: str = "/",
                    alertmanager_url: str | None = None,
                    transport: httpx.BaseTransport | None = None,
                    alertmanager_transport: httpx.BaseTransport | None = None,
                    registry: CollectorRegistry | None = None,
                    scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS,
                    provision_builtin: bool = True,
                    dashboards_dir: str | Path | None = None,
                    query_workers: int = 8,
                    clock_ms: Callable[[], int] | None = None,
                    store: DashboardStore | None = None,
                    query_cache: QueryCache | None = None) -> dash.Dash:
    """Build the UI.

    ``api_base_url``: the Prometheus-compatible API (``/api/v1/...``);
    ``alertmanager_url``: the Alertmanager API v2 (defaults to ``api_base_url``);
    ``store_dir``: where dashboards persist (see STORE.md);
    ``requests_pathname_prefix``: the mount path when not ``/``;
    ``dashboards_dir``: a folder provisioned at start (``--dashboards DIR``);
    ``scrape_interval_ms``: the scrape interval ``$__rate_interval`` assumes;
    ``store``: an already provisioned store to share (then ``store_dir``,
    ``provision_builtin`` and ``dashboards_dir`` are the caller's business);
    ``query_cache``: the panel range-query cache (default: one with
    ``QueryCache``'s defaults on this app's clock).
    The context (store, clients) is on ``app.spyglass`` for the lead's wiring.
    """
    prefix = requests_pathname_prefix if requests_pathname_prefix.endswith("/") \
        else requests_pathname_prefix + "/"
    telemetry = DashboardsTelemetry.for_registry(registry)
    if store is None:
        store = open_store(store_dir, telemetry, provision_builtin=provision_builtin, dashboards_dir=dashboards_dir)
    ctx = AppContext(
        api=PrometheusClient(api_base_url, transport=transport, telemetry=telemetry),
        alertmanager=AlertmanagerClient(alertmanager_url or api_base_url,
                                        transport=alertmanager_transport or transport,
                                        telemetry=telemetry),
        store=store,
        cache=VariableCache(telemetry=telemetry),
        executor=ThreadPoolExecutor(max_workers=query_workers, thread_name_prefix="dash-query"),
        telemetry=telemetry,
        prefix=prefix,
        scrape_interval_ms=scrape_interval_ms,
    )
    if clock_ms is not None:
        ctx.clock_ms = clock_ms
    ctx.query_cache = query_cache or QueryCache(clock_ms=lambda: ctx.clock_ms(), telemetry=telemetry)
    app = dash.Dash(
        __name__,
        requests_pathname_prefix=prefix,
        routes_pathname_prefix=prefix,
        assets_folder=str(ASSETS_DIR),
        suppress_callback_exceptions=True,
        title="Spyglass",
        update_title=None,
        serve_locally=True,
        # responses.install compresses what the UI sends (callback answers fast, files once)
        compress=False,
        # plotly.js comes from assets/vendor (a partial bundle, see its PROVENANCE.md),
        # loaded on every page before Dash's renderer: dashboard panels draw with it
        # directly (assets/panels.js), and dcc.Graph finds window.Plotly and does not
        # fetch Dash's full 4.8 MB bundle.
    )
    app.layout = shell(prefix)
    app.spyglass = ctx  # type: ignore[attr-defined]
    install_response_policy(app.server, prefix)

    @app.callback(Output("page", "children"), Input("url", "pathname"), State("url", "search"))
    def _route(pathname, search):
        if pathname is None:
            raise PreventUpdate
        return route(ctx, ctx.strip(pathname), search or "")

    @app.callback(*[Output(f"nav-{key}", "className") for _, _, key in NAV], Input("url", "pathname"))
    def _nav(pathname):
        path = ctx.strip(pathname or "/")
        out = []
        for p, _, _ in NAV:
            active = path == p if p == "/" else path.startswith(p) or \
                (p == "/dashboards" and path.startswith("/d/"))
            out.append("nav-link active" if active else "nav-link")
        return out

    for page in (dashboard, dashboards_list, explore, alerts, rules, targets, status, home):
        page.register(app, ctx)
    return app
