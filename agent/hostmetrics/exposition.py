"""Prometheus text exposition (format 0.0.4) of metric families, and a tiny ASGI
``/metrics`` endpoint serving a ``HostMetrics`` the way node-exporter serves itself::

    text = render_text(hm.collect_families())
    app = MetricsEndpoint(hm)        # mount at /metrics in any ASGI server

Scrapers add ``job`` and ``instance`` themselves, so the text carries the
families' own labels only (empty values included, as node-exporter prints them).
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client.utils import floatToGoString

from agent.hostmetrics.family import MetricFamily
from storage.interface import MetricType

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_TYPE_WORD = {MetricType.UNKNOWN: "untyped"}


def _escape_help(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n")


def _escape_value(s: str) -> str:
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def render_text(families: Iterable[MetricFamily]) -> str:
    """Families sorted by name, each with HELP and TYPE, series in collection order."""
    out: list[str] = []
    for f in sorted(families, key=lambda f: f.name):
        out.append(f"# HELP {f.name} {_escape_help(f.help)}\n")
        out.append(f"# TYPE {f.name} {_TYPE_WORD.get(f.type, f.type.value)}\n")
        names = f.label_names
        for lv, v in zip(f.label_values, f.values):
            if names:
                body = ",".join(f'{n}="{_escape_value(x)}"' for n, x in zip(names, lv))
                out.append(f"{f.name}{{{body}}} {floatToGoString(v)}\n")
            else:
                out.append(f"{f.name} {floatToGoString(v)}\n")
    return "".join(out)


class MetricsEndpoint:
    """An ASGI app answering GET/HEAD with a fresh collection in text format."""

    def __init__(self, source):
        # Anything with collect_families() -> list[MetricFamily] (a HostMetrics).
        self._source = source

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        method = scope.get("method", "GET")
        if method not in ("GET", "HEAD"):
            await send(
                {
                    "type": "http.response.start",
                    "status": 405,
                    "headers": [(b"allow", b"GET, HEAD"), (b"content-type", b"text/plain")],
                }
            )
            await send({"type": "http.response.body", "body": b"method not allowed\n"})
            return
        # The collectors read small files; a collection takes milliseconds, so
        # running it inline is cheaper than a thread hop.
        body = render_text(self._source.collect_families()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", CONTENT_TYPE.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else body})
