"""The write-ahead log: numbered segment files of CRC-framed records, replay
with torn-tail repair, and checkpoints that let old segments go.

Every append is one ``write()`` of its framed records before the append is
acknowledged, so it survives a crash of the process; fsync happens on
segment close, periodically, or per append (options). When a write fails
(disk full), the segment is cut back to where the failed write began, so a
later append never follows half a record. FORMAT.md documents the layout::

    wal = WAL(dir, segment_bytes=128 << 20)
    wal.log(frame(RecordType.SAMPLES, payload))
    for rtype, record in read_wal(dir, repair=True, on_corruption=...): ...
"""

from __future__ import annotations

import logging
import mmap
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from storage.interface import StorageError, StorageFullError
from storage.tsdb import walrecords as rec
from storage.tsdb.fileio import FileIO, storage_error
from storage.tsdb.telemetry import TSDBMetrics
from storage.tsdb.walrecords import RecordType

log = logging.getLogger(__name__)

_SEGMENT_RE = re.compile(r"^\d{8}$")
_CHECKPOINT_RE = re.compile(r"^checkpoint\.(\d{8})$")


def segment_path(wal_dir: str, n: int) -> str:
    return os.path.join(wal_dir, f"{n:08d}")


def list_segments(wal_dir: str) -> list[int]:
    if not os.path.isdir(wal_dir):
        return []
    return sorted(int(f) for f in os.listdir(wal_dir) if _SEGMENT_RE.match(f))


def list_checkpoints(wal_dir: str) -> list[int]:
    if not os.path.isdir(wal_dir):
        return []
    out = []
    for f in os.listdir(wal_dir):
        m = _CHECKPOINT_RE.match(f)
        if m:
            out.append(int(m.group(1)))
    return sorted(out)


def dir_size(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.stat(os.path.join(root, f)).st_size
            except FileNotFoundError:
                pass
    return total


class WAL:
    """Appends framed records to the current segment (see module docstring)."""

    def __init__(
        self,
        wal_dir: str,
        *,
        first_segment: int = 0,
        segment_bytes: int = 128 << 20,
        io: FileIO | None = None,
        metrics: TSDBMetrics | None = None,
        fsync_every_batch: bool = False,
    ):
        self.dir = wal_dir
        self._io = io or FileIO()
        self._metrics = metrics
        self._segment_bytes = segment_bytes
        self._fsync_every_batch = fsync_every_batch
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._segment = first_segment
        self._size = 0
        # When a failed write could not be cut back, the size the segment must
        # be truncated to before anything else is written.
        self._pending_truncate: int | None = None
        self._io.mkdir(wal_dir)
        try:
            self._open_segment(first_segment)
        except OSError as e:
            raise storage_error(e, f"creating WAL segment {first_segment}") from None

    @property
    def segment(self) -> int:
        return self._segment

    def _open_segment(self, n: int) -> None:
        fd = self._io.open_write(segment_path(self.dir, n), truncate=True)
        self._fd, self._segment, self._size = fd, n, 0
        self._io.fsync_dir(self.dir)

    def _close_segment(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            self._timed_fsync(fd)
        finally:
            self._io.close(fd)

    def _timed_fsync(self, fd: int) -> None:
        t0 = time.perf_counter()
        self._io.fsync(fd)
        if self._metrics:
            self._metrics.wal_fsync_duration.observe(time.perf_counter() - t0)

    def log(self, data: bytes) -> None:
        """Write framed records; raises StorageFullError (nothing written) when the disk is full."""
        with self._lock:
            if self._fd is None:
                raise StorageError("WAL is closed")
            if self._pending_truncate is not None:
                try:
                    self._io.truncate(self._fd, self._pending_truncate)
                except OSError as e:
                    raise storage_error(e, "repairing the WAL after a failed write") from None
                self._size = self._pending_truncate
                self._pending_truncate = None
            if self._size > 0 and self._size + len(data) > self._segment_bytes:
                try:
                    self._cut_locked()
                except OSError as e:
                    # keep writing to the current segment; the cut is retried next time
                    log.warning("cannot start a new WAL segment: %s", e)
            try:
                self._io.write(self._fd, data)
                if self._fsync_every_batch:
                    self._timed_fsync(self._fd)
            except OSError as e:
                self._pending_truncate = self._size
                try:
                    self._io.truncate(self._fd, self._size)
                    self._pending_truncate = None
                except OSError:
                    pass  # retried before the next write
                raise storage_error(e, "writing the WAL") from None
            self._size += len(data)
            if self._metrics:
                self._metrics.wal_bytes_written.inc(len(data))

    def _cut_locked(self) -> int:
        # Either the new segment is open and the old one synced and closed, or
        # (on error) nothing changed and writes go on to the current segment.
        closed, fd = self._segment, self._fd
        self._timed_fsync(fd)
        new_fd = self._io.open_write(segment_path(self.dir, closed + 1), truncate=True)
        self._io.close(fd)
        self._fd, self._segment, self._size = new_fd, closed + 1, 0
        try:
            self._io.fsync_dir(self.dir)
        except OSError as e:
            log.warning("cannot fsync the WAL directory: %s", e)
        return closed

    def cut(self) -> int:
        """Close the current segment and start the next; returns the closed segment's number."""
        with self._lock:
            if self._fd is None:
                raise StorageError("WAL is closed")
            try:
                return self._cut_locked()
            except OSError as e:
                raise storage_error(e, "starting a WAL segment") from None

    def sync(self) -> None:
        """fsync the current segment without holding up writers."""
        with self._lock:
            if self._fd is None:
                return
            fd = os.dup(self._fd)
        try:
            self._timed_fsync(fd)
        finally:
            os.close(fd)

    def close(self) -> None:
        with self._lock:
            self._close_segment()

    def size_bytes(self) -> int:
        return dir_size(self.dir)


# --- reading ------------------------------------------------------------------


@dataclass
class Corruption:
    segment: str
    offset: int
    truncated_bytes: int
    removed_segments: list[str]


def _parse(buf: bytes) -> Iterator[tuple[int, int, int]]:
    """Yield (offset, type, length) of good frames; stops at the first bad one.
    The caller compares the last end offset with len(buf)."""
    pos = 0
    while pos < len(buf):
        hit = rec.check_frame(buf, pos)
        if hit is None:
            return
        rtype, length = hit
        yield pos, rtype, length
        pos += rec.HEADER_SIZE + length


def _decode(rtype: int, payload):
    if rtype == RecordType.SERIES:
        return rec.decode_series(payload)
    if rtype == RecordType.SAMPLES:
        return rec.decode_samples(payload)
    return rec.decode_metadata(payload)


def _read_file(
    path: str, repair: bool, io: FileIO, on_corruption: Callable[[Corruption], None] | None
) -> Iterator[tuple[int, object]] | None:
    # mmap: a segment can be large, and its pages stay reclaimable page cache
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    end = 0
    try:
        mv = memoryview(buf)
        try:
            for pos, rtype, length in _parse(buf):
                payload = mv[pos + rec.HEADER_SIZE : pos + rec.HEADER_SIZE + length]
                try:
                    record = _decode(rtype, payload)
                except rec.CorruptRecordError:
                    break
                finally:
                    payload.release()
                yield rtype, record
                end = pos + rec.HEADER_SIZE + length
        finally:
            mv.release()
    finally:
        if size:
            buf.close()
    if end == size:
        return None
    if not repair:
        raise StorageError(f"WAL file {path} is corrupt at byte {end}")
    return end


def read_wal(
    wal_dir: str,
    *,
    repair: bool = True,
    io: FileIO | None = None,
    on_corruption: Callable[[Corruption], None] | None = None,
    upto: int | None = None,
) -> Iterator[tuple[int, object]]:
    """Yield decoded records ``(type, record)`` of the newest checkpoint, then
    of the segments after it (up to ``upto`` when given).

    With ``repair``, the first torn or corrupt record ends the log: its
    segment is truncated there, later segments are deleted and
    ``on_corruption`` is told. Without it, corruption raises StorageError.
    """
    io = io or FileIO()
    checkpoints = list_checkpoints(wal_dir)
    first = 0
    if checkpoints:
        cp = checkpoints[-1]
        cp_dir = os.path.join(wal_dir, f"checkpoint.{cp:08d}")
        for name in sorted(f for f in os.listdir(cp_dir) if _SEGMENT_RE.match(f)):
            gen = _read_file(os.path.join(cp_dir, name), False, io, None)
            yield from gen
        first = cp + 1
    segments = [s for s in list_segments(wal_dir) if s >= first and (upto is None or s <= upto)]
    for i in range(1, len(segments)):
        if segments[i] != segments[i - 1] + 1:
            raise StorageError(
                f"WAL segments are not consecutive: {segments[i - 1]:08d} is followed by {segments[i]:08d}"
            )
    for i, s in enumerate(segments):
        path = segment_path(wal_dir, s)
        gen = _read_file(path, repair, io, on_corruption)
        bad_at = yield from gen
        if bad_at is None:
            continue
        size = os.path.getsize(path)
        fd = io.open_write(path)
        try:
            io.truncate(fd, bad_at)
            io.fsync(fd)
        finally:
            io.close(fd)
        removed = []
        for later in segments[i + 1 :]:
            p = segment_path(wal_dir, later)
            io.remove(p)
            removed.append(p)
        io.fsync_dir(wal_dir)
        log.error(
            "WAL segment %s is damaged at byte %d: truncated %d bytes there and removed %d later segment(s)",
            path,
            bad_at,
            size - bad_at,
            len(removed),
        )
        if on_corruption:
            on_corruption(Corruption(path, bad_at, size - bad_at, removed))
        return


def write_checkpoint(
    wal_dir: str,
    upto: int,
    keep_series: Callable[[np.ndarray], np.ndarray],
    min_time: int,
    *,
    io: FileIO | None = None,
    compress: bool = True,
) -> str:
    """Fold the newest checkpoint and segments ``<= upto`` into a new
    checkpoint holding only what the head still needs: series for which
    ``keep_series(sids)`` is true, their samples at or after ``min_time``, and
    the latest metadata. Then delete what it replaces. Returns its path."""
    io = io or FileIO()
    final = os.path.join(wal_dir, f"checkpoint.{upto:08d}")
    tmp = final + ".tmp"
    io.remove_tree(tmp)
    io.mkdir(tmp)
    metadata: dict = {}
    fd = io.open_write(os.path.join(tmp, "00000000"), truncate=True)
    try:
        buf: list[bytes] = []
        pending = 0

        def emit(data: bytes) -> None:
            nonlocal pending
            buf.append(data)
            pending += len(data)
            if pending >= 1 << 20:
                io.write(fd, b"".join(buf))
                buf.clear()
                pending = 0

        for rtype, record in read_wal(wal_dir, repair=False, io=io, upto=upto):
            if rtype == RecordType.SERIES:
                sids, labels = record
                keep = keep_series(sids)
                if keep.any():
                    idx = np.flatnonzero(keep)
                    emit(rec.frame(rtype, rec.encode_series(sids[idx], [labels[i] for i in idx.tolist()])))
            elif rtype == RecordType.SAMPLES:
                sids, ts, vals = record
                keep = (ts >= min_time) & keep_series(sids)
                if keep.any():
                    emit(
                        rec.frame(
                            rtype, rec.encode_samples(sids[keep], ts[keep], vals[keep], compress=compress)
                        )
                    )
            else:
                metadata.update(record)
        if metadata:
            emit(rec.frame(RecordType.METADATA, rec.encode_metadata(metadata)))
        if buf:
            io.write(fd, b"".join(buf))
        io.fsync(fd)
    except BaseException:
        io.close(fd)
        io.remove_tree(tmp)
        raise
    io.close(fd)
    io.fsync_dir(tmp)
    io.rename(tmp, final)
    io.fsync_dir(wal_dir)
    # what the new checkpoint replaces
    for s in list_segments(wal_dir):
        if s <= upto:
            io.remove(segment_path(wal_dir, s))
    for cp in list_checkpoints(wal_dir):
        if cp < upto:
            io.remove_tree(os.path.join(wal_dir, f"checkpoint.{cp:08d}"))
    return final


def cleanup(wal_dir: str, io: FileIO | None = None) -> None:
    """Remove leftovers of interrupted checkpoints and what finished ones replace."""
    io = io or FileIO()
    if not os.path.isdir(wal_dir):
        return
    for f in os.listdir(wal_dir):
        if f.startswith("checkpoint.") and f.endswith(".tmp"):
            io.remove_tree(os.path.join(wal_dir, f))
    cps = list_checkpoints(wal_dir)
    if cps:
        for cp in cps[:-1]:
            io.remove_tree(os.path.join(wal_dir, f"checkpoint.{cp:08d}"))
        for s in list_segments(wal_dir):
            if s <= cps[-1]:
                io.remove(segment_path(wal_dir, s))


def next_segment(wal_dir: str) -> int:
    segs = list_segments(wal_dir)
    cps = list_checkpoints(wal_dir)
    return max(segs[-1] if segs else -1, cps[-1] if cps else -1) + 1


__all__ = [
    "WAL",
    "Corruption",
    "StorageFullError",
    "cleanup",
    "next_segment",
    "read_wal",
    "write_checkpoint",
]
