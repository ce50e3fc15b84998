"""The dashboards component's own telemetry, declared in one place.

``DashboardsTelemetry.for_registry(registry)`` returns one instance per registry,
so that several apps (tests) can share the default registry without clashing.
"""

from __future__ import annotations

import threading
from weakref import WeakKeyDictionary

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

_LOCK = threading.Lock()
_BY_REGISTRY: WeakKeyDictionary[CollectorRegistry, "DashboardsTelemetry"] = WeakKeyDictionary()


class DashboardsTelemetry:
    """Counters and histograms of the UI; usage: ``t = DashboardsTelemetry.for_registry()``."""

    def __init__(self, registry: CollectorRegistry):
        self.api_requests = Counter(
            "spyglass_dashboards_api_requests_total",
            "Requests the UI sent to the Prometheus/Alertmanager APIs, by endpoint and outcome.",
            ["endpoint", "outcome"], registry=registry)
        self.api_duration = Histogram(
            "spyglass_dashboards_api_request_duration_seconds",
            "Time of the UI's API requests, by endpoint.", ["endpoint"], registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
        self.panel_render = Histogram(
            "spyglass_dashboards_panel_render_duration_seconds",
            "Server time to query and draw one panel, by panel type.", ["type"],
            registry=registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
        self.panel_errors = Counter(
            "spyglass_dashboards_panel_errors_total",
            "Panels that showed an error instead of data, by panel type.", ["type"],
            registry=registry)
        self.variable_cache = Counter(
            "spyglass_dashboards_variable_cache_requests_total",
            "Variable query lookups, by result (hit or miss).", ["result"], registry=registry)
        self.stored = Gauge(
            "spyglass_dashboards_stored_dashboards",
            "Dashboards in the dashboard store.", registry=registry)

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None = None) -> DashboardsTelemetry:
        reg = REGISTRY if registry is None else registry
        with _LOCK:
            t = _BY_REGISTRY.get(reg)
            if t is None:
                t = cls(reg)
                _BY_REGISTRY[reg] = t
            return t
