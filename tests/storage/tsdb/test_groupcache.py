"""The decoded-group cache: bounded LRU, reads through it equal reads without
it (whole and partial entries), groups kept the second time they are
decoded, later repeats decode nothing, wide reads cannot flush it, and the
TSDB's selects use it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from storage.memstore import MemoryStorage
from storage.tsdb import codec
from storage.tsdb.chunktable import ChunkTableBuilder, PartialGroup
from storage.tsdb.groupcache import VALUES, GroupCache
from storage.tsdb.telemetry import TSDBMetrics

from .conftest import metric_value
from .test_read_select import ALL, load, scrape_like
from .test_select import assert_same

MIN = 60_000


def test_lru_keeps_within_its_budget():
    c = GroupCache(3 * 800)
    for k in range(3):
        c.put((1, 0, k), np.zeros(100))
    assert c.nbytes == 2400 and len(c) == 3
    c.get((1, 0, 0))  # now the most recently used
    c.put((1, 0, 3), np.zeros(100))
    assert c.get((1, 0, 1)) is None and c.get((1, 0, 0)) is not None
    assert c.nbytes == 2400
    c.put((1, 0, 9), np.zeros(1000))  # larger than the whole cache: not kept
    assert c.get((1, 0, 9)) is None and c.nbytes == 2400
    arr = c.get((1, 0, 3))
    with pytest.raises(ValueError):
        arr[0] = 1.0  # entries are shared between readers: read-only
    assert c.admits(600) and not c.admits(601)
    c.clear()
    assert c.nbytes == 0 and len(c) == 0
    with pytest.raises(ValueError):
        GroupCache(0)


def table_of(n_rows: int, hours: float, group: int, step: int = 15_000):
    rng = np.random.default_rng(n_rows)
    n = int(hours * 3_600_000 // step)
    phase = (np.arange(n_rows) * 977) % step
    ts = phase[:, None] + np.arange(n)[None, :] * step
    vals = np.round(np.cumsum(rng.random((n_rows, n)), axis=1), 2)
    vals[::3] = rng.random((len(vals[::3]), n))
    b = ChunkTableBuilder(group_samples=group)
    b.add(np.full(n_rows, n), ts.ravel(), vals.ravel())
    return b.finish(), n


def same_runs(a, b, n_rows):
    ca, ta, va = a.to_csr(n_rows)
    cb, tb, vb = b.to_csr(n_rows)
    assert ca.tolist() == cb.tolist() and ta.tolist() == tb.tolist()
    assert (va.view(np.uint64) == vb.view(np.uint64)).all()


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.lists(st.integers(0, 59), unique=True, min_size=1, max_size=60),
            st.integers(-10, 190),
            st.integers(0, 200),
        ),
        min_size=1,
        max_size=6,
    ),
    st.integers(200, 5000),
    st.sampled_from([4 << 10, 64 << 10, 1 << 20]),
)
def test_reads_through_the_cache_equal_reads_without(reads, group, capacity):
    t, _ = table_of(60, 3, group)
    cache = GroupCache(capacity)
    for rows, lo_min, span_min in reads * 3:  # every read thrice: the third finds entries
        rows = np.array(rows)
        lo, hi = lo_min * MIN, (lo_min + span_min) * MIN
        same_runs(t.read_runs(rows, lo, hi, cache), t.read_runs(rows, lo, hi), len(rows))
    assert cache.nbytes <= capacity


def decode_counter(monkeypatch):
    calls = {"n": 0}
    real_values, real_into = codec.decode_values, codec.decode_into

    def values(*a):
        calls["n"] += 1
        return real_values(*a)

    def into(*a):
        calls["n"] += 1
        return real_into(*a)

    monkeypatch.setattr(codec, "decode_values", values)
    monkeypatch.setattr(codec, "decode_into", into)
    return calls


def test_a_repeated_sparse_read_decodes_nothing_and_keeps_only_its_chunks(monkeypatch):
    t, _ = table_of(64, 2, 4000)
    calls = decode_counter(monkeypatch)
    cache = GroupCache(1 << 20)
    rows = np.arange(0, 64, 8)  # one series in eight, like one CPU mode
    once = t.read_runs(rows, 0, 2 * 3_600_000, cache)
    assert len(cache) == 0  # decoded once: remembered, not kept
    per_read = calls["n"]
    first = t.read_runs(rows, 0, 2 * 3_600_000, cache)  # the second time: kept
    decoded = calls["n"]
    assert decoded == 2 * per_read > 0
    same_runs(once, first, len(rows))
    entries = [cache.get(k) for k in list(cache._entries)]
    assert entries and all(isinstance(e, PartialGroup) for e in entries)
    assert cache.nbytes < 16 * (64 * 480) // 4  # far less than the decoded groups
    again = t.read_runs(rows, 30 * MIN, 90 * MIN, cache)  # other window, same chunks
    assert calls["n"] == decoded
    same_runs(again, t.read_runs(rows, 30 * MIN, 90 * MIN), len(rows))
    same_runs(first, t.read_runs(rows, 0, 2 * 3_600_000), len(rows))
    # other rows of those groups are not in the partial entries: decoded again
    t.read_runs(rows + 1, 0, 2 * 3_600_000, cache)
    assert calls["n"] > decoded


def test_dense_reads_keep_whole_groups_and_wide_reads_add_a_bounded_share(monkeypatch):
    t, _ = table_of(64, 2, 4000)
    cache = GroupCache(1 << 20)
    for _ in range(2):
        t.read_runs(np.arange(16), 0, 3_600_000 - 1, cache)  # the first page only
    assert len(cache) and all(isinstance(cache.get(k), np.ndarray) for k in list(cache._entries))
    small = GroupCache(256 << 10)
    for _ in range(2):
        t.read_runs(np.arange(64), None, None, small)  # decodes ~0.5 MB
    assert 0 < small.nbytes <= small.capacity_bytes // 4


def test_a_group_kept_for_some_series_is_kept_for_others_the_first_time_they_are_read(monkeypatch):
    t, _ = table_of(64, 2, 4000)
    cache = GroupCache(4 << 20)  # one read may add all it decodes
    user = np.arange(0, 64, 8)  # one CPU mode...
    for _ in range(2):
        t.read_runs(user, 0, 2 * 3_600_000, cache)  # kept (in part) the second time
    calls = decode_counter(monkeypatch)
    t.read_runs(user, 0, 2 * 3_600_000, cache)
    assert calls["n"] == 0
    idle = user + 1  # ...and another one, in the same groups
    first = t.read_runs(idle, 0, 2 * 3_600_000, cache)  # groups decoded before: kept now
    decoded = calls["n"]
    assert decoded > 0
    again = t.read_runs(idle, 0, 2 * 3_600_000, cache)
    assert calls["n"] == decoded  # all from the cache
    same_runs(again, first, len(idle))
    same_runs(again, t.read_runs(idle, 0, 2 * 3_600_000), len(idle))


def test_two_sparse_reads_of_the_same_groups_both_end_up_cached(monkeypatch):
    t, _ = table_of(64, 2, 4000)
    cache = GroupCache(1 << 20)
    available, total = np.arange(0, 64, 16), np.arange(1, 64, 16)  # a / b of the same groups
    for _ in range(3):
        t.read_runs(available, 0, 2 * 3_600_000, cache)
        t.read_runs(total, 0, 2 * 3_600_000, cache)
    expected = {id(rows): t.read_runs(rows, 0, 2 * 3_600_000) for rows in (available, total)}
    calls = decode_counter(monkeypatch)
    for rows in (available, total, available):
        same_runs(t.read_runs(rows, 0, 2 * 3_600_000, cache), expected[id(rows)], len(rows))
    assert calls["n"] == 0
    entries = [cache.get(k) for k in list(cache._entries)]
    assert entries and all(isinstance(e, PartialGroup) for e in entries)


def test_cache_metrics_count_hits_and_misses():
    m = TSDBMetrics(CollectorRegistry())
    t, _ = table_of(32, 1, 2000)
    cache = GroupCache(1 << 20, m)
    t.read_runs(np.arange(32), 0, 3_600_000, cache)
    misses = metric_value(m.registry, "spyglass_tsdb_group_cache_misses_total")
    assert misses > 0 and metric_value(m.registry, "spyglass_tsdb_group_cache_hits_total") == 0
    t.read_runs(np.arange(32), 0, 3_600_000, cache)  # kept now
    assert metric_value(m.registry, "spyglass_tsdb_group_cache_misses_total") == 2 * misses
    t.read_runs(np.arange(32), 0, 3_600_000, cache)
    assert metric_value(m.registry, "spyglass_tsdb_group_cache_hits_total") == misses
    tiny = GroupCache(1000, m)
    for g in range(3):
        tiny.put((t.uid, VALUES, g), np.zeros(100))
    assert metric_value(m.registry, "spyglass_tsdb_group_cache_evictions_total") == 2


def test_tsdb_selects_use_the_cache_and_match_the_reference(open_db, clock):
    db, reg = open_db(max_future_skew_ms=0)
    ref = MemoryStorage()
    labels, ts, vals = scrape_like(80, 3, shuffle=True)
    clock.ms = int(ts.max())
    load(db, ref, labels, ts, vals, slice(0, 480))
    db.flush_head()
    load(db, ref, labels, ts, vals, slice(480, None))
    db.head.seal(force=True)
    end = int(ts.max())
    from storage.labels import Matcher

    for ms in (ALL, [Matcher("=", "__name__", "m1")], [Matcher("=", "instance", "n3")]):
        for lo in (end - 5 * MIN, end - 31 * MIN, end - 3 * 3_600_000):
            for _ in range(3):
                assert_same(db.querier(lo, end).select(ms), ref.querier(lo, end).select(ms))
    assert metric_value(reg, "spyglass_tsdb_group_cache_hits_total") > 0
    assert metric_value(reg, "spyglass_tsdb_group_cache_size_bytes") == db.group_cache.nbytes > 0


def test_keys_decoded_once_are_remembered_for_a_while():
    c = GroupCache(1 << 20)
    assert not c.second_time((1, 0, 0)) and c.second_time((1, 0, 0))
    assert c.second_time((1, 0, 0))  # still remembered
    from storage.tsdb import groupcache

    for g in range(1, groupcache.DOORKEEPER_KEYS + 1):
        c.second_time((2, 0, g))
    assert not c.second_time((1, 0, 0))  # pushed out by newer keys


def test_cache_can_be_turned_off(open_db):
    db, _ = open_db(group_cache_bytes=0)
    assert db.group_cache is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.integers(0, 30), unique=True, max_size=8).map(sorted),
    st.lists(st.integers(0, 30), unique=True, min_size=1, max_size=4).map(sorted),
)
def test_a_partial_entry_finds_its_items_and_nothing_else(kept, wanted):
    group = np.arange(31 * 2, dtype=np.float64)  # item i is group[2i:2i+2]
    entry = PartialGroup.of(np.array(kept, np.int64), group, np.array(kept, np.int64) * 2, np.full(len(kept), 2))
    k = entry.find(np.array(wanted, np.int64))
    if not set(wanted) <= set(kept):
        assert k is None
        return
    assert k is not None
    for item, j in zip(wanted, k.tolist()):
        off = int(entry.offs[j])
        assert entry.data[off : off + 2].tolist() == [2.0 * item, 2.0 * item + 1]
