"""``/targets``: scrape targets by pool with health, last scrape, duration and error."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html

from dashboards.client import APIError
from dashboards.components import ago, label_chips, notice
from dashboards.context import AppContext


def targets_view(ctx: AppContext, only_unhealthy: bool = False) -> Any:
    try:
        data = ctx.api.targets()
    except APIError as e:
        return notice(f"Targets unavailable: {e.message}", "error")
    active = data.get("activeTargets") or []
    pools: dict[str, list[dict]] = {}
    for t in active:
        if only_unhealthy and t.get("health") == "up":
            continue
        pools.setdefault(t.get("scrapePool", ""), []).append(t)
    if not pools:
        return html.Div("No targets." if not only_unhealthy else "Every target is up.", className="muted")
    now = ctx.clock_ms()
    out = []
    for pool, items in sorted(pools.items()):
        up = sum(1 for t in items if t.get("health") == "up")
        rows = [html.Tr([
            html.Td(html.A(t.get("scrapeUrl", ""), href=t.get("scrapeUrl", ""), target="_blank")
                    if str(t.get("scrapeUrl", "")).startswith(("http://", "https://"))
                    else t.get("scrapeUrl", "")),
            html.Td(html.Span(t.get("health", ""), className=f"health health-{t.get('health')}")),
            html.Td(label_chips(t.get("labels") or {})),
            html.Td(ago(t.get("lastScrape"), now)),
            html.Td(f"{float(t.get('lastScrapeDuration') or 0) * 1000:.1f} ms"),
            html.Td(t.get("lastError", ""), className="err"),
        ]) for t in items]
        head = html.Tr([html.Th(x) for x in ("Endpoint", "State", "Labels", "Last scrape",
                                              "Duration", "Error")])
        out.append(html.Div([
            html.H2([pool, html.Span(f" ({up}/{len(items)} up)", className="muted")],
                    className="section-title"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="data-table targets"),
        ]))
    dropped = data.get("droppedTargets") or []
    if dropped:
        out.append(html.Div(f"{len(dropped)} targets dropped by relabelling.", className="muted"))
    return out


def layout(ctx: AppContext) -> Any:
    return html.Div([
        html.Div([html.H1("Targets"),
                  dcc.Checklist(id="tg-unhealthy", options=[{"label": " Only unhealthy", "value": "y"}],
                                value=[], inline=True)], className="page-head"),
        html.Div(targets_view(ctx), id="tg-list"),
    ], className="page-pad")


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(Output("tg-list", "children"), Input("tg-unhealthy", "value"),
                  prevent_initial_call=True)
    def _filter(value):
        return targets_view(ctx, "y" in (value or []))
