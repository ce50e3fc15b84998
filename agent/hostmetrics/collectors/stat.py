"""/proc/stat: per-CPU time (the ``cpu`` collector) and kernel activity counters
(the ``stat`` collector: boot time, context switches, interrupts, forks, processes)."""

from __future__ import annotations

from typing import NamedTuple

from agent.hostmetrics.family import COUNTER, GAUGE, FamilyBuilder, MetricFamily, single
from agent.hostmetrics.paths import HostPaths, require

# /proc/stat counts CPU time in USER_HZ ticks, which the kernel fixes at 100
# for user space on every architecture (sysconf(_SC_CLK_TCK)).
USER_HZ = 100.0

# Column order of a "cpuN" line; kernels before 2.6.33 stop after steal or guest.
CPU_FIELDS = (
    "user",
    "nice",
    "system",
    "idle",
    "iowait",
    "irq",
    "softirq",
    "steal",
    "guest",
    "guest_nice",
)


class ProcStat(NamedTuple):
    """The parts of /proc/stat node-exporter reports; CPU times in seconds."""

    cpus: tuple[tuple[str, tuple[float, ...]], ...]  # ("0", (user, nice, ...)), in file order
    intr: int | None
    ctxt: int | None
    btime: int | None
    processes: int | None
    procs_running: int | None
    procs_blocked: int | None


def parse_proc_stat(text: str) -> ProcStat:
    cpus: list[tuple[str, tuple[float, ...]]] = []
    found: dict[str, int] = {}
    for line in text.split("\n"):
        parts = line.split()
        if not parts:
            continue
        key = parts[0]
        if key.startswith("cpu"):
            if key == "cpu":
                continue  # the all-CPU sum; node-exporter reports per CPU only
            times = tuple(int(x) / USER_HZ for x in parts[1 : 1 + len(CPU_FIELDS)])
            cpus.append((key[3:], times))
        elif key in ("intr", "ctxt", "btime", "processes", "procs_running", "procs_blocked"):
            if len(parts) < 2:
                raise ValueError(f"malformed /proc/stat line: {line!r}")
            found[key] = int(parts[1])
    return ProcStat(
        tuple(cpus),
        found.get("intr"),
        found.get("ctxt"),
        found.get("btime"),
        found.get("processes"),
        found.get("procs_running"),
        found.get("procs_blocked"),
    )


# If idle goes back by this much, the CPU was unplugged and plugged again:
# start over instead of clinging to the old values (node-exporter's rule).
_JUMP_BACK_SECONDS = 3.0


class CPUCollector:
    """``node_cpu_seconds_total{cpu,mode}`` and ``node_cpu_guest_seconds_total``.

    Some kernels let a CPU's counters dip for a moment; a counter that goes
    back would read as a reset to ``rate()``, so a value lower than the last
    one is held, as node-exporter does::

        CPUCollector(HostPaths()).collect(time.time())
    """

    name = "cpu"

    def __init__(self, paths: HostPaths):
        self._paths = paths
        self._last: dict[str, list[float]] = {}

    def collect(self, now: float) -> list[MetricFamily]:
        stat = parse_proc_stat(require(self._paths.proc("stat")))
        cpu = FamilyBuilder(
            "node_cpu_seconds_total",
            COUNTER,
            "Seconds the CPUs spent in each mode.",
            ("cpu", "mode"),
        )
        guest = FamilyBuilder(
            "node_cpu_guest_seconds_total",
            COUNTER,
            "Seconds the CPUs spent in guests (VMs) for each mode.",
            ("cpu", "mode"),
        )
        if {c for c, _ in stat.cpus} != set(self._last):
            self._last = {}
        last_all: dict[str, list[float]] = {}
        for num, times in stat.cpus:
            vals = list(times) + [0.0] * (len(CPU_FIELDS) - len(times))
            last = self._last.get(num)
            if last is not None and last[3] - vals[3] < _JUMP_BACK_SECONDS:
                vals = [max(v, old) for v, old in zip(vals, last)]
            last_all[num] = vals
            for mode, v in zip(CPU_FIELDS[:8], vals[:8]):
                cpu.add(v, num, mode)
            # Guest time is also inside user and nice; node-exporter reports it
            # apart and leaves user/nice as the kernel gives them.
            guest.add(vals[8], num, "user")
            guest.add(vals[9], num, "nice")
        self._last = last_all
        # node-exporter emits modes in alphabetical order within a CPU; the
        # storage sorts anyway, so file order is kept.
        return [cpu.build(), guest.build()]


class StatCollector:
    """Boot time, context switches, interrupts, forks, running/blocked processes."""

    name = "stat"

    def __init__(self, paths: HostPaths):
        self._paths = paths

    def collect(self, now: float) -> list[MetricFamily]:
        s = parse_proc_stat(require(self._paths.proc("stat")))
        out: list[MetricFamily] = []
        for value, name, type_, help_ in (
            (s.intr, "node_intr_total", COUNTER, "Total number of interrupts serviced."),
            (s.ctxt, "node_context_switches_total", COUNTER, "Total number of context switches."),
            (s.processes, "node_forks_total", COUNTER, "Total number of forks."),
            (s.btime, "node_boot_time_seconds", GAUGE, "Node boot time, in unixtime."),
            (
                s.procs_running,
                "node_procs_running",
                GAUGE,
                "Number of processes in runnable state.",
            ),
            (
                s.procs_blocked,
                "node_procs_blocked",
                GAUGE,
                "Number of processes blocked waiting for I/O to complete.",
            ),
        ):
            if value is not None:
                out.append(single(name, type_, help_, value))
        return out
