"""The request cycle every HTTP receiver shares.

Admission (in-flight gate) → bounded body read → decode and append in a
worker thread (the event loop keeps accepting while storage fsyncs) → status,
with the receiver's own telemetry around it. A receiver supplies only
``process(body, headers) -> Response`` and how to render an ``IngestError``::

    return await serve(request, ctx, process, render_error)

``ASGIEndpoint`` runs the same cycle as a bare ASGI app, for the busiest
endpoint (remote-write): it reads the body straight from ``receive`` and
runs ``process`` on the receiver's own threads, skipping the framework's
per-request machinery (request objects, dependency resolution, the shared
thread pool, whose 40 threads slow queries could otherwise all hold)::

    router.routes.append(Route("/api/v1/write", ASGIEndpoint(ctx, process, render_error), methods=["POST"]))
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Receive, Scope, Send

from collector.receivers.body import check_content_length, read_body
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

    def overload(self) -> IngestError:
        """The retryable refusal of a request that finds the gate full (counted)."""
        e = IngestError(
            self.overload_status,
            f"too many {self.protocol} requests in flight (limit {self.gate.limit}), retry later",
            "overload",
            self.limits.retry_after_seconds,
        )
        self.metrics.refused.labels(self.protocol, e.reason).inc()
        return e


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
        response = render_error(ctx.overload())
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


class ASGIEndpoint:
    """A receiver endpoint as a bare ASGI app (see the module docstring);
    ``process`` runs on ``threads`` threads of its own."""

    def __init__(
        self,
        ctx: ServeContext,
        process: Callable[[bytes, Headers], Response],
        render_error: Callable[[IngestError, Headers], Response] = lambda e, _: plain_error(e),
        threads: int = 4,
    ):
        self.ctx = ctx
        self.process = process
        self.render_error = render_error
        self.threads = threads
        self._executor: ThreadPoolExecutor | None = None
        m, proto = ctx.metrics, ctx.protocol
        # labelled children looked up once, not per request
        self._in_flight = m.in_flight.labels(proto)
        self._received = m.received_bytes.labels(proto)
        self._duration = m.duration.labels(proto)
        self._codes: dict[int, object] = {}

    @property
    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix=f"{self.ctx.protocol}-append")
        return self._executor

    def _count(self, status: int) -> None:
        c = self._codes.get(status)
        if c is None:
            c = self._codes[status] = self.ctx.metrics.requests.labels(self.ctx.protocol, str(status))
        c.inc()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = self.ctx
        t0 = time.perf_counter()
        headers = Headers(scope=scope)
        if not ctx.gate.try_acquire():
            response = self.render_error(ctx.overload(), headers)
            await response(scope, receive, send)
            self._count(response.status_code)
            return
        self._in_flight.inc()
        try:
            body = await _read(receive, headers, ctx.limits.max_body_bytes)
            self._received.inc(len(body))
            loop = asyncio.get_running_loop()
            response = await loop.run_in_executor(self.executor, self.process, body, headers)
        except IngestError as e:
            ctx.metrics.refused.labels(ctx.protocol, e.reason).inc()
            response = self.render_error(e, headers)
        finally:
            self._in_flight.dec()
            ctx.gate.release()
        await response(scope, receive, send)
        self._count(response.status_code)
        self._duration.observe(time.perf_counter() - t0)

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None


async def _read(receive: Receive, headers: Headers, max_bytes: int) -> bytes:
    """The request body from ``receive``, within ``max_bytes`` (413 beyond)."""
    check_content_length(headers, max_bytes)
    chunks: list[bytes] = []
    total = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise IngestError(400, "client disconnected before sending the whole body", "malformed")
        chunk = message.get("body", b"")
        if chunk:
            total += len(chunk)
            if total > max_bytes:
                raise IngestError(413, f"request body exceeds the limit of {max_bytes} bytes", "too_large")
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)
