"""Configuration of the host-metrics source (``host_metrics.options`` in spyglass.yml).

Defaults are node-exporter's, so that the series match what the community's
dashboards and alert rules expect. Regular expressions are RE2 (as Go's, which
node-exporter uses) and fully anchored only where the pattern says so, exactly
as node-exporter applies them::

    cfg = HostMetricsConfig(collectors=["cpu", "meminfo"], instance="db-1")
"""

from __future__ import annotations

import re2
from pydantic import Field, field_validator

from spyglass.configtypes import ConfigModel, Duration

# Every collector this package has, in the order they run. The first group is
# what the Node Exporter Full dashboard needs; all are on by default.
ALL_COLLECTORS: tuple[str, ...] = (
    "cpu",
    "cpufreq",
    "stat",
    "meminfo",
    "loadavg",
    "pressure",
    "filesystem",
    "diskstats",
    "netdev",
    "netclass",
    "uname",
    "os",
    "time",
    "timex",
    "entropy",
    "filefd",
    "sockstat",
    "netstat",
    "vmstat",
    "arp",
    "conntrack",
    "softnet",
    "udp_queues",
    "schedstat",
    "cgroups",
)


def _check_regex(v: str) -> str:
    try:
        re2.compile(v)
    except re2.error as e:
        reason = e.args[0] if e.args else e
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression {v!r}: {reason}") from None
    return v


class FilesystemConfig(ConfigModel):
    """Which mounts ``node_filesystem_*`` reports."""

    # Mount points to skip (node-exporter's upstream default: pseudo filesystems
    # and container layers; unlike Debian's patched default it keeps /run, /mnt
    # and /media).
    mount_points_exclude: str = (
        r"^/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
    )
    # Filesystem types to skip (node-exporter's default).
    fs_types_exclude: str = (
        r"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs"
        r"|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs"
        r"|squashfs|sysfs|tracefs)$"
    )
    # How long statfs() on a network or FUSE mount may take before the mount is
    # reported with node_filesystem_device_error=1 and skipped until it answers.
    mount_timeout: Duration = 5.0

    @field_validator("mount_points_exclude", "fs_types_exclude")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)


class DeviceFilterConfig(ConfigModel):
    """Include/exclude patterns for device names (at most one of the two)."""

    # Devices to skip; empty means none.
    device_exclude: str = ""
    # When set, only devices matching this are reported (device_exclude is then ignored).
    device_include: str = ""

    @field_validator("device_exclude", "device_include")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)


class DiskstatsConfig(DeviceFilterConfig):
    """Which block devices ``node_disk_*`` reports."""

    # node-exporter's default: partitions, ramdisks, loop and floppy devices.
    device_exclude: str = r"^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$"


class NetdevConfig(DeviceFilterConfig):
    """Which interfaces ``node_network_{receive,transmit}_*`` reports."""

    # The loopback's traffic is local chatter; node-exporter's packaged default skips it.
    device_exclude: str = r"^lo$"


class NetClassConfig(ConfigModel):
    """``node_network_*`` properties from /sys/class/net."""

    # Interfaces to skip (default: none).
    ignored_devices: str = "^$"
    # Drop node_network_speed_bytes when the driver reports -1 (unknown speed);
    # node-exporter's default keeps it (as -125000).
    ignore_invalid_speed: bool = False

    @field_validator("ignored_devices")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)


class CgroupsConfig(ConfigModel):
    """Per-cgroup CPU and memory from cgroup v2, with cAdvisor's metric names."""

    # The cgroup v2 mount; empty means find it in /proc/self/mountinfo
    # (then /sys/fs/cgroup, /sys/fs/cgroup/unified under root_path).
    path: str = ""
    # How deep below the root cgroup to report: 0 is the root only, 2 reaches
    # /system.slice/docker-<id>.scope, 4 reaches Kubernetes containers.
    max_depth: int = Field(default=2, ge=0, le=16)
    # At most this many cgroups per collection, shallowest first, so a host
    # with thousands of cgroups cannot flood the TSDB.
    max_cgroups: int = Field(default=500, ge=1)


class HostMetricsConfig(ConfigModel):
    """Options of the host-metrics source."""

    # Collectors to run (names from ALL_COLLECTORS); default: all of them.
    collectors: list[str] = Field(default_factory=lambda: list(ALL_COLLECTORS))
    # The job label of every series. "node" is what node-exporter scrape jobs
    # are usually called; the Node Exporter Full dashboard lists whatever jobs
    # have node_uname_info.
    job: str = "node"
    # The instance label; empty means this host's name (uname nodename), which
    # cannot collide with a "host:9100" node-exporter target of the same host.
    instance: str = ""
    # More labels added to every series (after job and instance; cannot override them).
    extra_labels: dict[str, str] = Field(default_factory=dict)
    # The host's root filesystem as seen by the agent ("/host" in a DaemonSet
    # that mounts the host's / there). /proc and /sys are looked up under it.
    root_path: str = "/"
    # procfs mount, when not <root_path>/proc.
    proc_path: str = ""
    # sysfs mount, when not <root_path>/sys.
    sys_path: str = ""
    # Also emit node_scrape_collector_duration_seconds and
    # node_scrape_collector_success per collector (the dashboard's "scrape" panels).
    collector_metrics: bool = True

    # Mounts reported by node_filesystem_*.
    filesystem: FilesystemConfig = Field(default_factory=FilesystemConfig)
    # Block devices reported by node_disk_*.
    diskstats: DiskstatsConfig = Field(default_factory=DiskstatsConfig)
    # Interfaces reported by node_network_{receive,transmit}_*.
    netdev: NetdevConfig = Field(default_factory=NetdevConfig)
    # Interfaces reported by node_network_up, _info and the other sysfs properties.
    netclass: NetClassConfig = Field(default_factory=NetClassConfig)
    # Interfaces reported by node_arp_entries (default: all).
    arp: DeviceFilterConfig = Field(default_factory=DeviceFilterConfig)
    # netstat fields to report, matched against "Protocol_Field": node-exporter's
    # current default (1.5 lacked TcpExt_TCPOFOQueue and TcpExt_TCPRcvQDrop) plus
    # Tcp_MaxConn, which the Node Exporter Full dashboard also plots.
    netstat_fields: str = (
        r"^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
        r"|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)"
        r"|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab|MaxConn)"
        r"|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$"
    )
    # /proc/vmstat fields to report (node-exporter's default).
    vmstat_fields: str = r"^(oom_kill|pgpg|pswp|pg.*fault).*"
    # Per-cgroup series (container_*): where cgroup v2 is and how much of it to report.
    cgroups: CgroupsConfig = Field(default_factory=CgroupsConfig)

    @field_validator("netstat_fields", "vmstat_fields")
    @classmethod
    def _regex(cls, v: str) -> str:
        return _check_regex(v)

    @field_validator("collectors")
    @classmethod
    def _known_collectors(cls, v: list[str]) -> list[str]:
        unknown = [c for c in v if c not in ALL_COLLECTORS]
        if unknown:
            raise ValueError(f"unknown collector(s) {unknown}; known: {', '.join(ALL_COLLECTORS)}")
        if len(set(v)) != len(v):
            raise ValueError("a collector is listed twice")
        return v

    @field_validator("extra_labels")
    @classmethod
    def _no_target_labels(cls, v: dict[str, str]) -> dict[str, str]:
        for k in v:
            if k in ("job", "instance", "__name__"):
                raise ValueError(f"extra_labels cannot set {k!r} (use the {k} field)")
        return v
