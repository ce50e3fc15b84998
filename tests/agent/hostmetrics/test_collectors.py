"""Each collector over the recorded files of tests/agent/fixtures/host, with exact values."""

import os

import pytest

from agent.hostmetrics.collector import DeviceFilter, FieldFilter
from agent.hostmetrics.collectors.arp import ARPCollector
from agent.hostmetrics.collectors.conntrack import ConntrackCollector
from agent.hostmetrics.collectors.cpufreq import CPUFreqCollector
from agent.hostmetrics.collectors.diskstats import DiskstatsCollector
from agent.hostmetrics.collectors.entropy import EntropyCollector
from agent.hostmetrics.collectors.filefd import FileFDCollector
from agent.hostmetrics.collectors.filesystem import FilesystemCollector, StatfsResult
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
from agent.hostmetrics.config import HostMetricsConfig
from agent.hostmetrics.paths import HostPaths, NoDataError
from storage.interface import MetricType

CFG = HostMetricsConfig()
NOW = 1_795_445_000.25


def by_name(fams):
    out = {f.name: f for f in fams}
    assert len(out) == len(fams), "a family name appears twice"
    return out


def test_cpu(host_paths):
    f = by_name(CPUCollector(host_paths).collect(NOW))
    cpu = f["node_cpu_seconds_total"]
    assert cpu.type is MetricType.COUNTER and cpu.label_names == ("cpu", "mode")
    assert len(cpu) == 16  # 2 CPUs x 8 modes; the "cpu" total line is not reported
    assert cpu.value(cpu="0", mode="user") == 22.17
    assert cpu.value(cpu="0", mode="nice") == 14.31
    assert cpu.value(cpu="1", mode="idle") == 896.22
    assert cpu.value(cpu="1", mode="steal") == 0.09
    guest = f["node_cpu_guest_seconds_total"]
    assert {tuple(lv) for lv in guest.label_values} == {
        ("0", "user"),
        ("0", "nice"),
        ("1", "user"),
        ("1", "nice"),
    }
    assert set(guest.values) == {0.0}


def test_cpu_counters_never_go_back(tmp_path):
    (tmp_path / "proc").mkdir()
    stat = tmp_path / "proc" / "stat"
    c = CPUCollector(HostPaths.from_root(str(tmp_path)))
    stat.write_text("cpu0 100 0 50 1000 0 0 0 0 0 0\n")
    c.collect(NOW)
    # user dips by 1 tick: the old value is held.
    stat.write_text("cpu0 99 0 60 1001 0 0 0 0 0 0\n")
    f = by_name(c.collect(NOW))["node_cpu_seconds_total"]
    assert f.value(cpu="0", mode="user") == 1.0
    assert f.value(cpu="0", mode="system") == 0.6
    # idle back by more than 3 s: a hot-plugged CPU, start over.
    stat.write_text("cpu0 5 0 5 500 0 0 0 0 0 0\n")
    f = by_name(c.collect(NOW))["node_cpu_seconds_total"]
    assert f.value(cpu="0", mode="user") == 0.05
    assert f.value(cpu="0", mode="idle") == 5.0


def test_stat(host_paths):
    f = by_name(StatCollector(host_paths).collect(NOW))
    assert f["node_intr_total"].values == (414657.0,)
    assert f["node_context_switches_total"].values == (880844.0,)
    assert f["node_forks_total"].values == (16993.0,)
    assert f["node_boot_time_seconds"].values == (1795444913.0,)
    assert f["node_boot_time_seconds"].type is MetricType.GAUGE
    assert f["node_procs_running"].values == (1.0,)
    assert f["node_procs_blocked"].values == (0.0,)


def test_meminfo(host_paths):
    f = by_name(MeminfoCollector(host_paths).collect(NOW))
    assert len(f) == 54  # one family per meminfo line
    assert f["node_memory_MemTotal_bytes"].values == (24684084 * 1024.0,)
    assert f["node_memory_Active_anon_bytes"].values == (1568 * 1024.0,)
    assert f["node_memory_Hugepagesize_bytes"].values == (2048 * 1024.0,)
    # no unit: no _bytes suffix and no scaling
    assert f["node_memory_HugePages_Total"].values == (0.0,)
    assert "node_memory_HugePages_Total_bytes" not in f
    assert f["node_memory_MemTotal_bytes"].help == "Memory information field MemTotal_bytes."
    assert all(x.type is MetricType.GAUGE for x in f.values())


def test_loadavg(host_paths):
    f = by_name(LoadavgCollector(host_paths).collect(NOW))
    assert (f["node_load1"].values, f["node_load5"].values, f["node_load15"].values) == (
        (0.13,),
        (0.15,),
        (0.10,),
    )


def test_pressure(host_paths):
    f = by_name(PressureCollector(host_paths).collect(NOW))
    assert f["node_pressure_cpu_waiting_seconds_total"].values == (14.848309,)
    assert f["node_pressure_io_waiting_seconds_total"].values == (5.795204,)
    assert f["node_pressure_io_stalled_seconds_total"].values == (5.459502,)
    assert f["node_pressure_memory_stalled_seconds_total"].values == (0.0,)
    # the recording kernel has no /proc/pressure/irq
    assert "node_pressure_irq_stalled_seconds_total" not in f
    assert "node_pressure_cpu_stalled_seconds_total" not in f


def test_pressure_irq_and_missing(tmp_path):
    p = tmp_path / "proc" / "pressure"
    p.mkdir(parents=True)
    (p / "irq").write_text("full avg10=0.00 avg60=0.00 avg300=0.00 total=2500000\n")
    f = by_name(PressureCollector(HostPaths.from_root(str(tmp_path))).collect(NOW))
    assert f["node_pressure_irq_stalled_seconds_total"].values == (2.5,)
    with pytest.raises(NoDataError):
        PressureCollector(HostPaths.from_root(str(tmp_path / "nothing"))).collect(NOW)


def test_filesystem(host_paths, recorded_statfs):
    c = FilesystemCollector(
        host_paths,
        CFG.filesystem.mount_points_exclude,
        CFG.filesystem.fs_types_exclude,
        statfs=recorded_statfs,
    )
    f = by_name(c.collect(NOW))
    # Only / survives the default exclusions on the recording machine.
    labels = {"device": "/dev/vda", "fstype": "ext4", "mountpoint": "/"}
    assert f["node_filesystem_size_bytes"].samples() == [(labels, 66053021 * 4096.0)]
    assert f["node_filesystem_free_bytes"].value(**labels) == 59763943 * 4096.0
    assert f["node_filesystem_avail_bytes"].value(**labels) == 20308650 * 4096.0
    assert f["node_filesystem_files"].value(**labels) == 16777216
    assert f["node_filesystem_files_free"].value(**labels) == 16336873
    assert f["node_filesystem_readonly"].value(**labels) == 0
    assert f["node_filesystem_device_error"].value(**labels) == 0


def test_filesystem_rules(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "mounts").write_text(  # no proc/1/mounts: falls back to proc/mounts
        "/dev/sda1 / ext4 rw 0 0\n"
        "/dev/sda1 / ext4 rw 0 0\n"  # the same mount twice: one series
        "/dev/sdb1 /mnt/with\\040space xfs ro,relatime 0 0\n"
        "server:/x /nfs nfs4 rw 0 0\n"
        "tmpfs /run/credentials/a.service tmpfs ro 0 0\n"  # excluded mount point
        "overlay /var/lib/docker/overlay2/x/merged overlay rw 0 0\n"
        "cgroup2 /srv/cg cgroup2 rw 0 0\n"  # excluded type
        "/dev/sdc1 /broken ext4 rw 0 0\n"
    )
    calls = []

    def statfs(path):
        calls.append(path)
        if path.endswith("broken"):
            raise OSError(5, "Input/output error")
        return StatfsResult(1024, 100, 50, 40, 10, 5)

    c = FilesystemCollector(
        HostPaths.from_root(str(tmp_path)),
        CFG.filesystem.mount_points_exclude,
        CFG.filesystem.fs_types_exclude,
        statfs=statfs,
    )
    f = by_name(c.collect(NOW))
    err = {s[0]["mountpoint"]: s[1] for s in f["node_filesystem_device_error"].samples()}
    assert err == {"/": 0, "/mnt/with space": 0, "/nfs": 0, "/broken": 1}
    ro = {s[0]["mountpoint"]: s[1] for s in f["node_filesystem_readonly"].samples()}
    assert ro == {"/": 0, "/mnt/with space": 1, "/nfs": 0}  # no size etc. for the broken one
    assert (
        f["node_filesystem_size_bytes"].value(device="server:/x", fstype="nfs4", mountpoint="/nfs")
        == 102400
    )
    # statfs is called under the root path, once per distinct mount
    assert sorted(os.path.relpath(p, tmp_path) for p in calls) == [
        ".",
        "broken",
        "mnt/with space",
        "nfs",
    ]


def test_filesystem_stuck_network_mount(tmp_path):
    import threading

    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "mounts").write_text(
        "server:/x /nfs nfs rw 0 0\n/dev/sda1 / ext4 rw 0 0\n"
    )
    release = threading.Event()

    def statfs(path):
        if path.endswith("nfs"):
            release.wait(10)
        return StatfsResult(4096, 1, 1, 1, 1, 1)

    c = FilesystemCollector(
        HostPaths.from_root(str(tmp_path)),
        CFG.filesystem.mount_points_exclude,
        CFG.filesystem.fs_types_exclude,
        mount_timeout=0.05,
        statfs=statfs,
    )
    for _ in range(2):  # the second collection skips the stuck mount without waiting
        f = by_name(c.collect(NOW))
        err = {s[0]["mountpoint"]: s[1] for s in f["node_filesystem_device_error"].samples()}
        assert err == {"/nfs": 1, "/": 0}
    release.set()
    for _ in range(100):
        if not c._stuck.is_stuck("/nfs"):
            break
        threading.Event().wait(0.01)
    f = by_name(c.collect(NOW))
    assert (
        f["node_filesystem_device_error"].value(device="server:/x", fstype="nfs", mountpoint="/nfs")
        == 0
    )


def test_diskstats(host_paths):
    c = DiskstatsCollector(
        host_paths,
        DeviceFilter(exclude=CFG.diskstats.device_exclude),
        udev_data_path="/nonexistent",
    )
    f = by_name(c.collect(NOW))
    devices = {lv[0] for lv in f["node_disk_reads_completed_total"].label_values}
    assert devices == {"vda", "zram0"}  # loop0-7 excluded by default
    vda = {"device": "vda"}
    assert f["node_disk_reads_completed_total"].value(**vda) == 95655
    assert f["node_disk_reads_merged_total"].value(**vda) == 13769
    assert f["node_disk_read_bytes_total"].value(**vda) == 4957418 * 512.0
    assert f["node_disk_read_time_seconds_total"].value(**vda) == 36.77
    assert f["node_disk_written_bytes_total"].value(**vda) == 5744408 * 512.0
    assert f["node_disk_io_now"].value(**vda) == 0
    assert f["node_disk_io_now"].type is MetricType.GAUGE
    assert f["node_disk_io_time_seconds_total"].value(**vda) == 12.08
    assert (
        f["node_disk_io_time_weighted_seconds_total"].value(**vda) == 56282 * 1e-3
    )  # multiplied, as node-exporter does
    assert f["node_disk_discards_completed_total"].value(**vda) == 9524
    assert f["node_disk_discarded_sectors_total"].value(**vda) == 312784
    assert f["node_disk_discard_time_seconds_total"].value(**vda) == 0.746
    assert f["node_disk_flush_requests_total"].value(**vda) == 4040
    assert (
        f["node_disk_flush_requests_time_seconds_total"].value(**vda) == 238 * 1e-3
    )  # 0.23800000000000002, as node-exporter prints it
    assert f["node_disk_info"].samples()[0] == (
        {
            "device": "vda",
            "major": "254",
            "minor": "0",
            "model": "",
            "path": "",
            "revision": "",
            "serial": "",
            "wwn": "",
        },
        1.0,
    )
    assert "node_disk_filesystem_info" not in f


def test_diskstats_udev(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "diskstats").write_text("   8       0 sda 1 2 3 4 5 6 7 8 9 10 11\n")
    udev = tmp_path / "udev"
    udev.mkdir()
    (udev / "b8:0").write_text(
        "S:disk/by-id/x\nE:ID_MODEL=Samsung_SSD\nE:ID_SERIAL_SHORT=S1\nE:ID_FS_TYPE=ext4\nE:ID_FS_UUID=u-1\n"
        "E:ID_ATA=1\nE:ID_ATA_ROTATION_RATE_RPM=0\nE:ID_ATA_WRITE_CACHE=1\nE:ID_ATA_WRITE_CACHE_ENABLED=yes\n"
    )
    c = DiskstatsCollector(
        HostPaths.from_root(str(tmp_path)), DeviceFilter(), udev_data_path=str(udev)
    )
    f = by_name(c.collect(NOW))
    info = f["node_disk_info"].samples()[0][0]
    assert (info["model"], info["serial"]) == ("Samsung_SSD", "S1")
    assert f["node_disk_filesystem_info"].samples()[0][0] == {
        "device": "sda",
        "type": "ext4",
        "usage": "",
        "uuid": "u-1",
        "version": "",
    }
    assert f["node_disk_ata_rotation_rate_rpm"].values == (0.0,)
    assert f["node_disk_ata_write_cache"].values == (1.0,)
    assert "node_disk_ata_write_cache_enabled" not in f  # "yes" is not a number
    # an 11-counter kernel: no discard or flush families
    assert "node_disk_discards_completed_total" not in f
    assert f["node_disk_io_time_weighted_seconds_total"].values == (0.011,)


def test_netdev(host_paths):
    c = NetDevCollector(host_paths, DeviceFilter(exclude=CFG.netdev.device_exclude))
    f = by_name(c.collect(NOW))
    assert {lv[0] for lv in f["node_network_receive_bytes_total"].label_values} == {
        "eth0",
        "ifb0",
        "ifb1",
    }
    assert f["node_network_receive_bytes_total"].value(device="eth0") == 242920632
    assert f["node_network_transmit_packets_total"].value(device="eth0") == 2997
    assert f["node_network_receive_bytes_total"].help == "Network device statistic receive_bytes."
    expected = {
        f"node_network_receive_{k}_total"
        for k in (
            "bytes",
            "packets",
            "errs",
            "drop",
            "fifo",
            "frame",
            "compressed",
            "multicast",
            "nohandler",
        )
    }
    expected |= {
        f"node_network_transmit_{k}_total"
        for k in ("bytes", "packets", "errs", "drop", "fifo", "colls", "carrier", "compressed")
    }
    assert set(f) == expected
    assert f["node_network_receive_nohandler_total"].value(device="eth0") == 0


def test_netclass(host_paths):
    f = by_name(NetClassCollector(host_paths).collect(NOW))
    assert f["node_network_up"].samples() == [
        ({"device": "eth0"}, 1.0),
        ({"device": "ifb0"}, 0.0),
        ({"device": "ifb1"}, 0.0),
        ({"device": "lo"}, 0.0),
    ]
    assert (
        {
            "address": "02:fc:00:00:00:01",
            "broadcast": "ff:ff:ff:ff:ff:ff",
            "device": "eth0",
            "duplex": "unknown",
            "ifalias": "",
            "operstate": "up",
        },
        1.0,
    ) in f["node_network_info"].samples()
    assert f["node_network_flags"].value(device="eth0") == 0x1003
    assert f["node_network_flags"].value(device="lo") == 9
    assert f["node_network_mtu_bytes"].value(device="eth0") == 1400
    assert f["node_network_speed_bytes"].samples() == [({"device": "eth0"}, -125000.0)]
    assert f["node_network_iface_id"].value(device="ifb1") == 3
    assert f["node_network_protocol_type"].value(device="lo") == 772
    # the carrier of a down interface is unreadable: left out
    assert {lv[0] for lv in f["node_network_carrier"].label_values} == {"eth0", "lo"}
    assert f["node_network_carrier_changes_total"].type is MetricType.COUNTER
    f2 = by_name(
        NetClassCollector(host_paths, ignored_devices="^ifb", ignore_invalid_speed=True).collect(
            NOW
        )
    )
    assert "node_network_speed_bytes" not in f2
    assert {lv[0] for lv in f2["node_network_up"].label_values} == {"eth0", "lo"}


def test_uname(host_paths):
    f = UnameCollector(host_paths).collect(NOW)[0]
    assert f.name == "node_uname_info" and f.values == (1.0,)
    assert f.samples()[0][0] == {
        "domainname": "(none)",
        "machine": "x86_64",
        "nodename": "vm",
        "release": "6.18.44-fc-v669",
        "sysname": "Linux",
        "version": "#1 SMP PREEMPT_DYNAMIC @0",
    }


def test_os_release(host_paths):
    c = OSReleaseCollector(host_paths)
    f = by_name(c.collect(NOW))
    info = f["node_os_info"].samples()[0][0]
    assert info["pretty_name"] == "Debian GNU/Linux 12 (bookworm)"
    assert (info["id"], info["version_id"], info["version_codename"], info["build_id"]) == (
        "debian",
        "12",
        "bookworm",
        "",
    )
    assert f["node_os_version"].samples() == [
        ({"id": "debian", "id_like": "", "name": "Debian GNU/Linux"}, 12.0)
    ]
    assert c.collect(NOW) is c.collect(NOW)  # unchanged file: cached families


def test_time(host_paths, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    import time

    time.tzset()
    try:
        f = by_name(TimeCollector(host_paths).collect(NOW))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert f["node_time_seconds"].values == (NOW,)
    assert f["node_time_zone_offset_seconds"].samples() == [({"time_zone": "UTC"}, 0.0)]
    assert f["node_time_clocksource_available_info"].samples() == [
        ({"clocksource": "tsc", "device": "0"}, 1.0),
        ({"clocksource": "kvm-clock", "device": "0"}, 1.0),
    ]
    assert f["node_time_clocksource_current_info"].samples() == [
        ({"clocksource": "tsc", "device": "0"}, 1.0)
    ]


def test_timex(recorded_timex):
    f = by_name(TimexCollector(lambda: recorded_timex).collect(NOW))
    assert f["node_timex_sync_status"].values == (0.0,)  # state 5 = TIME_ERROR
    assert f["node_timex_maxerror_seconds"].values == (16.0,)
    assert f["node_timex_tick_seconds"].values == (0.01,)
    assert f["node_timex_status"].values == (64.0,)
    assert f["node_timex_frequency_adjustment_ratio"].values == (1.0,)
    assert f["node_timex_pps_calibration_total"].type is MetricType.COUNTER
    assert len(f) == 17
    nano = recorded_timex._replace(status=0x2000, offset=1500, state=0, freq=65536)
    f = by_name(TimexCollector(lambda: nano).collect(NOW))
    assert f["node_timex_offset_seconds"].values == (1.5e-6,)  # STA_NANO: ns
    assert f["node_timex_sync_status"].values == (1.0,)
    assert f["node_timex_frequency_adjustment_ratio"].values == (1 + 1e-6,)


def test_small_proc_files(host_paths):
    f = by_name(EntropyCollector(host_paths).collect(NOW))
    assert f["node_entropy_available_bits"].values == (256.0,)
    assert f["node_entropy_pool_size_bits"].values == (256.0,)
    f = by_name(FileFDCollector(host_paths).collect(NOW))
    assert f["node_filefd_allocated"].values == (591.0,)
    assert f["node_filefd_maximum"].values == (2466170.0,)
    f = by_name(ARPCollector(host_paths, DeviceFilter()).collect(NOW))
    assert f["node_arp_entries"].samples() == [({"device": "eth0"}, 1.0)]
    assert ARPCollector(host_paths, DeviceFilter(exclude="^eth")).collect(NOW) == []
    f = by_name(ConntrackCollector(host_paths).collect(NOW))
    assert f["node_nf_conntrack_entries"].values == (0.0,)
    assert f["node_nf_conntrack_entries_limit"].values == (262144.0,)
    assert len(f) == 10
    f = by_name(UDPQueuesCollector(host_paths).collect(NOW))
    assert f["node_udp_queues"].samples() == [
        ({"ip": "v4", "queue": "tx"}, 0.0),
        ({"ip": "v4", "queue": "rx"}, 0.0),
        ({"ip": "v6", "queue": "tx"}, 0.0),
        ({"ip": "v6", "queue": "rx"}, 0.0),
    ]


def test_sockstat(host_paths):
    f = by_name(SockstatCollector(host_paths, page_size=4096).collect(NOW))
    assert f["node_sockstat_sockets_used"].values == (17.0,)
    assert f["node_sockstat_TCP_tw"].values == (3.0,)
    assert f["node_sockstat_TCP_mem"].values == (254.0,)
    assert f["node_sockstat_TCP_mem_bytes"].values == (254 * 4096.0,)
    assert f["node_sockstat_FRAG_memory"].values == (0.0,)
    assert f["node_sockstat_TCP6_inuse"].values == (0.0,)
    assert "node_sockstat_TCP6_mem" not in f
    assert f["node_sockstat_UDP_inuse"].help == "Number of UDP sockets in state inuse."


def test_netstat(host_paths):
    f = by_name(NetstatCollector(host_paths, CFG.netstat_fields).collect(NOW))
    assert f["node_netstat_Tcp_ActiveOpens"].values == (67.0,)
    assert f["node_netstat_Tcp_MaxConn"].values == (-1.0,)
    assert f["node_netstat_Tcp_InErrs"].values == (0.0,)
    assert f["node_netstat_Ip_Forwarding"].values == (2.0,)
    assert f["node_netstat_TcpExt_TCPTimeouts"].values == (2.0,)
    assert f["node_netstat_Ip6_InOctets"].values == (128.0,)
    assert f["node_netstat_Icmp6_InMsgs"].values == (1.0,)
    assert f["node_netstat_Udp_OutDatagrams"].help == "Statistic UdpOutDatagrams."
    assert f["node_netstat_Udp_OutDatagrams"].type is MetricType.UNKNOWN
    assert "node_netstat_Tcp_RtoMin" not in f  # not in the default field set
    assert "node_netstat_Ip_DefaultTTL" not in f


def test_vmstat(host_paths):
    f = by_name(VmstatCollector(host_paths, CFG.vmstat_fields).collect(NOW))
    assert set(f) == {
        "node_vmstat_pgpgin",
        "node_vmstat_pgpgout",
        "node_vmstat_pswpin",
        "node_vmstat_pswpout",
        "node_vmstat_pgfault",
        "node_vmstat_pgmajfault",
        "node_vmstat_oom_kill",
    }
    assert f["node_vmstat_pgfault"].values == (6096166.0,)
    assert f["node_vmstat_pgfault"].type is MetricType.UNKNOWN


def test_softnet(host_paths):
    f = by_name(SoftnetCollector(host_paths).collect(NOW))
    assert f["node_softnet_processed_total"].samples() == [
        ({"cpu": "0"}, 0x16D),
        ({"cpu": "1"}, 0x15A0),
    ]
    # column 12 carries the CPU number on this kernel
    assert f["node_softnet_backlog_len"].samples() == [({"cpu": "0"}, 0.0), ({"cpu": "1"}, 0.0)]
    assert f["node_softnet_backlog_len"].type is MetricType.GAUGE
    assert len(f) == 7


def test_schedstat_and_cpufreq(tmp_path, host_paths):
    with pytest.raises(NoDataError):  # the recording kernel has no schedstat
        SchedstatCollector(host_paths).collect(NOW)
    with pytest.raises(NoDataError):  # nor cpufreq (a VM)
        CPUFreqCollector(host_paths).collect(NOW)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "schedstat").write_text(
        "version 15\ntimestamp 4294\ncpu0 0 0 0 0 0 0 2500000000 1000000000 42\ndomain0 3 1 2 3\n"
        "cpu1 0 0 0 0 0 0 1 2 3\n"
    )
    f = by_name(SchedstatCollector(HostPaths.from_root(str(tmp_path))).collect(NOW))
    assert f["node_schedstat_running_seconds_total"].samples() == [
        ({"cpu": "0"}, 2.5),
        ({"cpu": "1"}, 1e-9),
    ]
    assert f["node_schedstat_waiting_seconds_total"].value(cpu="0") == 1.0
    assert f["node_schedstat_timeslices_total"].value(cpu="0") == 42
    for cpu, cur in (("0", "2400000"), ("1", "800000")):
        d = tmp_path / "sys" / "devices" / "system" / "cpu" / f"cpu{cpu}" / "cpufreq"
        d.mkdir(parents=True)
        (d / "scaling_cur_freq").write_text(cur + "\n")
        (d / "scaling_min_freq").write_text("400000\n")
        (d / "cpuinfo_max_freq").write_text("3000000\n")
    (tmp_path / "sys" / "devices" / "system" / "cpu" / "cpufreq").mkdir()  # not a cpuN dir
    f = by_name(CPUFreqCollector(HostPaths.from_root(str(tmp_path))).collect(NOW))
    assert f["node_cpu_scaling_frequency_hertz"].samples() == [
        ({"cpu": "0"}, 2.4e9),
        ({"cpu": "1"}, 8e8),
    ]
    assert f["node_cpu_frequency_max_hertz"].value(cpu="1") == 3e9
    assert set(f) == {
        "node_cpu_scaling_frequency_hertz",
        "node_cpu_scaling_frequency_min_hertz",
        "node_cpu_frequency_max_hertz",
    }


def test_missing_sources_are_no_data(tmp_path):
    empty = HostPaths.from_root(str(tmp_path))
    for c in (
        CPUCollector(empty),
        StatCollector(empty),
        MeminfoCollector(empty),
        LoadavgCollector(empty),
        NetDevCollector(empty, DeviceFilter()),
        NetClassCollector(empty),
        EntropyCollector(empty),
        FileFDCollector(empty),
        SockstatCollector(empty),
        ConntrackCollector(empty),
        UDPQueuesCollector(empty),
        OSReleaseCollector(empty),
        SoftnetCollector(empty),
    ):
        with pytest.raises(NoDataError):
            c.collect(NOW)


def test_field_filter_searches_unanchored():
    f = FieldFilter("^(pgpg|oom_kill)|_total$")
    assert [n for n in ("pgpgin", "oom_kill", "x_total", "nr_free_pages", "pgpg") if f.wanted(n)] \
        == ["pgpgin", "oom_kill", "x_total", "pgpg"]
    assert f.wanted("TcpExt_x") is False and f.wanted("TcpExt_x") is False  # a remembered verdict
    assert FieldFilter("").wanted("anything")  # an empty pattern matches every name

