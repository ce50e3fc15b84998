"""A small append-only record file with snapshot compaction.

Silences and the notification log must survive restarts, and a crash must
not lose what was acknowledged. Each change is appended as one checksummed
line and fsynced; the file is rewritten (atomically, by rename) when the
appended history grows well past the live state. The format is documented in
``FORMAT.md`` next to this file::

    log = RecordLog(path)
    for rec in log.load(): ...          # replays, drops a torn tail
    log.append({"op": "set", ...})
    log.rewrite(current_records)
"""

from __future__ import annotations

import json
import os
import threading
import zlib
from collections.abc import Iterable
from typing import Any

VERSION_HEADER = {"op": "header", "format": "spyglass-recordlog", "version": 1}


def _line(rec: dict[str, Any]) -> bytes:
    body = json.dumps(rec, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return b"%08x " % zlib.crc32(body) + body + b"\n"


class RecordLog:
    """Checksummed JSON lines; ``load`` stops at the first damaged line."""

    def __init__(self, path: str, fsync: bool = True):
        self.path = path
        self._fsync = fsync
        self._lock = threading.Lock()
        self._f = None
        self.appended = 0  # records appended since the last rewrite
        self.dropped_bytes = 0  # damaged tail found by the last load

    def load(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return out
        good = 0
        pos = 0
        while pos < len(data):
            end = data.find(b"\n", pos)
            if end < 0:
                break  # torn last line
            line = data[pos:end]
            pos = end + 1
            if len(line) < 10 or line[8:9] != b" ":
                break
            body = line[9:]
            try:
                if int(line[:8], 16) != zlib.crc32(body):
                    break
                rec = json.loads(body)
            except ValueError:
                break
            good = pos
            if rec.get("op") != "header":
                out.append(rec)
        self.dropped_bytes = len(data) - good
        if self.dropped_bytes:
            # Cut the damage off so new appends follow a good line.
            with open(self.path, "r+b") as f:
                f.truncate(good)
        return out

    def _open(self):
        if self._f is None:
            new = not os.path.exists(self.path) or os.path.getsize(self.path) == 0
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            # Held open across appends and closed by close(), so no `with` here.
            self._f = open(self.path, "ab")  # noqa: SIM115
            if new:
                self._f.write(_line(VERSION_HEADER))
        return self._f

    def append(self, rec: dict[str, Any]) -> None:
        with self._lock:
            f = self._open()
            f.write(_line(rec))
            f.flush()
            if self._fsync:
                os.fsync(f.fileno())
            self.appended += 1

    def rewrite(self, records: Iterable[dict[str, Any]]) -> int:
        """Replace the file by exactly ``records``; returns its size in bytes."""
        with self._lock:
            tmp = self.path + ".tmp"
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(_line(VERSION_HEADER))
                f.writelines(_line(rec) for rec in records)
                f.flush()
                if self._fsync:
                    os.fsync(f.fileno())
                size = f.tell()
            if self._f is not None:
                self._f.close()
                self._f = None
            os.replace(tmp, self.path)
            if self._fsync:
                dfd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
                try:
                    os.fsync(dfd)
                finally:
                    os.close(dfd)
            self.appended = 0
            return size

    def close(self) -> None:
        with self._lock:
            if self._f is not None:
                self._f.close()
                self._f = None
