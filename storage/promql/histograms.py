"""``histogram_quantile`` and ``histogram_fraction`` over classic (``le``-bucketed) histograms.

Bucket series are grouped by their labels without ``le``. For all groups and
steps at once, each group's buckets are laid out in a (group, bucket, step)
array sorted by upper bound, the buckets absent at a step are moved to the end,
counts are made monotonic (with Prometheus's tolerance for float noise) and
the quantile is interpolated inside its bucket, as Prometheus's
``BucketQuantile`` does. Native histograms are out of scope (see README)::

    values, present, labels = bucket_quantile(q, buckets)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from storage.labels import Labels
from storage.promql import annotations as notes_
from storage.promql.grid import StepVector

SMALL_DELTA_TOLERANCE = 1e-12
_MIN_NORMAL = 2.2250738585072014e-308


def parse_le(text: str) -> float | None:
    """Go's ``strconv.ParseFloat`` for bucket bounds; None when it fails."""
    t = text.strip() if text == text.strip() else None
    if t is None or t == "":
        return None
    low = t.lower()
    if low in ("+inf", "inf", "+infinity", "infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    try:
        if "x" in low:
            return float.fromhex(t)
        if "_" in t:
            return None
        return float(t)
    except ValueError:
        return None


@dataclass(slots=True)
class BucketLayout:
    """Groups of bucket series as (group, bucket, step) arrays, buckets sorted by bound."""

    labels: list[Labels]  # one per group, without "le"
    metric_names: list[str]
    bounds: np.ndarray  # (G, M)
    counts: np.ndarray  # (G, M, T)
    present: np.ndarray  # (G, M, T)
    drop_name: np.ndarray  # (G,)


def layout(
    v: StepVector, notes: notes_.Annotations, pos: int, name_in_warning: bool
) -> BucketLayout | None:
    T = v.num_steps
    index: dict[Labels, int] = {}
    group_labels: list[Labels] = []
    names: list[str] = []
    rows: list[int] = []
    gids: list[int] = []
    bounds: list[float] = []
    for i, ls in enumerate(v.labels):
        le = ls.get("le")
        ub = parse_le(le)
        if ub is None:
            if v.present[i].any():
                notes.warn(notes_.bad_bucket_label(ls.name if name_in_warning else "", le), pos)
            continue
        key = ls.without("le")
        g = index.get(key)
        if g is None:
            g = index[key] = len(group_labels)
            group_labels.append(key)
            names.append(ls.name)
        rows.append(i)
        gids.append(g)
        bounds.append(ub)
    if not rows:
        return None
    G = len(group_labels)
    rows_a = np.array(rows, np.int64)
    gids_a = np.array(gids, np.int64)
    bounds_a = np.array(bounds, np.float64)
    # coalesce equal bounds of a group (their present counts add up)
    bkey = np.lexsort((bounds_a, gids_a))
    rows_a, gids_a, bounds_a = rows_a[bkey], gids_a[bkey], bounds_a[bkey]
    same = np.zeros(len(rows_a), bool)
    same[1:] = (gids_a[1:] == gids_a[:-1]) & (bounds_a[1:] == bounds_a[:-1])
    slot = np.cumsum(~same) - 1
    n_slots = int(slot[-1]) + 1
    slot_group = gids_a[~same]
    slot_bound = bounds_a[~same]
    vals = np.where(v.present[rows_a], v.values[rows_a], 0.0)
    counts = np.zeros((n_slots, T))
    np.add.at(counts, slot, vals)
    pres = np.zeros((n_slots, T), bool)
    np.logical_or.at(pres, slot, v.present[rows_a])
    # place slots into (G, M) by rank within group
    sizes = np.bincount(slot_group, minlength=G)
    M = int(sizes.max())
    starts = np.zeros(G, np.int64)
    np.cumsum(sizes[:-1], out=starts[1:])
    rank = np.arange(n_slots) - starts[slot_group]
    B = np.full((G, M), np.inf)
    C = np.zeros((G, M, T))
    P = np.zeros((G, M, T), bool)
    B[slot_group, rank] = slot_bound
    C[slot_group, rank] = counts
    P[slot_group, rank] = pres
    drop = np.zeros(G, bool)
    np.logical_or.at(drop, gids_a, v.drop_name[rows_a])
    return BucketLayout(group_labels, names, B, C, P, drop)


def _compact(L: BucketLayout):
    """Per (group, step), the present buckets moved to the front (order kept)."""
    G, M, T = L.counts.shape
    order = np.argsort(~L.present, axis=1, kind="stable")
    counts = np.take_along_axis(L.counts, order, axis=1)
    bounds = np.take_along_axis(np.broadcast_to(L.bounds[:, :, None], (G, M, T)), order, axis=1)
    n = L.present.sum(axis=1)  # (G, T)
    return bounds, counts, n


def _almost_equal(a, b, eps):
    with np.errstate(invalid="ignore", over="ignore"):
        abs_sum = np.abs(a) + np.abs(b)
        diff = np.abs(a - b)
        small = (a == 0) | (b == 0) | (abs_sum < _MIN_NORMAL)
        return (a == b) | np.where(
            small,
            diff < eps * _MIN_NORMAL,
            diff / np.minimum(abs_sum, np.finfo(np.float64).max) < eps,
        )


def bucket_quantile(
    q: np.ndarray,
    L: BucketLayout,
    times: np.ndarray,
    notes: notes_.Annotations,
    pos: int,
    name_in_info: bool,
):
    """Values and presence (G, T) of ``histogram_quantile(q, buckets)``."""
    bounds, counts, n = _compact(L)
    G, M, T = counts.shape
    present = n > 0
    idx = np.arange(M)[None, :, None]
    valid = idx < n[:, None, :]
    last = np.take_along_axis(bounds, np.maximum(n - 1, 0)[:, None, :], axis=1)[:, 0, :]
    has_inf = last == np.inf
    # ensure monotonic counts; remember where that needed forcing
    forced = np.zeros((G, T), bool)
    min_b = np.full((G, T), np.inf)
    max_b = np.full((G, T), -np.inf)
    max_diff = np.zeros((G, T))
    prev = counts[:, 0, :].copy()
    with np.errstate(invalid="ignore"):
        for i in range(1, M):
            curr = counts[:, i, :]
            live = valid[:, i, :] & has_inf
            equal = curr == prev
            close = ~equal & _almost_equal(prev, curr, SMALL_DELTA_TOLERANCE)
            lower = ~equal & ~close & (curr < prev)
            fix = live & (close | lower)
            counts[:, i, :] = np.where(fix, prev, curr)
            force = live & lower
            if force.any():
                b = bounds[:, i, :]
                forced |= force
                min_b = np.where(force & (b < min_b), b, min_b)
                max_b = np.where(force & (b > max_b), b, max_b)
                max_diff = np.where(force & (prev - curr > max_diff), prev - curr, max_diff)
            prev = np.where(live & ~equal & ~close & ~lower, curr, prev)
    qq = np.broadcast_to(q[None, :], (G, T))
    obs = np.take_along_axis(counts, np.maximum(n - 1, 0)[:, None, :], axis=1)[:, 0, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        rank = qq * obs
        searchable = valid & (idx < (n - 1)[:, None, :])
        hit = searchable & (counts >= rank[:, None, :])
        b = np.where(hit.any(axis=1), hit.argmax(axis=1), n - 1)
        bm1 = np.maximum(b - 1, 0)
        upper = np.take_along_axis(bounds, b[:, None, :], axis=1)[:, 0, :]
        below_bound = np.take_along_axis(bounds, bm1[:, None, :], axis=1)[:, 0, :]
        second_last = np.take_along_axis(bounds, np.maximum(n - 2, 0)[:, None, :], axis=1)[:, 0, :]
        cnt_b = np.take_along_axis(counts, b[:, None, :], axis=1)[:, 0, :]
        cnt_bm1 = np.take_along_axis(counts, bm1[:, None, :], axis=1)[:, 0, :]
        start = np.where(b > 0, below_bound, 0.0)
        count = np.where(b > 0, cnt_b - cnt_bm1, cnt_b)
        r = np.where(b > 0, rank - cnt_bm1, rank)
        interp = start + (upper - start) * (r / count)
        res = np.where(b == n - 1, second_last, np.where((b == 0) & (upper <= 0), upper, interp))
        res = np.where((n < 2) | (obs == 0), np.nan, res)
        res = np.where(has_inf, res, np.nan)
    res = np.where(qq < 0, -np.inf, np.where(qq > 1, np.inf, res))
    res = np.where(np.isnan(qq), np.nan, res)
    # forcing only happens on the path that reaches the search
    forced &= present & has_inf & ~np.isnan(qq) & (qq >= 0) & (qq <= 1)
    if forced.any():
        _monotonicity_info(L, forced, min_b, max_b, max_diff, times, notes, pos, name_in_info)
    return res, present


def _monotonicity_info(L, forced, min_b, max_b, max_diff, times, notes, pos, name_in_info):
    by_name: dict[str, list] = {}
    for g, t in zip(*np.nonzero(forced)):
        name = L.metric_names[g] if name_in_info else ""
        agg = by_name.setdefault(name, [math.inf, -math.inf, 0.0, 0, None, None])
        agg[0] = min(agg[0], float(min_b[g, t]))
        agg[1] = max(agg[1], float(max_b[g, t]))
        agg[2] = max(agg[2], float(max_diff[g, t]))
        agg[3] += 1
        ts = int(times[t])
        agg[4] = ts if agg[4] is None else min(agg[4], ts)
        agg[5] = ts if agg[5] is None else max(agg[5], ts)
    for name, (lo, hi, diff, count, t0, t1) in by_name.items():
        text = (
            f"{notes_.forced_monotonicity(name)}, from buckets {notes_.go_g(lo)} to "
            f"{notes_.go_g(hi)}, with a max diff of {diff:.2g}, over {count} samples "
            f"from {_rfc3339(t0)} to {_rfc3339(t1)}"
        )
        notes.info(text, pos)


def _rfc3339(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


def _interpolate(v, lower_bound, ub, cnt, rank):
    """The rank of ``v`` inside the bucket (lower_bound, ub]: linear between the
    rank below it and its count, or its count when the bucket has no lower bound."""
    return np.where(
        lower_bound == -np.inf,
        cnt,
        rank + (cnt - rank) * (v - lower_bound) / (ub - lower_bound),
    )


def bucket_fraction(lower: np.ndarray, upper: np.ndarray, L: BucketLayout):
    """Values and presence (G, T) of ``histogram_fraction(lower, upper, buckets)``."""
    bounds, counts, n = _compact(L)
    G, M, T = counts.shape
    present = n > 0
    last = np.take_along_axis(bounds, np.maximum(n - 1, 0)[:, None, :], axis=1)[:, 0, :]
    total = np.take_along_axis(counts, np.maximum(n - 1, 0)[:, None, :], axis=1)[:, 0, :]
    lo = np.broadcast_to(lower[None, :], (G, T))
    hi = np.broadcast_to(upper[None, :], (G, T))
    rank = np.zeros((G, T))
    lower_rank = np.zeros((G, T))
    upper_rank = np.zeros((G, T))
    lower_set = np.zeros((G, T), bool)
    upper_set = np.zeros((G, T), bool)
    first_bound = bounds[:, 0, :]
    lower_bound = np.where(first_bound <= 0, -np.inf, 0.0)
    done = np.zeros((G, T), bool)
    with np.errstate(invalid="ignore", divide="ignore"):
        for i in range(M):
            live = (i < n) & ~done
            if i > 0:
                lower_bound = np.where(live, bounds[:, i - 1, :], lower_bound)
            ub = bounds[:, i, :]
            cnt = counts[:, i, :]
            s = live & ~lower_set & (lower_bound >= lo)
            lower_rank = np.where(s, rank, lower_rank)
            lower_set |= s
            s = live & ~upper_set & (lower_bound >= hi)
            upper_rank = np.where(s, rank, upper_rank)
            upper_set |= s
            both = lower_set & upper_set
            done |= live & both
            live = live & ~both
            s = live & ~lower_set & (lower_bound < lo) & (ub > lo)
            lower_rank = np.where(s, _interpolate(lo, lower_bound, ub, cnt, rank), lower_rank)
            lower_set |= s
            s = live & ~upper_set & (lower_bound < hi) & (ub > hi)
            upper_rank = np.where(s, _interpolate(hi, lower_bound, ub, cnt, rank), upper_rank)
            upper_set |= s
            both = lower_set & upper_set
            done |= live & both
            live = live & ~both
            rank = np.where(live, cnt, rank)
        lower_rank = np.where(~lower_set | (lower_rank > total), total, lower_rank)
        upper_rank = np.where(~upper_set | (upper_rank > total), total, upper_rank)
        res = (upper_rank - lower_rank) / total
        res = np.where(lo >= hi, 0.0, res)
        res = np.where((total == 0) | np.isnan(lo) | np.isnan(hi), np.nan, res)
        res = np.where(last == np.inf, res, np.nan)
    return res, present
