"""``gauge`` panels: an SVG arc per value with threshold markers."""

from __future__ import annotations

import math
from typing import Any

from dash import html

from dashboards.grafana import colors
from dashboards.panelquery import PanelData
from dashboards.panels.common import (
    PanelContext,
    body_height,
    frame,
    no_values_frame,
    svg_img,
    xml,
)
from dashboards.panels.reduce import ShownValue, shown_values

START, SWEEP = 150.0, 240.0  # degrees, clockwise from 3 o'clock


def _pt(cx: float, cy: float, r: float, deg: float) -> tuple[float, float]:
    a = math.radians(deg)
    return cx + r * math.cos(a), cy + r * math.sin(a)


def _arc(cx: float, cy: float, r: float, a0: float, a1: float, color: str, width: float) -> str:
    if a1 - a0 <= 0.01:
        return ""
    x0, y0 = _pt(cx, cy, r, a0)
    x1, y1 = _pt(cx, cy, r, a1)
    large = 1 if a1 - a0 > 180 else 0
    return (f'<path d="M {x0:.2f} {y0:.2f} A {r} {r} 0 {large} 1 {x1:.2f} {y1:.2f}" '
            f'stroke="{color}" stroke-width="{width}" fill="none"/>')


def gauge_svg(v: ShownValue, show_markers: bool, name: str = "") -> str:
    fc = v.fc
    lo = fc.min if fc.min is not None else 0.0
    hi = fc.max if fc.max is not None else (100.0 if fc.unit in ("percent",) else
                                            1.0 if fc.unit == "percentunit" else
                                            max(100.0, (v.value.numeric or 0) * 1.0))
    cx, cy, r = 100.0, 100.0, 80.0
    parts = [_arc(cx, cy, r, START, START + SWEEP, "#2c3235", 16)]
    if show_markers and fc.thresholds.steps:
        steps = fc.thresholds.steps
        for i, s in enumerate(steps):
            a = lo if s.value is None else s.value
            b = steps[i + 1].value if i + 1 < len(steps) else hi
            if fc.thresholds.mode == "percentage":
                a = lo + (hi - lo) * (0 if s.value is None else s.value) / 100
                b = hi if i + 1 >= len(steps) else lo + (hi - lo) * steps[i + 1].value / 100
            t0 = min(max((a - lo) / (hi - lo), 0), 1) if hi != lo else 0
            t1 = min(max((b - lo) / (hi - lo), 0), 1) if hi != lo else 1
            parts.append(_arc(cx, cy, r + 12, START + SWEEP * t0, START + SWEEP * t1,
                              colors.resolve(s.color), 4))
    num = v.value.numeric
    if num is not None and hi != lo:
        t = min(max((num - lo) / (hi - lo), 0.0), 1.0)
        parts.append(_arc(cx, cy, r, START, START + SWEEP * t, v.value.color, 16))
    size = max(14, min(44, int(260 / max(len(v.value.text), 1))))
    parts.append(f'<text x="{cx}" y="{cy + size * 0.35:.1f}" text-anchor="middle" '
                 f'font-family="Inter,Helvetica,Arial,sans-serif" font-size="{size}" '
                 f'font-weight="500" fill="{v.value.color}">{xml(v.value.text)}</text>')
    if name:
        parts.append(f'<text x="{cx}" y="{cy + 62}" text-anchor="middle" '
                     f'font-family="Inter,Helvetica,Arial,sans-serif" font-size="13" '
                     f'fill="#ccccdc">{xml(name)}</text>')
    return ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 200 175">' + "".join(parts) +
            "</svg>")


def render(ctx: PanelContext, data: PanelData) -> Any:
    values = shown_values(ctx.panel, data.frames, ctx.scope)
    if not values:
        return no_values_frame(ctx, data)
    o = ctx.panel.options
    n = len(values)
    h = body_height(ctx)
    vertical = o.orientation == "vertical" or (o.orientation == "auto" and ctx.width_px < h and n > 1)
    cols = 1 if vertical else n
    imgs = [html.Div(svg_img(gauge_svg(v, o.show_threshold_markers, v.name if n > 1 else ""),
                             class_name="gauge-img", alt=v.value.text),
                     className="gauge-cell", title=f"{v.name}: {v.value.text}")
            for v in values]
    return frame(ctx, html.Div(imgs, className="gauge-grid",
                               style={"gridTemplateColumns": f"repeat({cols}, 1fr)"}), data)
