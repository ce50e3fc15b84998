"""The dashboards component's own telemetry, declared in one place.

``DashboardsTelemetry.for_registry(registry)`` returns one instance per registry,
so that several apps (tests) can share the default registry without clashing.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyglass.telemetry import PerRegistry


class DashboardsTelemetry(PerRegistry):
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
        self.query_cache = Counter(
            "spyglass_dashboards_query_cache_requests_total",
            "Panel queries by how the query cache answered them: hit (memory only), "
            "partial (only the newest steps of a range asked), miss, uncacheable.", ["result"],
            registry=registry)
        self.query_cache_samples = Gauge(
            "spyglass_dashboards_query_cache_samples",
            "Samples held by the panel query cache.", registry=registry)
        self.stored = Gauge(
            "spyglass_dashboards_stored_dashboards",
            "Dashboards in the dashboard store.", registry=registry)

