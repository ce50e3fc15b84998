"""``/explore``: a PromQL editor with completion, range or instant, graph and table,
and a query inspector (timings, series and sample counts).

Many series are drawn as a few colour-group traces. The graph uses WebGL for them
only when the browser draws WebGL on a GPU (``viewport``): on a software
rasteriser (SwiftShader, llvmpipe — headless browsers, VMs, remote desktops) a
WebGL graph of 200,000 points takes seconds to appear where SVG takes well under
one, and the point budget keeps SVG affordable everywhere."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from dash import ALL, Input, Output, State, dcc, html, no_update
from dash import ctx as dash_ctx
from dash.exceptions import PreventUpdate

from dashboards.client import APIError, QueryResult
from dashboards.components import label_chips, notice, time_picker, zoom_out, zoom_range
from dashboards.context import AppContext
from dashboards.grafana.frames import legend_name, plot_series, series_frame
from dashboards.grafana.model import LegendOptions, Panel, PanelOptions, Target
from dashboards.grafana.timerange import TimeRange, TimeRangeError, calculate_interval
from dashboards.grafana.units import format_value
from dashboards.htmlrender import panel_host
from dashboards.panels.common import PanelContext, plotly_layout, typed_array
from dashboards.panels.timeseries import figure, legend_component
from dashboards.promql_complete import Completion, apply, complete
from dashboards.urlstate import first
from dashboards.viewport import current_viewport

P = "ex"
GRAPH_HEIGHT = 420
WEBGL_SERIES = 100
MAX_TABLE_ROWS = 500


def _completion(ctx: AppContext, text: str) -> Completion:
    tr_end = ctx.clock_ms() / 1000
    start = tr_end - 3600

    def metrics() -> list[str]:
        return ctx.cache.get(("explore", "metrics"), lambda: ctx.api.label_values("__name__"))

    def labels(metric: str) -> list[str]:
        return ctx.cache.get(("explore", "labels", metric),
                             lambda: ctx.api.labels(metric or None, start, tr_end))

    def values(label: str, metric: str) -> list[str]:
        return ctx.cache.get(("explore", "values", label, metric),
                             lambda: ctx.api.label_values(label, metric or None, start, tr_end))

    try:
        return complete(text or "", None, metrics=metrics, labels=labels, values=values)
    except APIError:
        return Completion("none", (), len(text or ""), len(text or ""))


# Points one graph may carry in all: beyond this the browser spends seconds on lines
# no one can tell apart, so many series get fewer points each (never below 60).
POINT_BUDGET = 250_000
MIN_POINTS = 60


def points_per_series(width_px: int, series: int) -> int:
    return max(MIN_POINTS, min(max(width_px, 100), POINT_BUDGET // max(series, 1)))


def run_query(ctx: AppContext, expr: str, mode: str, tr: TimeRange, width_px: int,
              ) -> tuple[QueryResult | None, str, float, float]:
    """(result, error, step seconds, elapsed seconds). A range query first counts the
    series at the end time (cheap) to size its step to the point budget."""
    t0 = time.perf_counter()
    points = max(width_px, 100)
    try:
        if mode == "instant":
            res = ctx.api.query(expr, tr.to_ms / 1000)
            step = 0.0
        else:
            try:
                counted = ctx.api.query(f"count(({expr}))", tr.to_ms / 1000)
                n = int(counted.series[0].values[0]) if counted.series else 0
            except (APIError, ValueError, IndexError):
                n = 0  # a scalar or string expression: no series to count
            points = points_per_series(width_px, n)
            step = calculate_interval(tr.span_ms, points, ctx.scrape_interval_ms) / 1000
            res = ctx.api.query_range(expr, tr.from_ms / 1000, tr.to_ms / 1000, step)
    except APIError as e:
        return None, e.message, 0.0, time.perf_counter() - t0
    return res, "", step, time.perf_counter() - t0


def result_views(ctx: AppContext, expr: str, mode: str, tr: TimeRange, res: QueryResult | None,
                 error: str, step: float, elapsed: float, *, webgl: bool = False,
                 ) -> tuple[Any, Any, Any, Any]:
    """(figure or None, message/legend under the graph, table, inspector) for an answer;
    ``webgl``: the browser draws WebGL on a GPU (many series then use it)."""
    inspector = html.Div([
        html.Span(f"{mode} query", className="kv"),
        html.Span(f"step {step:g}s" if mode != "instant" else "", className="kv"),
        html.Span(f"{elapsed * 1000:.0f} ms round trip", className="kv"),
        html.Span(f"{len(res.series) if res else 0} series", className="kv", id="ex-series-count"),
        html.Span(f"{res.samples if res else 0} samples", className="kv"),
        html.Span(f"result type {res.result_type}" if res else "", className="kv"),
    ] + [notice(w, "warn") for w in (res.warnings if res else ())], className="inspector")
    if error:
        return None, notice(error, "error query-error"), None, inspector
    if res is None or not res.series:
        return None, html.Div("No data", className="muted"), None, inspector
    fig: Any = None
    legend: Any = None
    if res.result_type == "matrix" and len(res.series) > WEBGL_SERIES:
        fig = grouped_figure(ctx, res, expr, tr, webgl=webgl)
        legend = html.Div("Hover a line to see its labels.", id="ex-hover", className="muted ex-hover")
    elif res.result_type == "matrix":
        frames = [series_frame(s.labels, s.timestamps, s.values, legend_name("", s.labels, expr), "A")
                  for s in res.series]
        panel = Panel(id=0, type="timeseries", targets=(Target("A", expr),),
                      options=PanelOptions(legend=LegendOptions(show=len(frames) <= 20)))
        pctx = PanelContext("explore", panel, tr, 1200, GRAPH_HEIGHT, {}, ctx.prefix,
                            graph_id_type="ex-graph")
        fig, legend_rows = figure(pctx, plot_series(frames), GRAPH_HEIGHT)
        legend = legend_component(pctx, legend_rows)
    rows = []
    for s in res.series[:MAX_TABLE_ROWS]:
        name = s.labels.get("__name__", "")
        v = float(s.values[-1]) if len(s.values) else float("nan")
        rows.append(html.Tr([html.Td([html.Span(name, className="metric-name"),
                                      label_chips(s.labels, skip=("__name__",))]),
                             html.Td(format_value(v), className="num")]))
    more = [html.Div(f"Showing {MAX_TABLE_ROWS} of {len(res.series)} series", className="muted")] \
        if len(res.series) > MAX_TABLE_ROWS else []
    # one element holding the table's HTML: hundreds of rows as Dash components
    # would cost the browser seconds (see htmlrender)
    table = panel_host(html.Div(more + [html.Table([html.Thead(html.Tr([html.Th("Series"), html.Th("Value")])),
                                                    html.Tbody(rows)], className="data-table")]))
    if fig is not None:
        # a new query is a new view: plotly must not carry the old axes over
        fig["layout"]["uirevision"] = f"{expr}|{tr.from_ms}|{tr.to_ms}"
        fig["layout"]["xaxis"]["autorange"] = False
    return fig, legend, table, inspector


GROUPS = 32


def grouped_figure(ctx: AppContext, res: QueryResult, expr: str, tr: TimeRange, *,
                   webgl: bool = False) -> dict[str, Any]:
    """Many series as a few traces (WebGL ones when ``webgl``): plotly's cost is per
    trace, so series are drawn in ``GROUPS`` colour groups, each one trace with gaps
    between its series. ``customdata`` holds each point's series number; hovering
    shows its labels."""
    import numpy as np

    from dashboards.grafana import colors
    names = [legend_name("", s.labels, expr) for s in res.series]
    traces = []
    for g in range(min(GROUPS, len(res.series))):
        xs, ys, cs = [], [], []
        for i in range(g, len(res.series), GROUPS):
            s = res.series[i]
            xs += [s.timestamps * 1000.0, np.array([np.nan])]
            ys += [s.values, np.array([np.nan])]
            cs += [np.full(len(s.values) + 1, i, dtype=np.int32)]
        traces.append({"type": "scattergl" if webgl else "scatter", "mode": "lines",
                       "x": typed_array(np.concatenate(xs)),
                       "y": typed_array(np.concatenate(ys)),
                       "customdata": typed_array(np.concatenate(cs), "i4"),
                       "line": {"color": colors.palette(g), "width": 1}, "connectgaps": False,
                       "hovertemplate": "%{y:.4~g}<extra>#%{customdata}</extra>"})
    pctx = PanelContext("explore", Panel(id=0, type="timeseries"), tr, 1200, GRAPH_HEIGHT)
    layout = plotly_layout(pctx, GRAPH_HEIGHT, hovermode="closest")
    layout["meta"] = {"names": names}
    return {"data": traces, "layout": layout}


def layout(ctx: AppContext, q: Mapping[str, list[str]]) -> Any:
    expr = first(q, "query")
    mode = first(q, "mode", "range")
    raw_from, raw_to = first(q, "from", "now-1h"), first(q, "to", "now")
    return html.Div([
        dcc.Location(id="ex-url", refresh=False),
        dcc.Store(id="ex-completion"),
        html.Div([html.H1("Explore"), time_picker(P, raw_from, raw_to, with_refresh=False)],
                 className="page-head"),
        html.Div([
            dcc.Textarea(id="ex-query", value=expr, className="promql",
                         placeholder='Enter a PromQL query, e.g. rate(node_cpu_seconds_total[5m])',
                         spellCheck=False),
            html.Div(id="ex-suggest", className="suggest"),
            html.Div([
                dcc.RadioItems(id="ex-mode", options=[{"label": " Range", "value": "range"},
                                                      {"label": " Instant", "value": "instant"}],
                               value=mode, inline=True, className="mode"),
                html.Button("Run query", id="ex-run", n_clicks=1 if expr else 0,
                            className="btn primary"),
            ], className="ex-actions"),
        ], className="editor"),
        html.Div(id="ex-inspect"),
        html.Div(dcc.Graph(id="ex-graph", figure={"data": [], "layout": {}},
                           config={"displayModeBar": False, "responsive": True},
                           style={"height": f"{GRAPH_HEIGHT}px"}),
                 id="ex-graph-box", style={"display": "none"}, className="ex-graph-wrap"),
        html.Div(id="ex-under-graph"),
        # drag-zoom on the graph lands here (assets/panels.js)
        dcc.Input(id="ex-zoom", type="text", value="", debounce=False, style={"display": "none"}),
        html.Div(id="ex-table-box"),
    ], className="page-pad explore")


def register(app: Any, ctx: AppContext) -> None:
    # the hovered series' labels, from the names shipped with the grouped figure
    app.clientside_callback(
        """function(hover, fig) {
            if (!hover || !hover.points || !hover.points.length) return window.dash_clientside.no_update;
            const i = hover.points[0].customdata;
            const names = (fig && fig.layout && fig.layout.meta && fig.layout.meta.names) || [];
            return i === undefined ? window.dash_clientside.no_update : (names[i] || '');
        }""",
        Output("ex-hover", "children"), Input("ex-graph", "hoverData"), State("ex-graph", "figure"),
        prevent_initial_call=True)

    @app.callback(Output("ex-suggest", "children"), Output("ex-completion", "data"),
                  Input("ex-query", "value"), prevent_initial_call=True)
    def _suggest(text):
        c = _completion(ctx, text or "")
        if not c.items:
            return [], None
        buttons = [html.Button(item, id={"type": "ex-sugg", "index": i}, n_clicks=0,
                               className=f"sugg sugg-{c.kind}")
                   for i, item in enumerate(c.items)]
        return buttons, {"items": list(c.items), "start": c.start, "end": c.end, "kind": c.kind}

    @app.callback(Output("ex-query", "value"), Input({"type": "ex-sugg", "index": ALL}, "n_clicks"),
                  State("ex-query", "value"), State("ex-completion", "data"),
                  prevent_initial_call=True)
    def _pick(clicks, text, comp):
        trig = dash_ctx.triggered_id
        if not comp or not isinstance(trig, dict) or not any(clicks or []):
            raise PreventUpdate
        c = Completion(comp["kind"], tuple(comp["items"]), comp["start"], comp["end"])
        item = c.items[trig["index"]]
        if c.kind == "label":
            item += '="'
        elif c.kind == "value":
            item += '"'
        return apply(text or "", c, item)

    @app.callback(
        Output("ex-graph", "figure"), Output("ex-graph-box", "style"),
        Output("ex-under-graph", "children"), Output("ex-table-box", "children"),
        Output("ex-inspect", "children"), Output("ex-url", "search"),
        Output("ex-from", "value"), Output("ex-to", "value"),
        Input("ex-run", "n_clicks"), Input("ex-mode", "value"), Input("ex-range", "value"),
        Input("ex-apply", "n_clicks"), Input("ex-zoomout", "n_clicks"),
        Input("ex-zoom", "value"),
        State("ex-query", "value"), State("ex-from", "value"), State("ex-to", "value"),
    )
    def _run(n_run, mode, range_value, _a, _z, zoom, expr, raw_from, raw_to):
        trig = dash_ctx.triggered_id
        if not expr or not expr.strip() or (trig is None and not n_run):
            raise PreventUpdate
        if trig == "ex-range" and range_value:
            raw_from, raw_to = range_value, "now"
        elif trig == "ex-zoom":
            try:
                a, b, _ = json.loads(zoom)
            except (TypeError, ValueError):
                raise PreventUpdate from None
            z = zoom_range({"xaxis.range[0]": a, "xaxis.range[1]": b})
            if not z:
                raise PreventUpdate
            raw_from, raw_to = z
        try:
            tr = TimeRange.parse(raw_from or "now-1h", raw_to or "now", now_ms=ctx.clock_ms())
            if trig == "ex-zoomout":
                raw_from, raw_to = zoom_out(tr, ctx.clock_ms())
                tr = TimeRange.parse(raw_from, raw_to, now_ms=ctx.clock_ms())
        except TimeRangeError as e:
            return (no_update, {"display": "none"}, notice(str(e), "error"), None, None, no_update,
                    no_update, no_update)
        viewport = current_viewport()
        width = max(viewport.width - 64, 200)
        res, err, step, elapsed = run_query(ctx, expr, mode or "range", tr, width)
        fig, under, table, insp = result_views(ctx, expr, mode or "range", tr, res, err, step, elapsed,
                                               webgl=viewport.gpu_webgl)
        if fig is not None:
            # the graph box was hidden until now, so plotly cannot measure it: size it
            fig["layout"]["width"] = width - 2
        import urllib.parse
        search = "?" + urllib.parse.urlencode({"query": expr, "mode": mode or "range",
                                               "from": raw_from, "to": raw_to})
        shown = {"display": "block"} if fig is not None else {"display": "none"}
        return (fig if fig is not None else no_update, shown, under, table, insp, search,
                raw_from, raw_to)
