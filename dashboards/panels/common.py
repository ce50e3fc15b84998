"""What every panel renderer shares: the panel frame (title, links, inspector,
error badge), plotly's dark theme, SVG images, and data links.

Text from data (labels, values, titles) only ever reaches the page as React text
nodes, as plotly text with ``<``/``>``/``&`` escaped, or inside SVG images loaded
through ``<img>`` (which never run scripts): no label can inject HTML or JS.
"""

from __future__ import annotations

import base64
import html as html_lib
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from dash import html

from dashboards.grafana.model import EMPTY, DataLink, Panel
from dashboards.grafana.template import ScopeValue, VarValue, interpolate
from dashboards.grafana.timerange import TimeRange
from dashboards.panelquery import PanelData
from dashboards.panels.axis import time_ticks

ROW_PX = 30
GAP_PX = 8
TEXT = "#ccccdc"
MUTED = "rgba(204,204,220,0.65)"
GRID = "rgba(204,204,220,0.10)"


@dataclass(frozen=True, slots=True)
class PanelContext:
    """Everything a renderer needs besides the data."""

    key: str
    panel: Panel
    tr: TimeRange
    width_px: int
    height_px: int
    scope: Mapping[str, ScopeValue] = field(default_factory=lambda: EMPTY)
    prefix: str = "/"
    graph_id_type: str = "dv-graph"
    # the browser draws WebGL on a GPU: only then may a very large graph use it
    # (on a software rasteriser SVG is many times faster; see dashboards/viewport.py)
    gpu_webgl: bool = False

    def href(self, path: str) -> str:
        return self.prefix.rstrip("/") + path


def body_height(ctx: PanelContext) -> int:
    """Pixels below the panel header."""
    return max(ctx.height_px - 32, 40)


def typed_array(values: Any, dtype: str = "f8") -> dict[str, str]:
    """A numeric column in plotly.js's base64 typed-array form (``{"dtype", "bdata"}``):
    the browser takes it as a typed array as is, instead of parsing one JSON number
    per point (a graph of 200,000 points spent a quarter of its drawing time there),
    and it is a third smaller than the JSON text of the same floats."""
    np_dtype = {"f8": "<f8", "i4": "<i4"}[dtype]
    arr = np.ascontiguousarray(values, dtype=np_dtype)
    return {"dtype": dtype, "bdata": base64.b64encode(arr.tobytes()).decode("ascii")}


def escape_plotly(text: str) -> str:
    """Plotly draws names as a small HTML subset; entities make it draw them verbatim."""
    return html_lib.escape(str(text), quote=False)


def svg_img(svg: str, *, class_name: str = "", style: dict[str, Any] | None = None,
            alt: str = "") -> html.Img:
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()
    return html.Img(src=uri, className=class_name, style=style or {}, alt=alt)


def xml(text: str) -> str:
    return html_lib.escape(str(text), quote=True)


def plotly_layout(ctx: PanelContext, height: int, **extra: Any) -> dict[str, Any]:
    # time ticks chosen here, not by plotly: the quick canvas drawing (assets/panels.js)
    # and plotly's then show the same axis
    tickvals, ticktext = time_ticks(ctx.tr.from_ms, ctx.tr.to_ms, ctx.width_px - 60)
    layout: dict[str, Any] = {
        "height": height,
        "margin": {"l": 48, "r": 12, "t": 6, "b": 26},
        "paper_bgcolor": "rgba(0,0,0,0)",
        "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": TEXT, "size": 11, "family": "Inter, Helvetica, Arial, sans-serif"},
        "showlegend": False,
        "xaxis": {"type": "date", "gridcolor": GRID, "zeroline": False, "showline": False,
                  "range": [ctx.tr.from_ms, ctx.tr.to_ms], "tickfont": {"color": MUTED},
                  "fixedrange": False, "tickmode": "array", "tickvals": tickvals, "ticktext": ticktext},
        "yaxis": {"gridcolor": GRID, "zeroline": False, "tickfont": {"color": MUTED},
                  "fixedrange": True, "automargin": True},
        "hoverlabel": {"bgcolor": "#22252b", "bordercolor": "#3a3d44", "font": {"color": TEXT}},
        "dragmode": "zoom",
        "uirevision": ctx.key,
    }
    layout.update(extra)
    return layout


GRAPH_CONFIG = {"displayModeBar": False, "responsive": False, "doubleClick": False,
                "scrollZoom": False}


# --------------------------------------------------------------- data links
def link_href(link: DataLink, ctx: PanelContext, extra: Mapping[str, ScopeValue] = EMPTY) -> str:
    """A link's URL with variables, ``${__url_time_range}``, ``${__all_variables}`` and
    the per-value fields (``${__value.text}``, ``${__field.labels.pod}``…) filled in."""
    time_qs = urllib.parse.urlencode({"from": ctx.tr.raw_from if ctx.tr.is_relative else ctx.tr.from_ms,
                                      "to": ctx.tr.raw_to if ctx.tr.is_relative else ctx.tr.to_ms})
    all_vars = "&".join(
        urllib.parse.urlencode({f"var-{k}": x}) for k, v in ctx.scope.items()
        if isinstance(v, VarValue) and not k.startswith("__") for x in v.values)
    scope: dict[str, ScopeValue] = {**ctx.scope, "__url_time_range": time_qs,
                                     "__all_variables": all_vars, **extra}
    url = interpolate(link.url, scope, default_format="glob")
    if link.keep_time and "from=" not in url:
        url += ("&" if "?" in url else "?") + time_qs
    if link.include_vars and all_vars:
        url += ("&" if "?" in url else "?") + all_vars
    if url.startswith("/") and not url.startswith("//"):
        url = ctx.href(url)
    # only web links: a javascript: or data: URL from a dashboard never reaches an href
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    return url if scheme in ("", "http", "https") else "#"


def links_menu(ctx: PanelContext) -> Any:
    links = ctx.panel.links
    if not links:
        return None
    items = [html.A(interpolate(l.title, ctx.scope, default_format="glob") or link_href(l, ctx),
                    href=link_href(l, ctx), target="_blank" if l.target_blank else None,
                    className="panel-link") for l in links]
    return html.Details([html.Summary("↗", className="panel-icon", title="Links"),
                         html.Div(items, className="panel-menu")], className="panel-links")


def inspector(data: PanelData | None) -> Any:
    if data is None or not data.runs:
        return None
    rows = [html.Tr([html.Td(r.ref_id), html.Td(html.Code(r.expr)), html.Td(r.kind),
                     html.Td(f"{r.step_s:g}s"), html.Td(f"{r.elapsed_s * 1000:.0f} ms"),
                     html.Td(str(r.series)), html.Td(str(r.samples)), html.Td(r.cache),
                     html.Td(r.error, className="err")]) for r in data.runs]
    head = html.Tr([html.Th(x) for x in ("ref", "query", "type", "step", "time", "series",
                                          "samples", "cache", "error")])
    notes = []
    if data.skipped_transformations:
        notes.append(html.Div("Transformations not applied: " +
                              ", ".join(data.skipped_transformations), className="muted"))
    return html.Details([html.Summary("i", className="panel-icon", title="Query inspector"),
                         html.Div([html.Table([head] + rows, className="inspect-table")] + notes,
                                  className="panel-menu inspect")], className="panel-inspect")


def frame(ctx: PanelContext, body: Any, data: PanelData | None = None,
          transparent: bool = False) -> html.Div:
    """The panel box: header with title and icons, then ``body``."""
    p = ctx.panel
    title = interpolate(p.title, ctx.scope, default_format="glob")
    header_bits = [html.Span(title, className="panel-title", title=p.description or None)]
    if data is not None and data.error:
        header_bits.append(html.Span("!", className="panel-error-badge", title=data.error))
    icons = [x for x in (links_menu(ctx), inspector(data)) if x is not None]
    header = html.Div(header_bits + [html.Div(icons, className="panel-icons")],
                      className="panel-header")
    return html.Div([header, html.Div(body, className="panel-body")],
                    className="panel" + (" transparent" if transparent else ""),
                    **{"data-panel-type": p.type, "data-panel-key": ctx.key})


def message(text: str, kind: str = "nodata") -> html.Div:
    return html.Div(text, className=f"panel-message {kind}")


def error_body(data: PanelData) -> html.Div:
    return html.Div([html.Div("Query error", className="panel-error-title"),
                     html.Pre(data.error, className="panel-error-text")], className="panel-error")


def no_values_frame(ctx: PanelContext, data: PanelData) -> html.Div:
    """The frame of a value panel with nothing to show: the query error if there
    is one, else the panel's ``noValue`` text or "No data"."""
    if data.error:
        return frame(ctx, error_body(data), data)
    return frame(ctx, message(ctx.panel.defaults.no_value or "No data"), data)
