"""The receivers' own metrics, declared in one place.

Every receiver (remote-write, OTLP over HTTP and gRPC, InfluxDB) shares these
families and tells itself apart with the ``protocol`` label, so a dashboard
can show all ingestion on one panel. Anything not stored is counted in
``spyglass_receiver_samples_dropped_total`` with its reason::

    m = ReceiverMetrics.for_registry(registry)      # one instance per registry
    m.dropped.labels("remote_write", "native_histogram").inc(3)
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyglass.telemetry import PerRegistry

# Reasons of spyglass_receiver_samples_dropped_total besides storage.interface.RejectReason.
DROP_NATIVE_HISTOGRAM = "native_histogram"
DROP_EXPONENTIAL_HISTOGRAM = "exponential_histogram"
DROP_STRING_FIELD = "string_field"
DROP_INVALID_LABELS = "invalid_labels"
DROP_INVALID_VALUE = "invalid_value"


class ReceiverMetrics(PerRegistry):
    """Counters shared by the receivers; build with :meth:`for_registry`."""


    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(
            "spyglass_receiver_requests_total",
            "Ingestion requests answered, by protocol and status code.",
            ["protocol", "code"],
            registry=registry,
        )
        self.samples = Counter(
            "spyglass_receiver_samples_received_total",
            "Samples accepted by storage.",
            ["protocol"],
            registry=registry,
        )
        self.dropped = Counter(
            "spyglass_receiver_samples_dropped_total",
            "Samples, histogram points or fields received but not stored, by reason.",
            ["protocol", "reason"],
            registry=registry,
        )
        self.exemplars = Counter(
            "spyglass_receiver_exemplars_received_total",
            "Exemplars received; they are counted, not stored (storage keeps no exemplars).",
            ["protocol"],
            registry=registry,
        )
        self.refused = Counter(
            "spyglass_receiver_requests_refused_total",
            "Requests refused whole, by reason (overload, storage_full, too_large, "
            "unsupported_media_type, malformed).",
            ["protocol", "reason"],
            registry=registry,
        )
        self.in_flight = Gauge(
            "spyglass_receiver_in_flight_requests",
            "Requests being decoded or appended now.",
            ["protocol"],
            registry=registry,
        )
        self.received_bytes = Counter(
            "spyglass_receiver_received_bytes_total",
            "Request body bytes read, as sent (compressed).",
            ["protocol"],
            registry=registry,
        )
        self.duration = Histogram(
            "spyglass_receiver_request_duration_seconds",
            "Time to decode and store one request.",
            ["protocol"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )

