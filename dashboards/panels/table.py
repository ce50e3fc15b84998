"""``table`` panels: frames after transformations, cells by field config (units,
mappings, colour-text/background and gauge cells), links, footer, sorting."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
from dash import html

from dashboards.grafana import calcs
from dashboards.grafana.fields import FieldRef, display, field_config
from dashboards.grafana.frames import Frame
from dashboards.grafana.transforms import join_by_field, sort_by
from dashboards.grafana.units import format_value
from dashboards.panelquery import PanelData
from dashboards.panels.common import PanelContext, error_body, frame, link_href, message

MAX_ROWS = 1000


def _time_text(ms: float) -> str:
    if not np.isfinite(ms):
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def _table_frame(frames: tuple[Frame, ...]) -> list[Frame]:
    if len(frames) <= 1:
        return list(frames)
    if all(fr.time_field() is not None and len(fr.fields) == 2 for fr in frames):
        # several time series without a transformation: one column per series
        return join_by_field(frames)
    return list(frames)


def _cell(ctx: PanelContext, fc, f, i: int, fr: Frame, lo, hi) -> html.Td:
    raw = f.values[i]
    style: dict[str, Any] = {}
    cu = fc.custom
    if f.type == "time":
        text, color = _time_text(raw), None
    elif f.type == "number":
        dv = display(fc, None if np.isnan(raw) else float(raw), lo=lo, hi=hi)
        text, color = dv.text if not np.isnan(raw) else (fc.no_value or ""), dv.color
        if cu.cell_type in ("gauge", "gradient-gauge", "lcd-gauge", "basic") and not np.isnan(raw):
            pct = dv.percent * 100
            return html.Td(html.Div([html.Div(className="cell-bar-fill",
                                              style={"width": f"{pct:.1f}%", "background": color}),
                                     html.Span(text, className="cell-bar-text")],
                                    className="cell-bar"), className="num")
    else:
        dv = display(fc, raw if raw is not None else None)
        text = dv.text if fc.mappings and raw is not None else ("" if raw is None else str(raw))
        color = dv.color if fc.mappings else None
    if color and cu.cell_type in ("color-text",):
        style["color"] = color
    elif color and cu.cell_type in ("color-background", "color-background-solid"):
        style["background"] = color
        style["color"] = "#fff"
    if cu.align in ("left", "right", "center"):
        style["textAlign"] = cu.align
    content: Any = text
    if fc.links:
        extra = {"__value.text": text, "__value.raw": str(raw), "__value.numeric": str(raw)}
        for other in fr.fields:
            v = other.values[i]
            extra[f"__data.fields.{other.name}"] = _time_text(v) if other.type == "time" else (
                "" if v is None else (format_value(v) if other.type == "number" else str(v)))
        link = fc.links[0]
        content = html.A(text, href=link_href(link, ctx, extra),
                         target="_blank" if link.target_blank else None)
    return html.Td(content, style=style, className="num" if f.type == "number" else None)


def render(ctx: PanelContext, data: PanelData) -> Any:
    frames = _table_frame(data.frames)
    if data.error and not frames:
        return frame(ctx, error_body(data), data)
    if not frames or all(fr.length == 0 for fr in frames):
        return frame(ctx, message("No data"), data)
    o = ctx.panel.options
    tables = []
    for fr in frames:
        if o.sort_by:
            names = [f.name for f in fr.fields]
            if o.sort_by[0][0] in names:
                fr = sort_by([fr], o.sort_by[:1])[0]
        cols = []
        for f in fr.fields:
            fc = field_config(ctx.panel.defaults, ctx.panel.overrides,
                              FieldRef(f.name, fr.ref_id, f.type))
            if fc.custom.hidden:
                continue
            cols.append((f, fc))
        head = html.Tr([html.Th(fc.display_name or f.name,
                                style={"width": f"{fc.custom.width:.0f}px"} if fc.custom.width else None)
                        for f, fc in cols])
        n = min(fr.length, MAX_ROWS)
        ranges = {}
        for f, fc in cols:
            if f.type == "number" and len(f.values):
                finite = f.values[np.isfinite(f.values)]
                ranges[f.name] = (min(0.0, float(finite.min())) if finite.size else None,
                                  float(finite.max()) if finite.size else None)
        body = [html.Tr([_cell(ctx, fc, f, i, fr, *ranges.get(f.name, (None, None))) for f, fc in cols])
                for i in range(n)]
        parts = [html.Thead(head) if o.show_header else None, html.Tbody(body)]
        if o.footer_show and o.footer_calcs:
            calc = o.footer_calcs[0]
            foot = []
            for f, fc in cols:
                if f.type == "number":
                    foot.append(html.Td(format_value(calcs.reduce(f.values, calc), fc.unit,
                                                     fc.decimals), className="num"))
                else:
                    foot.append(html.Td(calcs.label(calc) if not foot else ""))
            parts.append(html.Tfoot(html.Tr(foot)))
        table = html.Table([p for p in parts if p is not None], className="data-table")
        if fr.length > MAX_ROWS:
            tables.append(html.Div(f"Showing {MAX_ROWS} of {fr.length} rows", className="muted"))
        tables.append(table)
    return frame(ctx, html.Div(tables, className="table-wrap"), data)
