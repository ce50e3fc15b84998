"""OTLP metrics receiver (gRPC and HTTP) with the OpenTelemetry → Prometheus mapping.

Build one :class:`OTLPReceiver` and serve it on every OTLP listener, so that
delta-to-cumulative state is shared::

    from collector.receivers import otlp
    rx = otlp.OTLPReceiver(storage, limits, registry, otlp.OTLPOptions())
    app.include_router(rx.http_router(prefix="/api/v1/otlp"))   # :9700/api/v1/otlp/v1/metrics
    app4318.include_router(rx.http_router())                    # :4318/v1/metrics
    grpc = rx.grpc_server(); grpc.start("0.0.0.0:4317")

``http_router(...)`` and ``GrpcReceiver(...)`` with an appendable are
shortcuts that build their own receiver.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from collector.receivers.limits import IngestLimits
from collector.receivers.otlp.grpcserver import GrpcReceiver as _GrpcServer
from collector.receivers.otlp.options import OTLPOptions
from collector.receivers.otlp.receiver import OTLPReceiver
from collector.receivers.otlp.translate import Translated, Translator
from storage.interface import Appendable


def http_router(
    appendable: Appendable,
    limits: IngestLimits | None = None,
    registry: CollectorRegistry | None = None,
    prefix: str = "",
    options: OTLPOptions | None = None,
):
    """``POST {prefix}/v1/metrics`` into ``appendable`` with a receiver of its own."""
    return OTLPReceiver(appendable, limits, registry, options).http_router(prefix)


class GrpcReceiver(_GrpcServer):
    """The OTLP/gRPC server; pass an :class:`OTLPReceiver` to share it with HTTP,
    or an appendable for a receiver of its own::

        g = GrpcReceiver(storage, limits, registry); g.start("127.0.0.1:4317"); g.shutdown()
    """

    def __init__(
        self,
        appendable_or_receiver: Appendable | OTLPReceiver,
        limits: IngestLimits | None = None,
        registry: CollectorRegistry | None = None,
        options: OTLPOptions | None = None,
        *,
        max_workers: int | None = None,
        server_credentials=None,
    ):
        rx = appendable_or_receiver
        if not isinstance(rx, OTLPReceiver):
            rx = OTLPReceiver(rx, limits, registry, options)
        super().__init__(rx, max_workers=max_workers, server_credentials=server_credentials)


__all__ = ["GrpcReceiver", "OTLPOptions", "OTLPReceiver", "Translated", "Translator", "http_router"]
