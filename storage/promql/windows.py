"""Range-vector windows: where each step's window lies in a series' points, and
the tools that walk all windows at once.

Each step's window is a slice ``[lo, hi)`` of a series' points, found for a
block of series and every step with one ``searchsorted`` (``Points.search``);
``WindowWalk`` visits position *k* of every window at once, for folds that must
run in order (Kahan sums); ``evaluate_blocked`` runs a range function over all
series a cache-sized block at a time::

    values, present = evaluate_blocked(range_functions.evaluate, "rate", points, starts, ends,
                                       eval_times, range_ms, scalar_args=[])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.promql.limits import checkpoint
from storage.promql.selectors import Points, series_blocks


@dataclass(slots=True)
class Windows:
    """The windows of one range-vector argument at every step.

    ``lo``/``hi`` are (series, steps) global indices into ``points``; a window
    spans ``(starts[j], ends[j]]``; ``eval_times[j]`` is the step's evaluation
    time (``predict_linear`` extrapolates from it).
    """

    points: Points
    lo: np.ndarray
    hi: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    eval_times: np.ndarray
    range_ms: int

    @property
    def counts(self) -> np.ndarray:
        return self.hi - self.lo


class WindowWalk:
    """Visit position k = 0, 1, ... of every non-empty window at once.

    Windows are ordered longest first, so the windows still active at position
    k are a prefix of that order and per-window state is a plain slice.
    """

    def __init__(self, lo: np.ndarray, hi: np.ndarray, min_count: int = 1):
        n = (hi - lo).ravel()
        cells = np.flatnonzero(n >= min_count)
        order = np.argsort(-n[cells], kind="stable")
        self.cells = cells[order]
        self.start = lo.ravel()[self.cells]
        self.n = n[self.cells]
        self.shape = lo.shape
        self.size = len(self.cells)
        self.max_n = int(self.n[0]) if self.size else 0
        # active[k]: how many windows have more than k points.
        self.active = np.searchsorted(-self.n, -np.arange(self.max_n), side="left").tolist()

    def positions(self, first: int = 0):
        for k in range(first, self.max_n):
            if k % 64 == 63:
                checkpoint()
            m = self.active[k]
            yield k, m, self.start[:m] + k

    def scatter(self, values: np.ndarray, fill: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        out = np.full(int(np.prod(self.shape)), fill, dtype=np.float64)
        present = np.zeros(out.shape, dtype=bool)
        out[self.cells] = values
        present[self.cells] = True
        return out.reshape(self.shape), present.reshape(self.shape)


def kahan_inc(inc: np.ndarray, s: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Prometheus's ``kahansum.Inc`` (Neumaier's variant) on arrays."""
    with np.errstate(invalid="ignore", over="ignore"):
        t = s + inc
        big = np.abs(s) >= np.abs(inc)
        corr = np.where(big, (s - t) + inc, (inc - t) + s)
        c = np.where(np.isinf(t), 0.0, c + corr)
    return t, c


def gather(values: np.ndarray, idx: np.ndarray, ok: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(idx.shape)
    return values[np.where(ok, idx, 0)]


def pair_prefix(points: Points, flags: np.ndarray) -> np.ndarray:
    """Prefix sums of per-point values describing (point i-1, point i) pairs;
    pairs across series boundaries count as zero."""
    flags = flags.astype(np.float64 if flags.dtype != bool else np.int64, copy=True)
    flags[points.offsets[:-1][np.diff(points.offsets) > 0]] = 0
    return np.cumsum(flags)


def window_pair_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray, ok: np.ndarray):
    """Sum over pairs (i-1, i) with lo < i < hi of the prefixed values."""
    a = np.where(ok, lo, 0)
    b = np.where(ok, hi - 1, 0)
    if len(prefix) == 0:
        return np.zeros(lo.shape)
    return prefix[b] - prefix[a]


# --- rate family ----------------------------------------------------------------


def evaluate_blocked(
    evaluate,
    name: str,
    points: Points,
    starts: np.ndarray,
    ends: np.ndarray,
    eval_times: np.ndarray,
    range_ms: int,
    scalar_args: list[np.ndarray],
):
    """``evaluate`` over all series, a block of series at a time (cache-sized
    temporaries); windows are ``(starts[j], ends[j]]``. Returns (values, present)."""
    S, T = len(points), len(ends)
    values = np.empty((S, T))
    present = np.empty((S, T), bool)
    # When the range is a whole number of steps, window starts are earlier
    # window ends: one search over the extended grid gives both.
    shift = 0
    if T > 1:
        step = int(ends[1] - ends[0])
        if step > 0 and range_ms % step == 0 and np.all(np.diff(ends) == step):
            shift = range_ms // step
    grid = (ends[0] - range_ms + step * np.arange(T + shift, dtype=np.int64)) if shift else None
    for a, b in series_blocks(S, T):
        blk = points.block(a, b).without_stale()
        if shift:
            ext = blk.search(grid, "right")
            lo, hi = ext[:, :T], ext[:, shift:]
        else:
            lo, hi = blk.search(starts, "right"), blk.search(ends, "right")
        w = Windows(blk, lo, hi, starts, ends, eval_times, range_ms)
        v, p = evaluate(name, w, scalar_args)
        # absent cells get 0, not leftovers (NaN, subnormals) that slow later arithmetic
        np.copyto(values[a:b], np.where(p, v, 0.0))
        present[a:b] = p
    return values, present
