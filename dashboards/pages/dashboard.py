"""A dashboard at ``/d/<uid>``: variables, time range, rows and panels.

Callbacks (plain functions below, wired in ``register``):
- ``on_controls``: a variable, the time range, the refresh interval or a drag-zoom
  changed → variables re-resolve (chained), the URL and the view state follow.
- ``on_section``: one section (row) renders its panels — its queries all run in
  parallel — when it appears, the state changes, the row is toggled or auto-refresh
  ticks. Collapsed rows query nothing, as in Grafana.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from dash import ALL, MATCH, Input, Output, State, ctx as dash_ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboards.components import notice, refresh_ms, time_picker, zoom_out, zoom_range
from dashboards.context import AppContext
from dashboards.grafana.layout import PlacedPanel, Section, sections
from dashboards.grafana.model import Dashboard
from dashboards.grafana.template import ALL as ALL_VALUE, VarValue, interpolate
from dashboards.grafana.timerange import TimeRange, TimeRangeError
from dashboards.panelquery import PanelRequest, run_panels
from dashboards.htmlrender import panel_host
from dashboards.panels import STATIC, render_panel
from dashboards.panels.common import GAP_PX, ROW_PX, PanelContext
from dashboards.store import StoredDashboard
from dashboards.urlstate import ViewState
from dashboards.variables import ResolvedVariable, resolve_variables, scope_of

P = "dv"
DEFAULT_VIEWPORT = 1600
PAGE_PADDING = 32


def _time(ctx: AppContext, state: ViewState) -> TimeRange:
    return TimeRange.parse(state.raw_from, state.raw_to, now_ms=ctx.clock_ms())


def _resolve(ctx: AppContext, model: Dashboard, state: ViewState, tr: TimeRange,
             ) -> list[ResolvedVariable]:
    return resolve_variables(model, ctx.api, tr, state.variables, ctx.cache)


def _var_values(resolved: Sequence[ResolvedVariable]) -> dict[str, VarValue]:
    return {rv.name: rv.value() for rv in resolved}


def selected_state(state: ViewState, resolved: Sequence[ResolvedVariable]) -> ViewState:
    """The state with each variable's actual selection (so the URL shows it)."""
    variables = {rv.name: rv.selected for rv in resolved
                 if rv.variable.type not in ("constant",) and not rv.variable.skip_url_sync}
    return ViewState(state.raw_from, state.raw_to, state.refresh, variables, state.expand_rows)


# ------------------------------------------------------------------- layout
def _var_control(rv: ResolvedVariable) -> Any:
    v = rv.variable
    if v.hide == 2 or v.type == "constant":
        return None
    label = html.Label(v.display_label, className="var-label") if v.hide != 1 else None
    if v.type == "textbox":
        ctrl: Any = dcc.Input(id={"type": "dv-var", "name": v.name},
                              value=rv.selected[0] if rv.selected else "", debounce=True,
                              className="var-input")
    else:
        ctrl = dcc.Dropdown(id={"type": "dv-var", "name": v.name},
                            options=[{"label": o.text, "value": o.value} for o in rv.options],
                            value=list(rv.selected) if v.multi else (rv.selected[0] if rv.selected else None),
                            multi=v.multi, clearable=False, className="var-dropdown",
                            placeholder="No options" if not rv.options else None)
    err = html.Span("!", className="var-error", title=rv.error) if rv.error else None
    return html.Div([x for x in (label, ctrl, err) if x is not None], className="var",
                    title=v.description or None)


def _grid_item(pp: PlacedPanel, child: Any) -> html.Div:
    g = pp.grid
    return html.Div(child, className="grid-item",
                    style={"gridColumn": f"{g.x + 1} / span {g.w}", "gridRow": f"{g.y + 1} / span {g.h}"})


def _placeholder(pp: PlacedPanel) -> html.Div:
    title = pp.panel.title
    return _grid_item(pp, html.Div([html.Div(html.Span(title, className="panel-title"),
                                             className="panel-header"),
                                    html.Div(className="panel-body loading")], className="panel"))


def _section_component(s: Section, expand: bool, scope: Mapping[str, Any]) -> html.Div:
    collapsed = s.collapsed and not expand
    title = interpolate(s.title, {**scope, **s.scoped}, default_format="glob")
    header = html.Button(
        [html.Span("▾", className="row-chevron"), html.Span(title),
         html.Span(f"({len(s.panels)} panels)", className="row-count") if collapsed else None],
        id={"type": "dv-row", "key": s.key}, n_clicks=0,
        className="row-header" + (" collapsed" if collapsed else ""),
        style=None if s.is_row else {"display": "none"})
    body = [] if collapsed else [_placeholder(pp) for pp in s.panels]
    return html.Div([header,
                     dcc.Store(id={"type": "dv-sec-meta", "key": s.key}, data={"collapsed": collapsed}),
                     html.Div(body, id={"type": "dv-sec", "key": s.key}, className="dash-grid")],
                    className="dash-section")


def grid_children(model: Dashboard, values: Mapping[str, VarValue], expand: bool) -> list[Any]:
    return [_section_component(s, expand, values) for s in sections(model, values)]


def layout(ctx: AppContext, uid: str, query: Mapping[str, list[str]]) -> Any:
    stored = ctx.store.get(uid)
    if stored is None:
        return html.Div([html.H2("Dashboard not found"),
                         notice(f"No dashboard with uid {uid!r}.", "error"),
                         dcc.Link("All dashboards", href=ctx.href("/dashboards"))], className="page-pad")
    model = stored.model
    state = ViewState.from_query(query, model.time_from, model.time_to, model.refresh)
    try:
        tr = _time(ctx, state)
    except TimeRangeError as e:
        tr = TimeRange.parse(model.time_from, model.time_to, now_ms=ctx.clock_ms())
        bad = notice(str(e), "error")
        state = ViewState(model.time_from, model.time_to, state.refresh, state.variables, state.expand_rows)
    else:
        bad = None
    resolved = _resolve(ctx, model, state, tr)
    state = selected_state(state, resolved)
    values = _var_values(resolved)
    links = [html.A(l.title, href=l.url if l.url.startswith(("http://", "https://", "/")) else "#",
                    target="_blank" if l.target_blank else None, className="dash-link")
             for l in model.links if l.type == "link" and l.url]
    header = html.Div([
        html.Div([html.H1(model.title, className="dash-title"),
                  html.Div([html.Span(t, className="tag") for t in model.tags], className="tags")],
                 className="dash-heading"),
        html.Div([
            time_picker(P, state.raw_from, state.raw_to, state.refresh),
            html.Button("Expand rows" if not state.expand_rows else "Collapse rows",
                        id="dv-expand", n_clicks=0, className="btn"),
            html.Button("Export", id="dv-export", n_clicks=0, className="btn"),
            dcc.Download(id="dv-download"),
        ], className="dash-controls"),
    ], className="dash-header")
    var_bar = html.Div([c for c in (_var_control(rv) for rv in resolved) if c is not None] + links,
                       className="var-bar")
    return html.Div([
        dcc.Location(id="dv-url", refresh=False),
        dcc.Store(id="dv-state", data={"uid": uid, **state.to_json()}),
        # drag-zoom on a graph lands here (assets/zoom.js)
        dcc.Input(id="dv-zoom", type="text", value="", debounce=False, style={"display": "none"}),
        dcc.Interval(id="dv-interval", interval=refresh_ms(state.refresh),
                     disabled=not state.refresh, n_intervals=0),
        header, bad, var_bar,
        html.Div(grid_children(model, values, state.expand_rows), id="dv-grid", className="dash-body"),
    ], className="dashboard-view")


# ------------------------------------------------------------------ callbacks
def on_controls(ctx: AppContext, trigger: str, stored: StoredDashboard, state: ViewState,
                range_value: str | None, from_value: str, to_value: str, refresh: str,
                var_values: Mapping[str, Any], relayouts: Sequence[Any]) -> tuple[ViewState, list[ResolvedVariable], bool]:
    """The new state after a control changed; the bool says whether the grid must be
    rebuilt (variables changed: repeats and queries depend on them)."""
    model = stored.model
    raw_from, raw_to = state.raw_from, state.raw_to
    if trigger == "dv-range" and range_value:
        raw_from, raw_to = range_value, "now"
    elif trigger in ("dv-apply", "dv-from", "dv-to"):
        raw_from, raw_to = (from_value or "").strip() or raw_from, (to_value or "").strip() or raw_to
    elif trigger == "dv-zoomout":
        raw_from, raw_to = zoom_out(_time(ctx, state), ctx.clock_ms())
    elif trigger == "dv-graph":
        for r in relayouts:
            z = zoom_range(r)
            if z:
                raw_from, raw_to = z
                break
        else:
            raise PreventUpdate
    variables = dict(state.variables)
    rebuild = trigger == "dv-var"
    if rebuild:
        for name, value in var_values.items():
            if value is None:
                continue
            variables[name] = tuple(value) if isinstance(value, list) else (str(value),)
            # "All" and other values exclude each other, as in Grafana's picker
            vals = variables[name]
            if len(vals) > 1 and ALL_VALUE in vals:
                variables[name] = (ALL_VALUE,) if vals[-1] == ALL_VALUE else \
                    tuple(v for v in vals if v != ALL_VALUE)
    new = ViewState(raw_from, raw_to, refresh if refresh is not None else state.refresh,
                    variables, state.expand_rows)
    tr = _time(ctx, new)  # raises TimeRangeError for a bad input
    resolved = _resolve(ctx, model, new, tr)
    before = {k: v for k, v in state.variables.items()}
    new = selected_state(new, resolved)
    if dict(new.variables) != before:
        rebuild = True
    if trigger == "dv-var":
        rebuild = True
    return new, resolved, rebuild


def render_section(ctx: AppContext, stored: StoredDashboard, state: ViewState, key: str,
                   collapsed: bool, viewport_px: int | None) -> list[Any]:
    """The panels of section ``key`` with data (all queries in parallel)."""
    if collapsed:
        return []
    model = stored.model
    tr = _time(ctx, state)
    resolved = _resolve(ctx, model, state, tr)
    values = _var_values(resolved)
    section = next((s for s in sections(model, values) if s.key == key), None)
    if section is None:
        return []
    scope = scope_of(resolved, tr)
    width = max((viewport_px or DEFAULT_VIEWPORT) - PAGE_PADDING, 320)
    requests = []
    contexts = {}
    for pp in section.panels:
        pscope = {**scope, **section.scoped, **pp.scoped}
        w_px = int(width * pp.grid.w / 24)
        h_px = pp.grid.h * ROW_PX + (pp.grid.h - 1) * GAP_PX
        contexts[pp.key] = (pp, PanelContext(pp.key, pp.panel, tr, w_px, h_px, pscope, ctx.prefix))
        if pp.panel.type not in STATIC and pp.panel.targets:
            requests.append(PanelRequest(pp.key, pp.panel, pscope, w_px))
    data = run_panels(ctx.api, requests, tr, scrape_interval_ms=ctx.scrape_interval_ms,
                      executor=ctx.executor, dashboard_title=model.title)
    out = []
    for key_, (pp, pctx) in contexts.items():
        d = data.get(key_)
        if d is not None:
            ctx.telemetry.panel_render.labels(pp.panel.type).observe(d.elapsed_s)
            if d.error:
                ctx.telemetry.panel_errors.labels(pp.panel.type).inc()
        elif pp.panel.type not in STATIC:
            from dashboards.panelquery import PanelData
            d = PanelData((), (), 0)
        out.append(_grid_item(pp, panel_host(render_panel(pctx, d))))
    return out


def export_json(stored: StoredDashboard) -> dict[str, Any]:
    return {"content": json.dumps(dict(stored.json), indent=2),
            "filename": f"{stored.slug}-{stored.uid}.json", "type": "application/json"}


def register(app: Any, ctx: AppContext) -> None:
    @app.callback(
        Output("dv-state", "data"),
        Output("dv-url", "search"),
        Output("dv-grid", "children"),
        Output({"type": "dv-var", "name": ALL}, "options"),
        Output({"type": "dv-var", "name": ALL}, "value"),
        Output("dv-from", "value"),
        Output("dv-to", "value"),
        Output("dv-range", "value"),
        Output("dv-interval", "interval"),
        Output("dv-interval", "disabled"),
        Output("dv-expand", "children"),
        Input("dv-range", "value"),
        Input("dv-apply", "n_clicks"),
        Input("dv-from", "n_submit"),
        Input("dv-to", "n_submit"),
        Input("dv-zoomout", "n_clicks"),
        Input("dv-refresh", "value"),
        Input({"type": "dv-var", "name": ALL}, "value"),
        Input("dv-zoom", "value"),
        Input("dv-expand", "n_clicks"),
        State("dv-from", "value"),
        State("dv-to", "value"),
        State("dv-state", "data"),
        prevent_initial_call=True,
    )
    def _controls(range_value, _apply, _fs, _ts, _zo, refresh, var_vals, zoom, _exp,
                  from_value, to_value, state_json):
        trig = dash_ctx.triggered_id
        if trig is None:
            raise PreventUpdate
        trigger = trig if isinstance(trig, str) else trig.get("type", "")
        trigger = {"dv-from": "dv-apply", "dv-to": "dv-apply", "dv-zoom": "dv-graph"}.get(trigger, trigger)
        stored = ctx.store.get(state_json["uid"])
        if stored is None:
            raise PreventUpdate
        state = ViewState.from_json(state_json)
        relayouts = []
        if trigger == "dv-graph":
            try:
                a, b, _ = json.loads(zoom)
            except (TypeError, ValueError):
                raise PreventUpdate from None
            relayouts = [{"xaxis.range[0]": a, "xaxis.range[1]": b}]
            if not zoom_range(relayouts[0]):
                raise PreventUpdate
        names = [i["id"]["name"] for i in dash_ctx.inputs_list[6]]
        var_map = dict(zip(names, var_vals or []))
        if trigger == "dv-expand":
            state = ViewState(state.raw_from, state.raw_to, state.refresh, state.variables,
                              not state.expand_rows)
        try:
            new, resolved, rebuild = on_controls(ctx, trigger, stored, state, range_value, from_value,
                                                 to_value, refresh, var_map, relayouts)
        except TimeRangeError:
            return (no_update,) * 5 + (state.raw_from, state.raw_to) + (no_update,) * 4
        if trigger == "dv-expand":
            rebuild = True
        by_name = {rv.name: rv for rv in resolved}
        options = [[{"label": o.text, "value": o.value} for o in by_name[n].options]
                   if n in by_name else no_update for n in names]
        values = []
        for n in names:
            rv = by_name.get(n)
            if rv is None:
                values.append(no_update)
            elif rv.variable.type == "textbox":
                values.append(rv.selected[0] if rv.selected else "")
            else:
                values.append(list(rv.selected) if rv.variable.multi else
                              (rv.selected[0] if rv.selected else None))
        grid = grid_children(stored.model, _var_values(resolved), new.expand_rows) if rebuild else no_update
        rel = new.raw_from if new.raw_to == "now" else None
        return ({"uid": stored.uid, **new.to_json()}, new.to_search(), grid, options, values,
                new.raw_from, new.raw_to, rel, refresh_ms(new.refresh), not new.refresh,
                "Collapse rows" if new.expand_rows else "Expand rows")

    @app.callback(
        Output({"type": "dv-sec", "key": MATCH}, "children"),
        Output({"type": "dv-row", "key": MATCH}, "className"),
        Input({"type": "dv-row", "key": MATCH}, "n_clicks"),
        Input("dv-state", "data"),
        Input("dv-interval", "n_intervals"),
        Input("dv-refresh-now", "n_clicks"),
        State({"type": "dv-sec-meta", "key": MATCH}, "data"),
        State({"type": "dv-row", "key": MATCH}, "id"),
        State("viewport", "data"),
    )
    def _section(clicks, state_json, _n, _r, meta, row_id, viewport):
        stored = ctx.store.get(state_json["uid"]) if state_json else None
        if stored is None:
            raise PreventUpdate
        collapsed = bool(meta.get("collapsed")) ^ bool((clicks or 0) % 2)
        try:
            children = render_section(ctx, stored, ViewState.from_json(state_json), row_id["key"],
                                      collapsed, (viewport or {}).get("width"))
        except TimeRangeError as e:
            children = [notice(str(e), "error")]
        return children, "row-header" + (" collapsed" if collapsed else "")

    @app.callback(Output("dv-download", "data"), Input("dv-export", "n_clicks"),
                  State("dv-state", "data"), prevent_initial_call=True)
    def _export(_n, state_json):
        stored = ctx.store.get(state_json["uid"])
        if stored is None:
            raise PreventUpdate
        return export_json(stored)
