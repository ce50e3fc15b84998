"""Functions over range vectors (``rate``, ``*_over_time``, ``deriv``, ...), for every
series and every step at once.

Each step's window is a slice ``[lo, hi)`` of a series' points (see
``selectors.window_bounds``). Functions that need only the window's ends or
counts (``rate``, ``changes``, ``last_over_time``) read them directly, with
prefix sums for what happens between consecutive points (counter resets).
Functions that fold the window in order (``sum_over_time`` with Prometheus's
Kahan-Neumaier summation, ``stddev_over_time``, ``deriv``) walk position *k* of
every window at once (``WindowWalk``): the same arithmetic, in the same order,
as Prometheus, so results agree to the last bit; a window of *n* points costs
*n* vectorized steps over all windows still that long::

    values, present = evaluate("rate", windows, scalar_args=[])
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from storage.promql.errors import EvaluationError
from storage.promql.selectors import Points

_INF = math.inf


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


def _gather(values: np.ndarray, idx: np.ndarray, ok: np.ndarray) -> np.ndarray:
    if len(values) == 0:
        return np.zeros(idx.shape)
    return values[np.where(ok, idx, 0)]


def _pair_prefix(points: Points, flags: np.ndarray) -> np.ndarray:
    """Prefix sums of per-point values describing (point i-1, point i) pairs;
    pairs across series boundaries count as zero."""
    flags = flags.astype(np.float64 if flags.dtype != bool else np.int64, copy=True)
    flags[points.offsets[:-1][np.diff(points.offsets) > 0]] = 0
    return np.cumsum(flags)


def _window_pair_sum(prefix: np.ndarray, lo: np.ndarray, hi: np.ndarray, ok: np.ndarray):
    """Sum over pairs (i-1, i) with lo < i < hi of the prefixed values."""
    a = np.where(ok, lo, 0)
    b = np.where(ok, hi - 1, 0)
    if len(prefix) == 0:
        return np.zeros(lo.shape)
    return prefix[b] - prefix[a]


# --- rate family ----------------------------------------------------------------

def extrapolated_rate(w: Windows, is_counter: bool, is_rate: bool):
    p = w.points
    lo, hi = w.lo, w.hi
    n = hi - lo
    ok = n >= 2
    first = _gather(p.values, lo, ok)
    last = _gather(p.values, hi - 1, ok)
    first_t = _gather(p.timestamps, lo, ok)
    last_t = _gather(p.timestamps, hi - 1, ok)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        result = last - first
        if is_counter and len(p.values):
            prev = np.empty_like(p.values)
            prev[1:] = p.values[:-1]
            prev[:1] = 0
            reset = np.zeros(len(p.values), bool)
            reset[1:] = p.values[1:] < p.values[:-1]
            corr = np.where(reset, prev, 0.0)
            inf = np.isinf(corr)
            finite_prefix = _pair_prefix(p, np.where(inf, 0.0, corr))
            inf_prefix = _pair_prefix(p, inf)
            result = result + _window_pair_sum(finite_prefix, lo, hi, ok)
            n_inf = _window_pair_sum(inf_prefix, lo, hi, ok)
            result = np.where(n_inf > 0, result + _INF, result)
        range_start = w.starts[None, :]
        range_end = w.ends[None, :]
        to_start = (first_t - range_start) / 1000.0
        to_end = (range_end - last_t) / 1000.0
        sampled = (last_t - first_t) / 1000.0
        avg = np.where(ok, sampled / np.maximum(n - 1, 1), 0.0)
        threshold = avg * 1.1
        to_start = np.where(to_start >= threshold, avg / 2, to_start)
        if is_counter:
            to_zero = np.where((result > 0) & (first >= 0), sampled * (first / result), to_start)
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_end = np.where(to_end >= threshold, avg / 2, to_end)
        factor = np.where(sampled != 0, (sampled + to_start + to_end) / sampled, 1.0)
        if is_rate:
            factor = factor / (w.range_ms / 1000.0)
        result = result * factor
    return result, ok


def instant_value(w: Windows, is_rate: bool):
    p = w.points
    ok = (w.hi - w.lo) >= 2
    v1 = _gather(p.values, w.hi - 2, ok)
    v2 = _gather(p.values, w.hi - 1, ok)
    t1 = _gather(p.timestamps, w.hi - 2, ok)
    t2 = _gather(p.timestamps, w.hi - 1, ok)
    interval = t2 - t1
    ok &= interval != 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if is_rate:
            result = np.where(v2 < v1, v2, v2 - v1)
            result = result / (np.where(interval != 0, interval, 1) / 1000.0)
        else:
            result = v2 - v1
    return result, ok


# --- simple window reads ------------------------------------------------------------

def count_over_time(w: Windows):
    n = w.counts
    return n.astype(np.float64), n > 0


def present_over_time(w: Windows):
    n = w.counts
    return np.ones(n.shape), n > 0


def last_over_time(w: Windows):
    ok = w.counts > 0
    return _gather(w.points.values, w.hi - 1, ok), ok


def first_over_time(w: Windows):
    ok = w.counts > 0
    return _gather(w.points.values, w.lo, ok), ok


def ts_of_last_over_time(w: Windows):
    ok = w.counts > 0
    return _gather(w.points.timestamps, w.hi - 1, ok) / 1000.0, ok


def ts_of_first_over_time(w: Windows):
    ok = w.counts > 0
    return _gather(w.points.timestamps, w.lo, ok) / 1000.0, ok


def changes(w: Windows):
    p = w.points
    ok = w.counts > 0
    flags = np.zeros(len(p.values), bool)
    if len(p.values) > 1:
        a, b = p.values[:-1], p.values[1:]
        flags[1:] = (a != b) & ~(np.isnan(a) & np.isnan(b))
    return _window_pair_sum(_pair_prefix(p, flags), w.lo, w.hi, ok).astype(np.float64), ok


def resets(w: Windows):
    p = w.points
    ok = w.counts > 0
    flags = np.zeros(len(p.values), bool)
    if len(p.values) > 1:
        flags[1:] = p.values[1:] < p.values[:-1]
    return _window_pair_sum(_pair_prefix(p, flags), w.lo, w.hi, ok).astype(np.float64), ok


# --- folds over the window, position by position ---------------------------------------

def _extreme(w: Windows, larger: bool, timestamps: bool):
    p = w.points
    walk = WindowWalk(w.lo, w.hi)
    best = np.zeros(walk.size)
    best_t = np.zeros(walk.size, np.int64)
    for k, m, idx in walk.positions():
        x = p.values[idx]
        cur = best[:m]
        if k == 0:
            best[:m] = x
            best_t[:m] = p.timestamps[idx]
            continue
        with np.errstate(invalid="ignore"):
            if timestamps:
                take = ((x >= cur) if larger else (x <= cur)) | np.isnan(cur)
            else:
                take = ((x > cur) if larger else (x < cur)) | np.isnan(cur)
        best[:m] = np.where(take, x, cur)
        best_t[:m] = np.where(take, p.timestamps[idx], best_t[:m])
    if timestamps:
        return walk.scatter(best_t / 1000.0)
    return walk.scatter(best)


def max_over_time(w):
    return _extreme(w, True, False)


def min_over_time(w):
    return _extreme(w, False, False)


def ts_of_max_over_time(w):
    return _extreme(w, True, True)


def ts_of_min_over_time(w):
    return _extreme(w, False, True)


def sum_over_time(w: Windows):
    p = w.points
    walk = WindowWalk(w.lo, w.hi)
    s = np.zeros(walk.size)
    c = np.zeros(walk.size)
    for _, m, idx in walk.positions():
        s[:m], c[:m] = kahan_inc(p.values[idx], s[:m], c[:m])
    with np.errstate(invalid="ignore"):
        return walk.scatter(np.where(np.isinf(s), s, s + c))


def avg_over_time(w: Windows):
    p = w.points
    walk = WindowWalk(w.lo, w.hi)
    total = np.zeros(walk.size)
    c = np.zeros(walk.size)
    mean = np.zeros(walk.size)
    incremental = np.zeros(walk.size, bool)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k, m, idx in walk.positions():
            x = p.values[idx]
            if k == 0:
                total[:m] = x
                continue
            count = float(k + 1)
            inc = incremental[:m]
            new_sum, new_c = kahan_inc(x, total[:m], c[:m])
            switch = ~inc & np.isinf(new_sum)
            plain = ~inc & ~switch
            total[:m] = np.where(plain, new_sum, total[:m])
            c[:m] = np.where(plain, new_c, c[:m])
            if switch.any():
                sw = np.flatnonzero(switch)
                mean[sw] = total[sw] / (count - 1)
                c[sw] = c[sw] / (count - 1)
                incremental[sw] = True
            inc = incremental[:m]
            if inc.any():
                ii = np.flatnonzero(inc)
                q = (count - 1) / count
                mean[ii], c[ii] = kahan_inc(x[ii] / count, q * mean[ii], q * c[ii])
        n = walk.n.astype(np.float64)
        result = np.where(incremental, mean + c, total / n + c / n)
    return walk.scatter(result)


def _variance(w: Windows):
    p = w.points
    walk = WindowWalk(w.lo, w.hi)
    mean = np.zeros(walk.size)
    c_mean = np.zeros(walk.size)
    aux = np.zeros(walk.size)
    c_aux = np.zeros(walk.size)
    with np.errstate(invalid="ignore", over="ignore"):
        for k, m, idx in walk.positions():
            x = p.values[idx]
            count = float(k + 1)
            delta = x - (mean[:m] + c_mean[:m])
            mean[:m], c_mean[:m] = kahan_inc(delta / count, mean[:m], c_mean[:m])
            aux[:m], c_aux[:m] = kahan_inc(delta * (x - (mean[:m] + c_mean[:m])), aux[:m], c_aux[:m])
        variance = (aux + c_aux) / walk.n
    return walk, variance


def stdvar_over_time(w):
    walk, variance = _variance(w)
    return walk.scatter(variance)


def stddev_over_time(w):
    walk, variance = _variance(w)
    with np.errstate(invalid="ignore"):
        return walk.scatter(np.sqrt(variance))


def _linear_regression(w: Windows, intercept_at_eval: bool):
    """Slope and intercept per window (least squares with Kahan sums), windows of >= 2 points."""
    p = w.points
    walk = WindowWalk(w.lo, w.hi, min_count=2)
    T = w.lo.shape[1]
    step_of_cell = walk.cells % T
    if intercept_at_eval:
        intercept_t = w.eval_times[step_of_cell]
    else:
        intercept_t = p.timestamps[walk.start] if walk.size else np.zeros(0, np.int64)
    sums = [np.zeros(walk.size) for _ in range(8)]  # x, cx, y, cy, xy, cxy, x2, cx2
    init_y = p.values[walk.start] if walk.size else np.zeros(0)
    const_y = np.ones(walk.size, bool)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for k, m, idx in walk.positions():
            y = p.values[idx]
            if k > 0:
                const_y[:m] &= ~(y != init_y[:m])
            x = (p.timestamps[idx] - intercept_t[:m]) / 1e3
            for j, term in enumerate((x, y, x * y, x * x)):
                s, c = sums[2 * j], sums[2 * j + 1]
                s[:m], c[:m] = kahan_inc(term, s[:m], c[:m])
        n = walk.n.astype(np.float64)
        sum_x = sums[0] + sums[1]
        sum_y = sums[2] + sums[3]
        sum_xy = sums[4] + sums[5]
        sum_x2 = sums[6] + sums[7]
        cov_xy = sum_xy - sum_x * sum_y / n
        var_x = sum_x2 - sum_x * sum_x / n
        slope = cov_xy / var_x
        intercept = sum_y / n - slope * sum_x / n
        inf_y = np.isinf(init_y)
        slope = np.where(const_y, np.where(inf_y, np.nan, 0.0), slope)
        intercept = np.where(const_y, np.where(inf_y, np.nan, init_y), intercept)
    return walk, slope, intercept


def deriv(w: Windows):
    walk, slope, _ = _linear_regression(w, False)
    return walk.scatter(slope)


def predict_linear(w: Windows, duration: np.ndarray):
    walk, slope, intercept = _linear_regression(w, True)
    T = w.lo.shape[1]
    d = duration[walk.cells % T]
    with np.errstate(invalid="ignore", over="ignore"):
        return walk.scatter(slope * d + intercept)


def double_exponential_smoothing(w: Windows, sf: np.ndarray, tf: np.ndarray):
    p = w.points
    T = w.lo.shape[1]
    any_points = (w.counts > 0)
    bad_steps = any_points.any(axis=0)
    for j in np.flatnonzero(bad_steps).tolist():
        if not 0 < sf[j] < 1:
            raise EvaluationError(f"invalid smoothing factor. Expected: 0 < sf < 1, got: {sf[j]:f}")
        if not 0 < tf[j] < 1:
            raise EvaluationError(f"invalid trend factor. Expected: 0 < tf < 1, got: {tf[j]:f}")
    walk = WindowWalk(w.lo, w.hi, min_count=2)
    steps = walk.cells % T
    a, t = sf[steps], tf[steps]
    s0 = np.zeros(walk.size)
    s1 = p.values[walk.start] if walk.size else np.zeros(0)
    s1 = s1.copy()
    b = (p.values[walk.start + 1] - s1) if walk.size else np.zeros(0)
    with np.errstate(invalid="ignore", over="ignore"):
        for k, m, idx in walk.positions(first=1):
            x = a[:m] * p.values[idx]
            if k > 1:
                b[:m] = t[:m] * (s1[:m] - s0[:m]) + (1 - t[:m]) * b[:m]
            y = (1 - a[:m]) * (s1[:m] + b[:m])
            s0[:m] = s1[:m]
            s1[:m] = x + y
    return walk.scatter(s1)


# --- order statistics ------------------------------------------------------------

def sorted_nan_first(x: np.ndarray) -> np.ndarray:
    """Sort each row ascending with NaN before everything, as Prometheus orders
    values for quantiles."""
    nan = np.isnan(x)
    out = np.sort(np.where(nan, -np.inf, x), axis=1)
    counts = nan.sum(axis=1)
    if counts.any():
        out[np.arange(x.shape[1])[None, :] < counts[:, None]] = np.nan
    return out


def quantile_of_sorted(q: np.ndarray, xs: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Prometheus's ``quantile`` for rows of sorted values; row i has ``n[i]`` values."""
    with np.errstate(invalid="ignore"):
        rank = q * (n - 1)
        lower = np.maximum(0, np.floor(rank))
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        rows = np.arange(len(xs))
        li = np.nan_to_num(lower, nan=0).astype(np.int64)
        ui = np.nan_to_num(upper, nan=0).astype(np.int64)
        top = np.maximum(n - 1, 0).astype(np.int64)
        li = np.clip(li, 0, top)
        ui = np.clip(ui, 0, top)
        res = xs[rows, li] * (1 - weight) + xs[rows, ui] * weight
        res = np.where(q < 0, -np.inf, res)
        res = np.where(q > 1, np.inf, res)
        res = np.where(np.isnan(q) | (n == 0), np.nan, res)
    return res


_BATCH = 1 << 22  # values gathered at once for window sorts


def _by_length(w: Windows):
    """Non-empty windows grouped by their length, in bounded batches:
    yields (cells, gathered values (cells, n))."""
    n = w.counts.ravel()
    lo = w.lo.ravel()
    cells = np.flatnonzero(n > 0)
    if not len(cells):
        return
    lengths = n[cells]
    order = np.argsort(lengths, kind="stable")
    cells, lengths = cells[order], lengths[order]
    bounds = np.flatnonzero(np.diff(lengths)) + 1
    for group in np.split(np.arange(len(cells)), bounds):
        length = int(lengths[group[0]])
        per = max(1, _BATCH // length)
        for a in range(0, len(group), per):
            g = cells[group[a:a + per]]
            idx = lo[g][:, None] + np.arange(length)[None, :]
            yield g, w.points.values[idx]


def quantile_over_time(w: Windows, q: np.ndarray):
    T = w.lo.shape[1]
    out = np.zeros(w.lo.size)
    present = np.zeros(w.lo.size, bool)
    for cells, vals in _by_length(w):
        xs = sorted_nan_first(vals)
        n = np.full(len(cells), vals.shape[1], dtype=np.float64)
        out[cells] = quantile_of_sorted(q[cells % T], xs, n)
        present[cells] = True
    return out.reshape(w.lo.shape), present.reshape(w.lo.shape)


def mad_over_time(w: Windows):
    out = np.zeros(w.lo.size)
    present = np.zeros(w.lo.size, bool)
    for cells, vals in _by_length(w):
        has_nan = np.isnan(vals).any(axis=1)
        n = np.full(len(cells), vals.shape[1], dtype=np.float64)
        half = np.full(len(cells), 0.5)
        xs = sorted_nan_first(vals)
        median = quantile_of_sorted(half, xs, n)
        dev = np.sort(np.abs(xs - median[:, None]), axis=1)
        res = quantile_of_sorted(half, dev, n)
        out[cells] = np.where(has_nan, np.nan, res)
        present[cells] = True
    return out.reshape(w.lo.shape), present.reshape(w.lo.shape)


# --- dispatch ---------------------------------------------------------------------

SIMPLE = {
    "rate": lambda w: extrapolated_rate(w, True, True),
    "increase": lambda w: extrapolated_rate(w, True, False),
    "delta": lambda w: extrapolated_rate(w, False, False),
    "irate": lambda w: instant_value(w, True),
    "idelta": lambda w: instant_value(w, False),
    "count_over_time": count_over_time,
    "present_over_time": present_over_time,
    "last_over_time": last_over_time,
    "first_over_time": first_over_time,
    "ts_of_last_over_time": ts_of_last_over_time,
    "ts_of_first_over_time": ts_of_first_over_time,
    "ts_of_max_over_time": ts_of_max_over_time,
    "ts_of_min_over_time": ts_of_min_over_time,
    "max_over_time": max_over_time,
    "min_over_time": min_over_time,
    "sum_over_time": sum_over_time,
    "avg_over_time": avg_over_time,
    "stddev_over_time": stddev_over_time,
    "stdvar_over_time": stdvar_over_time,
    "changes": changes,
    "resets": resets,
    "deriv": deriv,
    "mad_over_time": mad_over_time,
}

# Functions that keep the metric name (they act like an offset).
KEEPS_NAME = frozenset({"last_over_time", "first_over_time"})

RANGE_FUNCTIONS = frozenset(SIMPLE) | {
    "quantile_over_time", "predict_linear", "double_exponential_smoothing", "absent_over_time",
}


def evaluate(name: str, w: Windows, scalar_args: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Values and presence, shape (series, steps), of range function ``name``.

    ``scalar_args`` are the function's other arguments, one value per step, in
    the order they appear after (or before, for ``quantile_over_time``) the range.
    """
    fn = SIMPLE.get(name)
    if fn is not None:
        return fn(w)
    if name == "quantile_over_time":
        return quantile_over_time(w, scalar_args[0])
    if name == "predict_linear":
        return predict_linear(w, scalar_args[0])
    if name == "double_exponential_smoothing":
        return double_exponential_smoothing(w, scalar_args[0], scalar_args[1])
    raise EvaluationError(f"unknown range function {name}")
