"""The bare ASGI receiver endpoint: body reading, limits, errors, its own threads."""

from __future__ import annotations

import asyncio
import threading

from prometheus_client import CollectorRegistry
from starlette.responses import Response

from collector.receivers.errors import IngestError
from collector.receivers.gate import InFlightGate
from collector.receivers.httpserve import ASGIEndpoint, ServeContext
from collector.receivers.limits import IngestLimits
from collector.receivers.telemetry import ReceiverMetrics


def endpoint(process, **limits):
    reg = CollectorRegistry()
    lim = IngestLimits(**limits)
    ctx = ServeContext("test", lim, InFlightGate(lim.max_in_flight_requests), ReceiverMetrics.for_registry(reg), 503)
    return ASGIEndpoint(ctx, process, threads=1), ctx, reg


def call(app, messages, headers=()):
    """Run one request; (status, response headers, body)."""
    scope = {"type": "http", "method": "POST", "path": "/w", "headers": [(k.encode(), v.encode()) for k, v in headers]}
    sent = []

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


def chunks(*parts):
    return [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]


def test_body_in_chunks_is_processed_on_the_endpoint_threads():
    seen = []

    def process(body, headers):
        seen.append((body, headers.get("x-test"), threading.current_thread().name))
        return Response(status_code=204)

    app, _, reg = endpoint(process)
    status, _, _ = call(app, chunks(b"ab", b"cd", b""), [("x-test", "1")])
    assert status == 204
    assert seen[0][:2] == (b"abcd", "1") and seen[0][2].startswith("test-append")
    assert reg.get_sample_value("spyglass_receiver_requests_total", {"protocol": "test", "code": "204"}) == 1
    assert reg.get_sample_value("spyglass_receiver_received_bytes_total", {"protocol": "test"}) == 4
    app.shutdown()


def test_disconnect_before_the_end_of_the_body_is_400_and_frees_the_gate():
    app, ctx, reg = endpoint(lambda b, h: Response(status_code=204))
    status, _, body = call(app, [{"type": "http.request", "body": b"ab", "more_body": True}])
    assert status == 400 and b"disconnected" in body
    assert ctx.gate.in_flight == 0
    assert reg.get_sample_value("spyglass_receiver_in_flight_requests", {"protocol": "test"}) == 0
    assert reg.get_sample_value("spyglass_receiver_requests_refused_total", {"protocol": "test", "reason": "malformed"}) == 1


def test_bodies_over_the_limit_are_413_by_header_and_by_stream():
    app, _, _ = endpoint(lambda b, h: Response(status_code=204), max_body_bytes=4)
    assert call(app, chunks(b"abcdef"), [("content-length", "6")])[0] == 413
    assert call(app, chunks(b"abc", b"def"))[0] == 413  # no Content-Length: counted while reading
    assert call(app, chunks(b"abcd"))[0] == 204


def test_errors_from_process_are_rendered_with_the_request_headers():
    def process(body, headers):
        raise IngestError(503, "storage is full", "storage_full", retry_after=30)

    app, ctx, _ = endpoint(process)
    app.render_error = lambda e, h: Response(e.message, e.status, headers={**e.headers(), "x-echo": h.get("x-test", "")})
    status, headers, body = call(app, chunks(b"x"), [("x-test", "v2")])
    assert (status, body) == (503, b"storage is full")
    assert headers[b"retry-after"] == b"30" and headers[b"x-echo"] == b"v2"
    assert ctx.gate.in_flight == 0
