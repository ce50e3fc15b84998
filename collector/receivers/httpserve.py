"""The request cycle every HTTP receiver shares.

Admission (in-flight gate) → bounded body read → decode and append in a
worker thread (the event loop keeps accepting while storage fsyncs) → status,
with the receiver's own telemetry around it. A receiver supplies only
``process(body, headers) -> Response`` and how to render an ``IngestError``::

    return await serve(request, ctx, process, render_error)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from collector.receivers.body import read_body
from collector.receivers.errors import IngestError
from collector.receivers.gate import InFlightGate
from collector.receivers.limits import IngestLimits
from collector.receivers.telemetry import ReceiverMetrics


@dataclass(frozen=True, slots=True)
class ServeContext:
    """What one receiver endpoint needs to run a request."""

    protocol: str  # the ``protocol`` label of the receiver metrics
    limits: IngestLimits
    gate: InFlightGate
    metrics: ReceiverMetrics
    overload_status: int  # 429 or 503 when the gate is full


def plain_error(e: IngestError) -> Response:
    return PlainTextResponse(e.message + "\n", e.status, headers=e.headers())


async def serve(
    request: Request,
    ctx: ServeContext,
    process: Callable[[bytes, Headers], Response],
    render_error: Callable[[IngestError], Response] = plain_error,
) -> Response:
    m = ctx.metrics
    proto = ctx.protocol
    t0 = time.perf_counter()
    if not ctx.gate.try_acquire():
        e = IngestError(
            ctx.overload_status,
            f"too many {proto} requests in flight (limit {ctx.gate.limit}), retry later",
            "overload",
            ctx.limits.retry_after_seconds,
        )
        m.refused.labels(proto, e.reason).inc()
        response = render_error(e)
        m.requests.labels(proto, str(response.status_code)).inc()
        return response
    in_flight = m.in_flight.labels(proto)
    in_flight.inc()
    try:
        body = await read_body(request, ctx.limits.max_body_bytes)
        m.received_bytes.labels(proto).inc(len(body))
        response = await run_in_threadpool(process, body, request.headers)
    except IngestError as e:
        m.refused.labels(proto, e.reason).inc()
        response = render_error(e)
    finally:
        in_flight.dec()
        ctx.gate.release()
    m.requests.labels(proto, str(response.status_code)).inc()
    m.duration.labels(proto).observe(time.perf_counter() - t0)
    return response
