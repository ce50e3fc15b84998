"""``HostMetrics``: runs the collectors and hands their output to storage or a scraper.

Each collection runs every enabled collector, isolated from the others: one
that raises is counted in ``spyglass_agent_collector_errors_total`` and
reported with ``node_scrape_collector_success{collector} 0``, and the rest of
the collection goes on. A series present in the previous collection and gone
in this one gets a stale marker, as a Prometheus scrape would write, so a
removed interface or filesystem stops showing at once instead of after 5 minutes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
from prometheus_client import CollectorRegistry

from agent.hostmetrics.collector import Collector
from agent.hostmetrics.collectors import build_collectors
from agent.hostmetrics.collectors.uname import read_uname
from agent.hostmetrics.config import HostMetricsConfig
from agent.hostmetrics.family import GAUGE, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError
from agent.hostmetrics.telemetry import AgentMetrics
from storage.interface import STALE_NAN, MetricMetadata, SampleBatch
from storage.labels import METRIC_NAME, Labels

log = logging.getLogger("spyglass.agent.hostmetrics")


class CollectorResult(NamedTuple):
    """How one collector did in the last collection."""

    name: str
    duration_seconds: float
    success: bool
    error: str  # "" on success; the reason otherwise (no data, or the exception)


class HostMetrics:
    """The host-metrics source for the machine it runs on::

        hm = HostMetrics(HostMetricsConfig(instance="db-1"))
        batch = hm.collect(now_ms)          # a storage.interface.SampleBatch
        storage.append(batch)
        text = render_text(hm.collect_families())   # or serve it at /metrics

    ``collect`` is safe to call from several threads (a scheduler and an HTTP
    handler); collections are serialised.
    """

    def __init__(
        self,
        config: HostMetricsConfig | None = None,
        *,
        collectors: Sequence[Collector] | None = None,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ):
        self.config = config or HostMetricsConfig()
        self.paths = HostPaths.from_root(
            self.config.root_path, self.config.proc_path or None, self.config.sys_path or None
        )
        self.collectors: list[Collector] = (
            list(collectors)
            if collectors is not None
            else build_collectors(self.config, self.paths)
        )
        self._clock = clock
        self._metrics = AgentMetrics.for_registry(registry)
        instance = self.config.instance or read_uname(self.paths).nodename
        self.target_labels: tuple[tuple[str, str], ...] = (
            ("job", self.config.job),
            ("instance", instance),
            *sorted(self.config.extra_labels.items()),
        )
        self.last_results: list[CollectorResult] = []
        self._lock = threading.Lock()
        # (metric name, label values) -> Labels, for the series of the last
        # collection only, so a churning cgroup cannot grow it without bound.
        self._labels: dict[tuple[str, tuple[str, ...]], Labels] = {}
        self._previous: set[Labels] = set()

    # --- collection --------------------------------------------------------
    def collect_families(self, now: float | None = None) -> list[MetricFamily]:
        """Run every collector; ``now`` in Unix seconds (default: the clock)."""
        with self._lock:
            return self._collect_families(self._clock() if now is None else now)

    def _collect_families(self, now: float) -> list[MetricFamily]:
        families: list[MetricFamily] = []
        results: list[CollectorResult] = []
        for c in self.collectors:
            t0 = time.perf_counter()
            try:
                fams = c.collect(now)
                ok, err = True, ""
            except NoDataError as e:
                fams, ok, err = [], False, f"no data: {e}"
            except Exception as e:  # noqa: BLE001 - a collector must never break the others
                fams, ok, err = [], False, f"{type(e).__name__}: {e}"
                self._metrics.errors.labels(c.name).inc()
                log.warning("host-metrics collector %s failed: %s", c.name, err)
            dt = time.perf_counter() - t0
            self._metrics.duration.labels(c.name).set(dt)
            results.append(CollectorResult(c.name, dt, ok, err))
            families.extend(fams)
        self.last_results = results
        if self.config.collector_metrics and results:
            families.append(
                MetricFamily(
                    "node_scrape_collector_duration_seconds",
                    GAUGE,
                    "node_exporter: Duration of a collector scrape.",
                    ("collector",),
                    tuple((r.name,) for r in results),
                    tuple(r.duration_seconds for r in results),
                )
            )
            families.append(
                MetricFamily(
                    "node_scrape_collector_success",
                    GAUGE,
                    "node_exporter: Whether a collector succeeded.",
                    ("collector",),
                    tuple((r.name,) for r in results),
                    tuple(1.0 if r.success else 0.0 for r in results),
                )
            )
        return families

    def collect(self, now_ms: int | None = None) -> SampleBatch:
        """One collection as a ``SampleBatch`` with ``job``/``instance`` and the
        families' type and help as metadata, plus stale markers for vanished series."""
        with self._lock:
            if now_ms is None:
                now = self._clock()
                now_ms = int(now * 1000)
            else:
                now = now_ms / 1000.0
            families = self._collect_families(now)
            return self._to_batch(families, now_ms)

    def _to_batch(self, families: list[MetricFamily], now_ms: int) -> SampleBatch:
        target = self.target_labels
        old_cache, cache = self._labels, {}
        series: list[Labels] = []
        values: list[float] = []
        metadata: dict[str, MetricMetadata] = {}
        seen: set[Labels] = set()
        for f in families:
            metadata[f.name] = MetricMetadata(f.type, f.help)
            for lv, v in zip(f.label_values, f.values):
                key = (f.name, lv)
                labels = old_cache.get(key)
                if labels is None:
                    labels = Labels.from_pairs(
                        [(METRIC_NAME, f.name), *zip(f.label_names, lv), *target]
                    )
                cache[key] = labels
                if labels in seen:
                    continue  # two series collapsed by empty label values: keep the first
                seen.add(labels)
                series.append(labels)
                values.append(v)
        gone = [s for s in self._previous if s not in seen]
        if gone:
            gone.sort()
            series.extend(gone)
            values.extend([STALE_NAN] * len(gone))
            self._metrics.stale.inc(len(gone))
        self._labels = cache
        self._previous = seen
        self._metrics.series.set(len(seen))
        n = len(series)
        return SampleBatch(
            series,
            np.arange(n, dtype=np.int64),
            np.full(n, now_ms, dtype=np.int64),
            np.array(values, dtype=np.float64),
            metadata,
        )
