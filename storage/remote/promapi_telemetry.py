"""Telemetry of reads from a remote Prometheus-compatible API, declared in one place.

One set of collectors per registry, labelled by ``backend`` (the base URL without
credentials), so several clients can share the default registry::

    t = PromAPITelemetry.for_registry(CollectorRegistry())
    t.requests.labels(backend="http://prom:9090", endpoint="query", outcome="success").inc()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from spyglass.telemetry import PerRegistry

_P = "spyglass_promapi_"


class PromAPITelemetry(PerRegistry):
    """Counters of one registry (``None``: collectors that are not registered anywhere)."""



    def __init__(self, registry: CollectorRegistry | None):
        r = registry
        self.requests = Counter(
            _P + "requests_total",
            "Requests to the remote API, by endpoint (query: rule queries, select: raw-sample "
            "reads, series, labels, label_values) and outcome (success, error, limit, timeout, "
            "unavailable).",
            ["backend", "endpoint", "outcome"], registry=r,
        )
        self.request_duration = Histogram(
            _P + "request_duration_seconds", "Round trip of one request to the remote API.",
            ["backend", "endpoint"], registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.samples_read = Counter(
            _P + "samples_read_total", "Raw float samples returned by selects.", ["backend"], registry=r,
        )
        self.select_splits = Counter(
            _P + "select_splits_total",
            "Select time ranges split in two because the backend refused them with its sample limit.",
            ["backend"], registry=r,
        )
        self.warnings = Counter(
            _P + "warnings_total", "Warnings the remote API returned with a successful answer.",
            ["backend", "endpoint"], registry=r,
        )
        self.histogram_samples_ignored = Counter(
            _P + "native_histogram_samples_ignored_total",
            "Native-histogram samples in answers, skipped because Spyglass reads float samples only.",
            ["backend"], registry=r,
        )
