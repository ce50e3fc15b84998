"""``stat`` panels: big values with colour modes and an area sparkline (SVG image)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from dash import html

from dashboards.panelquery import PanelData
from dashboards.panels.common import (
    PanelContext,
    body_height,
    error_body,
    frame,
    message,
    svg_img,
)
from dashboards.panels.reduce import ShownValue, shown_values


def sparkline_svg(x: np.ndarray, y: np.ndarray, color: str, w: int = 200, h: int = 50,
                  fill: bool = True) -> str:
    ok = np.isfinite(y)
    if ok.sum() < 2:
        return ""
    xs, ys = x[ok], y[ok]
    x0, x1 = float(xs.min()), float(xs.max())
    y0, y1 = float(ys.min()), float(ys.max())
    if y1 == y0:
        y1 = y0 + 1
    px = (xs - x0) / ((x1 - x0) or 1) * w
    py = h - (ys - y0) / (y1 - y0) * (h * 0.9)
    pts = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
    area = f'<polygon points="0,{h} {pts} {w},{h}" fill="{color}" fill-opacity="0.18"/>' if fill else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" '
            f'preserveAspectRatio="none">{area}<polyline points="{pts}" fill="none" '
            f'stroke="{color}" stroke-width="1.5" vector-effect="non-scaling-stroke"/></svg>')


def _tile(ctx: PanelContext, v: ShownValue, w: int, h: int, show_name: bool) -> html.Div:
    o = ctx.panel.options
    color = v.value.color
    text_mode = o.text_mode
    show_value = text_mode not in ("name", "none")
    name_shown = text_mode in ("name", "value_and_name") or (text_mode == "auto" and show_name)
    size = max(12, min(int(h * (0.42 if name_shown else 0.55)),
                       int(w / max(len(v.value.text), 1) * 1.7), 64))
    style: dict[str, Any] = {}
    value_style: dict[str, Any] = {"fontSize": f"{size}px"}
    if o.color_mode in ("background", "background_solid"):
        style["background"] = color if o.color_mode == "background_solid" else \
            f"linear-gradient(120deg, {color}, {color}cc)"
        value_style["color"] = "#fff"
    elif o.color_mode == "value":
        value_style["color"] = color
    children = []
    if o.graph_mode == "area" and v.spark_x is not None:
        svg = sparkline_svg(v.spark_x, v.spark_y,
                            "#ffffff" if o.color_mode.startswith("background") else color)
        if svg:
            children.append(svg_img(svg, class_name="stat-spark"))
    if name_shown:
        children.append(html.Div(v.name, className="stat-name",
                                 style={"fontSize": f"{max(11, min(size // 2, 18))}px"}))
    if show_value:
        children.append(html.Div(v.value.text, className="stat-value", style=value_style))
    return html.Div(children, className="stat-tile", style=style)


def render(ctx: PanelContext, data: PanelData) -> Any:
    values = shown_values(ctx.panel, data.frames, ctx.scope)
    if data.error and not values:
        return frame(ctx, error_body(data), data)
    if not values:
        nv = ctx.panel.defaults.no_value
        return frame(ctx, message(nv or "No data"), data)
    h = body_height(ctx)
    n = len(values)
    orientation = ctx.panel.options.orientation
    # side by side when the panel is wider than tall (Grafana's "auto")
    horizontal = orientation == "horizontal" or (orientation == "auto" and ctx.width_px >= h)
    cols = n if horizontal else 1
    if horizontal and n > 1:
        # wrap into a grid that keeps tiles near square
        cols = max(1, min(n, round(math.sqrt(n * ctx.width_px / max(h, 1)))))
    rows = math.ceil(n / cols)
    tw, th = ctx.width_px // cols, h // rows
    tiles = [_tile(ctx, v, tw, th, n > 1) for v in values]
    grid = html.Div(tiles, className="stat-grid",
                    style={"gridTemplateColumns": f"repeat({cols}, 1fr)"})
    return frame(ctx, grid, data)
