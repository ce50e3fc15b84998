"""``/rules``: rule groups with each rule's query, state, health and last error."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html

from dashboards.client import APIError
from dashboards.components import ago, label_chips, notice
from dashboards.context import AppContext


def groups_view(ctx: AppContext, kind: str = "all") -> Any:
    try:
        groups = ctx.api.rules()
    except APIError as e:
        return notice(f"Rules unavailable: {e.message}", "error")
    if not groups:
        return html.Div("No rule groups are loaded.", className="muted")
    now = ctx.clock_ms()
    out = []
    for g in groups:
        rules = [r for r in g.get("rules") or [] if kind == "all" or r.get("type") == kind]
        if not rules:
            continue
        rows = []
        for r in rules:
            health = r.get("health", "unknown")
            rows.append(html.Tr([
                html.Td([html.Div(r.get("name", ""), className="rule-name"),
                         label_chips(r.get("labels") or {})]),
                html.Td(html.Code(r.get("query", ""), className="promql-inline")),
                html.Td(html.Span(r.get("state", "") or r.get("type", ""),
                                  className=f"state state-{r.get('state', '')}")),
                html.Td(html.Span(health, className=f"health health-{health}")),
                html.Td(ago(r.get("lastEvaluation"), now)),
                html.Td(f"{float(r.get('evaluationTime') or 0) * 1000:.1f} ms"),
                html.Td(r.get("lastError", ""), className="err"),
            ]))
        head = html.Tr([html.Th(x) for x in ("Rule", "Query", "State", "Health", "Last evaluation",
                                              "Took", "Error")])
        out.append(html.Div([
            html.H2([g.get("name", ""), html.Span(f" {g.get('file', '')}", className="muted"),
                     html.Span(f" every {g.get('interval', '')}s", className="muted")],
                    className="section-title"),
            html.Table([html.Thead(head), html.Tbody(rows)], className="data-table rules"),
        ], className="rule-group"))
    return out or html.Div("No rules of this kind.", className="muted")


def layout(ctx: AppContext) -> Any:
    return html.Div([
        html.Div([html.H1("Rules"),
                  dcc.RadioItems(id="ru-kind", options=[{"label": " All", "value": "all"},
                                                        {"label": " Alerting", "value": "alerting"},
                                                        {"label": " Recording", "value": "recording"}],
                                 value="all", inline=True)], className="page-head"),
        html.Div(groups_view(ctx), id="ru-groups"),
    ], className="page-pad")


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(Output("ru-groups", "children"), Input("ru-kind", "value"), prevent_initial_call=True)
    def _kind(kind):
        return groups_view(ctx, kind or "all")
