"""The TSDB's own metrics, declared in one place.

A fresh ``CollectorRegistry`` per TSDB keeps tests independent; with the
default registry a second TSDB in the same process (tests, tools) keeps
working but only the first one is exported::

    m = TSDBMetrics(CollectorRegistry())
    m.samples_rejected.labels(reason="out_of_order").inc(3)
"""

from __future__ import annotations

import logging

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

log = logging.getLogger(__name__)

_P = "spyglass_tsdb_"


class TSDBMetrics:
    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = REGISTRY if registry is None else registry
        self._collectors = []

        def add(metric):
            self._collectors.append(metric)
            return metric

        self.head_series = add(Gauge(_P + "head_series", "Series held in the head.", registry=None))
        self.head_parts = add(
            Gauge(_P + "head_parts", "Sealed compressed parts in the head.", registry=None)
        )
        self.head_samples_appended = add(
            Counter(_P + "head_samples_appended_total", "Samples stored in the head.", registry=None)
        )
        self.out_of_order_samples_appended = add(
            Counter(
                _P + "out_of_order_samples_appended_total",
                "Samples accepted inside the out-of-order window.",
                registry=None,
            )
        )
        self.samples_rejected = add(
            Counter(
                _P + "samples_rejected_total",
                "Samples not stored, by reason (rejections of a whole series count its samples).",
                ["reason"],
                registry=None,
            )
        )
        self.series_created = add(
            Counter(_P + "head_series_created_total", "Series created in the head.", registry=None)
        )
        self.series_removed = add(
            Counter(
                _P + "head_series_removed_total",
                "Series removed from the head after their samples moved to blocks.",
                registry=None,
            )
        )
        self.wal_corruptions = add(
            Counter(
                _P + "wal_corruptions_total",
                "Torn or corrupt WAL records found on start (each repaired by truncation).",
                registry=None,
            )
        )
        self.wal_truncated_bytes = add(
            Counter(
                _P + "wal_repair_truncated_bytes_total",
                "Bytes cut off damaged WAL segments by repairs.",
                registry=None,
            )
        )
        self.wal_fsync_duration = add(
            Histogram(
                _P + "wal_fsync_duration_seconds",
                "Duration of WAL fsyncs.",
                buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
                registry=None,
            )
        )
        self.wal_bytes_written = add(
            Counter(_P + "wal_bytes_written_total", "Bytes written to the WAL.", registry=None)
        )
        self.wal_checkpoints = add(
            Counter(_P + "wal_checkpoints_total", "WAL checkpoints written.", registry=None)
        )
        self.wal_replay_duration = add(
            Gauge(_P + "wal_replay_duration_seconds", "Duration of the last WAL replay.", registry=None)
        )
        self.storage_full = add(
            Counter(
                _P + "storage_full_errors_total",
                "Appends refused because the disk was full (retryable).",
                registry=None,
            )
        )
        self.compactions = add(
            Counter(
                _P + "compactions_total",
                "Blocks written, by kind (head: cut from the head; blocks: merged blocks).",
                ["kind"],
                registry=None,
            )
        )
        self.compactions_failed = add(
            Counter(_P + "compactions_failed_total", "Failed block writes.", ["kind"], registry=None)
        )
        self.compaction_duration = add(
            Histogram(
                _P + "compaction_duration_seconds",
                "Duration of block writes.",
                buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
                registry=None,
            )
        )
        self.blocks_loaded = add(Gauge(_P + "blocks_loaded", "Blocks currently loaded.", registry=None))
        self.retention_deletions = add(
            Counter(
                _P + "retention_deletions_total",
                "Blocks deleted by retention, by reason (time, size).",
                ["reason"],
                registry=None,
            )
        )
        self.storage_size = add(
            Gauge(_P + "storage_size_bytes", "Bytes on disk: blocks and WAL.", registry=None)
        )
        self.group_cache_hits = add(
            Counter(
                _P + "group_cache_hits_total",
                "Reads of a compressed chunk group served from the decoded-group cache.",
                registry=None,
            )
        )
        self.group_cache_misses = add(
            Counter(
                _P + "group_cache_misses_total",
                "Reads of a compressed chunk group that had to decode it.",
                registry=None,
            )
        )
        self.group_cache_evictions = add(
            Counter(
                _P + "group_cache_evictions_total",
                "Decoded groups dropped from the cache to stay within its size.",
                registry=None,
            )
        )
        self.group_cache_size = add(
            Gauge(_P + "group_cache_size_bytes", "Bytes held by the decoded-group cache.", registry=None)
        )
        for c in self._collectors:
            try:
                self.registry.register(c)
            except ValueError:
                if registry is not None:
                    raise
                # Only the default registry: a second TSDB in one process.
                log.warning("TSDB metric %s already registered; not exporting this instance's", c)

    def unregister(self) -> None:
        for c in self._collectors:
            try:
                self.registry.unregister(c)
            except KeyError:
                pass
