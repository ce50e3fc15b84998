"""``timeseries`` (and old ``graph``) panels: SVG lines/bars/points with stacking,
overrides, unit-formatted axes, and an HTML legend (list or table with calcs)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from dash import dcc, html

from dashboards.grafana import calcs, colors
from dashboards.grafana.fields import FieldRef, field_config, value_color
from dashboards.grafana.frames import PlotSeries, plot_series
from dashboards.grafana.units import format_value
from dashboards.panelquery import PanelData
from dashboards.panels.axis import axis, data_range, hover_format
from dashboards.panels.common import (
    GRAPH_CONFIG,
    PanelContext,
    body_height,
    error_body,
    escape_plotly,
    frame,
    message,
    plotly_layout,
    typed_array,
)

_DASH = {(10, 10): "dash", (0, 10): "dot"}
# Above this many points a browser's SVG renderer slows down; Explore switches to WebGL.
WEBGL_POINTS = 60_000


def _rgba(color: str, opacity: float) -> str:
    c = colors.resolve(color)
    if c.startswith("#") and len(c) == 7:
        r, g, b = int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)
        return f"rgba({r},{g},{b},{opacity:.2f})"
    return c


def _dash(pattern: tuple[int, ...]) -> str:
    if not pattern:
        return "solid"
    return _DASH.get(pattern) or ",".join(f"{max(p, 1)}px" for p in pattern)


def figure(ctx: PanelContext, series: list[PlotSeries], height: int,
           webgl: bool = False) -> tuple[dict[str, Any], list[tuple[str, str, Any, Any]]]:
    """The plotly figure and legend rows ``(name, colour, field config, values)``."""
    p = ctx.panel
    traces = []
    legend = []
    left_arrays, right_arrays = [], []
    left_fc = right_fc = None
    hover_multi = p.options.tooltip_mode in ("multi", "all")
    for i, s in enumerate(series):
        fc = field_config(p.defaults, p.overrides, FieldRef(s.name, s.ref_id))
        if fc.display_name:
            from dashboards.grafana.template import interpolate
            name = interpolate(fc.display_name, {**ctx.scope, "__field.name": s.name,
                                                 **{f"__field.labels.{k}": v for k, v in s.labels.items()}},
                               default_format="glob")
        else:
            name = s.name
        cu = fc.custom
        y = s.y
        if cu.transform == "negative-Y":
            y = -y
        last = calcs.reduce(s.y, "lastNotNull")
        color = value_color(fc, last, i) if fc.color.mode != "palette-classic" else colors.palette(i)
        if not cu.hide_legend:
            legend.append((name, color, fc, s.y))
        if cu.hide_viz:
            continue
        right = cu.axis_placement == "right" or (p.defaults.unit != fc.unit and fc.unit
                                                 and cu.axis_placement != "left")
        (right_arrays if right else left_arrays).append(y)
        if right:
            right_fc = right_fc or fc
        else:
            left_fc = left_fc or fc
        fmt, suffix = hover_format(fc.unit, fc.decimals)
        trace: dict[str, Any] = {
            "x": typed_array(s.x_ms), "y": typed_array(y), "name": escape_plotly(name),
            "hovertemplate": f"%{{y:{fmt}}}{escape_plotly(suffix)}",
            "yaxis": "y2" if right else "y",
        }
        if cu.hide_tooltip:
            trace["hoverinfo"] = "skip"
        if cu.draw_style == "bars":
            trace.update(type="bar", marker={"color": _rgba(color, max(cu.fill_opacity, 60) / 100),
                                             "line": {"width": 0}})
        else:
            trace["type"] = "scattergl" if webgl else "scatter"
            mode = "markers" if cu.draw_style == "points" else (
                "lines+markers" if cu.show_points == "always" else "lines")
            trace.update(mode=mode, line={"color": color, "width": cu.line_width,
                                          "dash": _dash(cu.line_dash),
                                          "shape": {"smooth": "spline", "stepBefore": "vh",
                                                    "stepAfter": "hv"}.get(cu.line_interpolation,
                                                                           "linear")},
                         connectgaps=bool(cu.span_nulls is True))
            if "markers" in mode:
                trace["marker"] = {"size": cu.point_size, "color": color}
            if cu.stacking_mode in ("normal", "percent"):
                trace["stackgroup"] = cu.stacking_group
                if cu.stacking_mode == "percent":
                    trace["groupnorm"] = "percent"
                trace["fill"] = "tonexty" if cu.fill_opacity > 0 else "none"
                trace["fillcolor"] = _rgba(color, cu.fill_opacity / 100)
            elif cu.fill_opacity > 0:
                trace["fill"] = "tozeroy"
                trace["fillcolor"] = _rgba(color, cu.fill_opacity / 100)
        traces.append(trace)
    d = p.defaults
    layout = plotly_layout(ctx, height, hovermode="x unified" if hover_multi else "closest")
    stacked = any(t.get("stackgroup") for t in traces)
    if left_arrays:
        fc = left_fc or d
        arrays = left_arrays
        if stacked:
            arrays = [np.nansum(np.vstack([a for a in left_arrays if len(a) == len(left_arrays[0])]), axis=0)] \
                if all(len(a) == len(left_arrays[0]) for a in left_arrays) else left_arrays
        if any(t.get("groupnorm") for t in traces):
            layout["yaxis"].update(range=[0, 100], tickmode="array", tickvals=[0, 25, 50, 75, 100],
                                   ticktext=["0%", "25%", "50%", "75%", "100%"])
        else:
            soft_min = fc.custom.axis_soft_min
            if stacked and soft_min is None:
                soft_min = 0.0  # stacked areas read from zero
            lo, hi = data_range(arrays, soft_min, fc.custom.axis_soft_max, fc.min, fc.max)
            layout["yaxis"].update(axis(fc.unit, fc.decimals, lo, hi, log=fc.custom.scale_log))
        if fc.custom.axis_label:
            layout["yaxis"]["title"] = {"text": escape_plotly(fc.custom.axis_label), "font": {"size": 11}}
        if fc.custom.axis_placement == "hidden":
            layout["yaxis"]["visible"] = False
    if right_arrays:
        fc = right_fc or d
        lo, hi = data_range(right_arrays, fc.custom.axis_soft_min, fc.custom.axis_soft_max,
                            fc.min, fc.max)
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "gridcolor": "rgba(0,0,0,0)",
                            "zeroline": False, "fixedrange": True,
                            "tickfont": {"color": "rgba(204,204,220,0.65)"},
                            **axis(fc.unit, fc.decimals, lo, hi, log=fc.custom.scale_log)}
        layout["margin"]["r"] = 56
    if any(t.get("type") == "bar" for t in traces):
        layout["barmode"] = "stack" if p.defaults.custom.stacking_mode != "none" else "group"
        layout["bargap"] = 0.1
    fixed_margins(layout)
    return {"data": traces, "layout": layout}, legend


# Tick labels are 11 px text: about this wide per character (digits and unit
# letters of Inter/Helvetica), plus the gap between label and plot.
_CHAR_PX = 6.6
_LABEL_GAP_PX = 8
_TITLE_PX = 16


def _margin_for(ax: dict[str, Any]) -> int | None:
    """Pixels the labels of a value axis need, or None when plotly must find out
    (tick labels it chooses itself, as on a log axis)."""
    if ax.get("visible") is False:
        return 8
    text = ax.get("ticktext")
    if text is None:
        if "ticksuffix" not in ax:
            return None
        text = ["100" + ax["ticksuffix"]]
    width = max((len(str(t)) for t in text), default=1) * _CHAR_PX + _LABEL_GAP_PX
    if ax.get("title"):
        width += _TITLE_PX
    return math.ceil(width)


def fixed_margins(layout: dict[str, Any]) -> None:
    """Set the left/right margins from the value axes' own tick labels (computed
    here, see ``axis``) and turn plotly's automargin off: automargin measures the
    labels after drawing and, when they do not fit, draws the whole graph again —
    about a fifth of a dashboard's drawing time in the browser."""
    for name, side in (("yaxis", "l"), ("yaxis2", "r")):
        ax = layout.get(name)
        if not ax:
            continue
        need = _margin_for(ax)
        if need is None:
            ax["automargin"] = True
            continue
        ax["automargin"] = False
        layout["margin"][side] = max(need, 24)


def legend_component(ctx: PanelContext, rows: list[tuple[str, str, Any, Any]]) -> Any:
    lg = ctx.panel.options.legend
    if not lg.show or lg.display_mode == "hidden" or not rows:
        return None
    calc_ids = [c for c in lg.calcs if calcs.known(c)]
    values = [[format_value(calcs.reduce(vals, c), fc.unit, fc.decimals) for c in calc_ids]
              for _, _, fc, vals in rows]
    if lg.sort_by and lg.sort_by in [calcs.label(c) for c in calc_ids]:
        ci = [calcs.label(c) for c in calc_ids].index(lg.sort_by)
        keyed = [(calcs.reduce(r[3], calc_ids[ci]), i) for i, r in enumerate(rows)]
        order = [i for _, i in sorted(keyed, key=lambda k: (k[0] is None, k[0] or 0),
                                      reverse=lg.sort_desc)]
        rows = [rows[i] for i in order]
        values = [values[i] for i in order]
    swatch = lambda c: html.Span(className="legend-swatch", style={"background": c})
    if lg.display_mode == "table":
        head = html.Tr([html.Th("")] + [html.Th(calcs.label(c)) for c in calc_ids])
        body = [html.Tr([html.Td([swatch(color), html.Span(name)], className="legend-name")] +
                        [html.Td(v) for v in vals])
                for (name, color, _, _), vals in zip(rows, values)]
        return html.Div(html.Table([html.Thead(head), html.Tbody(body)], className="legend-table"),
                        className=f"legend legend-{lg.placement}")
    items = []
    for (name, color, _, _), vals in zip(rows, values):
        extra = [html.Span(f"{calcs.label(c)}: {v}", className="legend-calc")
                 for c, v in zip(calc_ids, vals)]
        items.append(html.Span([swatch(color), html.Span(name, className="legend-name")] + extra,
                               className="legend-item"))
    return html.Div(items, className=f"legend legend-list legend-{lg.placement}")


def render(ctx: PanelContext, data: PanelData) -> Any:
    series = plot_series(data.frames)
    if data.error and not series:
        return frame(ctx, error_body(data), data)
    if not series:
        return frame(ctx, message("No data"), data)
    lg = ctx.panel.options.legend
    h = body_height(ctx)
    legend_rows_visible = lg.show and lg.display_mode != "hidden"
    n_legend = len(series)
    graph_h = h
    if legend_rows_visible and lg.placement == "bottom":
        per = 22 if lg.display_mode == "table" else 20
        lines = n_legend if lg.display_mode == "table" else max(1, min(n_legend, 6) // 2)
        graph_h = max(h - min(per * (lines + (1 if lg.display_mode == "table" else 0)), h // 2), 60)
    points = sum(len(s.y) for s in series)
    fig, legend_rows = figure(ctx, series, graph_h, webgl=ctx.gpu_webgl and points > WEBGL_POINTS)
    graph = dcc.Graph(id={"type": ctx.graph_id_type, "key": ctx.key}, figure=fig,
                      config=GRAPH_CONFIG, style={"height": f"{graph_h}px"},
                      className="ts-graph")
    legend = legend_component(ctx, legend_rows)
    cls = "ts-wrap legend-right-wrap" if lg.placement == "right" else "ts-wrap"
    return frame(ctx, html.Div([graph, legend] if legend is not None else [graph], className=cls),
                 data)
