"""Pieces several pages use: the navigation shell, the time-range picker and its
logic, label chips, and notices."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from dash import dcc, html

from dashboards.grafana.timerange import REFRESH_CHOICES, RELATIVE_CHOICES, TimeRange, describe

NAV = (("/", "Home", "home"), ("/dashboards", "Dashboards", "dashboards"),
       ("/explore", "Explore", "explore"), ("/alerting", "Alerts", "alerting"),
       ("/rules", "Rules", "rules"), ("/targets", "Targets", "targets"),
       ("/status", "Status", "status"))


def shell(prefix: str) -> html.Div:
    href = lambda p: prefix.rstrip("/") + p
    links = [dcc.Link(label, href=href(path), className="nav-link", id=f"nav-{key}")
             for path, label, key in NAV]
    return html.Div([
        dcc.Location(id="url", refresh="callback-nav"),
        html.Header([
            dcc.Link([html.Span("◉", className="logo-mark"), html.Span("Spyglass")],
                     href=href("/"), className="brand"),
            html.Nav(links, className="nav"),
        ], className="topbar"),
        html.Main(id="page", className="page"),
    ], className="app")


def time_picker(p: str, raw_from: str, raw_to: str, refresh: str = "",
                with_refresh: bool = True) -> html.Div:
    """Relative choices, absolute from/to inputs, zoom out, refresh interval."""
    rel = raw_from if raw_to == "now" and raw_from in dict(RELATIVE_CHOICES) else None
    parts: list[Any] = [
        dcc.Dropdown(id=f"{p}-range", options=[{"label": l, "value": v} for v, l in RELATIVE_CHOICES],
                     value=rel, placeholder=describe(raw_from, raw_to), clearable=False,
                     searchable=False, className="tp-range"),
        dcc.Input(id=f"{p}-from", value=raw_from, debounce=True, className="tp-input",
                  placeholder="now-6h"),
        html.Span("to", className="tp-sep"),
        dcc.Input(id=f"{p}-to", value=raw_to, debounce=True, className="tp-input", placeholder="now"),
        html.Button("Apply", id=f"{p}-apply", n_clicks=0, className="btn"),
        html.Button("−", id=f"{p}-zoomout", n_clicks=0, className="btn icon", title="Zoom out (×2)"),
    ]
    if with_refresh:
        parts += [
            html.Button("↻", id=f"{p}-refresh-now", n_clicks=0, className="btn icon", title="Refresh"),
            dcc.Dropdown(id=f"{p}-refresh", value=refresh,
                         options=[{"label": r or "Off", "value": r} for r in REFRESH_CHOICES],
                         clearable=False, searchable=False, className="tp-refresh"),
        ]
    return html.Div(parts, className="time-picker")


def _plotly_time(text: Any) -> int | None:
    if isinstance(text, (int, float)):
        return int(text)
    try:
        dt = datetime.fromisoformat(str(text).replace(" ", "T"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)


def zoom_range(relayout: Mapping[str, Any] | None) -> tuple[str, str] | None:
    """A drag-zoom on a graph → absolute (from, to) in epoch ms, or None."""
    if not relayout:
        return None
    a = relayout.get("xaxis.range[0]")
    b = relayout.get("xaxis.range[1]")
    if a is None and isinstance(relayout.get("xaxis.range"), list):
        a, b = relayout["xaxis.range"][:2]
    f, t = _plotly_time(a), _plotly_time(b)
    if f is None or t is None or t <= f:
        return None
    return str(f), str(t)


def zoom_out(tr: TimeRange, now_ms: int) -> tuple[str, str]:
    """Grafana's zoom out: twice the span around the same centre; stays relative when
    the range ended at now."""
    span = tr.span_ms
    if tr.raw_to == "now":
        seconds = span * 2 // 1000
        return f"now-{seconds}s", "now"
    centre = (tr.from_ms + tr.to_ms) // 2
    f, t = centre - span, min(centre + span, now_ms)
    return str(f), str(t)


def label_chips(labels: Mapping[str, str], skip: tuple[str, ...] = ()) -> html.Div:
    return html.Div([html.Span([html.B(k), "=", v], className="chip")
                     for k, v in sorted(labels.items()) if k not in skip], className="chips")


def notice(text: str, kind: str = "info") -> html.Div:
    return html.Div(text, className=f"notice {kind}")


def refresh_ms(refresh: str) -> int:
    from spyglass.configtypes import parse_duration_ms
    try:
        return max(parse_duration_ms(refresh), 1000) if refresh else 3600_000
    except ValueError:
        return 3600_000


def ago(ts: str | float | None, now_ms: int) -> str:
    """"12s ago" for an RFC 3339 time or Unix seconds."""
    if ts in (None, "", "0001-01-01T00:00:00Z"):
        return "never"
    try:
        if isinstance(ts, (int, float)):
            ms = float(ts) * 1000
        else:
            s = str(ts).replace("Z", "+00:00")
            # Go writes nanoseconds; Python takes at most microseconds
            if "." in s:
                head, _, tail = s.partition(".")
                digits = "".join(ch for ch in tail if ch.isdigit())
                zone = tail[len(digits):]
                s = f"{head}.{digits[:6]}{zone}"
            ms = datetime.fromisoformat(s).timestamp() * 1000
    except ValueError:
        return str(ts)
    d = max(0, (now_ms - ms) / 1000)
    if d < 60:
        return f"{d:.0f}s ago"
    if d < 3600:
        return f"{d / 60:.0f}m ago"
    if d < 86400:
        return f"{d / 3600:.1f}h ago"
    return f"{d / 86400:.1f}d ago"
