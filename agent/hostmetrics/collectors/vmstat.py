"""Virtual memory counters from /proc/vmstat (page faults, paging, swapping, OOM kills)."""

from __future__ import annotations

from agent.hostmetrics.collector import FieldFilter
from agent.hostmetrics.family import UNTYPED, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require


def parse_vmstat(text: str) -> list[tuple[str, float]]:
    out = []
    for line in text.split("\n"):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ValueError(f"malformed vmstat line: {line!r}")
        out.append((parts[0], float(parts[1])))
    return out


class VmstatCollector:
    """``node_vmstat_<field>`` for the fields matching the configured pattern (untyped)."""

    name = "vmstat"

    def __init__(self, paths: HostPaths, fields: str):
        self._paths = paths
        self._fields = FieldFilter(fields)

    def collect(self, now: float) -> list[MetricFamily]:
        out = []
        for k, v in parse_vmstat(require(self._paths.proc("vmstat"))):
            if self._fields.wanted(k):
                out.append(
                    single(f"node_vmstat_{k}", UNTYPED, f"/proc/vmstat information field {k}.", v)
                )
        return out
