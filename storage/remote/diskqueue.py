"""A persistent FIFO of sample batches: segment files plus an acknowledged cursor.

See ``FORMAT.md`` beside this file. Records are appended and fsynced before
``append`` returns; a reader takes records from the cursor on and moves the
cursor (atomically, by rename) only once the receiver acknowledged them, so a
crash at any point loses nothing acknowledged and resends at most the
unacknowledged tail::

    q = DiskQueue(path, max_bytes=1 << 30)
    q.append(payload_bytes, n_samples)
    recs, pos = q.read_from(q.cursor, max_samples=2000)   # [(payload, n)], next position
    q.ack(pos)
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from dataclasses import dataclass

_HEADER = struct.Struct("<III")  # payload length, sample count, crc32 of (count + payload)
_SEG_SUFFIX = ".seg"
_CURSOR = "cursor"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


def _crc(n: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(struct.pack("<I", n)))


class QueueFull(Exception):
    """The queue holds ``max_bytes`` and the policy is to refuse."""


class DiskQueue:
    """Segmented on-disk queue; thread-safe (one writer lock, one reader)."""

    def __init__(self, path: str, max_bytes: int = 1 << 30, segment_bytes: int | None = None,
                 drop_oldest: bool = True):
        self.path = path
        os.makedirs(path, exist_ok=True)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes or max(1 << 12, min(16 << 20, max_bytes // 8))
        self.drop_oldest = drop_oldest
        self._lock = threading.Lock()
        self.changed = threading.Condition(self._lock)
        self.repaired_bytes = 0
        # samples per segment (for pending counts and counted drops)
        self._seg_samples: dict[int, int] = {}
        self._seg_bytes: dict[int, int] = {}
        self.cursor = self._read_cursor()
        segs = self._segments()
        for s in segs:
            self._scan(s)
        for s in segs:
            if s < self.cursor.segment:
                self._remove(s)
        if not self._seg_samples:
            self._open_segment(max(self.cursor.segment, 1))
        else:
            last = max(self._seg_samples)
            self._wseg = last
            self._wf = open(self._seg_path(last), "ab")  # noqa: SIM115  held open for appends
        if self.cursor.segment not in self._seg_samples:
            self.cursor = Position(min(self._seg_samples), 0)
        self._pending = self._count_from(self.cursor)

    # --- files -------------------------------------------------------------------------
    def _seg_path(self, n: int) -> str:
        return os.path.join(self.path, f"{n:08d}{_SEG_SUFFIX}")

    def _segments(self) -> list[int]:
        return sorted(int(f[: -len(_SEG_SUFFIX)]) for f in os.listdir(self.path) if f.endswith(_SEG_SUFFIX))

    def _read_cursor(self) -> Position:
        try:
            with open(os.path.join(self.path, _CURSOR)) as f:
                seg, off = f.read().split()
                return Position(int(seg), int(off))
        except (OSError, ValueError):
            return Position(1, 0)

    def _write_cursor(self, pos: Position) -> None:
        tmp = os.path.join(self.path, _CURSOR + ".tmp")
        with open(tmp, "w") as f:
            f.write(f"{pos.segment} {pos.offset}\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.path, _CURSOR))

    def _scan(self, seg: int) -> None:
        """Count a segment's samples; cut a torn/corrupt tail (of the last segment)."""
        path = self._seg_path(seg)
        n_samples = 0
        good = 0
        with open(path, "rb") as f:
            data = f.read()
        off = 0
        while off + _HEADER.size <= len(data):
            length, n, crc = _HEADER.unpack_from(data, off)
            end = off + _HEADER.size + length
            if end > len(data) or _crc(n, data[off + _HEADER.size:end]) != crc:
                break
            n_samples += n
            off = end
        good = off
        if good < len(data):
            # A torn write (crash mid-append) leaves a short or bad last record:
            # cut it. Records after it, if any, cannot be trusted to be framed.
            self.repaired_bytes += len(data) - good
            with open(path, "r+b") as f:
                f.truncate(good)
                os.fsync(f.fileno())
        self._seg_samples[seg] = n_samples
        self._seg_bytes[seg] = good

    def _open_segment(self, n: int) -> None:
        self._wseg = n
        self._wf = open(self._seg_path(n), "ab")  # noqa: SIM115  held open for appends
        self._seg_samples.setdefault(n, 0)
        self._seg_bytes.setdefault(n, 0)
        dfd = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(dfd)  # the new file's name is durable too
        finally:
            os.close(dfd)

    def _remove(self, seg: int) -> None:
        try:
            os.remove(self._seg_path(seg))
        except FileNotFoundError:
            pass
        self._seg_samples.pop(seg, None)
        self._seg_bytes.pop(seg, None)

    def _count_from(self, pos: Position) -> int:
        total = 0
        for seg, n in self._seg_samples.items():
            if seg > pos.segment:
                total += n
            elif seg == pos.segment:
                total += n - self._samples_before(seg, pos.offset)
        return total

    def _samples_before(self, seg: int, offset: int) -> int:
        if offset == 0:
            return 0
        with open(self._seg_path(seg), "rb") as f:
            data = f.read(offset)
        off = n_total = 0
        while off + _HEADER.size <= len(data):
            length, n, _ = _HEADER.unpack_from(data, off)
            off += _HEADER.size + length
            n_total += n
        return n_total

    # --- writer ------------------------------------------------------------------------
    @property
    def size_bytes(self) -> int:
        return sum(self._seg_bytes.values())

    @property
    def pending_samples(self) -> int:
        return self._pending

    def append(self, payload: bytes, n_samples: int) -> int:
        """Append one record durably. Returns samples dropped to make room
        (drop_oldest policy); raises ``QueueFull`` under the refuse policy."""
        rec = _HEADER.pack(len(payload), n_samples, _crc(n_samples, payload)) + payload
        dropped = 0
        with self._lock:
            if self.size_bytes + len(rec) > self.max_bytes:
                if not self.drop_oldest:
                    raise QueueFull(
                        f"remote-write queue {self.path} is full ({self.size_bytes} of {self.max_bytes} bytes)"
                    )
                dropped = self._drop_oldest(len(rec))
            if self._seg_bytes[self._wseg] and self._seg_bytes[self._wseg] + len(rec) > self.segment_bytes:
                self._wf.close()
                self._open_segment(self._wseg + 1)
            self._wf.write(rec)
            self._wf.flush()
            os.fsync(self._wf.fileno())
            self._seg_bytes[self._wseg] += len(rec)
            self._seg_samples[self._wseg] += n_samples
            self._pending += n_samples
            self.changed.notify_all()
        return dropped

    def _drop_oldest(self, need: int) -> int:
        dropped = 0
        while self.size_bytes + need > self.max_bytes:
            oldest = min(self._seg_samples)
            if oldest == self._wseg:
                # Only the segment being written is left: start a new one and drop this.
                self._wf.close()
                self._open_segment(self._wseg + 1)
            if oldest == self.cursor.segment:
                lost = self._seg_samples[oldest] - self._samples_before(oldest, self.cursor.offset)
            else:
                lost = self._seg_samples[oldest] if oldest > self.cursor.segment else 0
            self._remove(oldest)
            dropped += lost
            self._pending -= lost
            if self.cursor.segment <= oldest:
                self.cursor = Position(min(self._seg_samples), 0)
                self._write_cursor(self.cursor)
        return dropped

    # --- reader ------------------------------------------------------------------------
    def read_from(self, pos: Position, max_samples: int) -> tuple[list[tuple[bytes, int]], Position]:
        """Records from ``pos`` on, up to about ``max_samples`` samples (at least one
        record when any), and the position after them."""
        out: list[tuple[bytes, int]] = []
        total = 0
        with self._lock:
            pos = max(pos, self.cursor)  # records before it were dropped
            wseg, wbytes = self._wseg, self._seg_bytes[self._wseg]
        while total < max_samples:
            if pos.segment > wseg or (pos.segment == wseg and pos.offset >= wbytes):
                break
            limit = wbytes if pos.segment == wseg else None
            try:
                # a plain open so only it is guarded; ``with f`` below closes it
                f = open(self._seg_path(pos.segment), "rb")  # noqa: SIM115
            except FileNotFoundError:
                pos = Position(pos.segment + 1, 0)
                continue
            with f:
                f.seek(pos.offset)
                while total < max_samples:
                    if limit is not None and f.tell() >= limit:
                        break
                    head = f.read(_HEADER.size)
                    if len(head) < _HEADER.size:
                        break
                    length, n, _ = _HEADER.unpack(head)  # CRCs are checked once, by _scan at open
                    payload = f.read(length)
                    if len(payload) < length:
                        break
                    out.append((payload, n))
                    total += n
                    pos = Position(pos.segment, pos.offset + _HEADER.size + length)
            if total < max_samples and pos.segment < wseg and (
                pos.offset >= self._seg_bytes.get(pos.segment, 0)
            ):
                pos = Position(pos.segment + 1, 0)
        return out, pos

    def ack(self, pos: Position, n_samples: int) -> None:
        """Everything before ``pos`` is acknowledged: persist the cursor, drop old segments."""
        with self._lock:
            if pos <= self.cursor:
                return
            self._write_cursor(pos)
            self.cursor = pos
            self._pending = max(0, self._pending - n_samples)
            for seg in [s for s in self._seg_samples if s < pos.segment]:
                self._remove(seg)

    def wait(self, pos: Position, timeout: float) -> bool:
        """Wait until there is something after ``pos`` (or timeout)."""
        with self._lock:
            def has_data():
                return pos.segment < self._wseg or pos.offset < self._seg_bytes[self._wseg]

            if has_data():
                return True
            return self.changed.wait_for(has_data, timeout)

    def close(self) -> None:
        with self._lock:
            self._wf.close()
