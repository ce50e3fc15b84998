"""Prometheus remote-write receiver (1.0 and 2.0) at ``POST /api/v1/write``.

    from collector.receivers import remote_write
    app.include_router(remote_write.router(storage, IngestLimits(), registry))

``decode_v1`` / ``decode_v2`` turn an uncompressed body into a ``SampleBatch``
for callers that are not HTTP (benchmarks, tools).
"""

from collector.receivers.remote_write.decode import Decoded, decode_v1, decode_v2
from collector.receivers.remote_write.handler import (
    CONTENT_TYPE_V2,
    PROTO_V1,
    PROTO_V2,
    RemoteWriteReceiver,
    negotiate,
    router,
)

__all__ = [
    "CONTENT_TYPE_V2",
    "PROTO_V1",
    "PROTO_V2",
    "Decoded",
    "RemoteWriteReceiver",
    "decode_v1",
    "decode_v2",
    "negotiate",
    "router",
]
