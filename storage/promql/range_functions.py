"""Functions over range vectors (``rate``, ``*_over_time``, ``deriv``, ...), for every
series and every step at once.

Each step's window is a slice ``[lo, hi)`` of a series' points (see
``windows.py``). Functions that need only the window's ends or
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
from dataclasses import replace

import numpy as np

from storage.promql import window_sums
from storage.promql.errors import EvaluationError
from storage.promql.quantile import quantile_of_sorted, sorted_nan_first
from storage.promql.selectors import Points
from storage.promql.windows import (
    Windows,
    WindowWalk,
    gather,
    kahan_inc,
    pair_prefix,
    window_pair_sum,
)

_INF = math.inf


def _reset_prefix(p: Points) -> tuple[np.ndarray, bool]:
    """Prefix sums of counter-reset corrections: at point i (when it is lower than
    point i-1 of the same series) the value before the reset. Also whether any
    correction is infinite (then the caller falls back to exact handling)."""
    v = p.values
    corr = np.zeros(len(v))
    if len(v) > 1:
        with np.errstate(invalid="ignore"):
            np.copyto(corr[1:], v[:-1], where=v[1:] < v[:-1])
        corr[p.offsets[:-1][np.diff(p.offsets) > 0]] = 0
    has_inf = bool(np.isinf(corr).any())
    return (np.cumsum(corr) if not has_inf else corr), has_inf


def extrapolated_rate(w: Windows, is_counter: bool, is_rate: bool):
    """Prometheus's ``extrapolatedRate`` for float samples (``rate``, ``increase``, ``delta``)."""
    p = w.points
    lo, hi = w.lo, w.hi
    n = hi - lo
    ok = n >= 2
    if not len(p.values):
        return np.zeros(lo.shape), ok
    last_i = hi - 1
    first = np.take(p.values, lo, mode="clip")
    last = np.take(p.values, last_i, mode="clip")
    first_t = np.take(p.timestamps, lo, mode="clip")
    last_t = np.take(p.timestamps, last_i, mode="clip")
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        result = last - first
        if is_counter:
            prefix, has_inf = _reset_prefix(p)
            if not has_inf:
                result += np.take(prefix, last_i, mode="clip")
                result -= np.take(prefix, lo, mode="clip")
            else:
                corr = prefix
                finite = np.where(np.isinf(corr), 0.0, corr)
                fp = np.cumsum(finite)
                ip = np.cumsum(np.isinf(corr))
                result += np.take(fp, last_i, mode="clip") - np.take(fp, lo, mode="clip")
                n_inf = np.take(ip, last_i, mode="clip") - np.take(ip, lo, mode="clip")
                result = np.where(n_inf > 0, result + _INF, result)
        sampled = (last_t - first_t) / 1000.0
        avg = sampled / np.maximum(n - 1, 1)
        threshold = avg * 1.1
        half = avg / 2
        to_start = (first_t - w.starts[None, :]) / 1000.0
        to_start = np.where(to_start >= threshold, half, to_start)
        if is_counter:
            to_zero = np.where((result > 0) & (first >= 0), sampled * (first / result), to_start)
            to_start = np.where(to_zero < to_start, to_zero, to_start)
        to_end = (w.ends[None, :] - last_t) / 1000.0
        to_end = np.where(to_end >= threshold, half, to_end)
        # n >= 2 distinct timestamps make ``sampled`` positive wherever ok
        factor = (sampled + to_start + to_end) / sampled
        if is_rate:
            factor /= w.range_ms / 1000.0
        result *= factor
    return result, ok


def instant_value(w: Windows, is_rate: bool):
    p = w.points
    ok = (w.hi - w.lo) >= 2
    v1 = gather(p.values, w.hi - 2, ok)
    v2 = gather(p.values, w.hi - 1, ok)
    t1 = gather(p.timestamps, w.hi - 2, ok)
    t2 = gather(p.timestamps, w.hi - 1, ok)
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
    return gather(w.points.values, w.hi - 1, ok), ok


def first_over_time(w: Windows):
    ok = w.counts > 0
    return gather(w.points.values, w.lo, ok), ok


def ts_of_last_over_time(w: Windows):
    ok = w.counts > 0
    return gather(w.points.timestamps, w.hi - 1, ok) / 1000.0, ok


def ts_of_first_over_time(w: Windows):
    ok = w.counts > 0
    return gather(w.points.timestamps, w.lo, ok) / 1000.0, ok


def changes(w: Windows):
    p = w.points
    ok = w.counts > 0
    flags = np.zeros(len(p.values), bool)
    if len(p.values) > 1:
        a, b = p.values[:-1], p.values[1:]
        flags[1:] = (a != b) & ~(np.isnan(a) & np.isnan(b))
    return window_pair_sum(pair_prefix(p, flags), w.lo, w.hi, ok).astype(np.float64), ok


def resets(w: Windows):
    p = w.points
    ok = w.counts > 0
    flags = np.zeros(len(p.values), bool)
    if len(p.values) > 1:
        flags[1:] = p.values[1:] < p.values[:-1]
    return window_pair_sum(pair_prefix(p, flags), w.lo, w.hi, ok).astype(np.float64), ok


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


def _max_over_time_exact(w):
    return _extreme(w, True, False)


def _min_over_time_exact(w):
    return _extreme(w, False, False)


def ts_of_max_over_time(w):
    return _extreme(w, True, True)


def ts_of_min_over_time(w):
    return _extreme(w, False, True)


def _sum_over_time_exact(w: Windows):
    p = w.points
    walk = WindowWalk(w.lo, w.hi)
    s = np.zeros(walk.size)
    c = np.zeros(walk.size)
    for _, m, idx in walk.positions():
        s[:m], c[:m] = kahan_inc(p.values[idx], s[:m], c[:m])
    with np.errstate(invalid="ignore"):
        return walk.scatter(np.where(np.isinf(s), s, s + c))


def _avg_over_time_exact(w: Windows):
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
            aux[:m], c_aux[:m] = kahan_inc(
                delta * (x - (mean[:m] + c_mean[:m])), aux[:m], c_aux[:m]
            )
        variance = (aux + c_aux) / walk.n
    return walk, variance


def _stdvar_over_time_exact(w):
    walk, variance = _variance(w)
    return walk.scatter(variance)


def _stddev_over_time_exact(w):
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


def _deriv_exact(w: Windows):
    walk, slope, _ = _linear_regression(w, False)
    return walk.scatter(slope)


def _predict_linear_exact(w: Windows, duration: np.ndarray):
    walk, slope, intercept = _linear_regression(w, True)
    T = w.lo.shape[1]
    d = duration[walk.cells % T]
    with np.errstate(invalid="ignore", over="ignore"):
        return walk.scatter(slope * d + intercept)


def double_exponential_smoothing(w: Windows, sf: np.ndarray, tf: np.ndarray):
    p = w.points
    T = w.lo.shape[1]
    any_points = w.counts > 0
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


# --- long windows: prefix sums and sparse tables, exact fold where needed ----------


def _fast_or_exact(w: Windows, fast, exact):
    """``fast(w)`` -> (values, ok, redo) or None; cells in ``redo`` (and everything
    when None) are computed by ``exact`` instead."""
    if not window_sums.long_windows(w):
        return exact(w)
    res = fast(w)
    if res is None:
        return exact(w)
    values, ok, redo = res
    if redo.any():
        only = replace(w, lo=np.where(redo, w.lo, w.hi))
        ev, ep = exact(only)
        values = np.where(redo, ev, values)
        ok = np.where(redo, ep, ok)
    return values, ok


def sum_over_time(w: Windows):
    return _fast_or_exact(w, window_sums.window_sum, _sum_over_time_exact)


def avg_over_time(w: Windows):
    return _fast_or_exact(w, window_sums.window_mean, _avg_over_time_exact)


def stdvar_over_time(w: Windows):
    return _fast_or_exact(w, window_sums.window_variance, _stdvar_over_time_exact)


def stddev_over_time(w: Windows):
    def fast(w):
        res = window_sums.window_variance(w)
        if res is None:
            return None
        var, ok, redo = res
        return np.sqrt(var), ok, redo

    return _fast_or_exact(w, fast, _stddev_over_time_exact)


def max_over_time(w: Windows):
    return _fast_or_exact(w, lambda w: window_sums.window_extreme(w, True), _max_over_time_exact)


def min_over_time(w: Windows):
    return _fast_or_exact(w, lambda w: window_sums.window_extreme(w, False), _min_over_time_exact)


def deriv(w: Windows):
    def fast(w):
        res = window_sums.window_regression(w, False)
        if res is None:
            return None
        slope, _, ok, redo = res
        return slope, ok, redo

    return _fast_or_exact(w, fast, _deriv_exact)


def predict_linear(w: Windows, duration: np.ndarray):
    def fast(w):
        res = window_sums.window_regression(w, True)
        if res is None:
            return None
        slope, intercept, ok, redo = res
        with np.errstate(invalid="ignore", over="ignore"):
            return slope * duration[None, :] + intercept, ok, redo

    return _fast_or_exact(w, fast, lambda w: _predict_linear_exact(w, duration))


# --- order statistics ------------------------------------------------------------

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
            g = cells[group[a : a + per]]
            idx = lo[g][:, None] + np.arange(length)[None, :]
            yield g, w.points.values[idx]


def quantile_over_time(w: Windows, q: np.ndarray):
    T = w.lo.shape[1]
    out = np.zeros(w.lo.size)
    present = np.zeros(w.lo.size, bool)
    fixed_q = len(q) > 0 and bool(np.all(q == q[0])) and 0 <= float(q[0]) <= 1
    for cells, vals in _by_length(w):
        n = vals.shape[1]
        if fixed_q and n > 8:
            out[cells] = _fixed_rank_quantile(float(q[0]), vals)
        else:
            xs = sorted_nan_first(vals)
            out[cells] = quantile_of_sorted(q[cells % T], xs, np.full(len(cells), n, np.float64))
        present[cells] = True
    return out.reshape(w.lo.shape), present.reshape(w.lo.shape)


def _fixed_rank_quantile(q: float, vals: np.ndarray) -> np.ndarray:
    """``quantile_of_sorted`` for rows of equal length and one q, selecting the two
    ranks it needs with ``np.partition`` instead of sorting every row."""
    n = vals.shape[1]
    rank = q * (n - 1)
    li = int(max(0.0, np.floor(rank)))
    ui = min(n - 1, li + 1)
    weight = rank - np.floor(rank)
    nan = np.isnan(vals)
    key = np.where(nan, -np.inf, vals)
    part = np.partition(key, sorted({li, ui}), axis=1)
    nan_count = nan.sum(axis=1)
    # NaN sorts before -Inf in Prometheus; both became -Inf here
    low = np.where(li < nan_count, np.nan, part[:, li])
    high = np.where(ui < nan_count, np.nan, part[:, ui])
    with np.errstate(invalid="ignore"):
        return low * (1 - weight) + high * weight


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
    "quantile_over_time",
    "predict_linear",
    "double_exponential_smoothing",
    "absent_over_time",
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
