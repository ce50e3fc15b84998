"""The embedded TSDB: WAL → head → blocks, behind ``storage.interface.Storage``.

``TSDB.open`` loads the blocks, replays the WAL into the head (repairing a
damaged tail) and starts two threads: one fsyncs the WAL periodically, one
compresses full head buffers ("sealing") off the append path. ``append`` validates a batch,
writes it to the WAL and applies it to the head under one lock, so an
acknowledged batch is durable. Reads keep groups they decode again and
again in a bounded cache (``groupcache.py``, ``group_cache_bytes``).
``maintenance()`` is the periodic job: cut blocks from the head, merge head
parts, checkpoint the WAL, compact blocks, apply retention::

    db = TSDB.open("data", TSDBOptions(retention_ms=30 * DAY_MS))
    db.append(batch)
    db.querier(start_ms, end_ms).select([Matcher("=", "job", "node")])
    db.maintenance()   # every 30–60 s
    db.close()
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

import numpy as np
from prometheus_client import CollectorRegistry

from storage.interface import (
    AppendResult,
    MetricMetadata,
    SampleBatch,
    StorageError,
    StorageFullError,
    TSDBStatus,
)
from storage.labels import Labels
from storage.tsdb import compact as compaction
from storage.tsdb import wal as walmod
from storage.tsdb.block import TMP_CREATION, TMP_DELETION, Block, BlockWriter, is_ulid
from storage.tsdb.fileio import FileIO, is_disk_full
from storage.tsdb.groupcache import GroupCache
from storage.tsdb.head import INT64_MIN, Head
from storage.tsdb.merge import assemble
from storage.tsdb.options import TSDBOptions
from storage.tsdb.querier import TSDBQuerier
from storage.tsdb.telemetry import TSDBMetrics
from storage.tsdb.walrecords import RecordType

log = logging.getLogger(__name__)


@dataclass
class MaintenanceReport:
    """What one ``maintenance()`` call did."""

    head_blocks: list[str] = field(default_factory=list)
    head_merges: int = 0
    series_removed: int = 0
    checkpoint: str | None = None
    compacted: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class TSDB:
    """The embedded time-series database: ``TSDB.open(path, TSDBOptions())``,
    then ``append`` / ``querier`` / ``maintenance`` / ``close`` (see the module docstring)."""

    # Full open logs (each ``head_seal_samples`` uncompressed samples) allowed
    # to wait for the background sealer before appenders seal them inline.
    MAX_FROZEN_LOGS = 8
    # Uncompressed samples WAL replay may leave to the background sealer, which
    # starts once the TSDB is open: sealing is most of a replay's time, and
    # ready should not wait for it. Above this (160 MB), replay seals inline.
    REPLAY_UNSEALED_SAMPLES = 8 << 20

    def __init__(
        self,
        path: str,
        options: TSDBOptions,
        metrics: TSDBMetrics,
        clock: Callable[[], float],
        io: FileIO,
    ):
        self.path = path
        self.opts = options
        self.metrics = metrics
        self.clock = clock
        self.io = io
        self.head = Head(options, metrics)
        self.group_cache = (
            GroupCache(options.group_cache_bytes, metrics) if options.group_cache_bytes else None
        )
        self.wal: walmod.WAL | None = None
        self._blocks: list[Block] = []
        self._blocks_lock = threading.Lock()
        self._maint_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._closed = False
        self._stop = threading.Event()
        self._syncer: threading.Thread | None = None
        self._seal_wanted = threading.Event()
        self._sealer: threading.Thread | None = None

    # --- opening ----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str,
        options: TSDBOptions | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        io: FileIO | None = None,
    ) -> TSDB:
        """Open (or create) the TSDB in directory ``path``."""
        options = options or TSDBOptions()
        db = cls(path, options, TSDBMetrics(registry), clock, io or FileIO())
        try:
            db._open()
        except BaseException:
            db._release()
            raise
        return db

    def _open(self) -> None:
        os.makedirs(self.path, exist_ok=True)
        self._lock_fd = os.open(os.path.join(self.path, "lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(f"data directory {self.path} is in use by another process") from None
        for name in os.listdir(self.path):
            if name.endswith((TMP_CREATION, TMP_DELETION)):
                self.io.remove_tree(os.path.join(self.path, name))
        self._blocks = self._load_blocks()
        self.metrics.blocks_loaded.set(len(self._blocks))
        if self._blocks:
            self.head.min_valid_time = max(b.max_time for b in self._blocks)
        self._replay()
        self.wal = walmod.WAL(
            self._wal_dir,
            first_segment=walmod.next_segment(self._wal_dir),
            segment_bytes=self.opts.wal_segment_bytes,
            io=self.io,
            metrics=self.metrics,
            fsync_every_batch=self.opts.wal_fsync_every_batch,
        )
        self.metrics.head_series.set_function(lambda: self.head.num_series)
        self.metrics.storage_size.set_function(self.size_bytes)
        cache = self.group_cache
        self.metrics.group_cache_size.set_function(lambda: cache.nbytes if cache is not None else 0)
        if self.opts.wal_fsync_interval_s > 0 and not self.opts.wal_fsync_every_batch:
            self._syncer = threading.Thread(target=self._sync_loop, name="tsdb-wal-sync", daemon=True)
            self._syncer.start()
        # Sealing compresses full open logs off the append path.
        self._sealer = threading.Thread(target=self._seal_loop, name="tsdb-head-sealer", daemon=True)
        self._sealer.start()
        if self.head.frozen_logs:
            self._seal_wanted.set()

    @property
    def _wal_dir(self) -> str:
        return os.path.join(self.path, "wal")

    def _load_blocks(self) -> list[Block]:
        blocks = []
        for name in sorted(os.listdir(self.path)):
            full = os.path.join(self.path, name)
            if is_ulid(name) and os.path.isdir(full):
                blocks.append(Block.open(full))
        # a compaction that crashed after writing its result but before
        # deleting its inputs leaves both: the inputs are parents of the result
        parents = {p for b in blocks for p in b.meta.parents}
        keep = []
        for b in blocks:
            if b.ulid in parents:
                self._delete_block_dir(b.path)
            else:
                keep.append(b)
        return sorted(keep, key=lambda b: (b.min_time, b.ulid))

    def _replay(self) -> None:
        t0 = time.perf_counter()
        head = self.head
        window = self.opts.out_of_order_window_ms
        min_time = head.min_valid_time
        if min_time != INT64_MIN:
            min_time = max(INT64_MIN, min_time - window)

        def corrupted(c: walmod.Corruption) -> None:
            self.metrics.wal_corruptions.inc()
            self.metrics.wal_truncated_bytes.inc(c.truncated_bytes)

        walmod.cleanup(self._wal_dir, self.io)
        dropped = 0
        head.replaying = True
        for rtype, record in walmod.read_wal(self._wal_dir, repair=True, io=self.io, on_corruption=corrupted):
            if rtype == RecordType.SERIES:
                head.replay_series(*record)
            elif rtype == RecordType.SAMPLES:
                dropped += head.replay_samples(*record, min_time=min_time)
            else:
                head.replay_metadata(record)
            if head.frozen_logs and head.frozen_samples > self.REPLAY_UNSEALED_SAMPLES:
                head.seal()  # bound replay memory on a big WAL
        head.finish_replay()
        self.metrics.wal_replay_duration.set(time.perf_counter() - t0)
        if dropped:
            log.info("WAL replay skipped %d samples already in blocks", dropped)

    def _seal_loop(self) -> None:
        while True:
            self._seal_wanted.wait()
            if self._stop.is_set():
                return
            self._seal_wanted.clear()
            try:
                self.head.seal()
            except Exception:  # never lose the thread; the next signal retries
                log.exception("sealing head data failed")

    def _sync_loop(self) -> None:
        while not self._stop.wait(self.opts.wal_fsync_interval_s):
            try:
                if self.wal is not None:
                    self.wal.sync()
            except (OSError, StorageError) as e:
                log.warning("periodic WAL fsync failed: %s", e)

    # --- writing ----------------------------------------------------------------
    def append(self, batch: SampleBatch) -> AppendResult:
        """Store a batch; when this returns, what it accepted survives a crash.

        Raises ``StorageFullError`` (retryable, nothing stored) when the disk is full."""
        if self._closed:
            raise StorageError("TSDB is closed")
        now_ms = int(self.clock() * 1000)
        head = self.head
        with head.lock:
            result, data, commit = head.prepare(
                batch, now_ms, existing=self._existing, compress=self.opts.wal_compression
            )
            if data:
                try:
                    self.wal.log(data)
                except StorageFullError:
                    self.metrics.storage_full.inc()
                    raise
            commit()
        frozen = head.frozen_logs
        if frozen > self.MAX_FROZEN_LOGS:
            head.seal()  # the sealer fell behind: make this writer help
        elif frozen:
            self._seal_wanted.set()
        return result

    def _existing(self, sids: np.ndarray, labels: list[Labels], mint: int, maxt: int):
        """Stored samples of series ``sids``/``labels`` in ``[mint, maxt]`` (head and blocks)."""
        snap = self.head.snapshot_sids(sids, labels)
        pieces = []
        for b in self.blocks:
            if not b.overlaps(mint, maxt):
                continue
            rows, which = [], []
            for i, lbl in enumerate(snap.labels):
                r = b.index.find_row(lbl)
                if r >= 0:
                    rows.append(r)
                    which.append(i)
            if rows:
                runs = b.table.read_runs(np.asarray(rows, np.int64), mint, maxt)
                pieces.append((np.asarray(which, np.int64), runs))
        pieces.extend(snap.pieces(mint, maxt))
        return assemble(len(sids), pieces)

    # --- reading ----------------------------------------------------------------
    @property
    def blocks(self) -> list[Block]:
        with self._blocks_lock:
            return list(self._blocks)

    def querier(self, mint: int, maxt: int) -> TSDBQuerier:
        if self._closed:
            raise StorageError("TSDB is closed")
        return TSDBQuerier(self.blocks, self.head, mint, maxt, self.group_cache)

    def metadata(self, metric: str | None = None, limit: int = 0) -> dict[str, list[MetricMetadata]]:
        with self.head.lock:
            items = sorted(self.head.metadata.items())
        out = {name: [m] for name, m in items if metric is None or name == metric}
        if limit > 0:
            out = dict(list(out.items())[:limit])
        return out

    def status(self, limit: int = 10) -> TSDBStatus:
        return self.head.status(limit)

    def size_bytes(self) -> int:
        wal = walmod.dir_size(self._wal_dir)
        return sum(b.size_bytes for b in self.blocks) + wal

    # --- maintenance --------------------------------------------------------------
    def maintenance(self) -> MaintenanceReport:
        """Cut blocks from the head when due, merge head parts, checkpoint the
        WAL, compact blocks and apply retention. Idempotent; call it every
        30–60 s. Failures are logged, counted and reported, never raised."""
        report = MaintenanceReport()
        with self._maint_lock:
            if self._closed:
                return report
            dur = self.opts.block_duration_ms
            head = self.head
            for _ in range(1000):  # bounded: each cut moves the head's start forward
                if head.mint == np.iinfo(np.int64).max or head.maxt == INT64_MIN:
                    break
                if head.maxt - head.mint <= dur * 3 // 2:
                    break
                boundary = (head.mint // dur) * dur + dur
                before = head.mint
                if not self._cut(boundary, report):
                    break
                if head.mint <= before:
                    break
            try:
                report.head_merges = head.merge_parts()
            except Exception as e:  # keep maintenance going; the head is unchanged
                log.exception("merging head parts failed")
                report.errors.append(f"head merge: {e}")
            self._compact(report)
            self._retention(report)
            self.metrics.storage_size.set_function(self.size_bytes)
        return report

    def flush_head(self) -> list[str]:
        """Persist the whole head as blocks (for tests and benchmarks); returns
        the new block directories. Later samples must be newer than the head's
        newest one."""
        report = MaintenanceReport()
        with self._maint_lock:
            if self.head.maxt == INT64_MIN or self.head.num_samples == 0:
                return []
            if not self._cut(self.head.maxt + 1, report):
                raise StorageError("; ".join(report.errors) or "flushing the head failed")
        return report.head_blocks

    def _cut(self, boundary: int, report: MaintenanceReport) -> bool:
        """Move every head sample before ``boundary`` into blocks, then
        truncate the WAL. Returns False (head untouched) on failure."""
        dur = self.opts.block_duration_ms
        t0 = time.perf_counter()
        writers: dict[int, BlockWriter] = {}
        try:
            parts, closed_segment = self.head.begin_cut(boundary, self.wal.cut)
        except StorageError as e:
            report.errors.append(f"head cut: {e}")
            self.metrics.compactions_failed.labels(kind="head").inc()
            return False

        def writer_for(r: int) -> BlockWriter:
            w = writers.get(r)
            if w is None:
                w = writers[r] = BlockWriter(
                    self.path, r * dur, min((r + 1) * dur, boundary), io=self.io
                )
            return w

        def sink(labels: list[Labels], counts, ts, vals) -> None:
            rng = np.floor_divide(ts, dur)
            lo, hi = int(rng.min()), int(rng.max())
            if lo == hi:
                writer_for(lo).add(labels, counts, ts, vals)
                return
            rid = np.repeat(np.arange(len(counts)), counts)
            for r in range(lo, hi + 1) if hi - lo < 64 else np.unique(rng).tolist():
                m = rng == r
                if not m.any():
                    continue
                c = np.bincount(rid[m], minlength=len(counts))
                has = np.flatnonzero(c)
                writer_for(r).add([labels[i] for i in has.tolist()], c[has], ts[m], vals[m])

        new_blocks: list[Block] = []
        try:
            remaining = self.head.rewrite(parts, boundary, sink)
            for r in sorted(writers):
                new_blocks.append(Block.open(writers[r].finish()))
        except Exception as e:  # noqa: BLE001  maintenance reports and counts any failure, the head keeps it all
            for w in writers.values():
                w.abort()
            for b in new_blocks:
                self._delete_block_dir(b.path)
            what = "disk full" if is_disk_full(e) or isinstance(e, StorageFullError) else str(e)
            log.error("cutting a block from the head failed: %s", what)
            report.errors.append(f"head cut: {what}")
            self.metrics.compactions_failed.labels(kind="head").inc()
            return False
        with self._blocks_lock:
            self._blocks = sorted(self._blocks + new_blocks, key=lambda b: (b.min_time, b.ulid))
            self.metrics.blocks_loaded.set(len(self._blocks))
        report.series_removed += self.head.finish_cut(parts, remaining, boundary)
        report.head_blocks.extend(b.path for b in new_blocks)
        self.metrics.compactions.labels(kind="head").inc(len(new_blocks))
        self.metrics.compaction_duration.observe(time.perf_counter() - t0)
        if closed_segment is not None:
            live = self.head._live_sids

            def keep(sids: np.ndarray) -> np.ndarray:
                with self.head.lock:
                    alive = live()
                return np.isin(sids, alive)

            try:
                report.checkpoint = walmod.write_checkpoint(
                    self._wal_dir, closed_segment, keep, boundary, io=self.io,
                    compress=self.opts.wal_compression,
                )
                self.metrics.wal_checkpoints.inc()
                # no WAL record names the removed series any more: reuse their ids
                self.head.release_retired_sids()
            except (OSError, StorageError) as e:
                # the WAL keeps its segments: nothing is lost, the next cut retries
                log.error("WAL checkpoint failed: %s", e)
                report.errors.append(f"WAL checkpoint: {e}")
        return True

    def _compact(self, report: MaintenanceReport) -> None:
        for _ in range(100):
            blocks = self.blocks
            group = compaction.plan([b.meta for b in blocks], self.opts)
            if not group:
                return
            ids = {m.ulid for m in group}
            inputs = [b for b in blocks if b.ulid in ids]
            t0 = time.perf_counter()
            try:
                path = compaction.compact(inputs, self.path, io=self.io)
                new = Block.open(path)
            except Exception as e:  # noqa: BLE001  reported and counted; the input blocks stay
                what = "disk full" if is_disk_full(e) else str(e)
                log.error("compacting blocks %s failed: %s", sorted(ids), what)
                report.errors.append(f"compaction: {what}")
                self.metrics.compactions_failed.labels(kind="blocks").inc()
                return
            with self._blocks_lock:
                self._blocks = sorted(
                    [b for b in self._blocks if b.ulid not in ids] + [new],
                    key=lambda b: (b.min_time, b.ulid),
                )
                self.metrics.blocks_loaded.set(len(self._blocks))
            for b in inputs:
                self._delete_block_dir(b.path)
            report.compacted.append(path)
            self.metrics.compactions.labels(kind="blocks").inc()
            self.metrics.compaction_duration.observe(time.perf_counter() - t0)

    def _retention(self, report: MaintenanceReport) -> None:
        blocks = self.blocks
        doomed: dict[str, str] = {}
        if self.opts.retention_ms and blocks:
            newest = max(b.max_time for b in blocks)
            for b in blocks:
                if newest - b.max_time > self.opts.retention_ms:
                    doomed[b.ulid] = "time"
        if self.opts.retention_bytes:
            total = self.size_bytes() - sum(b.size_bytes for b in blocks if b.ulid in doomed)
            for b in sorted(blocks, key=lambda b: (b.max_time, b.ulid)):
                if total <= self.opts.retention_bytes:
                    break
                if b.ulid in doomed:
                    continue
                doomed[b.ulid] = "size"
                total -= b.size_bytes
        if not doomed:
            return
        with self._blocks_lock:
            self._blocks = [b for b in self._blocks if b.ulid not in doomed]
            self.metrics.blocks_loaded.set(len(self._blocks))
        for b in blocks:
            if b.ulid in doomed:
                self._delete_block_dir(b.path)
                self.metrics.retention_deletions.labels(reason=doomed[b.ulid]).inc()
                report.deleted.append(b.path)

    def _delete_block_dir(self, path: str) -> None:
        """Rename first, so a crash mid-delete never leaves a damaged block visible."""
        doomed = path + TMP_DELETION
        try:
            self.io.rename(path, doomed)
            self.io.fsync_dir(self.path)
        except OSError as e:
            log.error("cannot delete block %s: %s", path, e)
            return
        self.io.remove_tree(doomed)

    # --- closing ----------------------------------------------------------------
    def close(self) -> None:
        """Flush and close the WAL and release the data directory."""
        if self._closed:
            return
        self._stop.set()
        self._seal_wanted.set()
        for t in (self._syncer, self._sealer):
            if t is not None:
                t.join(timeout=30)
        with self._maint_lock, self.head.lock:
            self._closed = True
            if self.wal is not None:
                self.wal.close()
        if self.group_cache is not None:
            self.group_cache.clear()
        self._release()

    def _release(self) -> None:
        self._closed = True
        self.metrics.unregister()
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            finally:
                os.close(self._lock_fd)
                self._lock_fd = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["TSDB", "MaintenanceReport"]
