"""Metric ingestion protocols: each receiver decodes a wire format into
``storage.interface.SampleBatch`` and appends it to any ``Appendable``.

    from collector.receivers import IngestLimits, remote_write, otlp, influx
    app.include_router(remote_write.router(storage, limits, registry))   # POST /api/v1/write
    app.include_router(influx.router(storage, limits, registry))         # POST /write, /api/v2/write
    app.include_router(otlp.http_router(storage, limits, registry, prefix="/api/v1/otlp"))
    grpc = otlp.GrpcReceiver(storage, limits, registry); grpc.start("0.0.0.0:4317")
"""

from collector.receivers.limits import IngestLimits

__all__ = ["IngestLimits"]
