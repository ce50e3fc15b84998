"""topk/bottomk break ties exactly as Prometheus 3.x's bounded heap does."""

from __future__ import annotations

import math

import numpy as np
import pytest

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
