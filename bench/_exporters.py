"""The series three kube-prometheus-stack scrape targets of one node expose.

``node_exporter``, ``kubelet`` (its own /metrics: mostly histograms) and
``cadvisor`` (the kubelet's /metrics/cadvisor: per container and per pod)
each call ``add(name, labels, model) -> series index`` once per series, with
the label sets kube-prometheus-stack gives them and ``Model``s in the units
the exporters read from the kernel or the runtime::

    node_exporter(node=0, r=random.Random(1), add=lambda name, labels, model: ...)
"""

from __future__ import annotations

import math
import random

from bench._valuemodels import CLOCK, GAUGE, Model, const, counter, gauge, histogram, sparse

_CPU_MODES = {
    "idle": 0.72,
    "user": 0.16,
    "system": 0.06,
    "iowait": 0.01,
    "irq": 0.0,
    "softirq": 0.004,
    "steal": 0.0,
    "nice": 0.0005,
}
_MEMINFO = {  # name: (mean kB, sd kB per scrape, phi)
    "MemFree": (2_400_000, 9_000, 1.0),
    "MemAvailable": (9_800_000, 12_000, 1.0),
    "Buffers": (310_000, 300, 1.0),
    "Cached": (6_900_000, 6_000, 1.0),
    "Active": (7_200_000, 8_000, 1.0),
    "Inactive": (4_100_000, 5_000, 1.0),
    "Active_anon": (4_800_000, 7_000, 1.0),
    "Inactive_anon": (120_000, 200, 1.0),
    "Active_file": (2_400_000, 2_500, 1.0),
    "Inactive_file": (4_000_000, 4_000, 1.0),
    "Dirty": (2_000, 1_500, 0.3),
    "Writeback": (0, 2, 0.1),
    "AnonPages": (4_700_000, 7_000, 1.0),
    "Mapped": (900_000, 600, 1.0),
    "Shmem": (80_000, 40, 1.0),
    "Slab": (700_000, 900, 1.0),
    "SReclaimable": (450_000, 700, 1.0),
    "SUnreclaim": (250_000, 300, 1.0),
    "KernelStack": (22_000, 60, 0.95),
    "PageTables": (60_000, 150, 1.0),
    "Committed_AS": (14_000_000, 20_000, 1.0),
    "VmallocUsed": (40_000, 30, 0.95),
}
_MEM_CONST = {
    "MemTotal": 16_384_000,
    "SwapTotal": 0,
    "SwapFree": 0,
    "HugePages_Total": 0,
    "Hugepagesize": 2048,
    "VmallocTotal": 34_359_738_367,
}
_NAMESPACES = [
    "default",
    "kube-system",
    "monitoring",
    "ingress-nginx",
    "cert-manager",
    "payments",
    "checkout",
    "search",
    "identity",
    "data-pipeline",
    "web",
    "batch",
]
_APPS = [
    "api",
    "web",
    "worker",
    "redis",
    "postgres",
    "kafka-consumer",
    "nginx",
    "envoy",
    "fluent-bit",
    "coredns",
    "cart",
    "auth",
    "indexer",
    "scheduler",
    "gateway",
]
_IMAGES = [
    "docker.io/library/nginx:1.25.3",
    "docker.io/library/redis:7.2.4",
    "quay.io/prometheus/node-exporter:v1.7.0",
    "registry.k8s.io/coredns/coredns:v1.11.1",
    "docker.io/envoyproxy/envoy:v1.29.1",
    "ghcr.io/example/api:2024.05.1",
    "ghcr.io/example/worker:2024.05.1",
    "docker.io/bitnami/postgresql:16.2.0",
    "cr.fluentbit.io/fluent/fluent-bit:2.2.2",
    "ghcr.io/example/web:3.14.0",
]
_ALNUM = "bcdfghjklmnpqrstvwxz2456789"


def _node_ip(node: int) -> str:
    return f"10.0.{node // 250}.{node % 250 + 2}"


def _target(add, base: dict[str, str]):
    """``add`` for one target: ``a(name, model, **labels)`` adds the series with
    the target's labels ``base`` under its own."""

    def a(name: str, model: Model, **extra: str) -> int:
        return add(name, {**base, **extra}, model)

    return a


def _kubelet_labels(node: int, metrics_path: str) -> dict[str, str]:
    """Both kubelet endpoints' target labels (/metrics and /metrics/cadvisor)."""
    ip = _node_ip(node)
    return {
        "job": "kubelet",
        "instance": f"{ip}:10250",
        "metrics_path": metrics_path,
        "endpoint": "https-metrics",
        "node": f"ip-{ip.replace('.', '-')}.eu-west-1.compute.internal",
        "service": "kube-prometheus-stack-kubelet",
    }


def node_exporter(node: int, r: random.Random, add) -> None:
    ip = _node_ip(node)
    a = _target(add, {
        "job": "node-exporter",
        "instance": f"{ip}:9100",
        "namespace": "monitoring",
        "pod": "kube-prometheus-stack-prometheus-node-exporter-" + "".join(r.choices(_ALNUM, k=5)),
        "container": "node-exporter",
        "endpoint": "http-metrics",
        "service": "kube-prometheus-stack-prometheus-node-exporter",
    })

    for cpu in range(8):
        for mode, share in _CPU_MODES.items():
            a(
                "node_cpu_seconds_total",
                counter(share * 100, r, 0.4, div=100) if share else const(r.randrange(0, 500), 100),
                cpu=str(cpu),
                mode=mode,
            )
        for mode in ("guest", "nice"):
            a("node_cpu_guest_seconds_total", const(0), cpu=str(cpu), mode=mode)
        a("node_schedstat_running_seconds_total", counter(0.28e9, r, 0.4, div=1e9), cpu=str(cpu))
        a("node_schedstat_waiting_seconds_total", counter(0.02e9, r, 0.8, div=1e9), cpu=str(cpu))
        a("node_schedstat_timeslices_total", counter(900, r, 0.4), cpu=str(cpu))
        a("node_cpu_scaling_frequency_hertz", gauge(2_400_000, 150_000, 0.2, r, mul=1000), cpu=str(cpu))
    for name, (mean, sd, phi) in _MEMINFO.items():
        a(f"node_memory_{name}_bytes", gauge(mean, sd, phi, r, mul=1024))
    for name, v in _MEM_CONST.items():
        a(f"node_memory_{name}_bytes", const(v * 1024))
    devices = ["eth0", "lo", "cni0", "flannel.1"] + [f"veth{r.getrandbits(32):08x}" for _ in range(8)]
    for dev in devices:
        busy = 1.0 if dev in ("eth0", "cni0") else 0.1
        for d in ("receive", "transmit"):
            a(f"node_network_{d}_bytes_total", counter(400_000 * busy, r, 0.8), device=dev)
            a(f"node_network_{d}_packets_total", counter(600 * busy, r, 0.6), device=dev)
            a(f"node_network_{d}_errs_total", sparse(0.0005, 2, r), device=dev)
            a(f"node_network_{d}_drop_total", sparse(0.003, 3, r), device=dev)
        a("node_network_up", const(1), device=dev)
        a("node_network_mtu_bytes", const(1500 if dev != "lo" else 65536), device=dev)
    for dev in ("nvme0n1", "nvme1n1", "dm-0", "dm-1"):
        a("node_disk_reads_completed_total", counter(12, r, 0.9), device=dev)
        a("node_disk_writes_completed_total", counter(45, r, 0.7), device=dev)
        a("node_disk_read_bytes_total", counter(250_000, r, 1.0, mul=512), device=dev)
        a("node_disk_written_bytes_total", counter(900_000, r, 0.8, mul=512), device=dev)
        a("node_disk_io_time_seconds_total", counter(30, r, 0.7, div=1000), device=dev)
        a("node_disk_read_time_seconds_total", counter(8, r, 1.0, div=1000), device=dev)
        a("node_disk_write_time_seconds_total", counter(40, r, 0.8, div=1000), device=dev)
        a("node_disk_io_now", gauge(0.3, 0.6, 0.0, r), device=dev)
    mounts = [
        ("/", "/dev/nvme0n1p1", "ext4"),
        ("/boot/efi", "/dev/nvme0n1p15", "vfat"),
        ("/var/lib/containerd", "/dev/mapper/vg-containerd", "xfs"),
        ("/var/lib/kubelet", "/dev/mapper/vg-kubelet", "xfs"),
        ("/run", "tmpfs", "tmpfs"),
    ]
    mounts += [
        (
            f"/var/lib/kubelet/pods/{r.getrandbits(64):016x}/volumes/kubernetes.io~projected/kube-api-access",
            "tmpfs",
            "tmpfs",
        )
        for _ in range(4)
    ]
    for mp, dev, fs in mounts:
        lab = {"mountpoint": mp, "device": dev, "fstype": fs}
        size = r.randrange(1 << 18, 1 << 26)  # 4 KiB blocks
        a("node_filesystem_size_bytes", const(size * 4096), **lab)
        free = Model(GAUGE, 40.0 if fs != "tmpfs" else 0.0, 0.0, size * 0.4, 1.0, int(size * 0.4), 4096.0)
        a("node_filesystem_free_bytes", free, **lab)
        a("node_filesystem_avail_bytes", free._replace(init=int(size * 0.35)), **lab)
        a("node_filesystem_files", const(size // 4), **lab)
        a("node_filesystem_files_free", gauge(size // 5, 3 if fs != "tmpfs" else 0, 1.0, r), **lab)
        a("node_filesystem_readonly", const(0), **lab)
        a("node_filesystem_device_error", const(0), **lab)
    for name, phi in (("node_load1", 0.8), ("node_load5", 0.95), ("node_load15", 0.985)):
        a(name, gauge(180, 25 * (1 - phi) ** 0.5 * 3, phi, r, div=100))
    for chip, n in (("platform_coretemp_0", 9), ("pci0000:00_0000:00:01_3_0000:01:00_0", 2)):
        for s in range(1, n + 1):
            a("node_hwmon_temp_celsius", gauge(46, 0.7, 0.9, r), chip=chip, sensor=f"temp{s}")
            a("node_hwmon_temp_crit_celsius", const(100), chip=chip, sensor=f"temp{s}")
    for name, rate in (
        ("node_context_switches_total", 9000),
        ("node_intr_total", 5000),
        ("node_forks_total", 25),
        ("node_vmstat_pgfault", 30_000),
        ("node_vmstat_pgmajfault", 0.2),
        ("node_vmstat_pgpgin", 800),
        ("node_vmstat_pgpgout", 2500),
        ("node_netstat_Tcp_ActiveOpens", 12),
        ("node_netstat_Tcp_PassiveOpens", 9),
        ("node_netstat_Tcp_RetransSegs", 0.8),
        ("node_netstat_Udp_InDatagrams", 110),
        ("node_netstat_Udp_OutDatagrams", 110),
    ):
        a(name, counter(rate, r, 0.4))
    for name, mean, sd, phi in (
        ("node_procs_running", 3, 1.5, 0.0),
        ("node_procs_blocked", 0.1, 0.3, 0.0),
        ("node_sockstat_TCP_inuse", 140, 3, 0.9),
        ("node_sockstat_TCP_tw", 60, 8, 0.7),
        ("node_sockstat_TCP_alloc", 180, 3, 0.9),
        ("node_sockstat_sockets_used", 900, 6, 0.95),
        ("node_entropy_available_bits", 256, 0, 1.0),
        ("node_filefd_allocated", 6200, 25, 0.95),
    ):
        a(name, gauge(mean, sd, phi, r))
    a("node_time_seconds", Model(CLOCK, mean=0.0))
    a("node_boot_time_seconds", const(1_700_000_000 + r.randrange(0, 10**7)))
    a("node_timex_offset_seconds", gauge(0, 40_000, 0.6, r, div=1e9, lo=-math.inf))
    a("node_timex_sync_status", const(1))
    a(
        "node_uname_info",
        const(1),
        machine="x86_64",
        nodename=f"ip-{ip.replace('.', '-')}",
        release="6.1.0-18-cloud-amd64",
        sysname="Linux",
        version="#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1",
    )
    a(
        "node_exporter_build_info",
        const(1),
        version="1.7.0",
        goversion="go1.21.4",
        revision="7333465a",
        branch="HEAD",
    )
    for q in ("0", "0.25", "0.5", "0.75", "1"):
        a("go_gc_duration_seconds", gauge(4e4 * (1 + float(q)), 8e3, 0.5, r, div=1e9), quantile=q)
    a("go_gc_duration_seconds_count", counter(0.05, r, 0.5))
    a("go_goroutines", gauge(9, 1, 0.5, r))
    a("go_memstats_alloc_bytes", gauge(3_000_000, 400_000, 0.2, r))
    a("go_memstats_heap_inuse_bytes", gauge(4_500_000, 150_000, 0.5, r))
    a("process_cpu_seconds_total", counter(0.8, r, 0.3, div=100))
    a("process_resident_memory_bytes", gauge(5_000, 40, 0.8, r, mul=4096))
    a("process_open_fds", gauge(11, 0.5, 0.5, r))
    a("promhttp_metric_handler_requests_total", counter(1 / 15, r, 0.0), code="200")
    for coll in (
        "arp",
        "bcache",
        "bonding",
        "btrfs",
        "conntrack",
        "cpu",
        "cpufreq",
        "diskstats",
        "dmi",
        "edac",
        "entropy",
        "fibrechannel",
        "filefd",
        "filesystem",
        "hwmon",
        "infiniband",
        "ipvs",
        "loadavg",
        "mdadm",
        "meminfo",
        "netclass",
        "netdev",
        "netstat",
        "nfs",
        "nfsd",
        "nvme",
        "os",
        "powersupplyclass",
        "pressure",
        "rapl",
        "schedstat",
        "selinux",
        "sockstat",
        "softnet",
        "stat",
        "tapestats",
        "textfile",
        "thermal_zone",
        "time",
        "timex",
        "udp_queues",
        "uname",
        "vmstat",
        "xfs",
        "zfs",
    ):
        a("node_scrape_collector_success", const(1), collector=coll)
        a("node_scrape_collector_duration_seconds", gauge(4e5, 1.5e5, 0.2, r, div=1e9), collector=coll)
    a("up", const(1))
    a("scrape_duration_seconds", gauge(22e6, 4e6, 0.3, r, div=1e9))
    a("scrape_samples_scraped", const(1210))
    a("scrape_samples_post_metric_relabeling", const(1210))
    a("scrape_series_added", const(0))


_KUBELET_RUNTIME_OPS = {
    "container_status": 1.2,
    "exec_sync": 0.3,
    "list_containers": 0.4,
    "list_podsandbox": 0.4,
    "podsandbox_status": 0.9,
    "status": 0.2,
    "version": 0.2,
    "image_status": 0.05,
    "list_images": 0.01,
    "container_stats": 0.07,
    "list_podsandbox_stats": 0.07,
}
_EXP_BUCKETS = tuple(0.005 * 2.5**i for i in range(14))  # kubelet's runtime operation buckets
_DEF_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_REST_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 4, 8, 15, 30, 60)


def kubelet(node: int, r: random.Random, add) -> None:
    """The kubelet's own /metrics: mostly histograms whose buckets rarely move."""
    base = {**_kubelet_labels(node, "/metrics"), "namespace": "kube-system"}
    a = _target(add, base)

    for op, rate in (("sync", 0.5), ("update", 0.02), ("create", 0.002)):
        histogram(a, "kubelet_pod_worker_duration_seconds", rate, 0.03, _DEF_BUCKETS, r, operation_type=op)
    for op, rate in _KUBELET_RUNTIME_OPS.items():
        histogram(
            a, "kubelet_runtime_operations_duration_seconds", rate, 0.004, _EXP_BUCKETS, r, operation_type=op
        )
        a("kubelet_runtime_operations_total", counter(rate, r, 0.3), operation_type=op)
        a("kubelet_runtime_operations_errors_total", sparse(0.0005, 1, r), operation_type=op)
    for verb, rate in (("GET", 0.6), ("PATCH", 0.1), ("POST", 0.01), ("PUT", 0.05), ("DELETE", 0.001)):
        histogram(
            a,
            "rest_client_request_duration_seconds",
            rate,
            0.012,
            _REST_BUCKETS,
            r,
            host="10.96.0.1:443",
            verb=verb,
        )
        a("rest_client_requests_total", counter(rate, r, 0.4), code="200", host="10.96.0.1:443", method=verb)
    for path, rate in (
        ("metrics", 1 / 30),
        ("metrics/cadvisor", 1 / 30),
        ("metrics/probes", 1 / 30),
        ("stats/summary", 1 / 15),
        ("pods", 0.01),
        ("healthz", 0.1),
    ):
        histogram(
            a,
            "kubelet_http_requests_duration_seconds",
            rate,
            0.02,
            _DEF_BUCKETS,
            r,
            long_running="false",
            method="GET",
            path=path,
            server_type="readwrite",
        )
    for op, plugin in (
        ("volume_mount", "kubernetes.io/projected"),
        ("volume_mount", "kubernetes.io/configmap"),
        ("volume_unmount", "kubernetes.io/projected"),
        ("verify_controller_attached_volume", "kubernetes.io/csi:ebs.csi.aws.com"),
    ):
        histogram(
            a,
            "storage_operation_duration_seconds",
            0.001,
            0.05,
            _REST_BUCKETS,
            r,
            migrated="false",
            operation_name=op,
            status="success",
            volume_plugin=plugin,
        )
    a("kubelet_running_pods", gauge(30, 0.02, 1.0, r))
    for state, n in (("running", 50), ("exited", 12), ("created", 0)):
        a("kubelet_running_containers", gauge(n, 0.02, 1.0, r), container_state=state)
    a("kubelet_node_name", const(1), node_name=base["node"])
    a("kubelet_certificate_manager_client_ttl_seconds", gauge(2.5e6, 0, 1.0, r))
    a("process_cpu_seconds_total", counter(4, r, 0.3, div=100))
    a("process_resident_memory_bytes", gauge(30_000, 80, 0.9, r, mul=4096))
    a("go_goroutines", gauge(420, 6, 0.7, r))
    a("up", const(1))
    a("scrape_duration_seconds", gauge(35e6, 6e6, 0.3, r, div=1e9))


def cadvisor(node: int, r: random.Random, add, pods: int) -> None:
    a = _target(add, _kubelet_labels(node, "/metrics/cadvisor"))

    for _ in range(pods):
        ns, app = r.choice(_NAMESPACES), r.choice(_APPS)
        pod = f"{app}-{''.join(r.choices(_ALNUM, k=10))}-{''.join(r.choices(_ALNUM, k=5))}"
        uid = f"{r.getrandbits(128):032x}"
        uid = f"{uid[:8]}_{uid[8:12]}_{uid[12:16]}_{uid[16:20]}_{uid[20:]}"
        qos = r.choice(("burstable", "besteffort", "guaranteed"))
        pod_cg = f"/kubepods.slice/kubepods-{qos}.slice/kubepods-{qos}-pod{uid}.slice"
        p = {"namespace": ns, "pod": pod}
        busy = r.lognormvariate(0, 1)
        for d in ("receive", "transmit"):
            a(
                f"container_network_{d}_bytes_total",
                counter(20_000 * busy, r, 0.9),
                id=pod_cg,
                interface="eth0",
                **p,
            )
            a(
                f"container_network_{d}_packets_total",
                counter(40 * busy, r, 0.7),
                id=pod_cg,
                interface="eth0",
                **p,
            )
            a(f"container_network_{d}_errors_total", const(0), id=pod_cg, interface="eth0", **p)
            a(
                f"container_network_{d}_packets_dropped_total",
                sparse(0.002, 2, r),
                id=pod_cg,
                interface="eth0",
                **p,
            )
        for c in range(r.choice((1, 1, 1, 2, 2, 3))):
            cname = app if c == 0 else r.choice(("istio-proxy", "log-shipper", "config-reloader"))
            cid = f"{r.getrandbits(256):064x}"
            lab = {
                "container": cname,
                "id": f"{pod_cg}/cri-containerd-{cid}.scope",
                "image": r.choice(_IMAGES),
                **p,
            }
            cpu = 0.05 * busy
            a("container_cpu_usage_seconds_total", counter(cpu * 1e9, r, 0.5, div=1e9), cpu="total", **lab)
            a("container_cpu_user_seconds_total", counter(cpu * 0.7e6, r, 0.5, div=1e6), **lab)
            a("container_cpu_system_seconds_total", counter(cpu * 0.3e6, r, 0.5, div=1e6), **lab)
            a("container_cpu_cfs_periods_total", counter(10 * min(1.0, cpu * 4), r, 0.2), **lab)
            a("container_cpu_cfs_throttled_periods_total", sparse(0.05, 4, r), **lab)
            a("container_cpu_cfs_throttled_seconds_total", sparse(0.05, 300_000_000, r, div=1e9), **lab)
            ws = 60_000 * r.lognormvariate(0, 1)  # pages
            a("container_memory_working_set_bytes", gauge(ws, 30, 1.0, r, mul=4096), **lab)
            a("container_memory_usage_bytes", gauge(ws * 1.3, 40, 1.0, r, mul=4096), **lab)
            a("container_memory_rss", gauge(ws * 0.8, 25, 1.0, r, mul=4096), **lab)
            a("container_memory_cache", gauge(ws * 0.3, 15, 1.0, r, mul=4096), **lab)
            a("container_memory_mapped_file", gauge(ws * 0.05, 1, 1.0, r, mul=4096), **lab)
            a("container_memory_failcnt", const(0), **lab)
            a("container_memory_max_usage_bytes", const(int(ws * 1.6) * 4096), **lab)
            a("container_fs_reads_bytes_total", sparse(0.01, 200, r), **lab)
            a("container_fs_writes_bytes_total", counter(300 * busy, r, 1.2, mul=4096), **lab)
            a("container_fs_reads_total", sparse(0.01, 20, r), **lab)
            a("container_fs_writes_total", counter(2 * busy, r, 1.0), **lab)
            a("container_spec_cpu_period", const(100_000), **lab)
            a("container_spec_cpu_shares", const(r.choice((2, 102, 204, 512, 1024))), **lab)
            a(
                "container_spec_memory_limit_bytes",
                const(r.choice((0, 268_435_456, 536_870_912, 1_073_741_824))),
                **lab,
            )
            a("container_threads", gauge(12 * busy + 1, 0.4, 0.8, r), **lab)
            a("container_processes", gauge(2, 0.1, 0.5, r), **lab)
            a("container_sockets", gauge(8 * busy, 0.6, 0.8, r), **lab)
            a("container_start_time_seconds", const(1_715_000_000 + r.randrange(0, 10**6)), **lab)
            a("container_last_seen", Model(CLOCK, mean=1.0), **lab)
            a("container_oom_events_total", const(0), **lab)
