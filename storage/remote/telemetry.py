"""Remote-write queues' own metrics, declared in one place; one set per registry,
labelled by queue name (``remote_name``) and URL.

    t = RemoteWriteTelemetry.for_registry(CollectorRegistry())
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyglass.telemetry import PerRegistry

_L = ["remote_name", "url"]


class RemoteWriteTelemetry(PerRegistry):
    """Counters and gauges of every remote-write queue of one registry."""



    def __init__(self, registry: CollectorRegistry | None):
        r = registry
        p = "spyglass_remote_write_"
        self.samples_in = Counter(p + "samples_in_total", "Samples appended to the queue.", _L, registry=r)
        self.samples_sent = Counter(p + "samples_sent_total", "Samples acknowledged by the receiver.", _L, registry=r)
        self.samples_failed = Counter(
            p + "samples_failed_total",
            "Samples in requests the receiver refused with a non-retryable error (4xx); dropped.", _L, registry=r,
        )
        self.samples_retried = Counter(
            p + "samples_retried_total", "Samples sent again after a retryable error (5xx, 429, network).", _L, registry=r
        )
        self.samples_dropped = Counter(
            p + "samples_dropped_total",
            "Samples dropped before sending, by reason (relabel, queue_full, too_old).",
            _L + ["reason"], registry=r,
        )
        self.enqueue_refused = Counter(
            p + "enqueue_refused_total", "Appends refused because the on-disk queue was full (when_full: refuse).",
            _L, registry=r,
        )
        self.samples_pending = Gauge(p + "samples_pending", "Samples queued on disk, not yet acknowledged.", _L, registry=r)
        self.queue_bytes = Gauge(p + "queue_bytes", "Bytes of the on-disk queue.", _L, registry=r)
        self.shards = Gauge(p + "shards", "Concurrent senders in use.", _L, registry=r)
        self.shards_desired = Gauge(p + "shards_desired", "Senders the throughput calls for.", _L, registry=r)
        self.highest_sent_timestamp = Gauge(
            p + "highest_sent_timestamp_seconds", "Newest sample timestamp acknowledged by the receiver.", _L, registry=r
        )
        self.metadata_sent = Counter(p + "metadata_sent_total", "Metadata entries sent (remote-write 1.0).", _L, registry=r)
        self.request_duration = Histogram(
            p + "request_duration_seconds", "Duration of one send request.", _L, registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.repaired_bytes = Counter(
            p + "queue_repaired_bytes_total", "Bytes cut from a torn or corrupt queue tail at start.", _L, registry=r
        )
