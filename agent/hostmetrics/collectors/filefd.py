"""Open file handles from /proc/sys/fs/file-nr (allocated, unused, maximum)."""

from __future__ import annotations

from agent.hostmetrics.family import GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require


def parse_file_nr(text: str) -> tuple[int, int]:
    """(allocated, maximum); the middle field has been 0 since Linux 2.6."""
    parts = text.split()
    if len(parts) < 3:
        raise ValueError(f"unexpected number of file stats: {text!r}")
    return int(parts[0]), int(parts[2])


class FileFDCollector:
    """``node_filefd_allocated`` and ``node_filefd_maximum``."""

    name = "filefd"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        allocated, maximum = parse_file_nr(require(self._paths.proc("sys", "fs", "file-nr")))
        return [
            single(
                "node_filefd_allocated", GAUGE, "File descriptor statistics: allocated.", allocated
            ),
            single("node_filefd_maximum", GAUGE, "File descriptor statistics: maximum.", maximum),
        ]
