"""The OTLP metrics receiver: one translator and one store behind every OTLP
listener (gRPC :4317, HTTP :4318 ``/v1/metrics``, and ``/api/v1/otlp/v1/metrics``
on the main port), so delta streams keep one running total whichever way
their points arrive::

    rx = OTLPReceiver(storage, IngestLimits(), registry)
    app.include_router(rx.http_router(prefix="/api/v1/otlp"))   # main port 9700
    otlp_app.include_router(rx.http_router())                   # port 4318
    grpc = rx.grpc_server(); grpc.start("0.0.0.0:4317"); ...; grpc.shutdown()

Outcomes follow the OTLP specification: success (with ``partial_success``
counting the data points not stored and why) → HTTP 200 / gRPC OK; a body
that cannot be decoded → 400 / INVALID_ARGUMENT; overload → 429 (storage
full: 503) with Retry-After / gRPC UNAVAILABLE with RetryInfo.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsPartialSuccess,
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from prometheus_client import CollectorRegistry

from collector.receivers.errors import append_batch, describe_rejects
from collector.receivers.gate import InFlightGate
from collector.receivers.limits import IngestLimits
from collector.receivers.otlp.options import OTLPOptions
from collector.receivers.otlp.translate import Translator
from collector.receivers.telemetry import ReceiverMetrics
from storage.interface import Appendable, AppendResult

PROTOCOL_HTTP = "otlp_http"
PROTOCOL_GRPC = "otlp_grpc"


class OTLPReceiver:
    """Translates OTLP export requests and appends them; see the module doc for wiring."""

    def __init__(
        self,
        appendable: Appendable,
        limits: IngestLimits | None = None,
        registry: CollectorRegistry | None = None,
        options: OTLPOptions | None = None,
        *,
        clock_ns: Callable[[], int] = time.time_ns,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.appendable = appendable
        self.limits = limits or IngestLimits()
        self.options = options or OTLPOptions()
        self.metrics = ReceiverMetrics.for_registry(registry)
        self.translator = Translator(
            self.options,
            self.limits.label_limits(),
            cache_size=self.limits.label_cache_size,
            max_points=self.limits.max_series_per_request,
            clock_ns=clock_ns,
            monotonic=monotonic,
        )
        # One gate for all OTLP listeners: they share the storage behind them.
        self.gate = InFlightGate(self.limits.max_in_flight_requests)

    def export(self, req: ExportMetricsServiceRequest, protocol: str) -> ExportMetricsServiceResponse:
        """Translate and store one request; raises IngestError for retryable refusals."""
        t = self.translator.translate(req)
        m = self.metrics
        if t.exemplars:
            m.exemplars.labels(protocol).inc(t.exemplars)
        for reason, n in t.dropped.items():
            m.dropped.labels(protocol, reason).inc(n)
        result = AppendResult()
        if len(t.batch) or t.batch.metadata:
            result = append_batch(self.appendable, t.batch, overload_status=429)
        if result.accepted:
            m.samples.labels(protocol).inc(result.accepted)
        for reason, n in result.rejected.items():
            m.dropped.labels(protocol, reason.value).inc(n)
        # Storage rejects count samples, not OTLP points: report them as an
        # upper bound of the points affected.
        rejected = t.rejected_points + result.rejected_total
        if not rejected and not t.dropped:
            return ExportMetricsServiceResponse()
        msg = describe_rejects(result, t.dropped, t.errors)
        return ExportMetricsServiceResponse(
            partial_success=ExportMetricsPartialSuccess(
                rejected_data_points=min(rejected, t.points) if t.points else rejected, error_message=msg
            )
        )

    def http_router(self, prefix: str = ""):
        """An APIRouter serving ``POST {prefix}/v1/metrics`` (protobuf or JSON, gzip or not)."""
        from collector.receivers.otlp.httpapi import make_router

        return make_router(self, prefix)

    def grpc_server(self, max_workers: int | None = None, server_credentials=None):
        """A :class:`GrpcReceiver` for this receiver (not started)."""
        from collector.receivers.otlp.grpcserver import GrpcReceiver

        return GrpcReceiver(self, max_workers=max_workers, server_credentials=server_credentials)
