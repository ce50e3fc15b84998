"""The engine's own telemetry, declared in one place.

One set of collectors per registry (several engines may share a registry, as
the default ``prometheus_client.REGISTRY`` is shared)::

    m = EngineMetrics.for_registry(CollectorRegistry())
    m.queries.labels(result="success").inc()
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyglass.telemetry import PerRegistry

# Keyed weakly by the registry itself: an id() could be reused by a new registry.


class EngineMetrics(PerRegistry):
    def __init__(self, registry: CollectorRegistry):
        self.queries = Counter(
            "spyglass_promql_queries_total",
            "PromQL queries run, by result (success or the API errorType).",
            ["result"],
            registry=registry,
        )
        self.duration = Histogram(
            "spyglass_promql_query_duration_seconds",
            "Time spent per query phase (queue, prepare, eval, result).",
            ["phase"],
            registry=registry,
            buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )
        self.samples = Counter(
            "spyglass_promql_query_samples_read_total",
            "Samples read from storage by queries.",
            registry=registry,
        )
        self.concurrent = Gauge(
            "spyglass_promql_queries_concurrent",
            "Queries running now.",
            registry=registry,
        )
        self.concurrent_max = Gauge(
            "spyglass_promql_queries_concurrent_max",
            "Queries allowed to run at once.",
            registry=registry,
        )
        # label children resolved once: .labels() costs more than the update itself
        self.phase = {
            p: self.duration.labels(phase=p) for p in ("queue", "prepare", "eval", "result")
        }
        self._results: dict[str, object] = {}

    def result(self, name: str):
        """The ``queries_total`` child for a result (success or an errorType)."""
        child = self._results.get(name)
        if child is None:
            child = self._results[name] = self.queries.labels(result=name)
        return child

