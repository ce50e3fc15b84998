"""Per-CPU scheduler statistics from /proc/schedstat (kernels with CONFIG_SCHEDSTATS)."""

from __future__ import annotations

from agent.hostmetrics.family import COUNTER, FamilyBuilder, MetricFamily
from agent.hostmetrics.paths import HostPaths, require


def parse_schedstat(text: str) -> list[tuple[str, int, int, int]]:
    """[(cpu, running ns, waiting ns, timeslices)] from the ``cpuN`` lines
    (fields 7-9 of each; the domain lines are skipped)."""
    out = []
    for line in text.split("\n"):
        parts = line.split()
        if not parts or not parts[0].startswith("cpu") or not parts[0][3:].isdigit():
            continue
        if len(parts) < 10:
            raise ValueError(f"schedstat cpu line with {len(parts)} fields")
        out.append((parts[0][3:], int(parts[7]), int(parts[8]), int(parts[9])))
    return out


class SchedstatCollector:
    """``node_schedstat_{running,waiting}_seconds_total`` and ``..._timeslices_total``."""

    name = "schedstat"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        running = FamilyBuilder(
            "node_schedstat_running_seconds_total",
            COUNTER,
            "Number of seconds CPU spent running a process.",
            ("cpu",),
        )
        waiting = FamilyBuilder(
            "node_schedstat_waiting_seconds_total",
            COUNTER,
            "Number of seconds spent by processing waiting for this CPU.",
            ("cpu",),
        )
        slices = FamilyBuilder(
            "node_schedstat_timeslices_total",
            COUNTER,
            "Number of timeslices executed by CPU.",
            ("cpu",),
        )
        for cpu, run_ns, wait_ns, n in parse_schedstat(require(self._paths.proc("schedstat"))):
            running.add(run_ns / 1e9, cpu)
            waiting.add(wait_ns / 1e9, cpu)
            slices.add(n, cpu)
        return [running.build(), waiting.build(), slices.build()]
