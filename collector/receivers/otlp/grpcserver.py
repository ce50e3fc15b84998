"""OTLP/gRPC for metrics: ``opentelemetry.proto.collector.metrics.v1.MetricsService/Export``.

gRPC itself handles ``grpc-encoding: gzip`` and enforces the message size
(``IngestLimits.max_decoded_bytes``). Overload answers UNAVAILABLE with a
``google.rpc.RetryInfo`` detail (the OTLP exporters' retry hint); a request
we cannot accept for good answers INVALID_ARGUMENT::

    grpc = GrpcReceiver(OTLPReceiver(storage, limits, registry))
    port = grpc.start("0.0.0.0:4317")
    ...
    grpc.shutdown()
"""

from __future__ import annotations

from concurrent import futures

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc

from collector.receivers.errors import IngestError
from collector.receivers.otlp.receiver import PROTOCOL_GRPC, OTLPReceiver


class _MetricsService(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OTLPReceiver):
        self.rx = receiver

    def Export(self, request, context):
        rx = self.rx
        m = rx.metrics
        if not rx.gate.try_acquire():
            m.refused.labels(PROTOCOL_GRPC, "overload").inc()
            self._abort(context, IngestError(
                429, f"too many OTLP requests in flight (limit {rx.gate.limit}), retry later",
                "overload", rx.limits.retry_after_seconds,
            ))
        in_flight = m.in_flight.labels(PROTOCOL_GRPC)
        in_flight.inc()
        try:
            m.received_bytes.labels(PROTOCOL_GRPC).inc(request.ByteSize())
            with m.duration.labels(PROTOCOL_GRPC).time():
                response = rx.export(request, PROTOCOL_GRPC)
        except IngestError as e:
            m.refused.labels(PROTOCOL_GRPC, e.reason).inc()
            self._abort(context, e)
        finally:
            in_flight.dec()
            rx.gate.release()
        m.requests.labels(PROTOCOL_GRPC, "OK").inc()
        return response

    def _abort(self, context, e: IngestError):
        if e.retryable:
            code, rpc_code = grpc.StatusCode.UNAVAILABLE, code_pb2.UNAVAILABLE
        else:
            code, rpc_code = grpc.StatusCode.INVALID_ARGUMENT, code_pb2.INVALID_ARGUMENT
        self.rx.metrics.requests.labels(PROTOCOL_GRPC, code.name).inc()
        status = status_pb2.Status(code=rpc_code, message=e.message)
        if e.retry_after:
            detail = any_pb2.Any()
            detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=e.retry_after)))
            status.details.append(detail)
        context.set_trailing_metadata((("grpc-status-details-bin", status.SerializeToString()),))
        context.abort(code, e.message)


class GrpcReceiver:
    """The OTLP metrics gRPC server around an :class:`OTLPReceiver`."""

    def __init__(self, receiver: OTLPReceiver, *, max_workers: int | None = None, server_credentials=None):
        self.receiver = receiver
        limit = receiver.limits.max_decoded_bytes
        # one worker more than the gate admits, so refusals are answered at once
        workers = max_workers or receiver.limits.max_in_flight_requests + 1
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="otlp-grpc"),
            options=[("grpc.max_receive_message_length", limit), ("grpc.so_reuseport", 0)],
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(_MetricsService(receiver), self._server)
        self._credentials = server_credentials
        self._started = False

    def start(self, address: str = "0.0.0.0:4317") -> int:
        """Listen on ``address`` (``host:0`` picks a free port) and return the port."""
        if self._credentials is not None:
            port = self._server.add_secure_port(address, self._credentials)
        else:
            port = self._server.add_insecure_port(address)
        if port == 0:
            raise OSError(f"cannot listen for OTLP/gRPC on {address}")
        self._server.start()
        self._started = True
        return port

    def shutdown(self, grace: float = 5.0) -> None:
        """Stop accepting, let running exports finish for up to ``grace`` seconds."""
        if self._started:
            self._server.stop(grace).wait()
            self._started = False
