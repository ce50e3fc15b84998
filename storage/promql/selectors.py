"""Selectors: read series through the storage interface and place them on the grid.

An instant selector takes, for every series and every step, the newest sample
no older than the lookback delta (a stale marker there means "absent"). A range
selector's window at each step is left-open: ``(t - offset - range, t - offset]``
(Prometheus 3.x). Both are found for all series and steps at once with one
``searchsorted`` over the series' concatenated points, keyed by series so that
one sorted array serves them all::

    lo, hi = window_bounds(points, ends - range_ms, ends)   # (series, steps)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.interface import STALE_NAN_BITS, SelectHints, SeriesSet
from storage.promql.grid import RangeSeries, StepVector
from storage.promql.limits import checkpoint


@dataclass(slots=True)
class Points:
    """Series' raw points in CSR layout, with the sort key that makes one
    ``searchsorted`` find positions inside every series at once."""

    labels: list
    offsets: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray
    _key: np.ndarray | None = None
    _base: int = 0
    _span: int = 0

    @classmethod
    def from_series_set(cls, ss: SeriesSet) -> Points:
        return cls(
            list(ss.labels),
            np.asarray(ss.offsets, np.int64),
            np.asarray(ss.timestamps, np.int64),
            np.asarray(ss.values, np.float64),
        )

    def __len__(self) -> int:
        return len(self.labels)

    def without_stale(self) -> Points:
        """The same series without stale markers (range windows skip them)."""
        stale = self.values.view(np.uint64) == STALE_NAN_BITS
        if not stale.any():
            return self
        keep = ~stale
        csum = np.concatenate(([0], np.cumsum(keep, dtype=np.int64)))
        return Points(self.labels, csum[self.offsets], self.timestamps[keep], self.values[keep])

    def block(self, a: int, b: int) -> Points:
        """Series ``[a, b)`` as their own ``Points`` (views, offsets rebased)."""
        if a == 0 and b == len(self.labels):
            return self
        lo, hi = int(self.offsets[a]), int(self.offsets[b])
        return Points(
            self.labels[a:b],
            self.offsets[a : b + 1] - lo,
            self.timestamps[lo:hi],
            self.values[lo:hi],
        )

    def series_index(self) -> np.ndarray:
        lengths = np.diff(self.offsets)
        return np.repeat(np.arange(len(self.labels), dtype=np.int64), lengths)

    def _prepare(self) -> bool:
        """Build the composite sort key; False when the key would overflow."""
        if self._key is not None:
            return True
        n = len(self.timestamps)
        if n == 0:
            return False
        tmin = int(self.timestamps.min())
        tmax = int(self.timestamps.max())
        span = tmax - tmin + 3
        if span * (len(self.labels) + 1) >= 2**62:
            return False
        self._base, self._span = tmin - 1, span
        self._key = (self.timestamps - self._base) + self.series_index() * span
        return True

    def search(self, times: np.ndarray, side: str) -> np.ndarray:
        """For each series and each time, the global index ``searchsorted`` would give
        inside that series' points: shape (series, len(times))."""
        S = len(self.labels)
        times = np.asarray(times, np.int64)
        if S == 0:
            return np.zeros((0, len(times)), np.int64)
        if S == 1 and self._key is None:
            # one series (a panel's usual query): its own points are the sort
            # key, no composite key to build (≈ 10 numpy calls saved)
            a = int(self.offsets[0])
            out = self.timestamps[a : int(self.offsets[1])].searchsorted(times, side)
            return (out + a).reshape(1, len(times))
        if not self._prepare():
            out = np.empty((S, len(times)), np.int64)
            for i in range(S):
                a, b = int(self.offsets[i]), int(self.offsets[i + 1])
                out[i] = np.searchsorted(self.timestamps[a:b], times, side) + a
            return out
        q = np.clip(times - self._base, 0, self._span - 1)
        keys = q[None, :] + (np.arange(S, dtype=np.int64) * self._span)[:, None]
        return np.searchsorted(self._key, keys.ravel(), side).reshape(S, len(times))


def select(querier, matchers, hints: SelectHints | None = None) -> Points:
    return Points.from_series_set(querier.select(matchers, hints))


# Cells (series x steps) handled at once: small enough that a block's temporaries
# stay in the CPU cache, large enough that numpy's per-call cost does not show.
BLOCK_CELLS = 1 << 15


def series_blocks(num_series: int, num_steps: int):
    """Ranges ``[a, b)`` of series to process together."""
    rows = max(1, BLOCK_CELLS // max(1, num_steps))
    for a in range(0, num_series, rows):
        checkpoint()
        yield a, min(num_series, a + rows)


def instant_values(points: Points, refs: np.ndarray, lookback_ms: int) -> StepVector:
    """The instant-vector selector at reference times ``refs`` (already minus offset).

    Rows with no point at any step are dropped, as Prometheus drops such series.
    """
    T = len(refs)
    S = len(points)
    if S == 0 or len(points.timestamps) == 0:
        return StepVector.empty(T)
    values = np.empty((S, T))
    sample_ts = np.empty((S, T), np.int64)
    present = np.empty((S, T), bool)
    oldest = refs[None, :] - lookback_ms
    for a, b in series_blocks(S, T):
        blk = points.block(a, b)
        hi = blk.search(refs, "right")
        has = hi > blk.offsets[:-1][:, None]
        idx = np.where(has, hi - 1, 0)
        t = blk.timestamps[idx] if len(blk.timestamps) else np.zeros(idx.shape, np.int64)
        v = blk.values[idx] if len(blk.values) else np.zeros(idx.shape)
        present[a:b] = has & (t > oldest) & (v.view(np.uint64) != STALE_NAN_BITS)
        values[a:b] = v
        sample_ts[a:b] = t
    keep = np.flatnonzero(present.any(axis=1))
    if len(keep) < S:
        present, values, sample_ts = present[keep], values[keep], sample_ts[keep]
        labels = [points.labels[i] for i in keep.tolist()]
    else:
        labels = points.labels
    return StepVector(labels, values, present, sample_ts=sample_ts)


def window_bounds(
    points: Points, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Global index ranges ``[lo, hi)`` of the points in ``(start, end]`` per series and step."""
    hi = points.search(ends, "right")
    lo = points.search(starts, "right")
    return lo, hi


def range_series(points: Points, start: int, end: int) -> RangeSeries:
    """The points in ``(start, end]`` of each series (a range vector at one time);
    series without points are left out. ``points`` has no stale markers."""
    lo, hi = window_bounds(points, np.array([start]), np.array([end]))
    lo, hi = lo[:, 0], hi[:, 0]
    keep = np.flatnonzero(hi > lo)
    lo, hi = lo[keep], hi[keep]
    lengths = hi - lo
    offsets = np.zeros(len(keep) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    idx = np.repeat(lo - offsets[:-1], lengths) + np.arange(offsets[-1], dtype=np.int64)
    return RangeSeries(
        [points.labels[i] for i in keep.tolist()],
        offsets,
        points.timestamps[idx],
        points.values[idx],
    )


def points_from_vector(v: StepVector, times: np.ndarray) -> Points:
    """A subquery's result as raw points: each present cell is a point at its step time."""
    present = v.present
    lengths = present.sum(axis=1).astype(np.int64)
    offsets = np.zeros(len(v) + 1, np.int64)
    np.cumsum(lengths, out=offsets[1:])
    rows, cols = np.nonzero(present)
    return Points(list(v.labels), offsets, times[cols], v.values[rows, cols])
