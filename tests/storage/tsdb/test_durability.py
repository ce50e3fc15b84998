"""Acknowledged means durable: replay after close and after kill -9, repair of
a torn or bit-flipped WAL tail, and a full disk (injected and real)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from storage.interface import SampleBatch, StorageError, StorageFullError
from storage.labels import Labels, Matcher
from storage.tsdb import wal as walmod
from storage.tsdb.fileio import FileIO

from .conftest import T0, metric_value

ALL = [Matcher("=~", "__name__", ".+")]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def numbered_batch(i: int, series: int = 20) -> SampleBatch:
    labels = [Labels.from_dict({"__name__": "m", "i": str(k)}) for k in range(series)]
    return SampleBatch(labels, np.arange(series), np.full(series, T0 + i * 1000), np.full(series, float(i)))


def batches_present(db, series: int = 20) -> list[int]:
    """Batch numbers fully present (each series has value i at T0 + i s)."""
    ss = db.querier(0, 2**62).select(ALL)
    seen: dict[int, int] = {}
    for k in range(len(ss)):
        ts, vs = ss.series(k)
        for t, v in zip(ts.tolist(), vs.tolist()):
            assert v == (t - T0) // 1000, "a sample has the wrong value"
            seen[int(v)] = seen.get(int(v), 0) + 1
    return sorted(i for i, n in seen.items() if n == series)


def test_replay_after_close(open_db):
    db, _ = open_db(head_seal_samples=100)
    for i in range(50):
        db.append(numbered_batch(i))
    db.close()
    db2, reg = open_db()
    assert batches_present(db2) == list(range(50))
    assert metric_value(reg, "spyglass_tsdb_wal_corruptions_total") == 0


def _last_segment(tmp_path) -> str:
    d = str(tmp_path / "db" / "wal")
    segs = [s for s in walmod.list_segments(d) if os.path.getsize(walmod.segment_path(d, s))]
    return walmod.segment_path(d, segs[-1])


def test_truncated_wal_tail_is_repaired(open_db, tmp_path):
    db, _ = open_db()
    for i in range(30):
        db.append(numbered_batch(i))
    db.close()
    seg = _last_segment(tmp_path)
    os.truncate(seg, os.path.getsize(seg) - 5)  # a torn last write
    db2, reg = open_db()
    assert batches_present(db2) == list(range(29))
    assert metric_value(reg, "spyglass_tsdb_wal_corruptions_total") == 1
    assert metric_value(reg, "spyglass_tsdb_wal_repair_truncated_bytes_total") > 0
    # the repaired WAL takes new writes and replays cleanly
    db2.append(numbered_batch(100))
    db2.close()
    db3, reg3 = open_db()
    assert batches_present(db3) == list(range(29)) + [100]
    assert metric_value(reg3, "spyglass_tsdb_wal_corruptions_total") == 0


def test_bit_flipped_wal_tail_is_repaired(open_db, tmp_path):
    db, _ = open_db()
    for i in range(30):
        db.append(numbered_batch(i))
    db.close()
    seg = _last_segment(tmp_path)
    size = os.path.getsize(seg)
    with open(seg, "r+b") as f:
        f.seek(size - 20)
        b = f.read(1)
        f.seek(size - 20)
        f.write(bytes([b[0] ^ 0x08]))
    db2, reg = open_db()
    assert batches_present(db2) == list(range(29))
    assert metric_value(reg, "spyglass_tsdb_wal_corruptions_total") == 1


CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from prometheus_client import CollectorRegistry
    from storage.interface import SampleBatch
    from storage.labels import Labels
    from storage.tsdb import TSDB, TSDBOptions

    T0 = %d
    db = TSDB.open(sys.argv[1], TSDBOptions(wal_fsync_interval_s=0, head_seal_samples=2000,
                   block_duration_ms=60_000, wal_segment_bytes=64 * 1024), registry=CollectorRegistry())
    i = 0
    while True:
        # series churn: a new generation every 100 batches, so series leave
        # the head and their ids are reused while the child runs
        labels = [Labels.from_dict({"__name__": "m", "i": str(k), "gen": str(i // 100)}) for k in range(20)]
        b = SampleBatch(labels, np.arange(20), np.full(20, T0 + i * 1000), np.full(20, float(i)))
        r = db.append(b)
        assert r.accepted == 20, r
        print(i, flush=True)
        i += 1
        if i %% 25 == 0:
            db.maintenance()
    """  # noqa: UP031  the child's source has dict braces: % leaves them literal
    % T0
)


def test_every_acknowledged_batch_survives_kill_9(open_db, tmp_path):
    path = tmp_path / "db"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = -1
    deadline = time.monotonic() + 60
    try:
        while acked < 700 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # acknowledgements already in the pipe when the child died count too
    for line in proc.stdout.read().splitlines(keepends=True):
        if line.endswith("\n"):
            acked = int(line)
    assert acked >= 700, f"child stopped early: {proc.stderr.read()[-2000:]}"
    db, _ = open_db()
    present = batches_present(db)
    # every acknowledged batch is there, in full (one more may be, if it was
    # written but not yet acknowledged)
    assert present[: acked + 1] == list(range(acked + 1))
    assert len(present) <= acked + 2
    assert db.blocks, "the child cut blocks while it ran"
    # 7+ generations of 20 series went through ids reused after checkpoints
    assert db.head._next_sid < 7 * 20


class FullDisk(FileIO):
    """Runs out of space after ``budget`` more bytes, writing what fits first
    (as a real disk does), until ``refill()``."""

    def __init__(self, budget: int | None = None):
        self.budget = budget

    def refill(self, budget: int | None = None) -> None:
        self.budget = budget

    def write(self, fd, data):
        if self.budget is not None and len(data) > self.budget:
            fit = self.budget
            if fit:
                super().write(fd, bytes(data[:fit]))
            self.budget = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        if self.budget is not None:
            self.budget -= len(data)
        super().write(fd, data)


def test_disk_full_refuses_cleanly_and_recovers(tmp_path, clock):
    from prometheus_client import CollectorRegistry

    from storage.tsdb import TSDB, TSDBOptions

    io = FullDisk()
    path = str(tmp_path / "db")
    reg = CollectorRegistry()
    db = TSDB.open(path, TSDBOptions(wal_fsync_interval_s=0), registry=reg, clock=clock, io=io)
    for i in range(10):
        db.append(numbered_batch(i))
    io.refill(300)  # the next batch only half fits
    acked = list(range(10))
    with pytest.raises(StorageFullError):
        for i in range(10, 20):
            db.append(numbered_batch(i))
            acked.append(i)
    assert metric_value(reg, "spyglass_tsdb_storage_full_errors_total") == 1
    with pytest.raises(StorageFullError):
        db.append(numbered_batch(50))
    assert batches_present(db) == acked  # nothing refused is visible
    io.refill(None)  # space is back
    db.append(numbered_batch(60))
    assert batches_present(db) == acked + [60]
    db.close()
    db2 = TSDB.open(path, TSDBOptions(wal_fsync_interval_s=0), registry=(reg2 := CollectorRegistry()), clock=clock)
    try:
        assert batches_present(db2) == acked + [60]
        assert metric_value(reg2, "spyglass_tsdb_wal_corruptions_total") == 0
    finally:
        db2.close()


def test_disk_full_during_block_write(tmp_path, clock):
    from prometheus_client import CollectorRegistry

    from storage.tsdb import TSDB, TSDBOptions

    io = FullDisk()
    path = str(tmp_path / "db")
    db = TSDB.open(path, TSDBOptions(wal_fsync_interval_s=0), registry=CollectorRegistry(), clock=clock, io=io)
    for i in range(20):
        db.append(numbered_batch(i))
    io.refill(2000)
    with pytest.raises(StorageError):
        db.flush_head()
    assert db.blocks == []
    assert not [n for n in os.listdir(path) if "tmp" in n], "no half-written block may stay"
    io.refill(None)
    assert batches_present(db) == list(range(20))
    assert db.flush_head()
    db.close()
    db2 = TSDB.open(path, TSDBOptions(wal_fsync_interval_s=0), registry=CollectorRegistry(), clock=clock)
    try:
        assert batches_present(db2) == list(range(20))
    finally:
        db2.close()


def _mount_tmpfs(where: str, size: str) -> bool:
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", where], capture_output=True, check=False
    )
    return r.returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_real_full_filesystem(tmp_path, clock):
    from prometheus_client import CollectorRegistry

    from storage.tsdb import TSDB, TSDBOptions

    mnt = tmp_path / "small"
    mnt.mkdir()
    if not _mount_tmpfs(str(mnt), "512k"):
        pytest.skip("this environment does not allow mounting tmpfs")
    try:
        path = str(mnt / "db")
        opts = TSDBOptions(wal_fsync_interval_s=0, wal_segment_bytes=64 * 1024, wal_compression=False)
        db = TSDB.open(path, opts, registry=CollectorRegistry(), clock=clock)
        acked = []
        with pytest.raises(StorageFullError):
            for i in range(100_000):
                db.append(numbered_batch(i, series=50))
                acked.append(i)
        assert len(acked) > 50
        db.close()
        db = TSDB.open(path, opts, registry=(reg := CollectorRegistry()), clock=clock)
        assert batches_present(db, series=50) == acked
        assert metric_value(reg, "spyglass_tsdb_wal_corruptions_total") == 0
        subprocess.run(["mount", "-o", "remount,size=4m", str(mnt)], check=True)
        db.append(numbered_batch(len(acked) + 5, series=50))
        db.close()
        db = TSDB.open(path, opts, registry=CollectorRegistry(), clock=clock)
        assert batches_present(db, series=50) == acked + [len(acked) + 5]
        db.close()
    finally:
        # best effort: a failed unmount must not hide the test's own outcome
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, check=False)


def test_failed_wal_checkpoint_loses_nothing(open_db, clock, monkeypatch):
    from storage.tsdb import wal as walmod2

    db, _ = open_db()
    clock.ms = T0 + 10 * 3_600_000
    labels = [Labels.from_dict({"__name__": "m", "i": str(k)}) for k in range(5)]
    n = 0
    for k in range(5 * 60):  # 5 h at one sample a minute
        db.append(SampleBatch(labels, np.arange(5), np.full(5, T0 + k * 60_000), np.full(5, float(k))))
        n += 5

    def full(*a, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(walmod2, "write_checkpoint", full)
    report = db.maintenance()
    assert report.head_blocks and report.checkpoint is None
    assert any("checkpoint" in e for e in report.errors)
    assert db.querier(0, 2**62).select(ALL).num_samples == n
    monkeypatch.undo()
    db.close()
    # the WAL still holds what went into the block: replay must not double it
    db2, _ = open_db()
    ss = db2.querier(0, 2**62).select(ALL)
    assert ss.num_samples == n
    assert all((np.diff(ss.series(i)[0]) > 0).all() for i in range(len(ss)))
    assert db2.head.num_samples < n  # samples already in blocks were skipped
