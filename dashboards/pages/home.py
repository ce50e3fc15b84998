"""``/``: the overview — host or cluster at a glance, ingestion health, firing alerts,
and the way into the dashboards."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html

from dashboards.client import APIError
from dashboards.components import label_chips, notice
from dashboards.context import AppContext
from dashboards.grafana.units import format_value

# (title, unit, candidate queries: the first one with data is shown)
OVERVIEW: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Samples ingested", "short", (
        'sum(rate({__name__=~"spyglass_.*_samples.*_total"}[5m]))',
        "sum(rate(prometheus_tsdb_head_samples_appended_total[5m]))")),
    ("Series in memory", "short", (
        'sum({__name__=~"spyglass_.*_head_series"})', "sum(prometheus_tsdb_head_series)")),
    ("Targets up", "short", ("sum(up)",)),
    ("Targets down", "short", ("count(up == 0) or vector(0)",)),
    ("CPU busy", "percentunit", (
        '1 - avg(rate(node_cpu_seconds_total{mode="idle"}[5m]))',)),
    ("Memory used", "percentunit", (
        "1 - sum(node_memory_MemAvailable_bytes) / sum(node_memory_MemTotal_bytes)",)),
    ("Root disk used", "percentunit", (
        ('1 - sum(node_filesystem_avail_bytes{mountpoint="/",fstype!="rootfs"}) / '
         'sum(node_filesystem_size_bytes{mountpoint="/",fstype!="rootfs"})'),)),
    ("Kubernetes nodes", "short", ("count(kube_node_info)",)),
    ("Pods running", "short", ('sum(kube_pod_status_phase{phase="Running"})',)),
)


def _first_value(ctx: AppContext, exprs: tuple[str, ...]) -> float | None:
    for e in exprs:
        try:
            r = ctx.api.query(e)
        except APIError:
            continue
        if r.series and len(r.series[0].values):
            return float(r.series[0].values[-1])
    return None


def overview_cards(ctx: AppContext) -> list[Any]:
    values = list(ctx.executor.map(lambda item: _first_value(ctx, item[2]), OVERVIEW))
    cards = []
    for (title, unit, _), v in zip(OVERVIEW, values):
        if v is None:
            continue
        cards.append(html.Div([html.Div(format_value(v, unit), className="big-number"),
                               html.Div(title, className="muted")], className="stat-card"))
    if not cards:
        return [notice("No data yet: nothing is being ingested or the API is unreachable.", "warn")]
    return cards


def firing(ctx: AppContext) -> Any:
    try:
        alerts = [a for a in ctx.api.alerts() if a.get("state") == "firing"]
    except APIError as e:
        return notice(f"Alert state unavailable: {e.message}", "error")
    if not alerts:
        return html.Div("No alerts are firing.", className="muted ok-text")
    return [html.Div([html.Div([html.Span("firing", className="state state-firing"),
                                html.Span((a.get("labels") or {}).get("alertname", ""),
                                          className="alert-name")], className="alert-head"),
                      label_chips(a.get("labels") or {}, skip=("alertname",))], className="alert-card")
            for a in alerts[:10]]


def layout(ctx: AppContext) -> Any:
    builtin = [d for d in ctx.store.search() if d.source == "builtin"]
    others = [d for d in ctx.store.search() if d.source != "builtin"][:12]
    return html.Div([
        dcc.Interval(id="home-tick", interval=30_000),
        html.H1("Overview"),
        html.Div(overview_cards(ctx), id="home-cards", className="stat-cards"),
        html.Div([
            html.Div([html.H2("Firing alerts", className="section-title"),
                      html.Div(firing(ctx), id="home-alerts"),
                      dcc.Link("All alerts →", href=ctx.href("/alerting"))], className="card"),
            html.Div([html.H2("Dashboards", className="section-title"),
                      html.Ul([html.Li(dcc.Link(d.model.title, href=ctx.href(d.url)))
                               for d in builtin + others]),
                      dcc.Link("All dashboards →", href=ctx.href("/dashboards"))], className="card"),
        ], className="cards two"),
    ], className="page-pad home")


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(Output("home-cards", "children"), Output("home-alerts", "children"),
                  Input("home-tick", "n_intervals"), prevent_initial_call=True)
    def _tick(_n):
        return overview_cards(ctx), firing(ctx)
