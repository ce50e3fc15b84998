"""The UI role: the Grafana dashboard API at once, the Dash UI right after the server
is ready (it imports Dash and plotly, which takes longer than everything else)."""

from __future__ import annotations

import logging
import os
import time

from spyglass.config import parse_listen_address

log = logging.getLogger("spyglass")


class UIRole:
    """Mixed into ``spyglass.server.Stack``; uses its config, app, registry and data dir."""

    def _mount_dashboards(self) -> None:
        """The Grafana dashboard API now; the Dash UI right after the server is ready
        (it imports Dash and plotly, which takes longer than everything else)."""
        from dashboards.api import grafana_router
        from dashboards.asgi import LazyUI, graph_redirect
        from dashboards.store import open_store
        from dashboards.telemetry import DashboardsTelemetry

        c = self.config
        dashboards_dir = self.options.dashboards or c.dashboards
        if dashboards_dir and not self.options.dashboards and not os.path.isabs(dashboards_dir):
            dashboards_dir = os.path.join(self.config_dir, dashboards_dir)
        self.dashboard_store = open_store(os.path.join(self.data_dir, "dashboards"),
                                          DashboardsTelemetry.for_registry(self.registry),
                                          dashboards_dir=dashboards_dir)
        self.app.include_router(grafana_router(self.dashboard_store))
        self.app.add_api_route("/graph", graph_redirect, methods=["GET"], include_in_schema=False)
        self.ui = LazyUI()
        self.app.mount("/", self.ui)

    def _build_ui(self) -> None:
        import httpx
        from a2wsgi import WSGIMiddleware

        from dashboards.app import create_dash_app

        t0 = time.monotonic()
        addr = parse_listen_address(self.options.http or self.config.server.http, 9700)
        host = "127.0.0.1" if addr[0] in ("0.0.0.0", "::", "") else addr[0]
        scheme = "https" if self.config.server.tls else "http"
        token = self._internal_token

        class _Internal(httpx.HTTPTransport):
            # the UI reads the APIs of this very process over loopback, with its own token
            def handle_request(self, request):
                request.headers["Authorization"] = f"Bearer {token}"
                return super().handle_request(request)

        dash_app = create_dash_app(
            f"{scheme}://{host}:{addr[1]}", os.path.join(self.data_dir, "dashboards"),
            store=self.dashboard_store,
            transport=_Internal(verify=False),
            registry=self.registry,
            scrape_interval_ms=int(self._collection_interval_s() * 1000),
        )
        self.ui.set_app(WSGIMiddleware(dash_app.server, workers=8))
        log.info("UI ready", extra={"seconds": round(time.monotonic() - t0, 3)})

    def _collection_interval_s(self) -> float:
        """What the UI takes as the data's resolution (Grafana's data source "scrape
        interval": the floor of a panel's step, the base of ``$__rate_interval``): the
        shortest interval this process collects at. With Prometheus's default
        ``global.scrape_interval`` of 1m but host metrics every 15 s, a 1m floor would
        draw this machine's graphs with a quarter of their points."""
        c = self.config
        intervals = [c.global_.scrape_interval]
        intervals += [sc.scrape_interval for sc in c.scrape_configs if sc.scrape_interval]
        if self.options.host_metrics and c.host_metrics.enabled:
            intervals.append(c.host_metrics.interval)
        return min(intervals)

    def _build_ui_logged(self) -> None:
        try:
            self._build_ui()
        except Exception:
            log.exception("the UI failed to start; the APIs keep serving")
