"""``POST /api/v1/write``: the Prometheus remote-write receiver (1.0 and 2.0).

Content negotiation follows the 2.0 spec: ``Content-Type:
application/x-protobuf`` (optionally ``;proto=prometheus.WriteRequest``) is
1.0, ``;proto=io.prometheus.write.v2.Request`` is 2.0, anything else is 415;
``Content-Encoding`` must be ``snappy`` (absent is taken as snappy, as 1.0
senders predate the header). Answers:

- 204 when everything was stored;
- 400 with a reason when anything was not (invalid labels, native
  histograms, storage rejects such as out-of-order); the valid rest of the
  request *is* stored, and senders do not retry a 400;
- 413 over a size limit, 415 for unsupported types or encodings;
- 503 + Retry-After when overloaded or the disk is full (1.0 senders retry 5xx
  but drop on 429 unless told otherwise, so 503 is the safe "retry later").

2.0 responses carry ``X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written``.
Exemplars are accepted and counted but not stored (Spyglass's storage keeps
no exemplars), so Exemplars-Written is 0; native histograms are refused.

    app.include_router(remote_write.router(storage, IngestLimits()))
"""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CollectorRegistry
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from collector.receivers.body import snappy_block_decode
from collector.receivers.errors import IngestError, append_batch, describe_rejects
from collector.receivers.gate import InFlightGate
from collector.receivers.httpserve import ASGIEndpoint, ServeContext, serve
from collector.receivers.labelcache import LabelCache
from collector.receivers.limits import IngestLimits
from collector.receivers.remote_write.decode import Decoded, decode_v1, decode_v2
from collector.receivers.telemetry import ReceiverMetrics
from storage.interface import Appendable, AppendResult

PROTOCOL = "remote_write"
PROTO_V1 = "prometheus.WriteRequest"
PROTO_V2 = "io.prometheus.write.v2.Request"
CONTENT_TYPE_V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
HEADER_SAMPLES = "X-Prometheus-Remote-Write-Samples-Written"
HEADER_HISTOGRAMS = "X-Prometheus-Remote-Write-Histograms-Written"
HEADER_EXEMPLARS = "X-Prometheus-Remote-Write-Exemplars-Written"
# Threads decoding and appending requests. Both hold the GIL nearly all the
# time, so more threads only take turns on it, and each turn costs: measured
# with 4 concurrent senders, 4 threads used 10-20 % more CPU per sample than
# 1 or 2, for no more throughput. Two let one request decode while another
# waits on a slow WAL write.
APPEND_THREADS = 2


def negotiate(headers: Headers) -> str:
    """The message a request carries (PROTO_V1 or PROTO_V2), or IngestError 415."""
    ctype = headers.get("content-type", "")
    media, _, params = ctype.partition(";")
    media = media.strip().lower()
    if media not in ("", "application/x-protobuf"):
        raise IngestError(
            415, f"unsupported Content-Type {ctype!r}: expected application/x-protobuf",
            "unsupported_media_type",
        )
    proto = PROTO_V1
    for p in params.split(";"):
        k, _, v = p.partition("=")
        if k.strip().lower() == "proto":
            proto = v.strip().strip('"')
    if proto not in (PROTO_V1, PROTO_V2):
        raise IngestError(
            415, f"unsupported remote-write message proto={proto!r}: expected {PROTO_V1} or {PROTO_V2}",
            "unsupported_media_type",
        )
    enc = headers.get("content-encoding", "snappy").strip().lower()
    if enc != "snappy":
        raise IngestError(
            415, f"unsupported Content-Encoding {enc!r}: remote-write bodies are snappy block-compressed",
            "unsupported_media_type",
        )
    return proto


class RemoteWriteReceiver:
    """Decodes remote-write requests and appends them to ``appendable``.

    ``asgi`` is the endpoint as a bare ASGI app (what :func:`router` mounts);
    the receiver itself is also usable as a Starlette/FastAPI endpoint::

        receiver = RemoteWriteReceiver(storage, IngestLimits(), registry)
        app.router.routes.append(Route("/api/v1/write", receiver.asgi, methods=["POST"]))
        response = await receiver(request)
    """

    def __init__(
        self,
        appendable: Appendable,
        limits: IngestLimits | None = None,
        registry: CollectorRegistry | None = None,
    ):
        self.appendable = appendable
        self.limits = limits or IngestLimits()
        self.label_limits = self.limits.label_limits()
        self.cache = LabelCache(self.limits.label_cache_size)
        self.metrics = ReceiverMetrics.for_registry(registry)
        self.ctx = ServeContext(
            PROTOCOL, self.limits, InFlightGate(self.limits.max_in_flight_requests), self.metrics, 503
        )
        self.asgi = ASGIEndpoint(
            self.ctx, self.process, render_error, threads=min(APPEND_THREADS, self.limits.max_in_flight_requests)
        )

    async def __call__(self, request: Request) -> Response:
        return await serve(request, self.ctx, self.process, lambda e: render_error(e, request.headers))

    def decode(self, body: bytes, headers: Headers) -> tuple[str, Decoded]:
        """Negotiate, decompress and decode one request body (raises IngestError)."""
        proto = negotiate(headers)
        data = snappy_block_decode(body, self.limits.max_decoded_bytes)
        decode = decode_v2 if proto == PROTO_V2 else decode_v1
        return proto, decode(data, self.cache, self.label_limits, self.limits.max_series_per_request)

    def process(self, body: bytes, headers: Headers) -> Response:
        proto, d = self.decode(body, headers)
        m = self.metrics
        if d.exemplars:
            m.exemplars.labels(PROTOCOL).inc(d.exemplars)
        for reason, n in d.dropped.items():
            m.dropped.labels(PROTOCOL, reason).inc(n)
        result = AppendResult()
        if len(d.batch) or d.batch.metadata:
            result = append_batch(self.appendable, d.batch, overload_status=503)
        if result.accepted:
            m.samples.labels(PROTOCOL).inc(result.accepted)
        for reason, n in result.rejected.items():
            m.dropped.labels(PROTOCOL, reason.value).inc(n)
        headers_out = {}
        if proto == PROTO_V2:
            headers_out = {
                HEADER_SAMPLES: str(result.accepted),
                HEADER_HISTOGRAMS: "0",
                HEADER_EXEMPLARS: "0",
            }
        if result.rejected_total or d.dropped:
            msg = describe_rejects(result, d.dropped, d.errors)
            return PlainTextResponse(msg + "\n", 400, headers=headers_out)
        return Response(status_code=204, headers=headers_out)


def render_error(e: IngestError, request_headers: Headers) -> Response:
    """The answer to a request refused whole; 2.0 senders also get the Written headers (all 0)."""
    headers = e.headers()
    if PROTO_V2 in request_headers.get("content-type", ""):
        headers.update({HEADER_SAMPLES: "0", HEADER_HISTOGRAMS: "0", HEADER_EXEMPLARS: "0"})
    return PlainTextResponse(e.message + "\n", e.status, headers=headers)


def router(
    appendable: Appendable,
    limits: IngestLimits | None = None,
    registry: CollectorRegistry | None = None,
    *,
    path: str = "/api/v1/write",
) -> APIRouter:
    """An APIRouter serving ``POST {path}`` (remote-write 1.0 and 2.0) into
    ``appendable``, as a bare ASGI route (see ``httpserve.ASGIEndpoint``)."""
    receiver = RemoteWriteReceiver(appendable, limits, registry)
    r = APIRouter()
    r.routes.append(Route(path, receiver.asgi, methods=["POST"], include_in_schema=False))
    return r
