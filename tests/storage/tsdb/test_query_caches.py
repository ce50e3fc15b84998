"""Caches on the read path for repeated instant queries (rule evaluation):
block postings kept per index and matcher list, the head's no-match snapshot."""

from __future__ import annotations

import gc
import weakref

import numpy as np

from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb import querier as querier_mod
from storage.tsdb.options import HOUR_MS

from .conftest import T0
from .test_select import ALL, assert_same, load_hours


class CountingIndex:
    """A LabelIndex over a dict of postings, counting the lookups it answers."""

    def __init__(self, postings: dict[str, dict[str, list[int]]], n: int):
        self.postings = postings
        self.n = n
        self.lookups = 0

    def all_postings(self):
        return np.arange(self.n, dtype=np.int64)

    def label_values(self, name):
        return sorted(self.postings.get(name, {}))

    def postings_for(self, name, values):
        self.lookups += 1
        d = self.postings.get(name, {})
        ids = sorted({i for v in values for i in d.get(v, [])})
        return np.array(ids, np.int64)

    def postings_for_range(self, name, lo, hi):
        return self.postings_for(name, self.label_values(name)[lo:hi])


def test_block_postings_are_computed_once_per_matcher_list_and_read_only():
    idx = CountingIndex({"__name__": {"up": [0, 2], "down": [1]}, "job": {"a": [0, 1], "b": [2]}}, 3)
    up_a = [Matcher("=", "__name__", "up"), Matcher("=", "job", "a")]
    first = querier_mod._block_postings(idx, up_a)
    n = idx.lookups
    again = querier_mod._block_postings(idx, list(up_a))  # an equal list, not the same one
    assert first.tolist() == again.tolist() == [0]
    assert idx.lookups == n
    assert not again.flags.writeable
    # another matcher list is its own entry
    assert querier_mod._block_postings(idx, [Matcher("=", "job", "b")]).tolist() == [2]
    assert idx.lookups > n
    assert querier_mod._block_postings(idx, [Matcher("=", "__name__", "nope")]).tolist() == []


def test_block_postings_cache_forgets_dropped_indexes_and_stays_bounded(monkeypatch):
    idx = CountingIndex({"i": {str(k): [k] for k in range(50)}}, 50)
    querier_mod._block_postings(idx, [Matcher("=", "i", "1")])
    assert idx in querier_mod._postings_cache
    monkeypatch.setattr(querier_mod, "_POSTINGS_CACHE_IDS", 20)
    for k in range(50):
        assert querier_mod._block_postings(idx, [Matcher("=", "i", str(k))]).tolist() == [k]
    entries, cost = querier_mod._postings_cache[idx]
    assert cost <= 20 and len(entries) <= 10
    alive = weakref.ref(idx)
    del idx
    gc.collect()
    assert alive() is None  # the cache does not keep a dropped block's index


def test_repeated_selects_over_blocks_and_head_match_the_reference(open_db, clock):
    db, _ = open_db()
    clock.ms = T0 + 10 * HOUR_MS
    ref = MemoryStorage()
    load_hours(db, ref, 5, flush_every=2)
    assert len(db.blocks) >= 2
    matcher_lists = (
        ALL,
        [Matcher("=", "even", "True")],
        [Matcher("=~", "__name__", "m1|m2"), Matcher("!=", "i", "4")],
        [Matcher("=", "__name__", "absent")],
    )
    for _ in range(3):  # cold, then from the cache
        for mint, maxt in [(0, 2**62), (T0 + 90 * 60_000, T0 + 150 * 60_000)]:
            for ms in matcher_lists:
                assert_same(db.querier(mint, maxt).select(ms), ref.querier(mint, maxt).select(ms))


def test_head_snapshot_of_nothing_then_of_new_series(open_db, clock):
    db, _ = open_db()
    clock.ms = T0
    ms = [Matcher("=", "__name__", "late")]
    snap = db.head.snapshot(ms, 0, 2**62)
    assert len(snap.sids) == 0 and snap.labels == [] and snap.parts == [] and snap.logs == []
    assert len(db.querier(0, 2**62).select(ms)) == 0
    from storage.interface import SampleBatch

    ls = Labels.from_dict({"__name__": "late", "k": "v"})
    assert db.append(SampleBatch.from_samples([(ls, T0, 1.5)])).rejected == {}
    ss = db.querier(0, 2**62).select(ms)
    assert ss.labels == [ls] and ss.values.tolist() == [1.5]


def test_head_posting_arrays_follow_new_and_removed_series(open_db, clock):
    from storage.interface import SampleBatch

    db, _ = open_db()
    clock.ms = T0
    job_a = [Matcher("=", "job", "a")]

    def a_series(t):
        return sorted(db.querier(0, 2**62).select(job_a).labels)

    first = Labels.from_dict({"__name__": "m", "job": "a", "i": "0"})
    assert db.append(SampleBatch.from_samples([(first, T0, 1.0)])).rejected == {}
    assert a_series(T0) == [first]
    assert a_series(T0) == [first]  # from the kept array
    arr = db.head.snapshot(job_a, 0, 2**62).sids
    more = [Labels.from_dict({"__name__": "m", "job": "a", "i": str(k)}) for k in range(1, 4)]
    other = Labels.from_dict({"__name__": "m", "job": "b", "i": "9"})
    assert db.append(SampleBatch.from_samples([(ls, T0 + 1, 2.0) for ls in more + [other]])).rejected == {}
    assert a_series(T0) == sorted([first] + more)
    assert len(db.head.snapshot(job_a, 0, 2**62).sids) == len(arr) + 3
    # series whose samples all moved to a block leave the head: its arrays follow
    clock.ms = T0 + 10 * HOUR_MS
    db.flush_head()
    assert len(db.head.snapshot(job_a, 0, 2**62).sids) == 0
    assert a_series(T0) == sorted([first] + more)  # now read from the block
    later = Labels.from_dict({"__name__": "m", "job": "a", "i": "new"})
    assert db.append(SampleBatch.from_samples([(later, T0 + 10 * HOUR_MS, 3.0)])).rejected == {}
    assert [db.head._labels[s] for s in db.head.snapshot(job_a, 0, 2**62).sids.tolist()] == [later]
