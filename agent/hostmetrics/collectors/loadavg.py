"""/proc/loadavg as ``node_load1``, ``node_load5``, ``node_load15``."""

from __future__ import annotations

from agent.hostmetrics.family import GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require


def parse_loadavg(text: str) -> tuple[float, float, float]:
    parts = text.split()
    if len(parts) < 3:
        raise ValueError(f"unexpected content in loadavg: {text!r}")
    return float(parts[0]), float(parts[1]), float(parts[2])


class LoadavgCollector:
    """The 1, 5 and 15 minute load averages."""

    name = "loadavg"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        l1, l5, l15 = parse_loadavg(require(self._paths.proc("loadavg")))
        return [
            single("node_load1", GAUGE, "1m load average.", l1),
            single("node_load5", GAUGE, "5m load average.", l5),
            single("node_load15", GAUGE, "15m load average.", l15),
        ]
