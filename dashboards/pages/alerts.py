"""``/alerting``: firing and pending alerts (rule state), the Alertmanager's alerts,
and silences — create, edit and expire through the Alertmanager API v2."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from dashboards.client import APIError, SilenceMatcher
from dashboards.components import ago, label_chips, notice
from dashboards.context import AppContext
from dashboards.grafana.units import format_value
from dashboards.silences import MatcherError, build_silence, format_matchers, parse_rfc3339

REFRESH_MS = 15_000


def rule_alerts(ctx: AppContext, states: list[str]) -> Any:
    try:
        alerts = ctx.api.alerts()
    except APIError as e:
        return notice(f"Alert state unavailable: {e.message}", "error")
    alerts = [a for a in alerts if a.get("state") in states]
    if not alerts:
        return html.Div("No alerts in these states.", className="muted")
    order = {"firing": 0, "pending": 1}
    alerts.sort(key=lambda a: (order.get(a.get("state"), 2), a.get("labels", {}).get("alertname", "")))
    now = ctx.clock_ms()
    cards = []
    for a in alerts:
        labels = a.get("labels") or {}
        ann = a.get("annotations") or {}
        cards.append(html.Div(className=f"alert-card alert-{a.get('state', '')}", children=[
            html.Div([html.Span(a.get("state", ""), className=f"state state-{a.get('state')}"),
                      html.Span(labels.get("alertname", ""), className="alert-name"),
                      html.Span(f"active since {ago(a.get('activeAt'), now)}", className="muted"),
                      html.Span(f"value {_value(a.get('value'))}", className="muted")],
                     className="alert-head"),
            label_chips(labels, skip=("alertname",)),
            html.Dl([x for k, v in sorted(ann.items()) for x in (html.Dt(k), html.Dd(v))],
                    className="annotations") if ann else None,
        ]))
    return cards


def _value(v: object) -> str:
    try:
        return format_value(float(v))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v or "")


def am_alerts(ctx: AppContext) -> tuple[Any, list[dict[str, str]]]:
    try:
        alerts = ctx.alertmanager.alerts()
    except APIError as e:
        return notice(f"Alertmanager unavailable: {e.message}", "error"), []
    if not alerts:
        return html.Div("The Alertmanager has no alerts.", className="muted"), []
    now = ctx.clock_ms()
    rows = []
    label_sets = []
    for i, a in enumerate(alerts):
        labels = a.get("labels") or {}
        label_sets.append(labels)
        st = (a.get("status") or {})
        state = st.get("state", "")
        silenced = st.get("silencedBy") or []
        rows.append(html.Div([
            html.Div([html.Span(state, className=f"state state-{state}"),
                      html.Span(labels.get("alertname", ""), className="alert-name"),
                      html.Span(f"since {ago(a.get('startsAt'), now)}", className="muted"),
                      html.Span(f"silenced by {', '.join(silenced)}", className="muted") if silenced else None,
                      html.Button("Silence", id={"type": "al-silence", "index": i}, n_clicks=0,
                                  className="btn small")], className="alert-head"),
            label_chips(labels, skip=("alertname",)),
            html.Dl([x for k, v in sorted((a.get("annotations") or {}).items())
                     for x in (html.Dt(k), html.Dd(v))], className="annotations"),
        ], className="alert-card"))
    return rows, label_sets


def silences_list(ctx: AppContext) -> Any:
    try:
        silences = ctx.alertmanager.silences()
    except APIError as e:
        return notice(f"Silences unavailable: {e.message}", "error")
    silences = [s for s in silences if s.state != "expired"] + \
        [s for s in silences if s.state == "expired"][:20]
    if not silences:
        return html.Div("No silences.", className="muted")
    rows = []
    for s in silences:
        active = s.state in ("active", "pending")
        rows.append(html.Tr([
            html.Td(html.Span(s.state, className=f"state state-{s.state}")),
            html.Td(html.Code(format_matchers(s.matchers)), className="silence-matchers"),
            html.Td(s.ends_at[:19].replace("T", " ") + " UTC"),
            html.Td(s.created_by),
            html.Td(s.comment),
            html.Td([html.Button("Edit", id={"type": "al-edit", "id": s.id}, n_clicks=0,
                                 className="btn small"),
                     html.Button("Expire", id={"type": "al-expire", "id": s.id}, n_clicks=0,
                                 className="btn small danger") if active else None]),
        ], **{"data-silence-id": s.id}))
    head = html.Tr([html.Th(x) for x in ("State", "Matchers", "Ends", "Created by", "Comment", "")])
    return html.Table([html.Thead(head), html.Tbody(rows)], className="data-table silences")


def layout(ctx: AppContext) -> Any:
    return html.Div([
        dcc.Interval(id="al-tick", interval=REFRESH_MS, n_intervals=0),
        dcc.Store(id="al-am-data"),
        dcc.Store(id="al-edit-id", data=""),
        html.Div([html.H1("Alerts"),
                  dcc.Checklist(id="al-states", options=[{"label": " Firing", "value": "firing"},
                                                         {"label": " Pending", "value": "pending"}],
                                value=["firing", "pending"], inline=True)], className="page-head"),
        html.H2("Alert rules", className="section-title"),
        html.Div(rule_alerts(ctx, ["firing", "pending"]), id="al-rule-alerts"),
        html.H2("Alertmanager", className="section-title"),
        html.Div(id="al-am-alerts"),
        html.H2("Silences", className="section-title"),
        html.Div(id="al-silences"),
        html.Div([
            html.H3("New silence", id="al-form-title"),
            html.Label("Matchers"),
            dcc.Textarea(id="al-matchers", placeholder='alertname="HighLatency", severity=~"warning|critical"',
                         className="matchers"),
            html.Div([html.Div([html.Label("Duration"), dcc.Input(id="al-duration", value="2h")]),
                      html.Div([html.Label("Created by"), dcc.Input(id="al-created-by", value="")])],
                     className="form-row"),
            html.Label("Comment"),
            dcc.Textarea(id="al-comment", className="comment"),
            html.Div([html.Button("Save silence", id="al-save", n_clicks=0, className="btn primary"),
                      html.Button("New", id="al-new", n_clicks=0, className="btn")], className="form-row"),
            html.Div(id="al-form-msg"),
        ], className="silence-form"),
    ], className="page-pad alerts")


def save_silence(ctx: AppContext, matchers: str, duration: str, created_by: str, comment: str,
                 silence_id: str) -> tuple[bool, str]:
    try:
        s = build_silence(matchers or "", duration or "", created_by or "", comment or "",
                          datetime.fromtimestamp(ctx.clock_ms() / 1000, tz=UTC), silence_id)
        new_id = ctx.alertmanager.create_silence(s)
    except MatcherError as e:
        return False, str(e)
    except APIError as e:
        return False, f"Alertmanager refused the silence: {e.message}"
    return True, f"Silence {new_id} saved."


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(Output("al-rule-alerts", "children"), Output("al-am-alerts", "children"),
                  Output("al-silences", "children"), Output("al-am-data", "data"),
                  Input("al-tick", "n_intervals"), Input("al-states", "value"),
                  Input("al-form-msg", "children"))
    def _refresh(_n, states, _msg):
        am, label_sets = am_alerts(ctx)
        return rule_alerts(ctx, states or []), am, silences_list(ctx), label_sets

    @app.callback(Output("al-matchers", "value"), Output("al-comment", "value"),
                  Output("al-edit-id", "data"), Output("al-form-title", "children"),
                  Output("al-duration", "value"), Output("al-created-by", "value"),
                  Input({"type": "al-silence", "index": ALL}, "n_clicks"),
                  Input({"type": "al-edit", "id": ALL}, "n_clicks"),
                  Input("al-new", "n_clicks"),
                  State("al-am-data", "data"), prevent_initial_call=True)
    def _fill(_a, _e, _new, label_sets):
        trig = dash_ctx.triggered_id
        if trig is None or not any(t.get("value") for t in dash_ctx.triggered):
            raise PreventUpdate
        if trig == "al-new":
            return "", "", "", "New silence", "2h", no_update
        if trig["type"] == "al-silence":
            labels = (label_sets or [])[trig["index"]]
            ms = tuple(SilenceMatcher(k, v) for k, v in sorted(labels.items()))
            return format_matchers(ms), "", "", "New silence", "2h", no_update
        try:
            s = ctx.alertmanager.silence(trig["id"])
        except APIError as e:
            return no_update, no_update, "", f"Cannot load silence: {e.message}", no_update, no_update
        try:
            left = max(int(parse_rfc3339(s.ends_at).timestamp() - ctx.clock_ms() / 1000), 60)
            duration = f"{left // 60}m"
        except ValueError:
            duration = "2h"
        return format_matchers(s.matchers), s.comment, s.id, f"Edit silence {s.id}", duration, s.created_by

    @app.callback(Output("al-form-msg", "children"),
                  Input("al-save", "n_clicks"), Input({"type": "al-expire", "id": ALL}, "n_clicks"),
                  State("al-matchers", "value"), State("al-duration", "value"),
                  State("al-created-by", "value"), State("al-comment", "value"),
                  State("al-edit-id", "data"), prevent_initial_call=True)
    def _act(_save, _exp, matchers, duration, created_by, comment, edit_id):
        trig = dash_ctx.triggered_id
        if trig is None or not any(t.get("value") for t in dash_ctx.triggered):
            raise PreventUpdate
        if trig == "al-save":
            ok, msg = save_silence(ctx, matchers, duration, created_by, comment, edit_id or "")
            return notice(msg, "ok" if ok else "error")
        try:
            ctx.alertmanager.expire_silence(trig["id"])
        except APIError as e:
            return notice(f"Could not expire {trig['id']}: {e.message}", "error")
        return notice(f"Silence {trig['id']} expired.", "ok")
