"""InfluxDB line protocol receiver: ``POST /write`` (1.x) and ``POST /api/v2/write`` (2.x).

Mapping to Prometheus series (the convention of common Influx→Prometheus
bridges such as Telegraf's Prometheus output and VictoriaMetrics):

- each numeric field becomes one series named ``<measurement>_<field>``; a
  field called ``value`` becomes ``<measurement>`` alone;
- tags become labels; the 1.x ``db`` / 2.x ``bucket`` parameter becomes a
  ``db`` label unless the line has a ``db`` tag;
- names are sanitized to Prometheus's legacy character set (other characters
  → ``_``, a leading digit gets a ``_``); tag keys starting with ``__``
  (reserved in Prometheus) get a ``tag`` prefix;
- integers, unsigned integers and floats are stored as floats; booleans as
  1/0; string fields are dropped and counted
  (``spyglass_receiver_samples_dropped_total{reason="string_field"}``);
- the timestamp is in ``precision`` (``ns`` default, ``us``/``u``/``µ``,
  ``ms``, ``s``, ``m``, ``h``); a line without one gets the server's time.

Answers: 204 when every line was stored. A line that does not parse gets a
400 naming its line number — *the valid lines of the same request are
stored* (as InfluxDB's partial writes), so resending the request only
rewrites the same samples. Bodies may be gzip-compressed. Overload: 429
with Retry-After; storage full: 503.

    app.include_router(influx.router(storage, IngestLimits(), registry))
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from collector.receivers.batchbuilder import BatchBuilder
from collector.receivers.body import decode_content_encoding
from collector.receivers.errors import IngestError, append_batch, describe_rejects
from collector.receivers.gate import InFlightGate
from collector.receivers.httpserve import ServeContext, serve
from collector.receivers.influx.lineprotocol import LineError, parse
from collector.receivers.labelcache import LabelCache
from collector.receivers.limits import IngestLimits
from collector.receivers.telemetry import DROP_INVALID_LABELS, DROP_STRING_FIELD, ReceiverMetrics
from storage.interface import Appendable, AppendResult
from storage.labels import METRIC_NAME, InvalidLabels, Labels

PROTOCOL = "influx"
DROP_PARSE_ERROR = "parse_error"

# precision → (multiplier, divisor) to milliseconds
PRECISIONS = {
    "ns": (1, 1_000_000), "n": (1, 1_000_000),
    "us": (1, 1_000), "u": (1, 1_000), "µ": (1, 1_000),
    "ms": (1, 1),
    "s": (1_000, 1),
    "m": (60_000, 1),
    "h": (3_600_000, 1),
}

_BAD_METRIC = re.compile(r"[^a-zA-Z0-9_:]")
_BAD_LABEL = re.compile(r"[^a-zA-Z0-9_]")
_MAX_ERRORS = 10


def metric_name(measurement: str, field: str) -> str:
    name = measurement if field == "value" else f"{measurement}_{field}"
    name = _BAD_METRIC.sub("_", name)
    return "_" + name if name[0].isdigit() else name


def label_name(key: str) -> str:
    name = _BAD_LABEL.sub("_", key)
    if name[0].isdigit():
        return "_" + name
    return "tag" + name if name.startswith("__") else name


class InfluxReceiver:
    """Parses line protocol and appends it; an endpoint for both write paths::

        rx = InfluxReceiver(storage, IngestLimits(), registry)
        app.include_router(rx.router())
    """

    def __init__(
        self,
        appendable: Appendable,
        limits: IngestLimits | None = None,
        registry: CollectorRegistry | None = None,
        *,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ):
        self.appendable = appendable
        self.limits = limits or IngestLimits()
        self.label_limits = self.limits.label_limits()
        self.cache = LabelCache(self.limits.label_cache_size)
        self.metrics = ReceiverMetrics.for_registry(registry)
        self.clock_ms = clock_ms
        self.ctx = ServeContext(
            PROTOCOL, self.limits, InFlightGate(self.limits.max_in_flight_requests), self.metrics, 429
        )

    def _labels(self, measurement: str, field: str, tags, db: str) -> Labels | InvalidLabels:
        key = (measurement, field, tags, db)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        d: dict[str, str] = {}
        for k, v in tags:
            d[label_name(k)] = v
        if db and "db" not in d:
            d["db"] = db
        d[METRIC_NAME] = metric_name(measurement, field)
        labels = Labels.from_dict(d)
        try:
            labels.validate(self.label_limits)
        except InvalidLabels as e:
            return self.cache.put(key, e)
        return self.cache.put(key, labels)

    def write(self, text: str, precision: str, db: str) -> tuple[AppendResult, dict[str, int], list[str], int]:
        """Parse and store one body; returns (append result, dropped by reason,
        messages, number of lines with errors)."""
        mul, div = PRECISIONS[precision]
        now = self.clock_ms()
        b = BatchBuilder()
        dropped: dict[str, int] = {}
        errors: list[str] = []
        bad_lines = 0
        points = 0
        max_points = self.limits.max_series_per_request
        for item in parse(text):
            if type(item) is LineError:
                bad_lines += 1
                if len(errors) < _MAX_ERRORS:
                    errors.append(f"line {item.line}: {item.message}")
                continue
            points += 1
            if max_points and points > max_points:
                raise IngestError(413, f"request has more than {max_points} lines", "too_large")
            ts = now if item.timestamp is None else item.timestamp * mul // div
            for field, value in item.fields:
                if type(value) is str:
                    dropped[DROP_STRING_FIELD] = dropped.get(DROP_STRING_FIELD, 0) + 1
                    continue
                labels = self._labels(item.measurement, field, item.tags, db)
                if type(labels) is not Labels:
                    dropped[DROP_INVALID_LABELS] = dropped.get(DROP_INVALID_LABELS, 0) + 1
                    if len(errors) < _MAX_ERRORS:
                        errors.append(str(labels))
                    continue
                b.add(labels, ts, float(value))
        if bad_lines:
            dropped[DROP_PARSE_ERROR] = bad_lines
        result = AppendResult()
        if len(b):
            result = append_batch(self.appendable, b.batch(), overload_status=429)
        return result, dropped, errors, bad_lines

    def router(self) -> APIRouter:
        r = APIRouter()

        async def v1(request: Request) -> Response:
            query = dict(request.query_params)
            return await serve(
                request, self.ctx, lambda body, headers: self.process(body, headers, query, False), _v1_error
            )

        async def v2(request: Request) -> Response:
            query = dict(request.query_params)
            return await serve(
                request, self.ctx, lambda body, headers: self.process(body, headers, query, True), _v2_error
            )

        r.add_api_route("/write", v1, methods=["POST"], include_in_schema=False)
        r.add_api_route("/api/v2/write", v2, methods=["POST"], include_in_schema=False)
        return r

    def process(self, body: bytes, headers: Headers, query: dict[str, str], v2: bool) -> Response:
        precision = query.get("precision") or "ns"
        if precision not in PRECISIONS:
            raise IngestError(400, f"invalid precision {precision!r} (ns, us, ms, s, m, h)", "malformed")
        data = decode_content_encoding(body, headers.get("content-encoding"), self.limits.max_decoded_bytes)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise IngestError(400, f"body is not valid UTF-8 (byte {e.start})", "malformed") from None
        db = query.get("bucket" if v2 else "db", "")
        result, dropped, errors, bad_lines = self.write(text, precision, db)
        m = self.metrics
        if result.accepted:
            m.samples.labels(PROTOCOL).inc(result.accepted)
        for reason, n in dropped.items():
            m.dropped.labels(PROTOCOL, reason).inc(n)
        for reason, n in result.rejected.items():
            m.dropped.labels(PROTOCOL, reason.value).inc(n)
        invalid = dropped.get(DROP_INVALID_LABELS, 0)
        if bad_lines or result.rejected_total or invalid:
            parts = []
            if bad_lines:
                parts.append(f"{bad_lines} line(s) could not be parsed")
            if invalid:
                parts.append(f"{invalid} field(s) with invalid labels")
            parts.extend(errors)
            if result.rejected_total:
                parts.append(describe_rejects(result))
            msg = "partial write (the other lines were stored): " + "; ".join(parts)
            return (_v2_error if v2 else _v1_error)(IngestError(400, msg, "malformed"))
        return Response(status_code=204)


def _v1_error(e: IngestError) -> Response:
    return JSONResponse({"error": e.message}, e.status, headers=e.headers())


def _v2_error(e: IngestError) -> Response:
    code = {400: "invalid", 413: "request too large", 415: "unsupported media type",
            429: "too many requests", 503: "unavailable"}.get(e.status, "internal error")
    return JSONResponse({"code": code, "message": e.message}, e.status, headers=e.headers())


def router(
    appendable: Appendable,
    limits: IngestLimits | None = None,
    registry: CollectorRegistry | None = None,
) -> APIRouter:
    """An APIRouter serving ``POST /write`` and ``POST /api/v2/write`` into ``appendable``."""
    return InfluxReceiver(appendable, limits, registry).router()
