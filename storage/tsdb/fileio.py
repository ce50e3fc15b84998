"""The file operations the TSDB writes through.

Everything the TSDB writes (WAL segments, checkpoints, block files) goes
through one ``FileIO`` object, so tests can make the disk "full" at a chosen
byte and check that nothing half-written survives. ``ENOSPC`` and ``EDQUOT``
become ``StorageFullError`` (retryable) at the callers::

    io = FileIO()
    fd = io.open_write(path)
    io.write(fd, b"...")
    io.fsync(fd); io.close(fd)
"""

from __future__ import annotations

import errno
import os
import shutil

from storage.interface import StorageError, StorageFullError

_FULL = (errno.ENOSPC, errno.EDQUOT)


def is_disk_full(e: BaseException) -> bool:
    return isinstance(e, OSError) and e.errno in _FULL


def storage_error(e: OSError, what: str) -> StorageError:
    """Map an OSError to the storage error callers should see."""
    if is_disk_full(e):
        return StorageFullError(f"disk full while {what}: {e}")
    return StorageError(f"I/O error while {what}: {e}")


class FileIO:
    """Plain OS file operations (the production implementation)."""

    def open_write(self, path: str, truncate: bool = False) -> int:
        flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if truncate else 0)
        fd = os.open(path, flags, 0o644)
        os.lseek(fd, 0, os.SEEK_END)
        return fd

    def write(self, fd: int, data) -> None:
        view = memoryview(data)
        while len(view):
            n = os.write(fd, view)
            view = view[n:]

    def fsync(self, fd: int) -> None:
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        os.ftruncate(fd, size)
        os.lseek(fd, size, os.SEEK_SET)

    def close(self, fd: int) -> None:
        os.close(fd)

    def write_file(self, path: str, chunks) -> int:
        """Write and fsync a whole new file; returns its size."""
        fd = self.open_write(path, truncate=True)
        size = 0
        try:
            for c in chunks:
                self.write(fd, c)
                size += len(c)
            self.fsync(fd)
        finally:
            os.close(fd)
        return size

    def fsync_dir(self, path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def mkdir(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)

    def rename(self, src: str, dst: str) -> None:
        os.replace(src, dst)

    def remove_tree(self, path: str) -> None:
        shutil.rmtree(path, ignore_errors=True)

    def remove(self, path: str) -> None:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
