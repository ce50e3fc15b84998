"""The open log's cached order (``LogOrder``): built once, extended as samples
arrive, equal to a stable sort of the log with the first-written sample of a
timestamp kept; and the head's reads and seals through it, against the
in-memory reference store."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import SampleBatch
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb.headdata import LogOrder, OpenLog

from .conftest import T0
from .test_select import assert_same

ALL = [Matcher("=~", "__name__", ".+")]

# (series id, timestamp, value): few ids and times, so that out-of-order
# samples and repeated timestamps are common
log_samples = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 30), st.integers(-50, 50).map(float)), max_size=80
)


def expected_order(samples):
    """{sid: [(ts, value), ...]} in time order, the first-written of a timestamp kept."""
    out: dict[int, dict[int, float]] = {}
    for sid, t, v in samples:
        out.setdefault(sid, {}).setdefault(t, v)
    return {sid: sorted(d.items()) for sid, d in sorted(out.items())}


def as_dict(order: LogOrder):
    got = {}
    for i, sid in enumerate(order.sids.tolist()):
        a, b = int(order.off[i]), int(order.off[i + 1])
        got[sid] = list(zip(order.ts[a:b].tolist(), order.val[a:b].tolist()))
    return got


def columns(samples):
    sid = np.array([s for s, _, _ in samples], np.int32)
    ts = np.array([t for _, t, _ in samples], np.int64)
    val = np.array([v for _, _, v in samples], np.float64)
    return sid, ts, val


@settings(max_examples=200, deadline=None)
@given(log_samples, st.lists(st.integers(0, 80), max_size=5))
def test_log_order_built_in_steps_equals_a_stable_sort(samples, cuts):
    sid, ts, val = columns(samples)
    n = len(samples)
    order = LogOrder.build(sid[:0], ts[:0], val[:0])
    for cut in sorted({min(c, n) for c in cuts} | {n}):
        order = order.extend(sid[:cut], ts[:cut], val[:cut])
        assert order.n == cut
        assert as_dict(order) == expected_order(samples[:cut])
    assert as_dict(LogOrder.build(sid, ts, val)) == expected_order(samples)


@settings(max_examples=150, deadline=None)
@given(log_samples, st.lists(st.integers(0, 6), unique=True), st.integers(-2, 32), st.integers(-2, 32))
def test_log_order_runs_are_the_selected_series_in_the_window(samples, wanted, mint, maxt):
    sid, ts, val = columns(samples)
    order = LogOrder.build(sid, ts, val)
    sids = np.array(sorted(wanted), np.int64)
    which, runs = order.runs(sids, mint, maxt)
    got = {}
    for k, w in enumerate(which.tolist()):
        a, c = int(runs.ts_start[k]), int(runs.counts[k])
        assert c > 0
        got[int(sids[w])] = list(zip(runs.ts_src[a : a + c].tolist(), runs.val_src[a : a + c].tolist()))
    exp = {
        s: [(t, v) for t, v in rows if mint <= t <= maxt]
        for s, rows in expected_order(samples).items()
        if s in set(wanted)
    }
    assert got == {s: rows for s, rows in exp.items() if rows}


def test_open_log_order_is_cached_and_extended():
    log = OpenLog(100)
    log.append(np.array([2, 1, 2], np.int32), np.array([10, 10, 20]), np.array([1.0, 2.0, 3.0]))
    first = log.order(3)
    assert log.order(2) is first and log.order(3) is first  # covers these prefixes already
    log.append(np.array([1, 3], np.int32), np.array([5, 7]), np.array([4.0, 5.0]))
    longer = log.order(5)
    assert longer is not first and longer.n == 5
    assert as_dict(longer) == {1: [(5, 4.0), (10, 2.0)], 2: [(10, 1.0), (20, 3.0)], 3: [(7, 5.0)]}


def labels(i: int) -> Labels:
    # ids are handed out in arrival order; names make label order differ from it
    return Labels.from_dict({"__name__": f"m{(7 * i) % 5}", "i": str(i)})


def test_head_reads_between_appends_match_the_reference(open_db, clock):
    db, _ = open_db(out_of_order_window_ms=30 * 60_000, max_future_skew_ms=0, head_seal_samples=200)
    ref = MemoryStorage()
    rng = np.random.default_rng(5)
    series = [labels(i) for i in range(12)]
    for step in range(60):
        n = int(rng.integers(1, 12))
        pick = rng.choice(12, n, replace=False)
        # mostly the next scrape, sometimes an older (out-of-order) or a
        # repeated time; a value depends only on (series, time), so a repeat
        # is a sender's retry (accepted, stored once)
        t = (T0 + step * 15_000 - rng.choice([0, 0, 0, 45_000, 15_000], n)).astype(np.int64)
        v = ((pick * 7919 + (t - T0) // 15_000) % 101).astype(float)
        b = SampleBatch([series[i] for i in pick], np.arange(n), t, v)
        assert db.append(b).rejected == {}
        ref.append(b)
        hi = T0 + step * 15_000
        for lo in (hi - 60_000, hi - 10 * 60_000, T0):
            for ms in (ALL, [Matcher("=", "__name__", "m2")]):
                assert_same(db.querier(lo, hi).select(ms), ref.querier(lo, hi).select(ms))
        if step % 20 == 19:
            db.head.seal(force=True)
    assert db.head.parts  # reads above went through sealed parts and open logs


def test_seal_keeps_label_order_and_the_first_written_sample(open_db, clock):
    db, _ = open_db(out_of_order_window_ms=3_600_000, max_future_skew_ms=0)
    ref = MemoryStorage()
    series = [labels(i) for i in range(30)]
    rng = np.random.default_rng(1)
    for step in rng.permutation(40).tolist():  # every series, scrapes out of order
        t = np.full(30, T0 + step * 15_000, np.int64)
        b = SampleBatch(series, np.arange(30), t, rng.random(30))
        assert db.append(b).accepted == 30
        ref.append(b)
    before = db.querier(T0, T0 + 3_600_000).select(ALL)
    db.head.seal(force=True)
    (part,) = db.head.parts
    rows = [db.head._labels[s] for s in part.sids.tolist()]
    assert rows == sorted(rows)
    after = db.querier(T0, T0 + 3_600_000).select(ALL)
    assert_same(after, before)
    assert_same(after, ref.querier(T0, T0 + 3_600_000).select(ALL))
