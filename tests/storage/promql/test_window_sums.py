"""The long-window fast paths (prefix sums, sparse tables) agree with the exact
point-by-point folds that follow Prometheus's arithmetic."""

from __future__ import annotations

import numpy as np
import pytest

from storage.labels import Labels
from storage.promql import range_functions as rf
from storage.promql import window_sums
from storage.promql.selectors import Points
from storage.promql.windows import Windows

pytestmark = pytest.mark.skipif(not window_sums.EXTENDED, reason="no extended precision here")


def _windows(values_per_series, range_ms=3_600_000, step=60_000, steps=40, scrape=15_000):
    rng = np.random.default_rng(0)
    ts, vs, offsets = [], [], [0]
    for vals in values_per_series:
        phase = int(rng.integers(0, scrape))
        t = 1_700_000_000_000 + phase + np.arange(len(vals), dtype=np.int64) * scrape
        ts.append(t)
        vs.append(np.asarray(vals, np.float64))
        offsets.append(offsets[-1] + len(vals))
    p = Points(
        [Labels.EMPTY] * len(vs),
        np.array(offsets, np.int64),
        np.concatenate(ts),
        np.concatenate(vs),
    )
    ends = 1_700_000_000_000 + range_ms + np.arange(steps, dtype=np.int64) * step
    starts = ends - range_ms
    lo, hi = p.search(starts, "right"), p.search(ends, "right")
    return Windows(p, lo, hi, starts, ends, ends + 5_000, range_ms)


def _data(n=600):
    rng = np.random.default_rng(1)
    counter = np.cumsum(rng.gamma(2.0, 3.0, n)) + 1e9
    reset = counter.copy()
    reset[n // 2 :] -= reset[n // 2]
    return [
        counter,
        reset,
        rng.normal(1e6, 10.0, n),  # big mean, small spread
        np.full(n, 52.0),  # constant
        np.round(rng.normal(0, 1, n), 2),  # around zero
        np.linspace(-1e3, 1e3, n),
    ]


def _close(a, b, ok):
    a, b = a[ok], b[ok]
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        good = both_nan | (a == b) | (np.abs(a - b) <= 1e-9 * np.maximum(np.abs(a), np.abs(b)))
    return bool(good.all())


@pytest.mark.parametrize(
    "fast, exact",
    [
        (rf.sum_over_time, rf._sum_over_time_exact),
        (rf.avg_over_time, rf._avg_over_time_exact),
        (rf.stdvar_over_time, rf._stdvar_over_time_exact),
        (rf.stddev_over_time, rf._stddev_over_time_exact),
        (rf.max_over_time, rf._max_over_time_exact),
        (rf.min_over_time, rf._min_over_time_exact),
        (rf.deriv, rf._deriv_exact),
    ],
)
def test_fast_paths_match_exact_folds(fast, exact):
    w = _windows(_data())
    assert window_sums.long_windows(w)
    fv, fp = fast(w)
    ev, ep = exact(w)
    assert np.array_equal(fp, ep)
    assert _close(fv, ev, fp)


def test_predict_linear_fast_path_matches():
    w = _windows(_data())
    duration = np.full(w.lo.shape[1], 600.0)
    fv, fp = rf.predict_linear(w, duration)
    ev, ep = rf._predict_linear_exact(w, duration)
    assert np.array_equal(fp, ep) and _close(fv, ev, fp)


def test_constant_windows_are_exactly_zero_variance_and_slope():
    w = _windows([np.full(600, 0.1)])
    var, ok = rf.stdvar_over_time(w)
    assert (var[ok] == 0).all()
    slope, ok = rf.deriv(w)
    assert (slope[ok] == 0).all()


def test_cancellation_falls_back_to_the_exact_fold():
    vals = np.ones(600)
    vals[::2] = 1e100
    vals[1::2] = -1e100
    w = _windows([vals])
    fv, fp = rf.sum_over_time(w)
    ev, ep = rf._sum_over_time_exact(w)
    np.testing.assert_array_equal(fv[fp], ev[ep])


def test_non_finite_values_use_the_exact_fold():
    vals = np.arange(600, dtype=float)
    vals[300] = np.inf
    vals[301] = np.nan
    w = _windows([vals])
    for fast, exact in (
        (rf.sum_over_time, rf._sum_over_time_exact),
        (rf.max_over_time, rf._max_over_time_exact),
        (rf.stddev_over_time, rf._stddev_over_time_exact),
    ):
        fv, fp = fast(w)
        ev, ep = exact(w)
        assert np.array_equal(fp, ep) and _close(fv, ev, fp)


@pytest.mark.parametrize("q", [0.0, 0.1, 0.5, 0.9, 1.0])
def test_quantile_over_time_partition_matches_sorting(q):
    data = _data()
    data[4] = data[4].copy()
    data[4][::37] = np.nan
    data[5] = data[5].copy()
    data[5][::41] = -np.inf
    w = _windows(data)
    T = w.lo.shape[1]
    fast, fp = rf.quantile_over_time(w, np.full(T, q))
    # a q that varies per step takes the sorting path
    slow, sp = rf.quantile_over_time(w, np.r_[np.full(T - 1, q), 0.123])
    assert np.array_equal(fp, sp)
    assert _close(fast[:, :-1], slow[:, :-1], fp[:, :-1])
