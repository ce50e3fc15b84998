"""Pressure stall information (PSI) from /proc/pressure/{cpu,io,memory,irq}.

Each file has a ``some`` line (some tasks stalled) and, except for cpu on
older kernels, a ``full`` line (all non-idle tasks stalled), with the total
stall time in microseconds.
"""

from __future__ import annotations

import os

from agent.hostmetrics.family import COUNTER, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, NoDataError, read_optional


def parse_psi(text: str) -> dict[str, float]:
    """{"some": total_us, "full": total_us} for the lines present."""
    out: dict[str, float] = {}
    for line in text.split("\n"):
        parts = line.split()
        if not parts or parts[0] not in ("some", "full"):
            continue
        for kv in parts[1:]:
            k, _, v = kv.partition("=")
            if k == "total":
                out[parts[0]] = float(v)
                break
        else:
            raise ValueError(f"PSI line without total: {line!r}")
    return out


# (resource, line, metric, help): node-exporter's current set. CPU "full" is
# not reported (it is always 0 at the system level); IRQ has only "full".
_METRICS = (
    (
        "cpu",
        "some",
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    (
        "io",
        "some",
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    (
        "io",
        "full",
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    (
        "memory",
        "some",
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    (
        "memory",
        "full",
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    (
        "irq",
        "full",
        "node_pressure_irq_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
)


class PressureCollector:
    """``node_pressure_*_seconds_total`` for the resources the kernel reports."""

    name = "pressure"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        if not os.path.isdir(self._paths.proc("pressure")):
            raise NoDataError("kernel without PSI (/proc/pressure)")
        parsed: dict[str, dict[str, float]] = {}
        for res in ("cpu", "io", "memory", "irq"):
            # Reading a PSI file fails with EOPNOTSUPP when PSI is compiled in
            # but disabled at boot (psi=0); that is no data, like a missing file.
            text = read_optional(self._paths.proc("pressure", res))
            if text is not None:
                parsed[res] = parse_psi(text)
        if not parsed:
            raise NoDataError("PSI is disabled")
        out = []
        for res, line, name, help_ in _METRICS:
            total = parsed.get(res, {}).get(line)
            if total is not None:
                out.append(single(name, COUNTER, help_, total / 1e6))
        return out
