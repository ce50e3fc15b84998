"""Reads: head + blocks merged, clipped to the range, compared with the
in-memory reference store; series-only reads, sample limits, label queries."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import QueryLimitError, SampleBatch, SelectHints, SeriesSet
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb.options import HOUR_MS

from .conftest import T0, batch

ALL = [Matcher("=~", "__name__", ".+")]


def assert_same(a: SeriesSet, b: SeriesSet) -> None:
    assert a.labels == b.labels
    assert a.offsets.tolist() == b.offsets.tolist()
    assert a.timestamps.tolist() == b.timestamps.tolist()
    assert (a.values.view(np.uint64) == b.values.view(np.uint64)).all()
    assert a.offsets.dtype == np.int64 and a.timestamps.dtype == np.int64 and a.values.dtype == np.float64


def load_hours(db, ref, hours: int, series: int = 20, step: int = 60_000, flush_every: int = 0):
    labels = [Labels.from_dict({"__name__": f"m{i % 3}", "i": str(i), "even": str(i % 2 == 0)}) for i in range(series)]
    rng = np.random.default_rng(1)
    t = T0
    per_hour = HOUR_MS // step
    for h in range(hours):
        ts = t + np.arange(per_hour) * step
        vals = rng.random((series, per_hour))
        idx = np.repeat(np.arange(series), per_hour)
        b = SampleBatch(labels, idx, np.tile(ts, series), vals.ravel())
        assert db.append(b).rejected == {}
        ref.append(b)
        t += HOUR_MS
        if flush_every and (h + 1) % flush_every == 0:
            db.flush_head()
    return labels


def test_head_and_block_reads_merge(open_db, clock):
    db, _ = open_db()
    clock.ms = T0 + 10 * HOUR_MS
    ref = MemoryStorage()
    load_hours(db, ref, 5, flush_every=2)
    assert len(db.blocks) >= 2 and db.head.num_samples > 0
    for mint, maxt in [(0, 2**62), (T0 + 90 * 60_000, T0 + 150 * 60_000), (T0 + HOUR_MS, T0 + HOUR_MS), (T0 + 2 * HOUR_MS - 1, T0 + 4 * HOUR_MS + 1)]:
        for ms in (ALL, [Matcher("=", "even", "True")], [Matcher("=~", "__name__", "m1|m2"), Matcher("!=", "i", "4")]):
            assert_same(db.querier(mint, maxt).select(ms), ref.querier(mint, maxt).select(ms))


def test_reads_after_maintenance_and_reopen(open_db, clock, tmp_path):
    db, _ = open_db()
    clock.ms = T0 + 10 * HOUR_MS
    ref = MemoryStorage()
    load_hours(db, ref, 7)
    db.maintenance()
    assert db.blocks, "the head spans 7h: blocks must have been cut"
    expected = ref.querier(0, 2**62).select(ALL)
    assert_same(db.querier(0, 2**62).select(ALL), expected)
    db.close()
    db2, _ = open_db()
    assert_same(db2.querier(0, 2**62).select(ALL), expected)


def test_series_only_and_limits(open_db, clock):
    db, _ = open_db()
    clock.ms = T0 + 10 * HOUR_MS
    ref = MemoryStorage()
    labels = load_hours(db, ref, 3, series=10, flush_every=1)
    ss = db.querier(0, 2**62).select(ALL, SelectHints(series_only=True))
    assert ss.labels == sorted(labels)
    assert ss.offsets.tolist() == [0] * 11 and ss.num_samples == 0
    total = db.querier(0, 2**62).select(ALL).num_samples
    assert total == 10 * 3 * 60
    assert db.querier(0, 2**62).select(ALL, SelectHints(max_samples=total)).num_samples == total
    with pytest.raises(QueryLimitError, match="max_samples=100"):
        db.querier(0, 2**62).select(ALL, SelectHints(max_samples=100))
    # the time range bounds the series too
    assert db.querier(0, T0 - 1).select(ALL, SelectHints(series_only=True)).labels == []


def test_label_names_and_values(open_db):
    db, _ = open_db()
    db.append(batch(('up{job="a", zone="x"}', T0, 1), ('up{job="b"}', T0, 1), ('down{job="c", team="t"}', T0, 1)))
    db.flush_head()
    db.append(batch(('up{job="d", extra="e"}', T0 + 1000, 1)))
    q = db.querier(0, 2**62)
    assert q.label_names() == ["__name__", "extra", "job", "team", "zone"]
    assert q.label_values("job") == ["a", "b", "c", "d"]
    assert q.label_values("__name__") == ["down", "up"]
    assert q.label_names([Matcher("=", "__name__", "up")]) == ["__name__", "extra", "job", "zone"]
    assert q.label_values("job", [Matcher("=", "__name__", "up")]) == ["a", "b", "d"]
    assert q.label_values("zone", [Matcher("=", "job", "b")]) == []
    assert q.label_values("nope") == []
    # a range that only meets the head
    q2 = db.querier(T0 + 500, T0 + 2000)
    assert q2.label_values("job") == ["d"]
    assert q2.label_values("job", [Matcher("=~", "job", ".+")]) == ["d"]


def test_empty_database(open_db):
    db, _ = open_db()
    q = db.querier(0, 2**62)
    assert len(q.select(ALL)) == 0 and q.label_names() == [] and q.label_values("x") == []
    assert db.status().num_series == 0
    assert db.flush_head() == []
    q.close()


series_names = st.sampled_from(["a", "b", "c", "d"])


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(series_names, st.integers(1, 40), st.floats(allow_nan=False)), min_size=1, max_size=120),
    st.lists(st.integers(0, 120), max_size=4),
    st.tuples(st.integers(-5, 50), st.integers(-5, 50)),
    st.sampled_from([ALL, [Matcher("=~", "__name__", "a|c")], [Matcher("!=", "__name__", "b")]]),
)
def test_select_matches_reference_on_random_data(tmp_path_factory, raw, flush_points, rng, ms):
    from prometheus_client import CollectorRegistry

    from storage.tsdb import TSDB, TSDBOptions

    # per series strictly increasing timestamps (gaps of 1..40 minutes)
    clock_t = {}
    samples = []
    for name, gap, v in raw:
        t = clock_t.get(name, T0) + gap * 60_000
        clock_t[name] = t
        samples.append((Labels.from_dict({"__name__": name}), t, v))
    samples.sort(key=lambda s: s[1])
    db = TSDB.open(
        str(tmp_path_factory.mktemp("db")),
        TSDBOptions(wal_fsync_interval_s=0, max_future_skew_ms=0, block_duration_ms=HOUR_MS),
        registry=CollectorRegistry(),
        clock=lambda: T0 / 1000,
    )
    ref = MemoryStorage()
    try:
        flush_at = set(flush_points)
        for i, s in enumerate(samples):
            b = SampleBatch.from_samples([s])
            r = db.append(b)
            if r.accepted:
                ref.append(b)
            if i in flush_at:
                db.flush_head()
            elif i % 17 == 0:
                db.maintenance()
        mint = T0 + min(rng) * HOUR_MS // 10
        maxt = T0 + max(rng) * HOUR_MS // 10
        assert_same(db.querier(mint, maxt).select(ms), ref.querier(mint, maxt).select(ms))
    finally:
        db.close()
