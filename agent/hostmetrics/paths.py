"""Where the host's /proc, /sys and root filesystem are, and how to read them.

Collectors never open ``/proc/...`` literally: they ask a ``HostPaths`` so that
the agent can read the host through a bind mount (a DaemonSet mounts the host's
``/`` at ``/host``) and tests can point it at recorded files::

    paths = HostPaths.from_root("tests/agent/fixtures/host")
    text = read_text(paths.proc("meminfo"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class NoDataError(Exception):
    """The host does not have what a collector reads (no /proc/pressure, no
    conntrack module...). Expected, so not counted as an error; the collector's
    ``node_scrape_collector_success`` is 0, as node-exporter reports it."""


@dataclass(frozen=True, slots=True)
class HostPaths:
    """Roots of procfs, sysfs and the host's root filesystem."""

    proc_root: str = "/proc"
    sys_root: str = "/sys"
    rootfs: str = "/"

    @classmethod
    def from_root(
        cls, root: str = "/", proc_path: str | None = None, sys_path: str | None = None
    ) -> HostPaths:
        return cls(
            proc_path or os.path.join(root, "proc"),
            sys_path or os.path.join(root, "sys"),
            root,
        )

    def proc(self, *parts: str) -> str:
        return os.path.join(self.proc_root, *parts)

    def sys(self, *parts: str) -> str:
        return os.path.join(self.sys_root, *parts)

    def root(self, path: str) -> str:
        """A host path (``/etc/os-release``, a mount point) as seen from here."""
        if self.rootfs in ("", "/"):
            return path
        return os.path.join(self.rootfs, path.lstrip("/"))

    def strip_root(self, path: str) -> str:
        """The inverse of :meth:`root` for paths read from the host's mount table."""
        if self.rootfs in ("", "/"):
            return path
        prefix = self.rootfs.rstrip("/")
        if path == prefix:
            return "/"
        if path.startswith(prefix + "/"):
            return path[len(prefix) :]
        return path


def read_text(path: str) -> str:
    # procfs and sysfs files report a size of 0 or 4096, so read until EOF;
    # errors="replace" because interface aliases and mount paths are user text.
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def read_optional(path: str) -> str | None:
    """The file's text, or None when it is absent or the kernel refuses the read
    (sysfs answers EINVAL for the carrier of a down interface, for example)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def read_int(path: str) -> int | None:
    text = read_optional(path)
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def require(path: str) -> str:
    """Read a file the collector cannot work without; absent means no data."""
    try:
        return read_text(path)
    except FileNotFoundError:
        raise NoDataError(f"{path} does not exist") from None
