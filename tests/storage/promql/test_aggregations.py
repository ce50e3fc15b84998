"""topk/bottomk break ties exactly as Prometheus 3.x's bounded heap does; sums
are Prometheus's Kahan-Neumaier sums."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.promql.aggregations import _go_heap_select


def _reference(values: list[float], k: int, larger: bool) -> set[int]:
    """Prometheus 3.x's topk/bottomk loop with Go's container/heap, written out."""
    h: list[tuple[float, int]] = []

    def less(a: int, b: int) -> bool:
        va, vb = h[a][0], h[b][0]
        if math.isnan(va):
            return True
        return va < vb if larger else va > vb

    def up(j: int) -> None:
        while j > 0:
            i = (j - 1) // 2
            if not less(j, i):
                break
            h[i], h[j] = h[j], h[i]
            j = i

    def down(i0: int, n: int) -> bool:
        i = i0
        while True:
            j1 = 2 * i + 1
            if j1 >= n:
                break
            j = j1
            if j1 + 1 < n and less(j1 + 1, j1):
                j = j1 + 1
            if not less(j, i):
                break
            h[i], h[j] = h[j], h[i]
            i = j
        return i > i0

    for idx, v in enumerate(values):
        if len(h) < k:
            h.append((v, idx))
            up(len(h) - 1)
            continue
        top = h[0][0]
        worse = (top < v) if larger else (top > v)
        if worse or (math.isnan(top) and not math.isnan(v)):
            h[0] = (v, idx)
            if k > 1 and not down(0, len(h)):
                up(0)
    return {i for _, i in h}


@pytest.mark.parametrize("larger", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_heap_replay_matches_prometheus_loop(larger, k):
    rng = np.random.default_rng(k * 10 + larger)
    m, cols = 23, 40
    vals = rng.integers(0, 4, (m, cols)).astype(float)
    vals[rng.random((m, cols)) < 0.1] = np.nan
    present = rng.random((m, cols)) < 0.85
    sel = _go_heap_select(vals, present, np.full(cols, k), larger)
    for c in range(cols):
        rows = np.flatnonzero(present[:, c])
        want = {int(rows[i]) for i in _reference([vals[r, c] for r in rows], k, larger)}
        assert set(np.flatnonzero(sel[:, c]).tolist()) == want, (c, vals[:, c])


@pytest.mark.parametrize("op", ["topk", "bottomk"])
@pytest.mark.parametrize("k", [1, 2, 4])
def test_topk_selection_matches_prometheus_with_ties(op, k):
    from storage.labels import Labels
    from storage.promql.aggregations import aggregate
    from storage.promql.annotations import Annotations
    from storage.promql.grid import StepVector

    rng = np.random.default_rng(k)
    m, steps = 17, 60
    vals = rng.integers(0, 3, (m, steps)).astype(float)
    vals[rng.random((m, steps)) < 0.05] = np.nan
    present = rng.random((m, steps)) < 0.9
    labels = [
        Labels.from_dict({"__name__": "x", "i": f"{i:02d}", "g": str(i % 2)}) for i in range(m)
    ]
    v = StepVector(labels, vals, present)
    out = aggregate(op, v, ("g",), False, np.full(steps, float(k)), Annotations(""), 0, False)
    got = {(ls, t) for ls, row in zip(out.labels, out.present) for t in np.flatnonzero(row)}
    want = set()
    for t in range(steps):
        for g in ("0", "1"):
            rows = [i for i in range(m) if labels[i].get("g") == g and present[i, t]]
            chosen = _reference([vals[i, t] for i in rows], k, op == "topk")
            want |= {(labels[rows[j]], t) for j in chosen}
    assert got == want


def _neumaier(xs: list[float]) -> tuple[float, float]:
    """Prometheus's kahansum.Inc over one group's values, in order."""
    s = c = 0.0
    for x in xs:
        t = s + x
        if math.isinf(t):
            c = 0.0
        elif abs(s) >= abs(x):
            c += (s - t) + x
        else:
            c += (x - t) + s
        s = t
    return s, c


def _groups(members):
    """Group ids (dense, in order of first appearance's value), each member's rank
    within its group, the group count and the largest group's size."""
    _, ids = np.unique(np.array([g for g, _, _ in members], np.int64), return_inverse=True)
    ids = ids.reshape(-1)
    rank = np.zeros(len(ids), np.int64)
    seen: dict[int, int] = {}
    for i, g in enumerate(ids.tolist()):
        rank[i] = seen.get(g, 0)
        seen[g] = rank[i] + 1
    return ids, rank, int(ids.max()) + 1, int(rank.max()) + 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(allow_nan=True, allow_infinity=True, width=64), st.booleans()),
        min_size=1,
        max_size=60,
    ),
    st.integers(1, 3),
)
def test_kahan_sums_follow_prometheus_in_input_order_on_both_paths(members, steps):
    """Both ways of summing groups (a dense (rank, group) grid for small
    outputs, gathers by group id for big ones) give Prometheus's sums bit for bit."""
    from storage.promql import aggregations as ag

    ids, rank, count, max_size = _groups(members)
    values = np.array([[v * (k + 1) for k in range(steps)] for _, v, _ in members], np.float64)
    present = np.array([[p] * steps for _, _, p in members], bool)
    present[0, :] = True
    dense = ag._kahan_sum_dense(values, present, ids, rank, count, max_size)
    orig = ag.DENSE_CELLS, ag._SCALAR_PER_RANK
    ag.DENSE_CELLS, ag._SCALAR_PER_RANK = -1, 0  # the gather path (not the one-step one)
    try:
        gathered = ag._kahan_sum(values, present, ids, rank, count, max_size)
    finally:
        ag.DENSE_CELLS, ag._SCALAR_PER_RANK = orig
    for a, b in zip(dense, gathered):
        assert np.array_equal(a, b, equal_nan=True)
    for g in range(count):
        for k in range(steps):
            xs = [float(values[i, k]) for i in range(len(ids)) if ids[i] == g and present[i, k]]
            s, c = _neumaier(xs)
            with np.errstate(invalid="ignore"):
                got = dense[0][g, k] + dense[1][g, k]
            assert np.array_equal(got, s + c, equal_nan=True)  # what sum() answers


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.floats(allow_nan=True, allow_infinity=True, width=64), st.booleans()),
        min_size=1,
        max_size=200,
    )
)
def test_instant_kahan_sum_adds_members_one_by_one_like_prometheus(members):
    """The one-step path (plain floats, member by member) answers what
    Prometheus's sequence of kahansum.Inc answers, and what the array paths do."""
    from storage.promql import aggregations as ag

    ids, rank, count, max_size = _groups(members)
    values = np.array([[v] for _, v, _ in members], np.float64)
    present = np.array([[p] for _, _, p in members], bool)
    s, c = ag._kahan_sum_instant(values[:, 0], present[:, 0], ids, count)
    assert s.shape == c.shape == (count, 1)
    dense = ag._kahan_sum_dense(values, present, ids, rank, count, max_size)
    with np.errstate(invalid="ignore"):
        got = s + c
        via_arrays = dense[0] + dense[1]
    for g in range(count):
        xs = [float(values[i, 0]) for i in range(len(ids)) if ids[i] == g and present[i, 0]]
        want_s, want_c = _neumaier(xs)
        assert np.array_equal(got[g, 0], want_s + want_c, equal_nan=True)
    assert np.array_equal(got, via_arrays, equal_nan=True)
