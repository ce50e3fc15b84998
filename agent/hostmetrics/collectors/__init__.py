"""The collectors, one module each, named after node-exporter's collectors.

``FACTORIES`` maps a collector name (as listed in ``HostMetricsConfig.collectors``)
to a function building it from the config and the host paths::

    c = FACTORIES["meminfo"](HostMetricsConfig(), HostPaths())
"""

from __future__ import annotations

from collections.abc import Callable

from agent.hostmetrics.collector import Collector, DeviceFilter
from agent.hostmetrics.collectors.arp import ARPCollector
from agent.hostmetrics.collectors.cgroups import CgroupsCollector
from agent.hostmetrics.collectors.conntrack import ConntrackCollector
from agent.hostmetrics.collectors.cpufreq import CPUFreqCollector
from agent.hostmetrics.collectors.diskstats import DiskstatsCollector
from agent.hostmetrics.collectors.entropy import EntropyCollector
from agent.hostmetrics.collectors.filefd import FileFDCollector
from agent.hostmetrics.collectors.filesystem import FilesystemCollector
from agent.hostmetrics.collectors.loadavg import LoadavgCollector
from agent.hostmetrics.collectors.meminfo import MeminfoCollector
from agent.hostmetrics.collectors.netclass import NetClassCollector
from agent.hostmetrics.collectors.netdev import NetDevCollector
from agent.hostmetrics.collectors.netstat import NetstatCollector
from agent.hostmetrics.collectors.os_release import OSReleaseCollector
from agent.hostmetrics.collectors.pressure import PressureCollector
from agent.hostmetrics.collectors.schedstat import SchedstatCollector
from agent.hostmetrics.collectors.sockstat import SockstatCollector
from agent.hostmetrics.collectors.softnet import SoftnetCollector
from agent.hostmetrics.collectors.stat import CPUCollector, StatCollector
from agent.hostmetrics.collectors.time import TimeCollector
from agent.hostmetrics.collectors.timex import TimexCollector
from agent.hostmetrics.collectors.udp_queues import UDPQueuesCollector
from agent.hostmetrics.collectors.uname import UnameCollector
from agent.hostmetrics.collectors.vmstat import VmstatCollector
from agent.hostmetrics.config import DeviceFilterConfig, HostMetricsConfig
from agent.hostmetrics.paths import HostPaths

Factory = Callable[[HostMetricsConfig, HostPaths], Collector]


def _filter(f: DeviceFilterConfig) -> DeviceFilter:
    return DeviceFilter(exclude=f.device_exclude, include=f.device_include)


FACTORIES: dict[str, Factory] = {
    "cpu": lambda c, p: CPUCollector(p),
    "cpufreq": lambda c, p: CPUFreqCollector(p),
    "stat": lambda c, p: StatCollector(p),
    "meminfo": lambda c, p: MeminfoCollector(p),
    "loadavg": lambda c, p: LoadavgCollector(p),
    "pressure": lambda c, p: PressureCollector(p),
    "filesystem": lambda c, p: FilesystemCollector(
        p,
        c.filesystem.mount_points_exclude,
        c.filesystem.fs_types_exclude,
        c.filesystem.mount_timeout,
    ),
    "diskstats": lambda c, p: DiskstatsCollector(p, _filter(c.diskstats)),
    "netdev": lambda c, p: NetDevCollector(p, _filter(c.netdev)),
    "netclass": lambda c, p: NetClassCollector(
        p, c.netclass.ignored_devices, c.netclass.ignore_invalid_speed
    ),
    "uname": lambda c, p: UnameCollector(p),
    "os": lambda c, p: OSReleaseCollector(p),
    "time": lambda c, p: TimeCollector(p),
    "timex": lambda c, p: TimexCollector(),
    "entropy": lambda c, p: EntropyCollector(p),
    "filefd": lambda c, p: FileFDCollector(p),
    "sockstat": lambda c, p: SockstatCollector(p),
    "netstat": lambda c, p: NetstatCollector(p, c.netstat_fields),
    "vmstat": lambda c, p: VmstatCollector(p, c.vmstat_fields),
    "arp": lambda c, p: ARPCollector(p, _filter(c.arp)),
    "conntrack": lambda c, p: ConntrackCollector(p),
    "softnet": lambda c, p: SoftnetCollector(p),
    "udp_queues": lambda c, p: UDPQueuesCollector(p),
    "schedstat": lambda c, p: SchedstatCollector(p),
    "cgroups": lambda c, p: CgroupsCollector(
        p, c.cgroups.path, c.cgroups.max_depth, c.cgroups.max_cgroups
    ),
}


def build_collectors(config: HostMetricsConfig, paths: HostPaths) -> list[Collector]:
    return [FACTORIES[name](config, paths) for name in config.collectors]
