"""Per-cgroup CPU, memory and pressure from cgroup v2, under cAdvisor's metric names.

Each cgroup down to ``max_depth`` below the root is one ``id`` (its path in
the hierarchy, ``/`` for the root, ``/system.slice/docker-<id>.scope`` for a
container), exactly the ``id`` label cAdvisor gives it. Using cAdvisor's
names lets cAdvisor/Docker dashboards show a plain Docker or systemd host.
The series carry no ``container``/``image``/``pod`` labels, so the
kubernetes-mixin queries (which select ``container!=""`` or ``image!=""``)
never count them twice next to the kubelet's own cAdvisor data.

Which file gives what (cgroup v2, Documentation/admin-guide/cgroup-v2.rst):

- ``cpu.stat`` usage/user/system_usec → ``container_cpu_{usage,user,system}_seconds_total``;
  nr_periods, nr_throttled, throttled_usec → ``container_cpu_cfs_*`` when ``cpu.max`` sets a quota
- ``memory.current`` → ``container_memory_usage_bytes``; minus ``inactive_file``
  from ``memory.stat`` → ``container_memory_working_set_bytes`` (cAdvisor's definition)
- ``memory.stat`` anon/file/file_mapped/active_file/inactive_file → rss, cache,
  mapped_file, total_{active,inactive}_file_bytes
- ``memory.swap.current``, ``memory.peak``, ``memory.max`` (``max`` → 0, as
  cAdvisor reports no limit), ``memory.events`` oom_kill → ``container_oom_events_total``
- ``{cpu,memory,io}.pressure`` some/full totals → ``container_pressure_*_{waiting,stalled}_seconds_total``

The root cgroup has only ``cpu.stat`` and the pressure files in cgroup v2,
so it reports CPU and pressure only. cgroup v1 hierarchies are not read.
"""

from __future__ import annotations

import os
from collections import deque

from agent.hostmetrics.collectors.pressure import parse_psi
from agent.hostmetrics.family import COUNTER, GAUGE, FamilyBuilder, MetricFamily, non_empty
from agent.hostmetrics.paths import HostPaths, NoDataError, read_optional


def parse_flat_keyed(text: str) -> dict[str, int]:
    """cgroup "flat keyed" files (cpu.stat, memory.stat, memory.events): ``key value`` lines."""
    out = {}
    for line in text.split("\n"):
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def find_cgroup2_mount(paths: HostPaths) -> str | None:
    """The cgroup v2 mount: from /proc/self/mountinfo, else the usual places under the root."""
    candidates = []
    text = read_optional(paths.proc("self", "mountinfo"))
    for line in (text or "").split("\n"):
        # "36 25 0:30 / /sys/fs/cgroup rw,... shared:9 - cgroup2 cgroup2 rw"
        left, sep, right = line.partition(" - ")
        if sep and right.split()[:1] == ["cgroup2"]:
            fields = left.split()
            if len(fields) >= 5:
                candidates.append(paths.root(fields[4].replace("\\040", " ")))
    candidates += [paths.sys("fs", "cgroup"), paths.sys("fs", "cgroup", "unified")]
    for c in candidates:
        if os.path.isfile(os.path.join(c, "cgroup.controllers")):
            return c
    return None


_F = {
    # key: (metric, type, help); every family is labelled by id, the usage one by cpu too
    "cpu_usage": (
        "container_cpu_usage_seconds_total",
        COUNTER,
        "Cumulative cpu time consumed in seconds.",
    ),
    "cpu_user": (
        "container_cpu_user_seconds_total",
        COUNTER,
        "Cumulative user cpu time consumed in seconds.",
    ),
    "cpu_system": (
        "container_cpu_system_seconds_total",
        COUNTER,
        "Cumulative system cpu time consumed in seconds.",
    ),
    "cfs_periods": (
        "container_cpu_cfs_periods_total",
        COUNTER,
        "Number of elapsed enforcement period intervals.",
    ),
    "cfs_throttled_periods": (
        "container_cpu_cfs_throttled_periods_total",
        COUNTER,
        "Number of throttled period intervals.",
    ),
    "cfs_throttled_seconds": (
        "container_cpu_cfs_throttled_seconds_total",
        COUNTER,
        "Total time duration the container has been throttled.",
    ),
    "cpu_quota": ("container_spec_cpu_quota", GAUGE, "CPU quota of the container."),
    "cpu_period": ("container_spec_cpu_period", GAUGE, "CPU period of the container."),
    "mem_usage": (
        "container_memory_usage_bytes",
        GAUGE,
        "Current memory usage in bytes, including all memory regardless of when it was accessed",
    ),
    "mem_working_set": (
        "container_memory_working_set_bytes",
        GAUGE,
        "Current working set in bytes.",
    ),
    "mem_rss": ("container_memory_rss", GAUGE, "Size of RSS in bytes."),
    "mem_cache": ("container_memory_cache", GAUGE, "Number of bytes of page cache memory."),
    "mem_mapped_file": (
        "container_memory_mapped_file",
        GAUGE,
        "Size of memory mapped files in bytes.",
    ),
    "mem_active_file": (
        "container_memory_total_active_file_bytes",
        GAUGE,
        "Current total active file in bytes.",
    ),
    "mem_inactive_file": (
        "container_memory_total_inactive_file_bytes",
        GAUGE,
        "Current total inactive file in bytes.",
    ),
    "mem_swap": ("container_memory_swap", GAUGE, "Container swap usage in bytes."),
    "mem_max_usage": (
        "container_memory_max_usage_bytes",
        GAUGE,
        "Maximum memory usage recorded in bytes",
    ),
    "mem_limit": ("container_spec_memory_limit_bytes", GAUGE, "Memory limit for the container."),
    "oom_events": (
        "container_oom_events_total",
        COUNTER,
        "Count of out of memory events observed for the container",
    ),
    "cpu_waiting": (
        "container_pressure_cpu_waiting_seconds_total",
        COUNTER,
        "Total time duration tasks in the container have waited due to CPU congestion.",
    ),
    "cpu_stalled": (
        "container_pressure_cpu_stalled_seconds_total",
        COUNTER,
        "Total time duration no tasks in the container could make progress due to CPU congestion.",
    ),
    "memory_waiting": (
        "container_pressure_memory_waiting_seconds_total",
        COUNTER,
        "Total time duration tasks in the container have waited due to memory congestion.",
    ),
    "memory_stalled": (
        "container_pressure_memory_stalled_seconds_total",
        COUNTER,
        ("Total time duration no tasks in the container could make progress due to memory "
         "congestion."),
    ),
    "io_waiting": (
        "container_pressure_io_waiting_seconds_total",
        COUNTER,
        "Total time duration tasks in the container have waited due to IO congestion.",
    ),
    "io_stalled": (
        "container_pressure_io_stalled_seconds_total",
        COUNTER,
        "Total time duration no tasks in the container could make progress due to IO congestion.",
    ),
}


class CgroupsCollector:
    """cAdvisor-named series for each cgroup v2 group down to ``max_depth``::

    CgroupsCollector(HostPaths(), max_depth=2, max_cgroups=500).collect(time.time())
    """

    name = "cgroups"

    def __init__(
        self, paths: HostPaths, path: str = "", max_depth: int = 2, max_cgroups: int = 500
    ):
        self._paths = paths
        self._path = path
        self._max_depth = max_depth
        self._max_cgroups = max_cgroups
        self.truncated = 0  # cgroups left out by max_cgroups in the last collection

    def _root(self) -> str:
        if self._path:
            if not os.path.isdir(self._path):
                raise NoDataError(f"cgroup path {self._path} does not exist")
            return self._path
        root = find_cgroup2_mount(self._paths)
        if root is None:
            raise NoDataError("no cgroup v2 hierarchy")
        return root

    def _walk(self, root: str) -> list[tuple[str, str]]:
        """(id, directory) breadth first, so the limit keeps the shallow groups."""
        out: list[tuple[str, str]] = []
        queue = deque([("/", root, 0)])
        self.truncated = 0
        while queue:
            cid, d, depth = queue.popleft()
            if len(out) >= self._max_cgroups:
                self.truncated += 1
                continue
            out.append((cid, d))
            if depth >= self._max_depth:
                continue
            try:
                children = sorted(e.name for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
            except OSError:
                continue  # removed while we walked
            prefix = cid.rstrip("/")
            for name in children:
                queue.append((f"{prefix}/{name}", os.path.join(d, name), depth + 1))
        return out

    def collect(self, now: float) -> list[MetricFamily]:
        b = {
            k: FamilyBuilder(n, t, h, ("cpu", "id") if k == "cpu_usage" else ("id",))
            for k, (n, t, h) in _F.items()
        }

        def add(key: str, value: float, cid: str) -> None:
            if key == "cpu_usage":
                b[key].add(value, "total", cid)
            else:
                b[key].add(value, cid)

        for cid, d in self._walk(self._root()):
            self._read_cpu(d, cid, add)
            self._read_memory(d, cid, add)
            for res in ("cpu", "memory", "io"):
                text = read_optional(os.path.join(d, f"{res}.pressure"))
                if text:
                    psi = parse_psi(text)
                    if "some" in psi:
                        add(f"{res}_waiting", psi["some"] / 1e6, cid)
                    if "full" in psi:
                        add(f"{res}_stalled", psi["full"] / 1e6, cid)
        return non_empty(list(b.values()))

    @staticmethod
    def _read_cpu(d: str, cid: str, add) -> None:
        text = read_optional(os.path.join(d, "cpu.stat"))
        if not text:
            return
        st = parse_flat_keyed(text)
        for key, field in (
            ("cpu_usage", "usage_usec"),
            ("cpu_user", "user_usec"),
            ("cpu_system", "system_usec"),
        ):
            if field in st:
                add(key, st[field] / 1e6, cid)
        cpu_max = (read_optional(os.path.join(d, "cpu.max")) or "").split()
        if len(cpu_max) == 2 and cpu_max[0] != "max":
            # As cAdvisor: throttling counters only mean something under a quota.
            add("cpu_quota", int(cpu_max[0]), cid)
            add("cpu_period", int(cpu_max[1]), cid)
            if "nr_periods" in st:
                add("cfs_periods", st["nr_periods"], cid)
                add("cfs_throttled_periods", st.get("nr_throttled", 0), cid)
                add("cfs_throttled_seconds", st.get("throttled_usec", 0) / 1e6, cid)

    @staticmethod
    def _read_memory(d: str, cid: str, add) -> None:
        current = read_optional(os.path.join(d, "memory.current"))
        if current is None:
            return  # the root cgroup, or the memory controller is not enabled here
        usage = int(current)
        add("mem_usage", usage, cid)
        stat = parse_flat_keyed(read_optional(os.path.join(d, "memory.stat")) or "")
        inactive = stat.get("inactive_file")
        if inactive is not None:
            add("mem_working_set", max(usage - inactive, 0), cid)
        for key, field in (
            ("mem_rss", "anon"),
            ("mem_cache", "file"),
            ("mem_mapped_file", "file_mapped"),
            ("mem_active_file", "active_file"),
            ("mem_inactive_file", "inactive_file"),
        ):
            if field in stat:
                add(key, stat[field], cid)
        for key, fname in (("mem_swap", "memory.swap.current"), ("mem_max_usage", "memory.peak")):
            text = read_optional(os.path.join(d, fname))
            if text is not None:
                add(key, int(text), cid)
        limit = read_optional(os.path.join(d, "memory.max"))
        if limit is not None:
            limit = limit.strip()
            add("mem_limit", 0 if limit == "max" else int(limit), cid)
        events = read_optional(os.path.join(d, "memory.events"))
        if events is not None:
            add("oom_events", parse_flat_keyed(events).get("oom_kill", 0), cid)
