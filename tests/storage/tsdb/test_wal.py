"""WAL segments: rollover, replay, torn-tail and bit-flip repair, checkpoints."""

from __future__ import annotations

import os

import numpy as np
import pytest

from storage.interface import StorageError
from storage.labels import Labels
from storage.tsdb import wal as walmod
from storage.tsdb import walrecords as rec


def samples_frame(sid: int, t0: int, n: int = 50) -> bytes:
    ts = np.arange(t0, t0 + n, dtype=np.int64)
    return rec.frame(
        rec.RecordType.SAMPLES,
        rec.encode_samples(np.full(n, sid), ts, ts.astype(np.float64)),
    )


def read_all(d, **kw):
    return list(walmod.read_wal(str(d), **kw))


def test_segments_roll_over_and_replay_in_order(tmp_path):
    w = walmod.WAL(str(tmp_path), segment_bytes=4096)
    w.log(rec.frame(rec.RecordType.SERIES, rec.encode_series(np.array([1]), [Labels.parse("up")])))
    for i in range(100):
        w.log(samples_frame(1, i * 50))
    w.close()
    assert len(walmod.list_segments(str(tmp_path))) > 3
    records = read_all(tmp_path)
    assert records[0][0] == rec.RecordType.SERIES
    ts = np.concatenate([r[1][1] for r in records[1:]])
    assert ts.tolist() == list(range(5000))


def _damaged(tmp_path, damage):
    w = walmod.WAL(str(tmp_path), segment_bytes=1 << 20)
    for i in range(10):
        w.log(samples_frame(1, i * 50))
    w.close()
    path = walmod.segment_path(str(tmp_path), 0)
    size = os.path.getsize(path)
    damage(path, size)
    seen = []
    records = read_all(tmp_path, on_corruption=seen.append)
    return records, seen, path


def test_torn_tail_is_truncated_and_reported(tmp_path):
    records, seen, _ = _damaged(tmp_path, lambda p, size: os.truncate(p, size - 7))
    assert len(records) == 9  # the last record was torn: everything before it is kept
    assert len(seen) == 1 and seen[0].truncated_bytes > 0
    # repaired: a second read sees a clean log
    seen2 = []
    assert len(read_all(tmp_path, on_corruption=seen2.append)) == 9
    assert seen2 == []


def test_bit_flip_in_the_middle_keeps_what_came_before(tmp_path):
    def flip(p, size):
        with open(p, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0x01]))

    records, seen, _ = _damaged(tmp_path, flip)
    assert 3 <= len(records) < 10
    ts = np.concatenate([r[1][1] for r in records])
    assert ts.tolist() == list(range(len(records) * 50))
    assert len(seen) == 1


def test_damage_deletes_later_segments(tmp_path):
    w = walmod.WAL(str(tmp_path), segment_bytes=4096)
    for i in range(60):
        w.log(samples_frame(1, i * 50))
    w.close()
    segs = walmod.list_segments(str(tmp_path))
    assert len(segs) >= 3
    os.truncate(walmod.segment_path(str(tmp_path), segs[0]), 100)
    seen = []
    read_all(tmp_path, on_corruption=seen.append)
    assert walmod.list_segments(str(tmp_path)) == [segs[0]]
    assert len(seen[0].removed_segments) == len(segs) - 1


def test_without_repair_corruption_raises(tmp_path):
    w = walmod.WAL(str(tmp_path))
    w.log(samples_frame(1, 0))
    w.close()
    path = walmod.segment_path(str(tmp_path), 0)
    os.truncate(path, os.path.getsize(path) - 1)
    with pytest.raises(StorageError):
        read_all(tmp_path, repair=False)


def test_checkpoint_keeps_live_series_and_recent_samples(tmp_path):
    d = str(tmp_path)
    w = walmod.WAL(d, segment_bytes=4096)
    w.log(rec.frame(rec.RecordType.SERIES, rec.encode_series(np.array([1, 2]), [Labels.parse("a"), Labels.parse("b")])))
    for i in range(20):
        w.log(samples_frame(1, i * 50))
        w.log(samples_frame(2, i * 50))
    from storage.interface import MetricMetadata, MetricType

    w.log(rec.frame(rec.RecordType.METADATA, rec.encode_metadata({"a": MetricMetadata(MetricType.GAUGE, "h", "")})))
    last = w.cut()
    w.log(samples_frame(1, 10_000, 5))
    w.close()
    walmod.write_checkpoint(d, last, lambda sids: sids == 1, 500)
    assert walmod.list_checkpoints(d) == [last]
    assert all(s > last for s in walmod.list_segments(d))
    records = read_all(tmp_path)
    series = [r for t, r in records if t == rec.RecordType.SERIES]
    assert [lbls for _, ls in series for lbls in ls] == [Labels.parse("a")]
    samples = [r for t, r in records if t == rec.RecordType.SAMPLES]
    ts = np.concatenate([s[1] for s in samples])
    sids = np.concatenate([s[0] for s in samples])
    assert (sids == 1).all()
    assert ts.tolist() == list(range(500, 1000)) + list(range(10_000, 10_005))
    metas = [r for t, r in records if t == rec.RecordType.METADATA]
    assert metas == [{"a": MetricMetadata(MetricType.GAUGE, "h", "")}]


def test_cleanup_removes_interrupted_checkpoint(tmp_path):
    d = str(tmp_path)
    w = walmod.WAL(d)
    w.log(samples_frame(1, 0))
    w.close()
    os.makedirs(os.path.join(d, "checkpoint.00000005.tmp"))
    walmod.cleanup(d)
    assert not os.path.exists(os.path.join(d, "checkpoint.00000005.tmp"))
    assert len(read_all(tmp_path)) == 1


def test_gap_in_segments_is_an_error(tmp_path):
    d = str(tmp_path)
    w = walmod.WAL(d, segment_bytes=4096)
    for i in range(60):
        w.log(samples_frame(1, i * 50))
    w.close()
    segs = walmod.list_segments(d)
    os.remove(walmod.segment_path(d, segs[1]))
    with pytest.raises(StorageError, match="not consecutive"):
        read_all(tmp_path)
