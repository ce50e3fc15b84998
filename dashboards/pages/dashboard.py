"""A dashboard at ``/d/<uid>``: variables, time range, rows and panels.

The page arrives with its first screen: the route callback renders the open
sections that start within the window's height (``first_screen``) with their
data (``render_sections``: all their queries in one parallel batch, identical ones
once), and the sections callback brings all the others in one more request. Their
queries start in the background with the first screen's (``prefetch``), so the
browser draws the first screen while the server works on the rest.

Callbacks (plain functions below, wired in ``register``):
- ``on_controls``: a variable, the time range, the refresh interval or a drag-zoom
  changed → variables re-resolve (chained), the URL and the view state follow; when
  the grid must be rebuilt (variables, expand rows) it comes back with its data.
- sections: one callback for all rows re-renders what changed in one request —
  the rows still loading when a grid appears, the toggled row, or every open row
  when the view state changes or auto-refresh ticks. Collapsed rows query nothing,
  as in Grafana. Each section's meta store records the view state it was rendered
  for (none while loading), so what arrived with its data is not queried twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from dashboards.components import notice, refresh_ms, time_picker, zoom_out, zoom_range
from dashboards.context import AppContext
from dashboards.grafana.layout import PlacedPanel, Section, sections
from dashboards.grafana.model import Dashboard
from dashboards.grafana.template import ALL as ALL_VALUE
from dashboards.grafana.template import VarValue, interpolate
from dashboards.grafana.timerange import TimeRange, TimeRangeError
from dashboards.htmlrender import NotRenderable, to_html
from dashboards.panelquery import PanelData, PanelRequest, run_panels
from dashboards.panels import STATIC, render_panel
from dashboards.panels.common import GAP_PX, ROW_PX, PanelContext
from dashboards.store import StoredDashboard
from dashboards.urlstate import ViewState
from dashboards.variables import ResolvedVariable, resolve_variables, scope_of
from dashboards.viewport import DEFAULT_WIDTH as DEFAULT_VIEWPORT
from dashboards.viewport import Viewport, current_viewport

P = "dv"
PAGE_PADDING = 32


def _time(ctx: AppContext, state: ViewState, now_ms: int | None = None) -> TimeRange:
    return TimeRange.parse(state.raw_from, state.raw_to,
                           now_ms=ctx.clock_ms() if now_ms is None else now_ms)


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


def state_stamp(state_json: Mapping[str, Any]) -> str:
    """A short fingerprint of a view state (what a section was rendered for)."""
    return hashlib.sha1(json.dumps(state_json, sort_keys=True).encode()).hexdigest()[:16]


def _section_component(s: Section, expand: bool, scope: Mapping[str, Any],
                       rendered: Mapping[str, list[Any]] | None, stamp: str | None) -> html.Div:
    collapsed = s.collapsed and not expand
    title = interpolate(s.title, {**scope, **s.scoped}, default_format="glob")
    header = html.Button(
        [html.Span("▾", className="row-chevron"), html.Span(title),
         html.Span(f"({len(s.panels)} panels)", className="row-count") if collapsed else None],
        id={"type": "dv-row", "key": s.key}, n_clicks=0,
        className="row-header" + (" collapsed" if collapsed else ""),
        style=None if s.is_row else {"display": "none"})
    if collapsed:
        body: list[Any] = []
    elif rendered is not None and s.key in rendered:
        body = rendered[s.key]
    else:
        body, stamp = [_placeholder(pp) for pp in s.panels], None
    return html.Div([header,
                     dcc.Store(id={"type": "dv-sec-meta", "key": s.key},
                               data={"collapsed": collapsed, "state": stamp}),
                     html.Div(body, id={"type": "dv-sec", "key": s.key}, className="dash-grid")],
                    className="dash-section")


def grid_children(model: Dashboard, values: Mapping[str, VarValue], expand: bool,
                  rendered: Mapping[str, list[Any]] | None = None,
                  stamp: str | None = None) -> list[Any]:
    """The sections; open ones hold ``rendered[key]`` when given (rendered for the
    view state ``stamp``), loading placeholders otherwise."""
    return [_section_component(s, expand, values, rendered, stamp) for s in sections(model, values)]


# Sections rendered with the page: those starting within this many screen heights.
FIRST_SCREENS = 1.0
_ROW_HEADER_PX = 40


def open_section_keys(model: Dashboard, values: Mapping[str, VarValue], expand: bool) -> list[str]:
    return [s.key for s in sections(model, values) if not (s.collapsed and not expand)]


def first_screen(model: Dashboard, values: Mapping[str, VarValue], expand: bool,
                 viewport: Viewport) -> list[str]:
    """The open sections that start within ``FIRST_SCREENS`` of the top of the page
    (at least one): what the page should bring along instead of loading after."""
    budget = viewport.height * FIRST_SCREENS
    top = 0.0
    out = []
    for s in sections(model, values):
        collapsed = s.collapsed and not expand
        if top > budget and out:
            break
        if not collapsed:
            out.append(s.key)
            rows = max((pp.grid.y + pp.grid.h for pp in s.panels), default=0)
            top += rows * (ROW_PX + GAP_PX)
        top += _ROW_HEADER_PX if s.is_row else 0
    return out


def layout(ctx: AppContext, uid: str, query: Mapping[str, list[str]]) -> Any:
    stored = ctx.store.get(uid)
    if stored is None:
        return html.Div([html.H2("Dashboard not found"),
                         notice(f"No dashboard with uid {uid!r}.", "error"),
                         dcc.Link("All dashboards", href=ctx.href("/dashboards"))], className="page-pad")
    model = stored.model
    state = ViewState.from_query(query, model.time_from, model.time_to, model.refresh)
    now = ctx.clock_ms()
    try:
        tr = _time(ctx, state, now)
    except TimeRangeError as e:
        tr = TimeRange.parse(model.time_from, model.time_to, now_ms=now)
        bad = notice(str(e), "error")
        state = ViewState(model.time_from, model.time_to, state.refresh, state.variables, state.expand_rows)
    else:
        bad = None
    resolved = _resolve(ctx, model, state, tr)
    state = selected_state(state, resolved)
    values = _var_values(resolved)
    state_json = {"uid": uid, **state.to_json(), "now": now}
    viewport = current_viewport()
    first = first_screen(model, values, state.expand_rows, viewport)
    rendered = render_sections(ctx, stored, state, first, viewport, tr=tr, resolved=resolved,
                               prefetch=open_section_keys(model, values, state.expand_rows))
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
        dcc.Store(id="dv-state", data=state_json),
        # drag-zoom on a graph lands here (assets/zoom.js)
        dcc.Input(id="dv-zoom", type="text", value="", debounce=False, style={"display": "none"}),
        dcc.Interval(id="dv-interval", interval=refresh_ms(state.refresh),
                     disabled=not state.refresh, n_intervals=0),
        header, bad, var_bar,
        html.Div(grid_children(model, values, state.expand_rows, rendered, state_stamp(state_json)),
                 id="dv-grid", className="dash-body"),
    ], className="dashboard-view")


# ------------------------------------------------------------------ callbacks
def on_controls(ctx: AppContext, trigger: str, stored: StoredDashboard, state: ViewState,
                range_value: str | None, from_value: str, to_value: str, refresh: str,
                var_values: Mapping[str, Any], relayouts: Sequence[Any], now_ms: int | None = None,
                ) -> tuple[ViewState, list[ResolvedVariable], bool]:
    """The new state after a control changed; the bool says whether the grid must be
    rebuilt (variables changed: repeats and queries depend on them). ``now_ms``: the
    "now" of relative times (default: the clock)."""
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
    tr = _time(ctx, new, now_ms)  # raises TimeRangeError for a bad input
    resolved = _resolve(ctx, model, new, tr)
    before = {k: v for k, v in state.variables.items()}
    new = selected_state(new, resolved)
    if dict(new.variables) != before:
        rebuild = True
    if trigger == "dv-var":
        rebuild = True
    return new, resolved, rebuild


def section_children(items: Sequence[Any]) -> list[Any]:
    """A section's grid items as few Dash components as possible: one element holding
    the HTML of every item that can be turned into HTML (its CSS ``display:
    contents`` keeps the items on the section's grid), then the items that must stay
    live components (Markdown). Dash's renderer does work per component on every
    update, so one element per section instead of two per panel matters."""
    markup: list[str] = []
    live: list[Any] = []
    for item in items:
        try:
            markup.append(to_html(item))
        except NotRenderable:
            live.append(item)
    host = [html.Div(className="sg-html sg-contents", **{"data-html": "".join(markup)})] if markup else []
    return host + live


def render_sections(ctx: AppContext, stored: StoredDashboard, state: ViewState, keys: Collection[str],
                    viewport: Viewport, *, tr: TimeRange | None = None,
                    resolved: Sequence[ResolvedVariable] | None = None, now_ms: int | None = None,
                    prefetch: Collection[str] = ()) -> dict[str, list[Any]]:
    """The children of sections ``keys`` with data: every query of every panel in
    them runs in one parallel batch (identical ones once, through the query cache).
    ``tr``/``resolved``: already computed by the caller; ``now_ms``: the "now" of
    relative times (default: the clock); ``prefetch``: more sections whose queries
    start in the background, for the request that will render them."""
    model = stored.model
    tr = tr if tr is not None else _time(ctx, state, now_ms)
    if resolved is None:
        resolved = _resolve(ctx, model, state, tr)
    values = _var_values(resolved)
    wanted = set(keys)
    later = set(prefetch) - wanted
    all_sections = sections(model, values)
    chosen = [s for s in all_sections if s.key in wanted]
    if not chosen:
        return {}
    scope = scope_of(resolved, tr)
    width = max(viewport.width - PAGE_PADDING, 320)
    requests: list[PanelRequest] = []
    ahead: list[PanelRequest] = []
    contexts: list[tuple[str, PlacedPanel, PanelContext]] = []
    for section in all_sections:
        if section.key not in wanted and section.key not in later:
            continue
        for pp in section.panels:
            pscope = {**scope, **section.scoped, **pp.scoped}
            w_px = int(width * pp.grid.w / 24)
            if pp.panel.type not in STATIC and pp.panel.targets:
                (requests if section.key in wanted else ahead).append(
                    PanelRequest(pp.key, pp.panel, pscope, w_px))
            if section.key in wanted:
                h_px = pp.grid.h * ROW_PX + (pp.grid.h - 1) * GAP_PX
                contexts.append((section.key, pp, PanelContext(pp.key, pp.panel, tr, w_px, h_px, pscope,
                                                               ctx.prefix, gpu_webgl=viewport.gpu_webgl)))
    data = run_panels(ctx.api, requests, tr, scrape_interval_ms=ctx.scrape_interval_ms,
                      executor=ctx.executor, dashboard_title=model.title, cache=ctx.query_cache,
                      prefetch=ahead)
    items: dict[str, list[Any]] = {s.key: [] for s in chosen}
    for key, pp, pctx in contexts:
        d = data.get(pp.key)
        if d is not None:
            ctx.telemetry.panel_render.labels(pp.panel.type).observe(d.elapsed_s)
            if d.error:
                ctx.telemetry.panel_errors.labels(pp.panel.type).inc()
        elif pp.panel.type not in STATIC:
            d = PanelData((), (), 0)
        items[key].append(_grid_item(pp, render_panel(pctx, d)))
    return {k: section_children(v) for k, v in items.items()}


def render_section(ctx: AppContext, stored: StoredDashboard, state: ViewState, key: str,
                   collapsed: bool, viewport_px: int | None) -> list[Any]:
    """The panels of section ``key`` with data (see ``render_sections``)."""
    if collapsed:
        return []
    return render_sections(ctx, stored, state, [key], Viewport(viewport_px or DEFAULT_VIEWPORT)).get(key, [])


def rebuilt_grid(ctx: AppContext, stored: StoredDashboard, state: ViewState,
                 resolved: Sequence[ResolvedVariable], now_ms: int) -> list[Any]:
    """The grid for a new state (variables changed, rows expanded), its first screen
    with data."""
    values = _var_values(resolved)
    tr = _time(ctx, state, now_ms)
    viewport = current_viewport()
    rendered = render_sections(ctx, stored, state,
                               first_screen(stored.model, values, state.expand_rows, viewport),
                               viewport, tr=tr, resolved=resolved,
                               prefetch=open_section_keys(stored.model, values, state.expand_rows))
    return grid_children(stored.model, values, state.expand_rows, rendered,
                         state_stamp({"uid": stored.uid, **state.to_json(), "now": now_ms}))


@dataclass(frozen=True, slots=True)
class SectionUpdate:
    """What the sections callback sets on one row."""

    children: list[Any]
    collapsed: bool
    meta: dict[str, Any]  # the row's meta store: its base collapsed state, the state rendered for


def on_sections(ctx: AppContext, stored: StoredDashboard, state_json: Mapping[str, Any],
                keys: Sequence[str], clicks: Sequence[int | None], metas: Sequence[Mapping[str, Any]],
                clicked: Collection[str], *, refresh: bool, viewport: Viewport,
                ) -> dict[str, SectionUpdate]:
    """What the sections callback changes, by row: the rows toggled (``clicked``),
    every row when auto-refresh ticks (``refresh``), and every row not yet rendered
    for the current view state (rows still loading when the grid appeared, all rows
    after the state changed). Open rows among them are rendered in one batch; closed
    ones are emptied."""
    stamp = state_stamp(state_json)
    metas = [dict(m or {}) for m in metas]
    collapsed = {k: bool(m.get("collapsed")) ^ bool((c or 0) % 2) for k, c, m in zip(keys, clicks, metas)}
    fresh = {k for k, m in zip(keys, metas) if m.get("state") == stamp}
    targets = [k for k in keys if refresh or k in clicked or k not in fresh]
    if not targets:
        return {}
    state = ViewState.from_json(state_json)
    # rows completing a view use the view's "now" (their queries were started with
    # it); a click or a refresh asks for the latest data
    now = None if (refresh or clicked) else state_json.get("now")
    rendered = render_sections(ctx, stored, state, [k for k in targets if not collapsed[k]], viewport,
                               now_ms=now if isinstance(now, int) else None)
    meta = dict(zip(keys, metas))
    return {k: SectionUpdate([] if collapsed[k] else rendered.get(k, []), collapsed[k],
                             {**meta[k], "state": stamp}) for k in targets}


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
        now = ctx.clock_ms()
        try:
            new, resolved, rebuild = on_controls(ctx, trigger, stored, state, range_value, from_value,
                                                 to_value, refresh, var_map, relayouts, now)
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
        # "now" is pinned for the requests that complete this view (rows below the
        # first screen): they ask the very questions already on their way
        new_json = {"uid": stored.uid, **new.to_json(), "now": now}
        grid = rebuilt_grid(ctx, stored, new, resolved, now) if rebuild else no_update
        rel = new.raw_from if new.raw_to == "now" else None
        return (new_json, new.to_search(), grid, options, values,
                new.raw_from, new.raw_to, rel, refresh_ms(new.refresh), not new.refresh,
                "Collapse rows" if new.expand_rows else "Expand rows")

    @app.callback(
        Output({"type": "dv-sec", "key": ALL}, "children"),
        Output({"type": "dv-row", "key": ALL}, "className"),
        Output({"type": "dv-sec-meta", "key": ALL}, "data"),
        Input({"type": "dv-row", "key": ALL}, "n_clicks"),
        Input("dv-state", "data"),
        Input("dv-interval", "n_intervals"),
        Input("dv-refresh-now", "n_clicks"),
        State({"type": "dv-sec-meta", "key": ALL}, "data"),
        State({"type": "dv-row", "key": ALL}, "id"),
    )
    def _sections(clicks, state_json, _n, _r, metas, row_ids):
        # also runs when a grid appears: its rows still loading come in this one request
        stored = ctx.store.get(state_json["uid"]) if state_json else None
        if stored is None:
            raise PreventUpdate
        triggers = list((dash_ctx.triggered_prop_ids or {}).values())
        clicked = {t["key"] for t in triggers if isinstance(t, dict) and t.get("type") == "dv-row"}
        ticked = {"dv-interval", "dv-refresh-now"} & {t for t in triggers if isinstance(t, str)}
        keys = [r["key"] for r in row_ids]
        try:
            out = on_sections(ctx, stored, state_json, keys, clicks, metas, clicked,
                              refresh=bool(ticked), viewport=current_viewport())
        except TimeRangeError as e:
            error = [notice(str(e), "error")]
            return [error] * len(keys), [no_update] * len(keys), [no_update] * len(keys)
        if not out:
            raise PreventUpdate
        return ([out[k].children if k in out else no_update for k in keys],
                ["row-header" + (" collapsed" if out[k].collapsed else "") if k in out else no_update
                 for k in keys],
                [out[k].meta if k in out else no_update for k in keys])

    @app.callback(Output("dv-download", "data"), Input("dv-export", "n_clicks"),
                  State("dv-state", "data"), prevent_initial_call=True)
    def _export(_n, state_json):
        stored = ctx.store.get(state_json["uid"])
        if stored is None:
            raise PreventUpdate
        return export_json(stored)
