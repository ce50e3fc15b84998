"""Mounted filesystems: size, free and available bytes, inodes, read-only flag.

The mount table is the one of PID 1 (the host's, when the agent shares the
host's PID namespace), else the agent's own; ``statfs`` is called on each
mount point under the root path, and mounts are filtered with node-exporter's
default mount-point and filesystem-type exclusions.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from typing import NamedTuple

import re2

from agent.hostmetrics.family import GAUGE, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, NoDataError

_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")

# statfs() on these can block for minutes when the server or the FUSE daemon
# is gone, so it runs in a helper thread with a timeout. On local filesystems
# it never blocks and a thread would only cost time.
_BLOCKING_FSTYPES = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "ceph",
        "glusterfs",
        "9p",
        "lustre",
        "afs",
        "davfs",
        "sshfs",
        "gpfs",
        "beegfs",
        "ocfs2",
        "gfs2",
        "vboxsf",
        "virtiofs",
    }
)


class Mount(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    options: str


def unescape_mount_field(s: str) -> str:
    """The kernel writes space, tab, newline and backslash in paths as octal escapes."""
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), s) if "\\" in s else s


def parse_mounts(text: str) -> list[Mount]:
    """Parse /proc/<pid>/mounts (fstab format); raises ValueError on a short line."""
    out = []
    for line in text.split("\n"):
        # Lines end with \n only and fields are separated by single spaces (the
        # kernel escapes space, tab, newline and backslash in paths); other
        # whitespace such as \v or U+0085 can be part of a path.
        parts = [p for p in line.split(" ") if p]
        if not parts:
            continue
        if len(parts) < 4:
            raise ValueError(f"malformed mount point information: {line!r}")
        out.append(Mount(parts[0], unescape_mount_field(parts[1]), parts[2], parts[3]))
    return out


class StatfsResult(NamedTuple):
    """The statfs fields node-exporter reports (``os.statvfs_result`` has them too)."""

    f_bsize: int
    f_blocks: int
    f_bfree: int
    f_bavail: int
    f_files: int
    f_ffree: int


StatfsFunc = Callable[[str], StatfsResult]


class _StuckMounts:
    """Mount points whose statfs did not answer in time; they are skipped
    (reported with device_error=1) until the pending call returns."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._stuck: set[str] = set()
        self._lock = threading.Lock()

    def is_stuck(self, mountpoint: str) -> bool:
        with self._lock:
            return mountpoint in self._stuck

    def call(self, statfs: StatfsFunc, path: str, mountpoint: str) -> StatfsResult:
        box: list = []
        done = threading.Event()

        def run():
            try:
                box.append(statfs(path))
            except BaseException as e:  # noqa: BLE001 - handed back to the caller below
                box.append(e)
            finally:
                # Under the lock, so the caller cannot mark the mount stuck
                # after this call has already returned.
                with self._lock:
                    self._stuck.discard(mountpoint)
                    done.set()

        threading.Thread(target=run, name=f"statfs {mountpoint}", daemon=True).start()
        if not done.wait(self.timeout):
            with self._lock:
                if not done.is_set():
                    self._stuck.add(mountpoint)
                    raise TimeoutError(f"statfs({mountpoint}) did not answer in {self.timeout}s")
        r = box[0]
        if isinstance(r, BaseException):
            raise r
        return r


_LABELS = ("device", "fstype", "mountpoint")


class FilesystemCollector:
    """``node_filesystem_{size,free,avail}_bytes``, ``_files``, ``_files_free``,
    ``_readonly`` and ``_device_error`` per mount::

        FilesystemCollector(HostPaths(), cfg.filesystem).collect(time.time())
    """

    name = "filesystem"

    def __init__(
        self,
        paths: HostPaths,
        mount_points_exclude: str,
        fs_types_exclude: str,
        mount_timeout: float = 5.0,
        statfs: StatfsFunc = os.statvfs,  # type: ignore[assignment]
    ):
        self._paths = paths
        self._mp_exclude = re2.compile(mount_points_exclude)
        self._fs_exclude = re2.compile(fs_types_exclude)
        self._statfs = statfs
        self._stuck = _StuckMounts(mount_timeout)

    def _mounts(self) -> list[Mount]:
        for path in (self._paths.proc("1", "mounts"), self._paths.proc("mounts")):
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
            except (FileNotFoundError, PermissionError):
                continue  # /proc/1 is hidden under hidepid: use our own table
            return [
                m._replace(mountpoint=self._paths.strip_root(m.mountpoint))
                for m in parse_mounts(text)
            ]
        raise NoDataError("no mount table in procfs")

    def collect(self, now: float) -> list[MetricFamily]:
        fams = {
            key: FamilyBuilder(name, GAUGE, help_, _LABELS)
            for key, name, help_ in (
                (
                    "error",
                    "node_filesystem_device_error",
                    "Whether an error occurred while getting statistics for the given device.",
                ),
                ("size", "node_filesystem_size_bytes", "Filesystem size in bytes."),
                ("free", "node_filesystem_free_bytes", "Filesystem free space in bytes."),
                (
                    "avail",
                    "node_filesystem_avail_bytes",
                    "Filesystem space available to non-root users in bytes.",
                ),
                ("files", "node_filesystem_files", "Filesystem total file nodes."),
                ("files_free", "node_filesystem_files_free", "Filesystem total free file nodes."),
                ("ro", "node_filesystem_readonly", "Filesystem read-only status."),
            )
        }
        seen: set[tuple[str, str, str]] = set()
        for m in self._mounts():
            if self._mp_exclude.search(m.mountpoint) or self._fs_exclude.search(m.fstype):
                continue
            key = (m.device, m.fstype, m.mountpoint)
            # The same device mounted twice at one place (bind mounts, a
            # remount over itself) is one series, as in node-exporter.
            if key in seen:
                continue
            seen.add(key)
            st = self._stat(m)
            fams["error"].add(0.0 if st is not None else 1.0, *key)
            if st is None:
                continue
            bs = float(st.f_bsize)
            fams["size"].add(st.f_blocks * bs, *key)
            fams["free"].add(st.f_bfree * bs, *key)
            fams["avail"].add(st.f_bavail * bs, *key)
            fams["files"].add(st.f_files, *key)
            fams["files_free"].add(st.f_ffree, *key)
            fams["ro"].add(1.0 if "ro" in m.options.split(",") else 0.0, *key)
        return [b.build() for b in fams.values()]

    def _stat(self, m: Mount) -> StatfsResult | None:
        path = self._paths.root(m.mountpoint)
        try:
            if m.fstype in _BLOCKING_FSTYPES or m.fstype.startswith("fuse"):
                if self._stuck.is_stuck(m.mountpoint):
                    return None
                return self._stuck.call(self._statfs, path, m.mountpoint)
            return self._statfs(path)
        except (OSError, TimeoutError):
            return None
