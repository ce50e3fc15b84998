"""Fast paths for long windows: prefix sums in extended precision, sparse tables.

Folding every window point by point (``WindowWalk``) costs series x steps x
window length; a 1 h window at a 15 s scrape interval is 240 points per step.
For windows longer than ``LONG_WINDOW`` points these functions answer each
window from per-point prefix sums instead (``sum``, ``avg``, ``stddev``,
``stdvar``, ``deriv``, ``predict_linear``) or from a sparse table (``max``,
``min``): one pass over the points plus a constant amount of work per window.

Sums are accumulated in the platform's extended precision (x87 80-bit,
64-bit mantissa) over values shifted by each series' first value. A window
whose result is ill-conditioned (the terms of a sum or difference are more
than ``MAX_CONDITION`` times its result: there even Prometheus's compensated
float64 fold carries visible rounding, so only the same fold reproduces its
digits), or that holds non-finite values, is flagged for the exact fold.
Where extended precision is not available (``np.longdouble`` is plain
double on some platforms) the fast paths are off::

    values, ok, redo = window_sum(windows)   # redo: cells to fold exactly
"""

from __future__ import annotations

import numpy as np

from storage.promql.windows import Windows

EXTENDED = np.finfo(np.longdouble).nmant >= 63
EPS = float(np.finfo(np.longdouble).eps)
LONG_WINDOW = 32
# Above this condition number a window is folded exactly, point by point.
MAX_CONDITION = 1e6


def long_windows(w: Windows) -> bool:
    return EXTENDED and w.lo.size > 0 and int((w.hi - w.lo).max()) > LONG_WINDOW


class _RowPrefix:
    """Prefix sums restarted at every series (a padded series x points table), so
    that a window's sum never carries the rounding of other series' magnitudes."""

    def __init__(self, w: Windows):
        offsets = w.points.offsets
        self.starts = offsets[:-1]
        lengths = np.diff(offsets)
        width = int(lengths.max()) if len(lengths) else 0
        self.shape = (len(lengths), width + 1)
        row = np.repeat(np.arange(len(lengths)), lengths)
        col = np.arange(offsets[-1]) - np.repeat(self.starts, lengths)
        self.scatter = (row, col + 1)
        rows = np.arange(len(lengths))[:, None]
        self.hi = (rows, w.hi - self.starts[:, None])
        self.lo = (rows, w.lo - self.starts[:, None])
        self.last = (rows, np.minimum(w.hi - self.starts[:, None], width))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        table = np.zeros(self.shape, np.longdouble)
        table[self.scatter] = x
        return np.cumsum(table, axis=1)

    def window(self, prefix: np.ndarray) -> np.ndarray:
        return prefix[self.hi] - prefix[self.lo]


def _additions(rp: _RowPrefix) -> float:
    """Additions behind one running sum at most (its series' length)."""
    return float(rp.shape[1])


def _series_first(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each series' first value (0 for empty series), and that value per point."""
    starts = offsets[:-1]
    lengths = np.diff(offsets)
    first = (
        np.where(lengths > 0, values[np.minimum(starts, max(len(values) - 1, 0))], 0)
        if len(values)
        else np.zeros(len(starts))
    )
    return first, np.repeat(first, lengths)


def _changes(values: np.ndarray, offsets: np.ndarray, w: Windows) -> np.ndarray:
    """How many consecutive pairs inside each window differ (NaN differs from NaN)."""
    flags = np.zeros(len(values), np.int64)
    if len(values) > 1:
        flags[1:] = values[1:] != values[:-1]
        flags[offsets[:-1][np.diff(offsets) > 0]] = 0
    p = np.concatenate(([0], np.cumsum(flags)))
    # pairs (i-1, i) with lo < i < hi
    return p[np.maximum(w.hi, w.lo)] - p[np.minimum(w.lo + 1, w.hi)]


def window_sum(w: Windows):
    """(sum, present, redo) per cell, or None when the block needs the exact fold."""
    v = w.points.values
    if not len(v) or not np.isfinite(v).all():
        return None
    n = (w.hi - w.lo).astype(np.float64)
    ok = n > 0
    first, base = _series_first(v, w.points.offsets)
    shifted = v - base
    rp = _RowPrefix(w)
    ps = rp(shifted)
    pa = rp(np.abs(shifted))
    rows = np.arange(w.lo.shape[0])[:, None]
    total = rp.window(ps) + np.longdouble(1) * n * first[rows]
    result = total.astype(np.float64)
    magnitude = (rp.window(pa) + np.abs(n * first[rows])).astype(np.float64)
    # rounding of the running sums up to the window's end
    carried = (pa[rp.last] * (EPS * _additions(rp))).astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        redo = ok & (magnitude > 0) & ~(magnitude <= MAX_CONDITION * np.abs(result))
        redo |= ok & ~(carried <= 1e-12 * np.abs(result)) & (magnitude > 0)
        redo |= ok & (~np.isfinite(result) | (np.abs(result) > 1e300))
    return result, ok, redo


def window_mean(w: Windows):
    res = window_sum(w)
    if res is None:
        return None
    total, ok, redo = res
    n = np.maximum(w.hi - w.lo, 1)
    return total / n, ok, redo


def window_variance(w: Windows):
    """Population variance per window, from shifted sums of y and y^2."""
    v = w.points.values
    if not len(v) or not np.isfinite(v).all():
        return None
    n_int = w.hi - w.lo
    ok = n_int > 0
    n = np.maximum(n_int, 1).astype(np.longdouble)
    _, base = _series_first(v, w.points.offsets)
    y = v - base
    rp = _RowPrefix(w)
    s1 = rp.window(rp(y))
    p2 = rp(y * y)
    s2 = rp.window(p2)
    var_n = s2 - s1 * s1 / n
    var = (var_n / n).astype(np.float64)
    constant = _changes(v, w.points.offsets, w) == 0
    var = np.where(constant, 0.0, np.maximum(var, 0.0))
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        cond = (s2 / var_n).astype(np.float64)
        carried = (p2[rp.last] * (EPS * _additions(rp)) / np.abs(var_n)).astype(np.float64)
        redo = ok & ~constant & (~(np.abs(cond) <= MAX_CONDITION) | ~(carried <= 1e-12))
    return var, ok, redo


def window_extreme(w: Windows, larger: bool):
    """max/min per window (NaN only when every point is NaN) from a sparse table."""
    v = w.points.values
    n = w.hi - w.lo
    ok = n > 0
    if not len(v):
        return np.zeros(w.lo.shape), ok, np.zeros(w.lo.shape, bool)
    fn = np.fmax if larger else np.fmin
    levels = [v]
    span = 1
    top = int(n.max())
    while span * 2 <= top:
        prev = levels[-1]
        nxt = prev.copy()
        nxt[: len(v) - span] = fn(prev[: len(v) - span], prev[span:])
        levels.append(nxt)
        span *= 2
    table = np.stack(levels)
    k = np.floor(np.log2(np.maximum(n, 1))).astype(np.int64)
    k = np.minimum(k, len(levels) - 1)
    lo = np.minimum(w.lo, len(v) - 1)
    right = np.clip(w.hi - (1 << k), 0, len(v) - 1)
    result = fn(table[k, lo], table[k, right])
    return result, ok, np.zeros(w.lo.shape, bool)


def window_regression(w: Windows, intercept_at_eval: bool):
    """Least-squares slope and intercept per window of >= 2 points, as
    Prometheus's ``linearRegression`` defines them (x in seconds from the
    intercept time: the window's first sample, or the evaluation time)."""
    p = w.points
    v = p.values
    if not len(v) or not np.isfinite(v).all():
        return None
    n_int = w.hi - w.lo
    ok = n_int >= 2
    n = np.maximum(n_int, 1).astype(np.longdouble)
    t0, tbase = _series_first(p.timestamps, p.offsets)
    y0, ybase = _series_first(v, p.offsets)
    tt = (p.timestamps - tbase).astype(np.longdouble)
    yy = (v - ybase).astype(np.longdouble)
    rp = _RowPrefix(w)
    st = rp.window(rp(tt))
    stt = rp.window(rp(tt * tt))
    sy = rp.window(rp(yy))
    sty = rp.window(rp(tt * yy))
    rows = np.arange(w.lo.shape[0])[:, None]
    first_t = p.timestamps[np.minimum(w.lo, len(v) - 1)]
    if intercept_at_eval:
        intercept_t = np.broadcast_to(w.eval_times[None, :], w.lo.shape)
    else:
        intercept_t = first_t
    i_rel = (intercept_t - t0[rows]).astype(np.longdouble)
    y_first = y0[rows].astype(np.longdouble)
    sum_x = (st - n * i_rel) / 1000
    sum_x2 = (stt - 2 * i_rel * st + n * i_rel * i_rel) / 1_000_000
    sum_y = sy + n * y_first
    sum_xy = (sty + y_first * st - i_rel * sy - i_rel * n * y_first) / 1000
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        cov = sum_xy - sum_x * sum_y / n
        var = sum_x2 - sum_x * sum_x / n
        slope = cov / var
        intercept = sum_y / n - slope * sum_x / n
        slope = slope.astype(np.float64)
        intercept = intercept.astype(np.float64)
        init_y = v[np.minimum(w.lo, len(v) - 1)]
        constant = _changes(v, p.offsets, w) == 0
        slope = np.where(constant, 0.0, slope)
        intercept = np.where(constant, init_y, intercept)
        # ill-conditioned differences: fold exactly
        cov_cond = (np.abs(sum_xy) + np.abs(sum_x * sum_y / n)) / np.abs(cov)
        var_cond = np.abs(sum_x2) / np.abs(var)
        weak = ~(cov_cond.astype(np.float64) <= MAX_CONDITION) | ~(
            var_cond.astype(np.float64) <= MAX_CONDITION
        )
        redo = ok & ~constant & (weak | ~np.isfinite(slope))
    return slope, intercept, ok, redo
