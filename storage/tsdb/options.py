"""TSDB tuning knobs, with Prometheus's defaults where Prometheus has one::

    TSDBOptions(retention_ms=30 * DAY_MS, out_of_order_window_ms=10 * MINUTE_MS)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.labels import LabelLimits

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class TSDBOptions:
    """Options of one TSDB; every duration is in milliseconds:
    ``TSDB.open(path, TSDBOptions(out_of_order_window_ms=10 * MINUTE_MS))``."""

    # Blocks whose newest sample is older than this (measured from the newest
    # block's end, like Prometheus) are deleted. 0 disables time retention.
    retention_ms: int = 15 * DAY_MS
    # Delete the oldest blocks while blocks + WAL take more than this many
    # bytes. 0 disables size retention.
    retention_bytes: int = 0
    # Time span of the blocks cut from the head; blocks start at multiples of it.
    block_duration_ms: int = 2 * HOUR_MS
    # Largest span compaction may produce. 0 means Prometheus's rule:
    # 10 % of the retention time, at most 31 days.
    max_block_duration_ms: int = 0
    # How far behind the newest sample of the head an out-of-order sample may
    # be and still be accepted. 0 (Prometheus's default) rejects any sample
    # older than its series' newest one.
    out_of_order_window_ms: int = 0
    # Samples more than this far ahead of the clock are rejected
    # (too_far_in_future), so one bad sender cannot push the head's time
    # forward and make everyone else's samples out of bounds. 0 disables.
    max_future_skew_ms: int = 10 * MINUTE_MS
    # Most series the head may hold; a new series beyond it is rejected
    # (series_limit). 0 means unlimited.
    max_series: int = 0
    # Limits on labels per series and label name/value length.
    label_limits: LabelLimits = field(default_factory=LabelLimits)
    # A new WAL segment file is started when the current one would exceed this.
    wal_segment_bytes: int = 128 * MiB
    # fsync the WAL on every append before acknowledging it. Off by default:
    # each append is written to the OS with write() before it is acknowledged,
    # which survives a crash of the process (kill -9) but not of the machine.
    wal_fsync_every_batch: bool = False
    # How often a background thread fsyncs the WAL when the above is off;
    # segments are also fsynced when they are closed. 0 disables the thread.
    wal_fsync_interval_s: float = 1.0
    # Compress WAL sample records with shuffled snappy (≈3–10× smaller WAL,
    # costs ≈ 20 ns per sample; see FORMAT.md). Records are self-describing,
    # so this may change between restarts.
    wal_compression: bool = True
    # Samples buffered uncompressed in the head (20 bytes each) before they
    # are sealed into a compressed in-memory part; the buffer also grows to
    # 8 samples per head series (capped at 8 Mi samples), because a sealed
    # part costs a few dozen bytes per series it holds.
    head_seal_samples: int = 1 << 18
    # The head merges sealed parts once this many parts of one size tier exist.
    head_merge_fanout: int = 4
    # Bytes of decoded chunk groups kept for reads that come back to the
    # same pages (rules, subqueries, refreshed dashboards; see
    # groupcache.py): resident memory grows by up to this much once reads
    # repeat. 0 disables the cache.
    group_cache_bytes: int = 32 * MiB

    def __post_init__(self):
        if self.block_duration_ms <= 0:
            raise ValueError("block_duration_ms must be positive")
        for name in (
            "retention_ms",
            "retention_bytes",
            "max_block_duration_ms",
            "out_of_order_window_ms",
            "max_future_skew_ms",
            "max_series",
            "group_cache_bytes",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.wal_segment_bytes < 4096:
            raise ValueError("wal_segment_bytes must be at least 4096")
        if self.head_seal_samples < 1:
            raise ValueError("head_seal_samples must be positive")
        if self.head_merge_fanout < 2:
            raise ValueError("head_merge_fanout must be at least 2")

    @property
    def effective_max_block_duration_ms(self) -> int:
        if self.max_block_duration_ms:
            return max(self.max_block_duration_ms, self.block_duration_ms)
        limit = 31 * DAY_MS
        if self.retention_ms:
            limit = min(limit, self.retention_ms // 10)
        return max(limit, self.block_duration_ms)

    def compaction_ranges(self) -> list[int]:
        """Block spans of the compaction levels: 1, 3, 9, ... × block duration,
        up to the maximum block duration (Prometheus's exponential ranges)."""
        out = [self.block_duration_ms]
        while out[-1] * 3 <= self.effective_max_block_duration_ms:
            out.append(out[-1] * 3)
        return out
