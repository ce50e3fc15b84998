"""Selector positions: one series is searched in its own points, several
through the composite per-series key; both give each series' own
``searchsorted`` positions (global indexes into the CSR)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.labels import Labels
from storage.promql.selectors import Points

series_ts = st.lists(st.integers(-50, 400), unique=True, max_size=30).map(sorted)


def points(rows: list[list[int]]) -> Points:
    offs = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int64)
    ts = np.array([t for r in rows for t in r], np.int64)
    labels = [Labels.from_dict({"i": str(i)}) for i in range(len(rows))]
    return Points(labels, offs, ts, ts.astype(np.float64))


@settings(max_examples=200, deadline=None)
@given(st.lists(series_ts, min_size=1, max_size=3), st.lists(st.integers(-100, 500), min_size=1, max_size=6))
def test_search_gives_each_series_own_positions(rows, times):
    times_arr = np.array(sorted(times), np.int64)
    whole = points(rows)
    # every run of series the evaluator may search at once (``Points.block``)
    for a in range(len(rows)):
        for b in range(a + 1, len(rows) + 1):
            p = whole.block(a, b)
            for side in ("left", "right"):
                got = p.search(times_arr, side)
                assert got.shape == (b - a, len(times_arr))
                for i, r in enumerate(rows[a:b]):
                    base = sum(len(x) for x in rows[a : a + i])
                    exp = np.searchsorted(np.array(r, np.int64), times_arr, side) + base
                    assert got[i].tolist() == exp.tolist()
