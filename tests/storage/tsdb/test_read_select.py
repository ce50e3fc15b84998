"""Selects over paged blocks and the head: narrow windows at page edges,
subquery-shaped and wide reads, and merging sources that hold the same
series (compared once, not hashed) or different ones, against the in-memory
reference store."""

from __future__ import annotations

import numpy as np
import pytest

from storage.interface import SampleBatch, SelectHints
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb import querier as querier_mod

from .conftest import T0
from .test_select import assert_same

HOUR = 3_600_000
MIN = 60_000
BASE = T0 - T0 % (2 * HOUR)
ALL = [Matcher("=~", "__name__", ".+")]


def scrape_like(n_series: int, hours: float, shuffle: bool = False):
    """Series scraped every 15 s, each with its own phase; created in a
    shuffled order when ``shuffle`` (head ids then differ from label order)."""
    labels = [
        Labels.from_dict({"__name__": f"m{i % 4}", "instance": f"n{i % 7}", "i": f"{i:03d}"}) for i in range(n_series)
    ]
    if shuffle:
        labels = [labels[i] for i in np.random.default_rng(3).permutation(n_series)]
    n = int(hours * 240)
    phase = (np.arange(n_series) * 1_333) % 15_000
    ts = BASE + phase[:, None] + np.arange(n)[None, :] * 15_000
    rng = np.random.default_rng(n_series)
    vals = np.round(np.cumsum(rng.random((n_series, n)), axis=1), 3)
    vals[:: 5] = rng.random((len(vals[:: 5]), n))
    return labels, ts, vals


def load(db, ref, labels, ts, vals, cols: slice):
    t, v = ts[:, cols], vals[:, cols]
    b = SampleBatch(labels, np.repeat(np.arange(len(labels)), t.shape[1]), t.ravel().copy(), v.ravel().copy())
    assert db.append(b).rejected == {}
    ref.append(b)


@pytest.fixture
def paged(open_db, clock):
    """3 h of 60 series: a 2 h block with two 1 h pages, the rest in the head."""
    db, _ = open_db(max_future_skew_ms=0)
    ref = MemoryStorage()
    labels, ts, vals = scrape_like(60, 3, shuffle=True)
    clock.ms = int(ts.max())
    load(db, ref, labels, ts, vals, slice(0, 480))
    db.flush_head()
    load(db, ref, labels, ts, vals, slice(480, None))
    (block,) = db.blocks
    assert len(block.table.page_mint) == 2 and db.head.num_samples > 0
    return db, ref, ts


def test_narrow_windows_at_page_edges_match_the_reference(paged):
    db, ref, ts = paged
    page_edge = BASE + HOUR
    block_end = BASE + 2 * HOUR
    windows = [
        (page_edge - 5 * MIN, page_edge),
        (page_edge - 1, page_edge + 1),
        (page_edge - 2 * MIN, page_edge + 3 * MIN),
        (block_end - 5 * MIN, block_end + 5 * MIN),  # block and head
        (int(ts.max()) - 5 * MIN, int(ts.max())),  # head only
        (block_end - 31 * MIN, block_end - 1),  # subquery-shaped
        (BASE - HOUR, BASE + 10),
    ]
    matchers = [ALL, [Matcher("=", "__name__", "m1"), Matcher("!=", "instance", "n3")], [Matcher("=~", "i", "00[0-9]")]]
    for mint, maxt in windows:
        for ms in matchers:
            assert_same(db.querier(mint, maxt).select(ms), ref.querier(mint, maxt).select(ms))


def test_wide_read_and_limits_over_pages(paged):
    db, ref, ts = paged
    got = db.querier(0, 2**62).select(ALL)
    assert_same(got, ref.querier(0, 2**62).select(ALL))
    assert got.num_samples == ts.size
    only = db.querier(0, 2**62).select(ALL, SelectHints(series_only=True))
    assert only.labels == got.labels and only.num_samples == 0


def test_sources_with_the_same_series_are_compared_not_hashed(open_db, clock, monkeypatch):
    db, _ = open_db(max_future_skew_ms=0)
    ref = MemoryStorage()
    labels, ts, vals = scrape_like(30, 6, shuffle=True)
    clock.ms = int(ts.max())
    for a in range(0, 1440, 480):  # three blocks of the same series, then the head
        load(db, ref, labels, ts, vals, slice(a, a + 480 - (120 if a == 960 else 0)))
        if a < 960:
            db.flush_head()
    assert len(db.blocks) == 2 and db.head.num_series == 30
    merges = []
    real_merge = querier_mod._merge_labels
    monkeypatch.setattr(querier_mod, "_merge_labels", lambda lists: merges.append(1) or real_merge(lists))
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    assert merges == []  # the label lists matched: no union was built
    # a series only the head has: the general union, same answer
    extra = Labels.from_dict({"__name__": "m0", "instance": "zz", "i": "new"})
    b = SampleBatch([extra], np.zeros(1, np.int64), np.array([int(ts.max())]), np.array([1.0]))
    db.append(b)
    ref.append(b)
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    assert merges == [1]


def test_blocks_with_different_series_merge_in_label_order(open_db, clock):
    db, _ = open_db(max_future_skew_ms=0)
    ref = MemoryStorage()
    labels, ts, vals = scrape_like(40, 4)
    clock.ms = int(ts.max())
    load(db, ref, labels[::2], ts[::2], vals[::2], slice(0, 480))
    db.flush_head()
    # the odd series and a few of the even ones (one scrape later: the cut
    # took everything up to the newest sample)
    pick = np.r_[1:40:2, 0:10:2]
    load(db, ref, [labels[i] for i in pick], ts[pick], vals[pick], slice(481, 960))
    db.flush_head()
    assert len(db.blocks) == 2
    for mint, maxt in [(0, 2**62), (BASE + 2 * HOUR - 5 * MIN, BASE + 2 * HOUR + 5 * MIN)]:
        assert_same(db.querier(mint, maxt).select(ALL), ref.querier(mint, maxt).select(ALL))
