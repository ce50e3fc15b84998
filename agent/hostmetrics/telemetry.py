"""The host-metrics source's own metrics, declared in one place::

m = AgentMetrics.for_registry(registry)   # one instance per registry
m.errors.labels("diskstats").inc()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from spyglass.telemetry import PerRegistry


class AgentMetrics(PerRegistry):
    """Per-collector duration and errors, and the size of the last collection."""


    def __init__(self, registry: CollectorRegistry):
        self.duration = Gauge(
            "spyglass_agent_collector_duration_seconds",
            "Wall time the host-metrics collector took in its last run.",
            ["collector"],
            registry=registry,
        )
        self.errors = Counter(
            "spyglass_agent_collector_errors_total",
            "Host-metrics collector runs that failed (an unreadable or malformed file); "
            "a host lacking what a collector reads is not an error.",
            ["collector"],
            registry=registry,
        )
        self.series = Gauge(
            "spyglass_agent_series",
            "Series produced by the last host-metrics collection.",
            registry=registry,
        )
        self.stale = Counter(
            "spyglass_agent_stale_markers_total",
            "Stale markers written for host series that disappeared (an unmounted "
            "filesystem, a removed interface or cgroup).",
            registry=registry,
        )

