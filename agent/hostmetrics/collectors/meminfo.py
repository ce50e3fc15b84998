"""/proc/meminfo as ``node_memory_*``, named exactly as node-exporter names them.

``Active(anon):   123 kB`` becomes ``node_memory_Active_anon_bytes`` = 123 × 1024;
a line without a unit (``HugePages_Total:  0``) keeps its name and value.
"""

from __future__ import annotations

import re

from agent.hostmetrics.family import COUNTER, GAUGE, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require

_PARENS = re.compile(r"\((.*)\)")


def parse_meminfo(text: str) -> list[tuple[str, float]]:
    """(metric suffix, value) per line, in file order; raises ValueError on a bad line."""
    out: list[tuple[str, float]] = []
    for line in text.split("\n"):
        parts = line.split()
        if not parts:
            continue  # some old kernels print blank lines
        if len(parts) not in (2, 3) or not parts[0].endswith(":"):
            raise ValueError(f"invalid line in meminfo: {line!r}")
        value = float(parts[1])
        key = _PARENS.sub(r"_\1", parts[0][:-1])
        if len(parts) == 3:
            # The only unit the kernel prints is kB (meaning KiB).
            value *= 1024
            key += "_bytes"
        out.append((key, value))
    return out


class MeminfoCollector:
    """Every /proc/meminfo field as a gauge ``node_memory_<Field>[_bytes]``."""

    name = "meminfo"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        out: dict[str, MetricFamily] = {}
        for key, value in parse_meminfo(require(self._paths.proc("meminfo"))):
            name = f"node_memory_{key}"
            type_ = COUNTER if key.endswith("_total") else GAUGE
            # A repeated key (never seen, but the format allows it) keeps the last value.
            out[name] = single(name, type_, f"Memory information field {key}.", value)
        return list(out.values())
