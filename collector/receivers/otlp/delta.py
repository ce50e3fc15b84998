"""Delta → cumulative accumulation for OTLP sums and histograms.

Prometheus counters are cumulative; OTel SDKs configured for delta
temporality send only the change since the last export. Each stream (the
final series identity) keeps its running total here; a point is added when
its interval starts at or after the end of the last one (a gap means nothing
was recorded in between), and refused when it overlaps or comes out of order,
as the data model's "detecting alignment issues" asks::

    acc = DeltaAccumulator(max_streams=100_000, stale_after_s=3600)
    total = acc.add_sum(key, start_ns, time_ns, 5.0)    # float, or a DeltaRefusal

The state lives in memory: after a restart a stream starts again from zero,
which queries see as a counter reset.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import NamedTuple

DELTA_OUT_OF_ORDER = "delta_out_of_order"
DELTA_STREAM_LIMIT = "delta_stream_limit"


class DeltaRefusal(str):
    """A reason (a ``spyglass_receiver_samples_dropped_total`` reason) a delta point was refused."""


class HistogramTotals(NamedTuple):
    counts: tuple[int, ...]  # per bucket, not cumulative over buckets
    count: int
    sum: float


class _Stream:
    __slots__ = ("bounds", "count", "counts", "last_ns", "touched", "value")

    def __init__(self):
        self.last_ns = 0
        self.value = 0.0
        self.bounds: tuple[float, ...] | None = None
        self.counts: list[int] = []
        self.count = 0
        self.touched = 0.0


class DeltaAccumulator:
    """Running totals of delta streams, bounded in number and forgotten when idle.

    Thread-safe: the gRPC and HTTP front ends share one accumulator so a
    stream keeps one total whichever way its points come.
    """

    def __init__(self, max_streams: int, stale_after_s: float,
                 clock: Callable[[], float] = time.monotonic):
        self.max_streams = max_streams
        self.stale_after_s = stale_after_s
        self._clock = clock
        self._streams: dict[Hashable, _Stream] = {}
        self._lock = threading.Lock()
        self._last_sweep = clock()

    def __len__(self) -> int:
        return len(self._streams)

    def _stream(self, key: Hashable, now: float) -> _Stream | DeltaRefusal:
        s = self._streams.get(key)
        if s is not None:
            return s
        if len(self._streams) >= self.max_streams:
            self._sweep(now)
            if len(self._streams) >= self.max_streams:
                return DeltaRefusal(DELTA_STREAM_LIMIT)
        s = self._streams[key] = _Stream()
        return s

    def _sweep(self, now: float) -> None:
        cutoff = now - self.stale_after_s
        for k in [k for k, s in self._streams.items() if s.touched < cutoff]:
            del self._streams[k]
        self._last_sweep = now

    def _maybe_sweep(self, now: float) -> None:
        if now - self._last_sweep > self.stale_after_s / 4:
            self._sweep(now)

    @staticmethod
    def _aligned(s: _Stream, start_ns: int, time_ns: int) -> bool:
        if not s.last_ns:
            return True
        return time_ns > s.last_ns and (start_ns == 0 or start_ns >= s.last_ns)

    def add_sum(self, key: Hashable, start_ns: int, time_ns: int, value: float) -> float | DeltaRefusal:
        """Add a delta; the stream's cumulative total, or why the point was refused."""
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            s = self._stream(key, now)
            if isinstance(s, DeltaRefusal):
                return s
            if not self._aligned(s, start_ns, time_ns):
                return DeltaRefusal(DELTA_OUT_OF_ORDER)
            s.value += value
            s.last_ns = time_ns
            s.touched = now
            return s.value

    def add_histogram(
        self, key: Hashable, start_ns: int, time_ns: int, bounds: tuple[float, ...],
        counts: Sequence[int], count: int, total: float,
    ) -> HistogramTotals | DeltaRefusal:
        """Add a delta histogram point; a change of bucket bounds restarts the stream."""
        with self._lock:
            now = self._clock()
            self._maybe_sweep(now)
            s = self._stream(key, now)
            if isinstance(s, DeltaRefusal):
                return s
            if not self._aligned(s, start_ns, time_ns):
                return DeltaRefusal(DELTA_OUT_OF_ORDER)
            if s.bounds != bounds or len(s.counts) != len(counts):
                s.bounds, s.counts, s.count, s.value = bounds, [0] * len(counts), 0, 0.0
            s.counts = [a + b for a, b in zip(s.counts, counts)]
            s.count += count
            s.value += total
            s.last_ns = time_ns
            s.touched = now
            return HistogramTotals(tuple(s.counts), s.count, s.value)

    def forget(self, key: Hashable) -> None:
        """Drop a stream's state (its producer said it has no value any more)."""
        with self._lock:
            self._streams.pop(key, None)
