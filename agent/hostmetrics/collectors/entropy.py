"""Kernel entropy pool from /proc/sys/kernel/random."""

from __future__ import annotations

from agent.hostmetrics.family import GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require


class EntropyCollector:
    """``node_entropy_available_bits`` and ``node_entropy_pool_size_bits``."""

    name = "entropy"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        avail = int(require(self._paths.proc("sys", "kernel", "random", "entropy_avail")))
        pool = int(require(self._paths.proc("sys", "kernel", "random", "poolsize")))
        return [
            single("node_entropy_available_bits", GAUGE, "Bits of available entropy.", avail),
            single("node_entropy_pool_size_bits", GAUGE, "Bits of entropy pool.", pool),
        ]
