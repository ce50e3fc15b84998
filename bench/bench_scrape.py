"""Scraping: Spyglass's scrape manager vs Prometheus 2.42 scraping the same targets.

Payloads (deterministic, generated here, also used by the parser tests):

- ``node_exporter_payload(node)``: a 16-CPU node's node-exporter output
  (~1.5k series: go runtime, CPU, memory, disks, filesystems, network, ...);
- ``kube_state_metrics_payload(pods)``: kube-state-metrics for a cluster of
  ``pods`` pods (~33 series per pod plus deployments, replica sets, nodes),
  ordered by metric family as kube-state-metrics writes it.

Values change from one variant to the next (counters grow, gauges move), so
every scrape parses fresh numbers; series sets stay the same.
"""

from __future__ import annotations

import random

# --- payloads ---------------------------------------------------------------


def _fmt(v: float) -> str:
    # Go's strconv.FormatFloat(v, 'g', -1, 64) style, as client_golang writes values.
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _family(out: list[str], name: str, typ: str, help_: str, rows) -> None:
    out.append(f"# HELP {name} {help_}")
    out.append(f"# TYPE {name} {typ}")
    for labels, value in rows:
        if labels:
            body = ",".join(f'{k}="{v}"' for k, v in labels)
            out.append(f"{name}{{{body}}} {_fmt(value)}")
        else:
            out.append(f"{name} {_fmt(value)}")


def node_exporter_payload(node: int = 0, variant: int = 0) -> str:
    """node-exporter text for one 16-CPU node with 8 disks, 12 filesystems and
    24 network devices (~1.5k series)."""
    rnd = random.Random(node * 7919 + variant)
    t = 1000.0 * (variant + 1)
    out: list[str] = []
    _family(out, "go_gc_duration_seconds", "summary", "A summary of the pause duration of garbage collection cycles.",
            [((("quantile", q),), round(rnd.random() * 1e-4, 9)) for q in ("0", "0.25", "0.5", "0.75", "1")])
    out.append(f"go_gc_duration_seconds_sum {_fmt(0.5 + variant * 0.01)}")
    out.append(f"go_gc_duration_seconds_count {1000 + variant * 3}")
    _family(out, "go_goroutines", "gauge", "Number of goroutines that currently exist.", [((), 8 + rnd.randrange(3))])
    _family(out, "go_info", "gauge", "Information about the Go environment.", [((("version", "go1.19.8"),), 1)])
    for m in ("alloc_bytes", "heap_alloc_bytes", "heap_idle_bytes", "heap_inuse_bytes", "heap_sys_bytes",
              "stack_inuse_bytes", "sys_bytes", "mspan_inuse_bytes", "next_gc_bytes", "other_sys_bytes"):
        _family(out, f"go_memstats_{m}", "gauge", f"Go memstats {m}.", [((), float(rnd.randrange(1 << 20, 1 << 26)))])
    cpus = 16
    modes = ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user")
    _family(out, "node_cpu_seconds_total", "counter", "Seconds the CPUs spent in each mode.",
            [((("cpu", str(c)), ("mode", m)), round(t * (50 if m == "idle" else 1) + rnd.random(), 2))
             for c in range(cpus) for m in modes])
    for m in ("guest_seconds_total",):
        _family(out, f"node_cpu_{m}", "counter", "Seconds the CPUs spent in guests (VMs) for each mode.",
                [((("cpu", str(c)), ("mode", md)), 0) for c in range(cpus) for md in ("nice", "user")])
    for m in ("core_throttles_total", "package_throttles_total"):
        _family(out, f"node_cpu_{m}", "counter", f"Number of times this CPU {m}.",
                [((("core", str(c)), ("package", "0")), rnd.randrange(10)) for c in range(cpus)])
    _family(out, "node_cpu_scaling_frequency_hertz", "gauge", "Current scaled CPU thread frequency in hertz.",
            [((("cpu", str(c)),), float(rnd.randrange(800, 3600) * 1_000_000)) for c in range(cpus)])
    for m in ("MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapCached", "Active", "Inactive",
              "Active_anon", "Inactive_anon", "Active_file", "Inactive_file", "Unevictable", "Mlocked", "SwapTotal",
              "SwapFree", "Dirty", "Writeback", "AnonPages", "Mapped", "Shmem", "KReclaimable", "Slab",
              "SReclaimable", "SUnreclaim", "KernelStack", "PageTables", "NFS_Unstable", "Bounce", "WritebackTmp",
              "CommitLimit", "Committed_AS", "VmallocTotal", "VmallocUsed", "VmallocChunk", "Percpu",
              "HardwareCorrupted", "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages",
              "FilePmdMapped", "HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp",
              "Hugepagesize", "Hugetlb", "DirectMap4k", "DirectMap2M", "DirectMap1G"):
        _family(out, f"node_memory_{m}_bytes", "gauge", f"Memory information field {m}_bytes.",
                [((), float(rnd.randrange(0, 1 << 36)))])
    for m in ("load1", "load5", "load15"):
        _family(out, f"node_{m}", "gauge", f"{m[-1]}m load average.", [((), round(rnd.random() * 4, 2))])
    disks = [f"nvme{i // 4}n{i % 4 + 1}" for i in range(8)]
    for m in ("reads_completed_total", "reads_merged_total", "read_bytes_total", "read_time_seconds_total",
              "writes_completed_total", "writes_merged_total", "written_bytes_total", "write_time_seconds_total",
              "io_now", "io_time_seconds_total", "io_time_weighted_seconds_total", "discards_completed_total",
              "discards_merged_total", "discarded_sectors_total", "discard_time_seconds_total",
              "flush_requests_total", "flush_requests_time_seconds_total"):
        _family(out, f"node_disk_{m}", "counter", f"The total number of {m}.",
                [((("device", d),), round(t * rnd.randrange(1, 10000), 3)) for d in disks])
    _family(out, "node_disk_info", "gauge", "Info of /sys/block/<block_device>.",
            [((("device", d), ("major", "259"), ("minor", str(i)), ("model", "Samsung SSD 980 PRO 2TB"),
               ("path", f"pci-0000:0{i}:00.0-nvme-1"), ("revision", "5B2QGXA7"), ("serial", f"S6B0NL0T{i:06d}"),
               ("wwn", f"eui.002538b{i:09d}")), 1) for i, d in enumerate(disks)])
    mounts = ["/", "/boot", "/boot/efi", "/var", "/var/lib/kubelet", "/var/lib/containerd", "/tmp", "/home",
              "/run", "/run/lock", "/run/user/1000", "/var/log"]
    fs = [(f"/dev/nvme0n1p{i + 1}" if i < 8 else "tmpfs", "ext4" if i < 8 else "tmpfs", m) for i, m in enumerate(mounts)]
    for m in ("avail_bytes", "device_error", "files", "files_free", "free_bytes", "readonly", "size_bytes"):
        _family(out, f"node_filesystem_{m}", "gauge", f"Filesystem {m}.",
                [((("device", d), ("fstype", f), ("mountpoint", mp)), float(rnd.randrange(0, 1 << 40)))
                 for d, f, mp in fs])
    devs = ["lo", "eth0", "eth1", "cni0", "flannel.1", "docker0"] + [f"veth{rnd.getrandbits(32):08x}" for _ in range(18)]
    for m in ("receive_bytes_total", "receive_packets_total", "receive_errs_total", "receive_drop_total",
              "receive_fifo_total", "receive_frame_total", "receive_compressed_total", "receive_multicast_total",
              "transmit_bytes_total", "transmit_packets_total", "transmit_errs_total", "transmit_drop_total",
              "transmit_fifo_total", "transmit_colls_total", "transmit_carrier_total", "transmit_compressed_total",
              "up", "mtu_bytes", "carrier", "speed_bytes", "transmit_queue_length", "flags", "iface_id",
              "address_assign_type", "dormant", "protocol_type", "net_dev_group", "carrier_changes_total",
              "carrier_up_changes_total", "carrier_down_changes_total", "iface_link", "iface_link_mode",
              "device_id", "name_assign_type"):
        _family(out, f"node_network_{m}", "counter" if m.endswith("_total") else "gauge", f"Network device statistic {m}.",
                [((("device", d),), float(rnd.randrange(0, 1 << 32))) for d in devs])
    _family(out, "node_network_info", "gauge", "Non-numeric data from /sys/class/net/<iface>.",
            [((("address", f"02:42:ac:11:00:{i:02x}"), ("broadcast", "ff:ff:ff:ff:ff:ff"), ("device", d),
               ("duplex", "full"), ("ifalias", ""), ("operstate", "up")), 1) for i, d in enumerate(devs)])
    for m in ("procs_running", "procs_blocked", "context_switches_total", "forks_total", "intr_total", "boot_time_seconds"):
        _family(out, f"node_{m}", "gauge", f"{m}.", [((), float(rnd.randrange(1, 1 << 40)))])
    for i in range(6):
        _family(out, f"node_hwmon_temp_celsius" if i == 0 else f"node_hwmon_temp_{['crit', 'max', 'min', 'alarm', 'crit_alarm'][i - 1]}_celsius",
                "gauge", "Hardware monitor for temperature.",
                [((("chip", f"platform_coretemp_{c // 9}"), ("sensor", f"temp{c % 9 + 1}")), round(30 + rnd.random() * 40, 1))
                 for c in range(18)])
    collectors = ("arp", "bcache", "bonding", "btrfs", "conntrack", "cpu", "cpufreq", "diskstats", "dmi", "edac",
                  "entropy", "fibrechannel", "filefd", "filesystem", "hwmon", "infiniband", "ipvs", "loadavg",
                  "mdadm", "meminfo", "netclass", "netdev", "netstat", "nfs", "nfsd", "nvme", "os", "powersupplyclass",
                  "pressure", "rapl", "schedstat", "selinux", "sockstat", "softnet", "stat", "tapestats", "textfile",
                  "thermal_zone", "time", "timex", "udp_queues", "uname", "vmstat", "xfs", "zfs")
    _family(out, "node_scrape_collector_duration_seconds", "gauge", "node_exporter: Duration of a collector scrape.",
            [((("collector", c),), round(rnd.random() * 0.01, 6)) for c in collectors])
    _family(out, "node_scrape_collector_success", "gauge", "node_exporter: Whether a collector succeeded.",
            [((("collector", c),), 1) for c in collectors])
    for m in ("nr_running", "procs", "waiting_seconds_total", "running_seconds_total", "timeslices_total"):
        _family(out, f"node_schedstat_{m}", "counter", f"schedstat {m}.",
                [((("cpu", str(c)),), round(t * rnd.random(), 3)) for c in range(cpus)])
    for m in range(60):
        _family(out, f"node_vmstat_{['pgfault', 'pgmajfault', 'pgpgin', 'pgpgout', 'pswpin', 'pswpout'][m % 6]}_{m // 6}",
                "untyped", "/proc/vmstat information field.", [((), float(rnd.randrange(1 << 30)))])
    for m in range(80):
        _family(out, f"node_netstat_Tcp_Ext_{m}", "untyped", "Statistic TcpExt.", [((), float(rnd.randrange(1 << 20)))])
    for i in range(4):
        _family(out, f"node_softnet_{['processed', 'dropped', 'times_squeezed', 'backlog_len'][i]}_total", "counter",
                "Number of softnet packets.", [((("cpu", str(c)),), float(rnd.randrange(1 << 24))) for c in range(cpus)])
    _family(out, "node_uname_info", "gauge", "Labeled system information as provided by the uname system call.",
            [((("domainname", "(none)"), ("machine", "x86_64"), ("nodename", f"worker-{node:04d}"),
               ("release", "6.1.0-18-amd64"), ("sysname", "Linux"), ("version", "#1 SMP PREEMPT_DYNAMIC Debian 6.1.76-1")), 1)])
    _family(out, "promhttp_metric_handler_requests_total", "counter", "Total number of scrapes by HTTP status code.",
            [((("code", c),), v) for c, v in (("200", 100 + variant), ("500", 0), ("503", 0))])
    return "\n".join(out) + "\n"


_PHASES = ("Failed", "Pending", "Running", "Succeeded", "Unknown")
_WAITING = ("ContainerCreating", "CrashLoopBackOff", "CreateContainerConfigError", "ErrImagePull",
            "ImagePullBackOff", "CreateContainerError", "InvalidImageName")
_TERMINATED = ("OOMKilled", "Completed", "Error", "ContainerCannotRun", "DeadlineExceeded", "Evicted")


def kube_state_metrics_payload(pods: int = 3000, variant: int = 0) -> str:
    """kube-state-metrics text for ``pods`` pods (one container each) in 40
    namespaces, their deployments and replica sets, and ``pods // 30`` nodes;
    about ``36 * pods`` lines (3,000 pods ≈ 110k lines)."""
    rnd = random.Random(pods * 31 + variant)
    nodes = max(1, pods // 30)
    deps = max(1, pods // 4)
    pod_rows = []
    for p in range(pods):
        ns = f"team-{p % 40:02d}"
        dep = f"svc-{p // 4:05d}"
        pod = f"{dep}-7d9f8c6b{p % 10}-{p:05x}"
        uid = f"{p:08x}-1b2c-4d5e-8f90-{p * 2654435761 % (1 << 48):012x}"
        pod_rows.append((ns, pod, uid, dep, f"worker-{p % nodes:04d}", f"10.{p // 65536 % 256}.{p // 256 % 256}.{p % 256}"))
    out: list[str] = []

    def pods_family(name, typ, help_, extra, value):
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} {typ}")
        for i, (ns, pod, uid, dep, node, ip) in enumerate(pod_rows):
            for labels, v in extra(i, ns, pod, uid, dep, node, ip):
                body = f'namespace="{ns}",pod="{pod}",uid="{uid}"' + "".join(f',{k}="{x}"' for k, x in labels)
                out.append(f"{name}{{{body}}} {_fmt(value(i, v))}")

    one = lambda i, v: v  # noqa: E731
    pods_family("kube_pod_info", "gauge", "[STABLE] Information about pod.",
                lambda i, ns, pod, uid, dep, node, ip: [(
                    (("host_ip", f"192.168.{i % nodes // 256}.{i % nodes % 256}"), ("pod_ip", ip), ("node", node),
                     ("created_by_kind", "ReplicaSet"), ("created_by_name", pod.rsplit("-", 1)[0]),
                     ("priority_class", ""), ("host_network", "false")), 1)], one)
    pods_family("kube_pod_start_time", "gauge", "[STABLE] Start time in unix timestamp for a pod.",
                lambda i, *a: [((), 1.7e9 + i)], one)
    pods_family("kube_pod_owner", "gauge", "[STABLE] Information about the Pod's owner.",
                lambda i, ns, pod, uid, dep, node, ip: [(
                    (("owner_kind", "ReplicaSet"), ("owner_name", pod.rsplit("-", 1)[0]), ("owner_is_controller", "true")), 1)], one)
    pods_family("kube_pod_labels", "gauge", "[STABLE] Kubernetes labels converted to Prometheus labels.",
                lambda i, ns, pod, uid, dep, node, ip: [(
                    (("label_app_kubernetes_io_name", dep), ("label_pod_template_hash", f"7d9f8c6b{i % 10}")), 1)], one)
    pods_family("kube_pod_created", "gauge", "[STABLE] Unix creation timestamp.", lambda i, *a: [((), 1.7e9 + i)], one)
    pods_family("kube_pod_restart_policy", "gauge", "[STABLE] Describes the restart policy in use by this pod.",
                lambda *a: [((("type", "Always"),), 1)], one)
    pods_family("kube_pod_status_scheduled_time", "gauge", "[STABLE] Unix timestamp when pod moved into scheduled status",
                lambda i, *a: [((), 1.7e9 + i + 1)], one)
    pods_family("kube_pod_status_phase", "gauge", "[STABLE] The pods current phase.",
                lambda i, *a: [((("phase", ph),), 1 if ph == "Running" else 0) for ph in _PHASES], one)
    pods_family("kube_pod_status_ready", "gauge", "[STABLE] Describes whether the pod is ready to serve requests.",
                lambda i, *a: [((("condition", c),), 1 if c == "true" else 0) for c in ("true", "false", "unknown")], one)
    pods_family("kube_pod_status_scheduled", "gauge", "[STABLE] Describes the status of the scheduling process for the pod.",
                lambda i, *a: [((("condition", c),), 1 if c == "true" else 0) for c in ("true", "false", "unknown")], one)
    pods_family("kube_pod_container_info", "gauge", "[STABLE] Information about a container in a pod.",
                lambda i, ns, pod, uid, dep, node, ip: [(
                    (("container", "app"), ("image_spec", f"registry.example.com/{ns}/{dep}:1.{i % 13}"),
                     ("image", f"registry.example.com/{ns}/{dep}:1.{i % 13}"),
                     ("image_id", f"registry.example.com/{ns}/{dep}@sha256:{i * 0x9E3779B97F4A7C15 % (1 << 64):016x}{i:048x}"),
                     ("container_id", f"containerd://{i * 0x9E3779B1 % (1 << 32):08x}{i:056x}")), 1)], one)
    pods_family("kube_pod_container_status_waiting", "gauge", "[STABLE] Describes whether the container is currently in waiting state.",
                lambda *a: [((("container", "app"),), 0)], one)
    pods_family("kube_pod_container_status_waiting_reason", "gauge", "[STABLE] Describes the reason the container is currently in waiting state.",
                lambda i, *a: [((("container", "app"), ("reason", r)), 0) for r in _WAITING], one)
    pods_family("kube_pod_container_status_running", "gauge", "[STABLE] Describes whether the container is currently in running state.",
                lambda *a: [((("container", "app"),), 1)], one)
    pods_family("kube_pod_container_state_started", "gauge", "[STABLE] Start time in unix timestamp for a pod container.",
                lambda i, *a: [((("container", "app"),), 1.7e9 + i + 5)], one)
    pods_family("kube_pod_container_status_terminated", "gauge", "[STABLE] Describes whether the container is currently in terminated state.",
                lambda *a: [((("container", "app"),), 0)], one)
    pods_family("kube_pod_container_status_last_terminated_reason", "gauge", "Describes the last reason the container was in terminated state.",
                lambda i, *a: [((("container", "app"), ("reason", _TERMINATED[i % len(_TERMINATED)])), 1)] if i % 7 == 0 else [], one)
    pods_family("kube_pod_container_status_ready", "gauge", "[STABLE] Describes whether the containers readiness check succeeded.",
                lambda *a: [((("container", "app"),), 1)], one)
    pods_family("kube_pod_container_status_restarts_total", "counter", "[STABLE] The number of container restarts per container.",
                lambda i, *a: [((("container", "app"),), i % 5)], lambda i, v: v + (variant if i % 97 == 0 else 0))
    pods_family("kube_pod_container_resource_requests", "gauge", "The number of requested request resource by a container.",
                lambda i, ns, pod, uid, dep, node, ip: [
                    ((("container", "app"), ("node", node), ("resource", "cpu"), ("unit", "core")), 0.1 * (i % 8 + 1)),
                    ((("container", "app"), ("node", node), ("resource", "memory"), ("unit", "byte")), float(128 << 20))], one)
    pods_family("kube_pod_container_resource_limits", "gauge", "The number of requested limit resource by a container.",
                lambda i, ns, pod, uid, dep, node, ip: [
                    ((("container", "app"), ("node", node), ("resource", "cpu"), ("unit", "core")), 0.5 * (i % 4 + 1)),
                    ((("container", "app"), ("node", node), ("resource", "memory"), ("unit", "byte")), float(512 << 20))], one)
    pods_family("kube_pod_tolerations", "gauge", "Information about the pod tolerations",
                lambda *a: [((("key", "node.kubernetes.io/not-ready"), ("operator", "Exists"), ("effect", "NoExecute"),
                              ("toleration_seconds", "300")), 1),
                            ((("key", "node.kubernetes.io/unreachable"), ("operator", "Exists"), ("effect", "NoExecute"),
                              ("toleration_seconds", "300")), 1)], one)
    pods_family("kube_pod_status_qos_class", "gauge", "The pods current qos_class.",
                lambda i, *a: [((("qos_class", q),), 1 if q == "Burstable" else 0) for q in ("BestEffort", "Burstable", "Guaranteed")], one)
    # deployments, replica sets, nodes
    for name, help_, fn in (
        ("kube_deployment_status_replicas", "[STABLE] The number of replicas per deployment.", lambda d: 4),
        ("kube_deployment_status_replicas_available", "[STABLE] The number of available replicas per deployment.", lambda d: 4 - (d % 50 == 0)),
        ("kube_deployment_status_replicas_unavailable", "[STABLE] The number of unavailable replicas per deployment.", lambda d: int(d % 50 == 0)),
        ("kube_deployment_status_replicas_updated", "[STABLE] The number of updated replicas per deployment.", lambda d: 4),
        ("kube_deployment_spec_replicas", "[STABLE] Number of desired pods for a deployment.", lambda d: 4),
        ("kube_deployment_metadata_generation", "[STABLE] Sequence number representing a specific generation of the desired state.", lambda d: 1 + d % 9),
        ("kube_deployment_created", "[STABLE] Unix creation timestamp", lambda d: 1.69e9 + d),
    ):
        out.append(f"# HELP {name} {help_}")
        out.append(f"# TYPE {name} gauge")
        for d in range(deps):
            out.append(f'{name}{{namespace="team-{d * 4 % 40:02d}",deployment="svc-{d:05d}"}} {_fmt(fn(d))}')
    for name in ("kube_replicaset_status_replicas", "kube_replicaset_spec_replicas", "kube_replicaset_status_ready_replicas"):
        out.append(f"# HELP {name} [STABLE] The number of replicas per ReplicaSet.")
        out.append(f"# TYPE {name} gauge")
        for d in range(deps):
            out.append(f'{name}{{namespace="team-{d * 4 % 40:02d}",replicaset="svc-{d:05d}-7d9f8c6b{d % 10}"}} 4')
    for name, vals in (
        ("kube_node_info", None),
        ("kube_node_status_capacity", (("cpu", "core", 16), ("memory", "byte", float(64 << 30)), ("pods", "integer", 110),
                                       ("ephemeral_storage", "byte", float(500 << 30)))),
        ("kube_node_status_allocatable", (("cpu", "core", 15.5), ("memory", "byte", float(62 << 30)), ("pods", "integer", 110),
                                          ("ephemeral_storage", "byte", float(450 << 30)))),
        ("kube_node_status_condition", None),
    ):
        out.append(f"# HELP {name} [STABLE] Node information.")
        out.append(f"# TYPE {name} gauge")
        for n in range(nodes):
            node = f"worker-{n:04d}"
            if name == "kube_node_info":
                out.append(f'{name}{{node="{node}",kernel_version="6.1.0-18-amd64",os_image="Debian GNU/Linux 12 (bookworm)",'
                           f'container_runtime_version="containerd://1.7.13",kubelet_version="v1.29.2",'
                           f'kubeproxy_version="v1.29.2",provider_id="aws:///eu-west-1a/i-{n:017x}",'
                           f'pod_cidr="10.{n // 256}.{n % 256}.0/24",system_uuid="ec2{n:029x}",internal_ip="192.168.{n // 256}.{n % 256}"}} 1')
            elif name == "kube_node_status_condition":
                for cond in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure", "NetworkUnavailable"):
                    for st in ("true", "false", "unknown"):
                        v = 1 if (st == "true") == (cond == "Ready") and st != "unknown" else 0
                        out.append(f'{name}{{node="{node}",condition="{cond}",status="{st}"}} {v}')
            else:
                for res, unit, v in vals:
                    out.append(f'{name}{{node="{node}",resource="{res}",unit="{unit}"}} {_fmt(v)}')
    return "\n".join(out) + "\n"
