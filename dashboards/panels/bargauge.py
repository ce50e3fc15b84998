"""``bargauge`` panels: one bar per value, in basic, gradient or LCD style."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.grafana import colors
from dashboards.panelquery import PanelData
from dashboards.panels.common import PanelContext, body_height, frame, no_values_frame
from dashboards.panels.reduce import shown_values


def _fill(mode: str, color: str, pct: float, fc) -> dict[str, Any]:
    if mode == "lcd":
        return {"background": f"repeating-linear-gradient(90deg, {color} 0 6px, transparent 6px 9px)"}
    if mode == "gradient":
        steps = [colors.resolve(s.color) for s in fc.thresholds.steps] if fc.color.mode == "thresholds" \
            else [color]
        if len(steps) > 1:
            return {"background": f"linear-gradient(90deg, {', '.join(steps)})"}
        return {"background": f"linear-gradient(90deg, {color}55, {color})"}
    return {"background": color}


def render(ctx: PanelContext, data: PanelData) -> Any:
    values = shown_values(ctx.panel, data.frames, ctx.scope)
    if not values:
        return no_values_frame(ctx, data)
    o = ctx.panel.options
    h = body_height(ctx)
    vertical = o.orientation == "vertical" or (o.orientation == "auto" and ctx.width_px < h * 0.6)
    bars = []
    row_h = max(14, min(36, (h - 4) // max(len(values), 1) - 6))
    for v in values:
        pct = v.value.percent * 100
        fill = {**_fill(o.display_mode, v.value.color, pct, v.fc),
                ("height" if vertical else "width"): f"{pct:.2f}%"}
        track = html.Div(html.Div(className="bar-fill", style=fill),
                         className="bar-track" + (" unfilled" if o.show_unfilled else ""))
        value_style = {"color": v.value.color if o.value_mode == "color" else "#ccccdc"}
        if o.value_mode == "hidden":
            value_style["display"] = "none"
        bars.append(html.Div([html.Div(v.name, className="bar-name"), track,
                              html.Div(v.value.text, className="bar-value", style=value_style)],
                             className="bar-row", style={} if vertical else {"height": f"{row_h}px"},
                             title=f"{v.name}: {v.value.text}"))
    return frame(ctx, html.Div(bars, className="bargauge " + ("vertical" if vertical else "horizontal")),
                 data)
