"""OTLP/HTTP for metrics: ``POST {prefix}/v1/metrics``.

Bodies are ``application/x-protobuf`` or ``application/json`` (the OTLP JSON
mapping), optionally ``Content-Encoding: gzip``; the response uses the
request's encoding. Errors carry a ``google.rpc.Status`` body, as the OTLP
specification asks.
"""

from __future__ import annotations

from fastapi import APIRouter
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response

from collector.receivers.body import decode_content_encoding
from collector.receivers.errors import IngestError
from collector.receivers.httpserve import ServeContext, serve

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

# gRPC codes for the Status body of HTTP errors.
_GRPC_CODE = {400: 3, 413: 3, 415: 3, 429: 8, 503: 14}


def _media(headers: Headers) -> str:
    return headers.get("content-type", "").partition(";")[0].strip().lower()


def _render(message, media: str, status: int, headers: dict[str, str] | None = None) -> Response:
    if media == JSON:
        body = json_format.MessageToJson(message, indent=None).encode()
    else:
        body, media = message.SerializeToString(), PROTOBUF
    return Response(body, status, headers=headers, media_type=media)


def make_router(receiver, prefix: str = "") -> APIRouter:
    from collector.receivers.otlp.receiver import PROTOCOL_HTTP

    ctx = ServeContext(PROTOCOL_HTTP, receiver.limits, receiver.gate, receiver.metrics, 429)
    limits = receiver.limits

    def process(body: bytes, headers: Headers) -> Response:
        media = _media(headers)
        if media not in (PROTOBUF, JSON):
            raise IngestError(
                415, f"unsupported Content-Type {headers.get('content-type')!r}: "
                f"expected {PROTOBUF} or {JSON}", "unsupported_media_type",
            )
        data = decode_content_encoding(body, headers.get("content-encoding"), limits.max_decoded_bytes)
        req = ExportMetricsServiceRequest()
        try:
            if media == JSON:
                json_format.Parse(data, req, ignore_unknown_fields=True)
            else:
                req.ParseFromString(data)
        except (DecodeError, json_format.ParseError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise IngestError(400, f"cannot decode ExportMetricsServiceRequest: {e}", "malformed") from None
        return _render(receiver.export(req, PROTOCOL_HTTP), media, 200)

    async def endpoint(request: Request) -> Response:
        media = _media(request.headers)

        def render_error(e: IngestError) -> Response:
            st = status_pb2.Status(code=_GRPC_CODE.get(e.status, 2), message=e.message)
            return _render(st, media if media == JSON else PROTOBUF, e.status, e.headers())

        return await serve(request, ctx, process, render_error)

    router = APIRouter()
    router.add_api_route(prefix.rstrip("/") + "/v1/metrics", endpoint, methods=["POST"], include_in_schema=False)
    return router
