"""TSDB lifecycle: locking, closing, fsync policies, status, series GC, head
part merges, restarts with out-of-order data, and concurrent use."""

from __future__ import annotations

import random
import threading

import numpy as np
import pytest

from storage.interface import MetricMetadata, SampleBatch, StorageError
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb import TSDB, TSDBOptions
from storage.tsdb.fileio import FileIO
from storage.tsdb.options import HOUR_MS, MINUTE_MS

from .conftest import T0, batch, metric_value
from .test_select import assert_same

ALL = [Matcher("=~", "__name__", ".+")]


def test_directory_is_locked(open_db):
    open_db()
    with pytest.raises(StorageError, match="in use"):
        open_db()


def test_close_is_idempotent_and_final(open_db):
    db, reg = open_db()
    db.append(batch(('up{a="1"}', T0, 1.0)))
    db.close()
    db.close()
    with pytest.raises(StorageError):
        db.append(batch(('up{a="1"}', T0 + 1, 1.0)))
    with pytest.raises(StorageError):
        db.querier(0, 1)
    # metrics are unregistered so the directory can be reopened in-process
    assert reg.get_sample_value("spyglass_tsdb_head_series") is None
    db2, _ = open_db()
    assert db2.querier(0, 2**62).select(ALL).num_samples == 1


class CountingIO(FileIO):
    def __init__(self):
        self.fsyncs = 0

    def fsync(self, fd):
        self.fsyncs += 1
        super().fsync(fd)


def test_fsync_every_batch(tmp_path, clock):
    from prometheus_client import CollectorRegistry

    io = CountingIO()
    reg = CollectorRegistry()
    db = TSDB.open(str(tmp_path / "db"), TSDBOptions(wal_fsync_every_batch=True), registry=reg, clock=clock, io=io)
    try:
        before = io.fsyncs
        for i in range(5):
            db.append(batch(('up{a="1"}', T0 + i, 1.0)))
        assert io.fsyncs - before == 5
        assert metric_value(reg, "spyglass_tsdb_wal_fsync_duration_seconds_count") >= 5
    finally:
        db.close()


def test_periodic_fsync_thread(tmp_path, clock):
    from prometheus_client import CollectorRegistry

    io = CountingIO()
    db = TSDB.open(str(tmp_path / "db"), TSDBOptions(wal_fsync_interval_s=0.05), registry=CollectorRegistry(), clock=clock, io=io)
    try:
        before = io.fsyncs
        db.append(batch(('up{a="1"}', T0, 1.0)))
        assert io.fsyncs == before  # not on the append path
        deadline = __import__("time").monotonic() + 10
        while io.fsyncs == before and __import__("time").monotonic() < deadline:
            __import__("time").sleep(0.02)
        assert io.fsyncs > before
    finally:
        db.close()


def test_status_reports_head_cardinality(open_db):
    db, _ = open_db()
    db.append(batch(('up{job="a", i="1"}', T0, 1), ('up{job="a", i="2"}', T0 + 5, 1), ('down{job="b"}', T0 + 9, 1)))
    st = db.status(limit=2)
    assert st.num_series == 3
    assert st.min_time == T0 and st.max_time == T0 + 9
    assert st.series_count_by_metric_name == [("up", 2), ("down", 1)]
    assert st.label_value_count_by_label_name[0] == ("__name__", 2)
    assert ("job=a", 2) in st.series_count_by_label_value_pair
    assert dict(st.memory_in_bytes_by_label_name)["__name__"] == 2 * len("up") + len("down")
    assert st.num_label_pairs == 2 + 2 + 2  # __name__: up, down; job: a, b; i: 1, 2


def test_series_leave_the_head_after_their_samples_move_to_blocks(open_db, clock):
    db, reg = open_db()
    clock.ms = T0 + 10 * HOUR_MS
    db.append(batch(('gone{a="1"}', T0, 1.0), ('stays{a="1"}', T0, 1.0)))
    db.append(batch(('stays{a="1"}', T0 + 4 * HOUR_MS, 2.0)))
    report = db.maintenance()
    assert report.series_removed == 1
    assert metric_value(reg, "spyglass_tsdb_head_series") == 1
    assert metric_value(reg, "spyglass_tsdb_head_series_removed_total") == 1
    assert [str(x) for x in db.querier(0, 2**62).select(ALL).labels] == ['gone{a="1"}', 'stays{a="1"}']
    # a removed series may come back
    assert db.append(batch(('gone{a="1"}', T0 + 4 * HOUR_MS, 3.0))).accepted == 1
    ss = db.querier(0, 2**62).select([Matcher("=", "__name__", "gone")])
    assert ss.timestamps.tolist() == [T0, T0 + 4 * HOUR_MS]


def test_head_parts_are_merged_in_tiers(open_db, clock):
    db, reg = open_db(head_seal_samples=100, head_merge_fanout=4)
    ref = MemoryStorage()
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(10)]
    for k in range(60):
        b = SampleBatch(labels, np.arange(10), np.full(10, T0 + k * 1000), np.full(10, float(k)))
        db.append(b)
        ref.append(b)
    db.head.seal(force=True)
    parts_before = len(db.head.parts)
    assert parts_before >= 5
    report = db.maintenance()
    assert report.head_merges >= 1
    assert len(db.head.parts) < parts_before
    assert metric_value(reg, "spyglass_tsdb_head_parts") == len(db.head.parts)
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))


def test_out_of_order_samples_survive_restart(open_db, clock):
    db, _ = open_db(out_of_order_window_ms=30 * MINUTE_MS)
    db.append(batch(('up{a="1"}', T0, 1.0)))
    db.append(batch(('up{a="1"}', T0 - 10 * MINUTE_MS, 2.0)))
    db.close()
    db2, _ = open_db(out_of_order_window_ms=0)  # even if the window shrank meanwhile
    ss = db2.querier(0, 2**62).select(ALL)
    assert ss.timestamps.tolist() == [T0 - 10 * MINUTE_MS, T0]


def test_unusual_labels_survive_restart(open_db):
    db, _ = open_db()
    weird = Labels.from_dict({"__name__": "m", "a": "nul\x00inside", "b": "new\nline", "ü": "ß✓"})
    db.append(SampleBatch.from_samples([(weird, T0, 1.0)], {"m": MetricMetadata(help="h\x00")}))
    db.close()
    db2, _ = open_db()
    assert db2.querier(0, 2**62).select(ALL).labels == [weird]
    assert db2.metadata("m")["m"][0].help == "h\x00"


def test_concurrent_appends_queries_and_maintenance(open_db, clock):
    db, _ = open_db(head_seal_samples=500, block_duration_ms=HOUR_MS)
    clock.ms = T0 + 100 * HOUR_MS
    errors: list[BaseException] = []
    writers = 4
    steps = 150

    # writers may drift apart by 10 minutes of data, well inside the 30
    # minutes the head accepts behind its newest sample
    barrier = threading.Barrier(writers)

    def writer(w: int) -> None:
        try:
            labels = [Labels.from_dict({"__name__": "m", "w": str(w), "i": str(i)}) for i in range(20)]
            for k in range(steps):
                if k % 10 == 0:
                    barrier.wait(timeout=60)
                ts = np.full(20, T0 + k * 60_000)
                r = db.append(SampleBatch(labels, np.arange(20), ts, np.full(20, float(k))))
                assert r.accepted == 20, r
        except BaseException as e:  # noqa: BLE001  the main thread reports it below
            errors.append(e)

    def reader() -> None:
        try:
            rnd = random.Random(1)
            while any(t.is_alive() for t in threads[:writers]):
                q = db.querier(T0, T0 + rnd.randint(0, steps) * 60_000)
                ss = q.select([Matcher("=", "w", str(rnd.randrange(writers)))])
                for i in range(len(ss)):
                    ts, vs = ss.series(i)
                    assert (np.diff(ts) > 0).all()
                    assert ((ts - T0) // 60_000 == vs).all()
        except BaseException as e:  # noqa: BLE001  the main thread reports it below
            errors.append(e)

    def maintainer() -> None:
        try:
            while any(t.is_alive() for t in threads[:writers]):
                db.maintenance()
        except BaseException as e:  # noqa: BLE001  the main thread reports it below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
    threads += [threading.Thread(target=reader), threading.Thread(target=maintainer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    ss = db.querier(0, 2**62).select(ALL)
    assert len(ss) == writers * 20 and ss.num_samples == writers * 20 * steps
    db.maintenance()
    assert db.blocks
    assert db.querier(0, 2**62).select(ALL).num_samples == writers * 20 * steps


def test_series_ids_are_reused_under_churn(open_db, clock):
    """Pods come and go: removed series' ids are recycled (after the WAL
    checkpoint forgot them), so per-id state does not grow with churn."""
    db, _ = open_db(block_duration_ms=HOUR_MS)
    clock.ms = T0 + 100 * HOUR_MS
    ref = MemoryStorage()
    generations, pods = 8, 50
    for gen in range(generations):
        labels = [Labels.from_dict({"__name__": "pod_up", "pod": f"p{gen}-{i}"}) for i in range(pods)]
        base = T0 + gen * 2 * HOUR_MS
        for k in range(0, 120, 10):
            b = SampleBatch(labels, np.arange(pods), np.full(pods, base + k * 60_000), np.full(pods, float(gen)))
            assert db.append(b).accepted == pods
            ref.append(b)
        db.maintenance()
    assert db.head._next_sid <= 3 * pods, "ids of removed series must be reused"
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    db.close()
    db2, _ = open_db(block_duration_ms=HOUR_MS)
    assert_same(db2.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    # new series after the restart fill the gaps too
    more = [Labels.from_dict({"__name__": "pod_up", "pod": f"new-{i}"}) for i in range(pods)]
    t = T0 + generations * 2 * HOUR_MS
    db2.append(SampleBatch(more, np.arange(pods), np.full(pods, t), np.ones(pods)))
    assert db2.head._next_sid <= 3 * pods
    db2.close()
    db3, _ = open_db(block_duration_ms=HOUR_MS)
    ss = db3.querier(t, t).select([Matcher("=~", "pod", "new-.*")])
    assert len(ss) == pods and ss.num_samples == pods


def test_ids_are_not_reused_while_the_wal_still_names_them(open_db, clock, monkeypatch):
    from storage.tsdb import wal as walmod

    db, _ = open_db(block_duration_ms=HOUR_MS)
    clock.ms = T0 + 100 * HOUR_MS
    old = [Labels.from_dict({"__name__": "m", "pod": f"a{i}"}) for i in range(5)]
    for k in range(0, 120, 10):
        db.append(SampleBatch(old, np.arange(5), np.full(5, T0 + k * 60_000), np.ones(5)))
    new = [Labels.from_dict({"__name__": "m", "pod": f"b{i}"}) for i in range(5)]
    base = T0 + 2 * HOUR_MS
    for k in range(0, 120, 10):
        db.append(SampleBatch(new, np.arange(5), np.full(5, base + k * 60_000), np.full(5, 2.0)))

    def full(*a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(walmod, "write_checkpoint", full)
    report = db.maintenance()
    assert report.series_removed == 5 and report.checkpoint is None
    monkeypatch.undo()
    later = [Labels.from_dict({"__name__": "m", "pod": f"c{i}"}) for i in range(5)]
    db.append(SampleBatch(later, np.arange(5), np.full(5, base + 120 * 60_000), np.full(5, 3.0)))
    assert db.head._next_sid == 15  # the old series' ids are still in WAL records
    expected = db.querier(0, 2**62).select(ALL)
    db.close()
    db2, _ = open_db(block_duration_ms=HOUR_MS)
    assert_same(db2.querier(0, 2**62).select(ALL), expected)
