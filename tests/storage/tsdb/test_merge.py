"""Merging sources into one CSR: every copy strategy (one source, long runs
copied by slices, short runs gathered per source) gives the time-ordered
union of the sources, the oldest source winning a repeated timestamp."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.tsdb import merge
from storage.tsdb.chunktable import Runs

N_ROWS = 6

# one source: per output row, a sorted run of distinct timestamps (maybe empty)
source = st.lists(
    st.lists(st.integers(0, 400), unique=True, max_size=40).map(sorted), min_size=N_ROWS, max_size=N_ROWS
)


def as_piece(rows: list[list[int]], k: int, rng: np.random.Generator):
    """The source as a piece: its non-empty rows in a random order, its runs
    at random places in padded buffers whose values say (source, time)."""
    present = [i for i, r in enumerate(rows) if r]
    order = rng.permutation(len(present))
    out_rows = np.array([present[i] for i in order], np.int64)
    ts_src, vs_src, ts_start, vs_start, counts = [], [], [], [], []
    for i in order.tolist():
        r = rows[present[i]]
        pad = int(rng.integers(0, 3))
        ts_start.append(len(ts_src) + pad)
        ts_src.extend([-1] * pad + r)
        vpad = int(rng.integers(0, 3))
        vs_start.append(len(vs_src) + vpad)
        vs_src.extend([-1.0] * vpad + [k * 1000 + t for t in r])
        counts.append(len(r))
    runs = Runs(
        np.array(counts, np.int64),
        np.array(ts_src, np.int64),
        np.array(ts_start, np.int64),
        np.array(vs_src, np.float64),
        np.array(vs_start, np.int64),
    )
    return out_rows, runs


def deferred(runs: Runs, loads: list[int]) -> Runs:
    """The same runs with their values decoded only on request (counted in ``loads``)."""

    def load():
        loads.append(1)
        return runs.val_src, runs.val_start

    return Runs(runs.counts, runs.ts_src, runs.ts_start, None, None, runs.row, load)


@pytest.mark.parametrize("slice_run", [1, 10**9])
@pytest.mark.parametrize("lazy", [False, True])
@settings(max_examples=100, deadline=None)
@given(st.lists(source, min_size=1, max_size=4), st.integers(0, 2**32 - 1))
def test_assemble_is_the_union_with_the_oldest_source_first(slice_run, lazy, sources, seed):
    rng = np.random.default_rng(seed)
    pieces = [as_piece(rows, k, rng) for k, rows in enumerate(sources)]
    loads: list[int] = []
    if lazy:
        pieces = [(rows, deferred(runs, loads)) for rows, runs in pieces]
    orig = merge.MERGE_SLICE_RUN
    merge.MERGE_SLICE_RUN = slice_run  # both copy strategies of several sources
    try:
        counts, ts, vals = merge.assemble(N_ROWS, pieces, consume=lazy)
    finally:
        merge.MERGE_SLICE_RUN = orig
    if lazy:
        # each source's values are decoded once (sources with no samples never)
        assert len(loads) == sum(1 for rows in sources if any(rows))
        assert pieces == []  # handed over
    offs = np.concatenate([[0], np.cumsum(counts)])
    for row in range(N_ROWS):
        first: dict[int, float] = {}
        for k, rows in enumerate(sources):
            for t in rows[row]:
                first.setdefault(t, k * 1000 + t)
        exp = sorted(first.items())
        a, b = offs[row], offs[row + 1]
        assert list(zip(ts[a:b].tolist(), vals[a:b].tolist())) == exp


def paged_piece(rows: list[list[int]], cuts: list[int], rng: np.random.Generator):
    """One source laid out as a paged table reads it: each row's samples cut
    into up to three consecutive runs, listed page by page (the p-th run of
    every row, then the p+1-th), ``row`` naming each run's row of the read,
    whose output rows are in a random order."""
    order = rng.permutation(N_ROWS)  # read row i is output row order[i]
    by_page: list[list[tuple[int, list[int]]]] = [[], [], []]
    for i in range(N_ROWS):
        r = rows[int(order[i])]
        a, b = sorted((cuts[i] % (len(r) + 1), cuts[i + N_ROWS] % (len(r) + 1)))
        for p, run in enumerate((r[:a], r[a:b], r[b:])):
            if run:
                by_page[p].append((i, run))
    ts_src: list[int] = []
    vs_src: list[float] = []
    starts, counts, which = [], [], []
    for page in by_page:
        for i, run in page:
            starts.append(len(ts_src))
            ts_src.extend(run)
            vs_src.extend(float(t) for t in run)
            counts.append(len(run))
            which.append(i)
    z = np.array(starts, np.int64)
    runs = Runs(np.array(counts, np.int64), np.array(ts_src, np.int64), z, np.array(vs_src), z, np.array(which, np.int64))
    return order.astype(np.int64), runs


@settings(max_examples=100, deadline=None)
@given(source, st.lists(st.integers(0, 50), min_size=2 * N_ROWS, max_size=2 * N_ROWS), st.integers(0, 2**32 - 1))
def test_one_paged_source_with_several_runs_per_row_is_laid_in_time_order(rows, cuts, seed):
    if not any(rows):
        return
    out_rows, runs = paged_piece(rows, cuts, np.random.default_rng(seed))
    counts, ts, vals = merge.assemble(N_ROWS, [(out_rows, runs)])
    offs = np.concatenate([[0], np.cumsum(counts)])
    for row in range(N_ROWS):
        a, b = offs[row], offs[row + 1]
        assert ts[a:b].tolist() == rows[row]
        assert vals[a:b].tolist() == [float(t) for t in rows[row]]


def test_one_source_whose_runs_of_a_row_overlap_is_sorted_and_deduplicated():
    # row 0's two runs overlap (5 twice; 3 after 5): the single-source fast
    # path must hand them to the sorting merge, the first run's sample winning
    ts_src = np.array([1, 5, 9, 3, 5, 7, 2, 4], np.int64)
    vs_src = np.array([10.0, 50.0, 90.0, 30.0, 55.0, 70.0, 20.0, 40.0])
    starts = np.array([0, 3, 6], np.int64)
    runs = Runs(np.array([3, 3, 2], np.int64), ts_src, starts, vs_src, starts, np.array([0, 0, 1], np.int64))
    counts, ts, vals = merge.assemble(2, [(np.array([0, 1], np.int64), runs)])
    assert counts.tolist() == [5, 2]
    assert ts.tolist() == [1, 3, 5, 7, 9, 2, 4]
    assert vals.tolist() == [10.0, 30.0, 50.0, 70.0, 90.0, 20.0, 40.0]
