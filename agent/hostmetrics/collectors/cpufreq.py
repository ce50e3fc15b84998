"""CPU frequencies from /sys/devices/system/cpu/cpu*/cpufreq (absent on most VMs)."""

from __future__ import annotations

import os

from agent.hostmetrics.family import GAUGE, FamilyBuilder, MetricFamily, non_empty
from agent.hostmetrics.paths import HostPaths, NoDataError, read_int

# (file in cpufreq/, metric, help); the kernel reports kHz.
_FILES = (
    ("cpuinfo_cur_freq", "node_cpu_frequency_hertz", "Current cpu thread frequency in hertz."),
    ("cpuinfo_min_freq", "node_cpu_frequency_min_hertz", "Minimum cpu thread frequency in hertz."),
    ("cpuinfo_max_freq", "node_cpu_frequency_max_hertz", "Maximum cpu thread frequency in hertz."),
    (
        "scaling_cur_freq",
        "node_cpu_scaling_frequency_hertz",
        "Current scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_min_freq",
        "node_cpu_scaling_frequency_min_hertz",
        "Minimum scaled CPU thread frequency in hertz.",
    ),
    (
        "scaling_max_freq",
        "node_cpu_scaling_frequency_max_hertz",
        "Maximum scaled CPU thread frequency in hertz.",
    ),
)


def _cpu_dirs(base: str) -> list[tuple[str, str]]:
    out = []
    try:
        names = os.listdir(base)
    except FileNotFoundError:
        raise NoDataError(f"{base} does not exist") from None
    for n in names:
        if n.startswith("cpu") and n[3:].isdigit():
            out.append((n[3:], os.path.join(base, n, "cpufreq")))
    out.sort(key=lambda t: int(t[0]))
    return out


class CPUFreqCollector:
    """``node_cpu_frequency_*`` and ``node_cpu_scaling_frequency_*`` per CPU."""

    name = "cpufreq"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        builders = [FamilyBuilder(m, GAUGE, h, ("cpu",)) for _, m, h in _FILES]
        for num, d in _cpu_dirs(self._paths.sys("devices", "system", "cpu")):
            if not os.path.isdir(d):
                continue
            for (fname, _, _), b in zip(_FILES, builders):
                khz = read_int(os.path.join(d, fname))
                if khz is not None:
                    b.add(khz * 1000.0, num)
        fams = non_empty(builders)
        if not fams:
            raise NoDataError("no cpufreq information")
        return fams
