"""``/status``: build information, TSDB statistics, cardinality by metric and label,
and the running configuration."""

from __future__ import annotations

from typing import Any

from dash import html

from dashboards.client import APIError
from dashboards.components import notice
from dashboards.context import AppContext
from dashboards.grafana.units import format_value


def _kv_table(title: str, rows: list[dict[str, Any]], value_unit: str = "short") -> Any:
    if not rows:
        return None
    top = max((float(r.get("value") or 0) for r in rows), default=1.0) or 1.0
    body = [html.Tr([html.Td(r.get("name", "")),
                     html.Td(format_value(float(r.get("value") or 0), value_unit), className="num"),
                     html.Td(html.Div(className="cardinality-bar",
                                      style={"width": f"{float(r.get('value') or 0) / top * 100:.1f}%"}))])
            for r in rows]
    return html.Div([html.H3(title), html.Table(html.Tbody(body), className="data-table cardinality")],
                    className="card")


def layout(ctx: AppContext) -> Any:
    parts: list[Any] = [html.H1("Status")]
    try:
        b = ctx.api.buildinfo()
        parts.append(html.Div([html.H2("Build", className="section-title"),
                               html.Table(html.Tbody([html.Tr([html.Td(k), html.Td(str(v))])
                                                      for k, v in sorted(b.items())]),
                                          className="data-table kv")], className="card"))
    except APIError as e:
        parts.append(notice(f"Build information unavailable: {e.message}", "error"))
    try:
        t = ctx.api.tsdb_status()
        head = t.get("headStats") or {}
        stats = html.Div([html.Div([html.Div(format_value(float(head.get(k) or 0), "short"),
                                             className="big-number"), html.Div(label, className="muted")],
                                   className="stat-card")
                          for k, label in (("numSeries", "head series"), ("numLabelPairs", "label pairs"),
                                           ("chunkCount", "chunks"))], className="stat-cards")
        parts += [html.H2("TSDB", className="section-title"), stats,
                  html.Div([x for x in (
                      _kv_table("Series count by metric name", t.get("seriesCountByMetricName") or []),
                      _kv_table("Label value count by label name",
                                t.get("labelValueCountByLabelName") or []),
                      _kv_table("Memory by label name", t.get("memoryInBytesByLabelName") or [], "bytes"),
                      _kv_table("Series count by label pair", t.get("seriesCountByLabelValuePair") or []),
                  ) if x is not None], className="cards")]
    except APIError as e:
        parts.append(notice(f"TSDB status unavailable: {e.message}", "error"))
    try:
        cfg = ctx.api.config()
        parts += [html.H2("Configuration", className="section-title"), html.Pre(cfg, className="config")]
    except APIError as e:
        parts.append(notice(f"Configuration unavailable: {e.message}", "warn"))
    return html.Div(parts, className="page-pad status")


def register(app: Any, ctx: AppContext) -> None:
    """The status page has no callbacks: it reads everything when opened."""
