"""Cutting blocks from the head, compaction levels, overlapping blocks,
retention by time and size, and what a crash can leave behind."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from storage.interface import SampleBatch
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.tsdb import TSDBOptions
from storage.tsdb.block import Block, BlockMeta
from storage.tsdb.compact import plan
from storage.tsdb.options import DAY_MS, HOUR_MS, MINUTE_MS

from .conftest import T0, batch, metric_value
from .test_select import assert_same

ALL = [Matcher("=~", "__name__", ".+")]
H = HOUR_MS
BASE = (T0 // (54 * H)) * 54 * H  # aligned to every compaction range


def feed(db, ref, start, hours, series=10, step=MINUTE_MS, seed=0):
    labels = [Labels.from_dict({"__name__": "m", "i": str(i)}) for i in range(series)]
    rng = np.random.default_rng(seed)
    for h in range(hours):
        ts = start + h * H + np.arange(H // step) * step
        b = SampleBatch(labels, np.repeat(np.arange(series), len(ts)), np.tile(ts, series), rng.random(series * len(ts)))
        r = db.append(b)
        assert r.rejected == {}, r.errors
        if ref is not None:
            ref.append(b)


def spans(db):
    return [((b.min_time - BASE) // H, (b.max_time - BASE) // H, b.meta.level) for b in db.blocks]


def test_head_is_cut_into_aligned_blocks_and_compacted(open_db, clock):
    db, reg = open_db(max_block_duration_ms=18 * H)
    clock.ms = BASE + 30 * H
    ref = MemoryStorage()
    feed(db, ref, BASE, 13)
    report = db.maintenance()
    assert report.errors == []
    # 2h blocks cut while the head spans more than 3h; the completed 6h
    # ranges compacted (never the newest block)
    assert spans(db) == [(0, 6, 2), (6, 8, 1), (8, 10, 1)]
    assert db.head.mint >= BASE + 10 * H
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    assert metric_value(reg, "spyglass_tsdb_compactions_total", {"kind": "head"}) == 5
    assert metric_value(reg, "spyglass_tsdb_compactions_total", {"kind": "blocks"}) == 1
    assert metric_value(reg, "spyglass_tsdb_blocks_loaded") == 3
    # the WAL was checkpointed: a restart replays only what the head still holds
    assert report.checkpoint is not None
    db.close()
    db2, _ = open_db()
    assert_same(db2.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    assert db2.head.num_samples == db2.querier(BASE + 10 * H, 2**62).select(ALL).num_samples


def test_compaction_reaches_higher_levels(open_db, clock):
    db, _ = open_db(max_block_duration_ms=18 * H)
    clock.ms = BASE + 40 * H
    ref = MemoryStorage()
    feed(db, ref, BASE, 27, series=3, step=5 * MINUTE_MS)
    db.maintenance()
    assert spans(db)[0] == (0, 18, 3)
    db.maintenance()  # idempotent: nothing more to do
    assert spans(db)[0] == (0, 18, 3)
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))


def test_out_of_order_data_makes_overlapping_blocks_that_get_merged(open_db, clock):
    db, _ = open_db(out_of_order_window_ms=6 * H)
    clock.ms = BASE + 30 * H
    ref = MemoryStorage()
    feed(db, ref, BASE, 5)
    db.maintenance()
    assert spans(db) == [(0, 2, 1)]
    # late samples for the range already in a block, at times not written before
    late = batch(*[(f'm{{i="{i}"}}', BASE + H + 30_000, 42.0) for i in range(10)])
    assert db.append(late).accepted == 10
    ref.append(late)
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    feed(db, ref, BASE + 5 * H, 2, seed=1)
    db.maintenance()
    # the late samples were cut into a block overlapping the first one, and
    # vertical compaction merged the two
    assert spans(db) == [(0, 2, 2), (2, 4, 1)]
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))


def test_planner_rules():
    def m(a, b, level=1, u=None):
        return BlockMeta(u or f"{a:026d}", BASE + a * H, BASE + b * H, level=level)

    opts = TSDBOptions(max_block_duration_ms=18 * H)
    assert plan([m(0, 2), m(2, 4)], opts) == []  # newest excluded, 6h range incomplete
    assert [x.min_time for x in plan([m(0, 2), m(2, 4), m(4, 6), m(6, 8)], opts)] == [BASE, BASE + 2 * H, BASE + 4 * H]
    assert plan([m(0, 2), m(1, 3)], opts) != []  # overlapping
    assert plan([m(0, 6, 2), m(6, 12, 2), m(12, 18, 2), m(18, 20)], opts)[0].max_time == BASE + 6 * H
    # a gap still compacts once time moved past the range
    assert len(plan([m(0, 2), m(4, 6), m(8, 10)], opts)) == 2


def test_retention_by_time(open_db, clock):
    db, reg = open_db(retention_ms=6 * H, max_block_duration_ms=2 * H)
    clock.ms = BASE + 30 * H
    feed(db, None, BASE, 13, series=2, step=10 * MINUTE_MS)
    report = db.maintenance()
    # blocks [0,2) .. [8,10); the newest ends at 10h: blocks ending before 4h go
    assert spans(db) == [(2, 4, 1), (4, 6, 1), (6, 8, 1), (8, 10, 1)]
    assert len(report.deleted) == 1
    assert metric_value(reg, "spyglass_tsdb_retention_deletions_total", {"reason": "time"}) == 1
    assert db.querier(0, BASE + 2 * H - 1).select(ALL).num_samples == 0


def test_retention_by_size(open_db, clock):
    db, reg = open_db(max_block_duration_ms=2 * H)
    clock.ms = BASE + 30 * H
    feed(db, None, BASE, 13, series=50)
    db.maintenance()
    sizes = [b.size_bytes for b in db.blocks]
    wal = db.size_bytes() - sum(sizes)
    db.close()
    limit = wal + sum(sizes[-2:]) + 100
    db, reg = open_db(retention_bytes=limit, max_block_duration_ms=2 * H)
    report = db.maintenance()
    assert len(db.blocks) == 2 and len(report.deleted) == 3
    assert metric_value(reg, "spyglass_tsdb_retention_deletions_total", {"reason": "size"}) == 3
    assert db.size_bytes() <= limit
    assert metric_value(reg, "spyglass_tsdb_storage_size_bytes") == db.size_bytes()


def test_crash_leftovers_are_cleaned_on_open(open_db, clock, tmp_path):
    db, _ = open_db(max_block_duration_ms=18 * H)
    clock.ms = BASE + 30 * H
    ref = MemoryStorage()
    feed(db, ref, BASE, 11, series=3)
    db.maintenance()
    blocks = db.blocks
    assert blocks[0].meta.level == 2
    parents = blocks[0].meta.parents
    db.close()
    root = str(tmp_path / "db")
    # a compaction that crashed before deleting its inputs: recreate one input
    fake_parent = os.path.join(root, parents[0])
    shutil.copytree(blocks[1].path, fake_parent)
    meta_path = os.path.join(fake_parent, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    meta["ulid"] = parents[0]
    with open(meta_path, "w") as f:
        json.dump(meta, f)
    # a half-written block and a half-deleted one
    os.makedirs(os.path.join(root, "01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp-for-creation"))
    shutil.copytree(blocks[1].path, os.path.join(root, "01HYYYYYYYYYYYYYYYYYYYYYYY.tmp-for-deletion"))
    db2, _ = open_db()
    assert [b.ulid for b in db2.blocks] == [b.ulid for b in blocks]
    assert sorted(os.listdir(root)) == sorted([b.ulid for b in blocks] + ["lock", "wal"])
    assert_same(db2.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))


def test_failed_block_write_leaves_head_intact(open_db, clock, tmp_path, monkeypatch):
    db, reg = open_db()
    clock.ms = BASE + 30 * H
    ref = MemoryStorage()
    feed(db, ref, BASE, 5, series=3)
    import storage.tsdb.block as blockmod

    def broken(self, *a, **kw):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(blockmod.BlockWriter, "finish", broken)
    report = db.maintenance()
    assert report.errors and "disk full" in report.errors[0]
    assert db.blocks == []
    assert metric_value(reg, "spyglass_tsdb_compactions_failed_total", {"kind": "head"}) == 1
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))
    assert not [n for n in os.listdir(tmp_path / "db") if "tmp" in n]
    monkeypatch.undo()
    assert db.maintenance().errors == []
    assert db.blocks
    assert_same(db.querier(0, 2**62).select(ALL), ref.querier(0, 2**62).select(ALL))


def test_corrupt_block_fails_open_with_its_path(open_db, clock, tmp_path):
    db, _ = open_db()
    db.append(batch(('up{a="b"}', T0, 1.0)))
    path = db.flush_head()[0]
    db.close()
    with open(os.path.join(path, "index"), "r+b") as f:
        f.seek(200)
        f.write(b"\xff\xff\xff")
    from storage.interface import StorageError

    with pytest.raises(StorageError, match=os.path.basename(path)):
        open_db()


def test_default_max_block_duration_follows_retention():
    assert TSDBOptions(retention_ms=15 * DAY_MS).compaction_ranges()[-1] <= int(1.5 * DAY_MS)
    assert TSDBOptions(retention_ms=0).effective_max_block_duration_ms == 31 * DAY_MS
    assert TSDBOptions(retention_ms=H).compaction_ranges() == [2 * H]
    assert Block  # imported for the type in assertions above
