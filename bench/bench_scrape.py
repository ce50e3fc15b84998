"""Scraping: Spyglass's scrape manager vs Prometheus 2.42 scraping the same targets.

One helper process serves every target from pre-rendered, pre-gzipped bodies
(one port per target): node-exporter-like targets (~1.8k series) and
kube-state-metrics-like ones (~50k series). Prometheus, then Spyglass (the
scrape manager writing into the embedded TSDB, in a process of its own),
scrape them all for a warm-up and then a measured window. For each, in that
window: CPU seconds of its process (``/proc/<pid>/stat``) per 1,000 samples
scraped, resident memory at the end, and the p50/p95 of the
``scrape_duration_seconds`` they stored for each kind of target. Resident
memory is the whole process's: for Spyglass the interpreter and its imported
modules (≈60 MiB before the first scrape), the HTTP clients, the embedded TSDB
and the scrape caches; for Prometheus its binary, TSDB head and caches.

Run: ``python -m bench scrape [--quick]``; the pieces alone:
``python -m bench.bench_scrape payloads --spec FILE`` and
``python -m bench.bench_scrape serve --spec FILE --data-dir DIR``.

Payloads (deterministic, also used by the parser tests):

- ``node_exporter_payload(node)``: a 16-CPU node's node-exporter output
  (~1.8k series: go runtime, CPU, memory, disks, filesystems, network, ...);
- ``kube_state_metrics_payload(pods)``: kube-state-metrics for a cluster of
  ``pods`` pods (~44 series per pod with its deployment, replica set and node),
  ordered by metric family as kube-state-metrics writes it.

Values change from one variant to the next (counters grow, gauges move), so
every scrape parses fresh numbers; series sets stay the same.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from bench._procs import free_port, peer_binary, process_cpu_seconds, wait_ready
from bench.report import Row
from tests.util import send_body

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

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
        _family(out, "node_hwmon_temp_celsius" if i == 0 else f"node_hwmon_temp_{['crit', 'max', 'min', 'alarm', 'crit_alarm'][i - 1]}_celsius",
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
    about 44 lines per pod (3,000 pods ≈ 133k lines, 1,400 ≈ 62k)."""
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

    one = lambda i, v: v
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


# --- the targets' server (a process of its own) -------------------------------

VARIANTS = 3


def serve_payloads(spec_path: str) -> None:
    """Serve every target of the spec on its own port until killed; writes the
    ports into the spec file (``ports``) once listening."""
    with open(spec_path) as f:
        spec = json.load(f)
    servers = []
    ports = []
    for i, (kind, size) in enumerate(spec["targets"]):
        raw = [
            (kube_state_metrics_payload(size, v) if kind == "ksm" else node_exporter_payload(i, v)).encode()
            for v in range(VARIANTS)
        ]
        bodies = [(r, gzip.compress(r, 6)) for r in raw]
        counter = iter(range(1 << 62))

        class Handler(BaseHTTPRequestHandler):
            variants = bodies
            count = counter

            def log_message(self, *a):
                pass

            def do_GET(self):
                plain, zipped = self.variants[next(self.count) % VARIANTS]
                gz = "gzip" in (self.headers.get("Accept-Encoding") or "")
                send_body(self, 200, zipped if gz else plain, "text/plain; version=0.0.4; charset=utf-8",
                          "gzip" if gz else None)

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        srv.daemon_threads = True
        servers.append(srv)
        ports.append(srv.server_address[1])
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    spec["ports"] = ports
    tmp = spec_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(spec, f)
    os.replace(tmp, spec_path)
    threading.Event().wait()


# --- the Spyglass side (a process of its own) ----------------------------------

REPORT_METRICS = ("scrape_duration_seconds", "scrape_samples_scraped")


def scrape_configs(spec: dict) -> list[dict]:
    """The same ``scrape_configs`` for both sides: one job per kind of target."""
    jobs: dict[str, list[str]] = {}
    for (kind, _), port in zip(spec["targets"], spec["ports"]):
        jobs.setdefault(kind, []).append(f"127.0.0.1:{port}")
    return [
        {"job_name": kind, "scrape_interval": spec["interval"], "scrape_timeout": spec["interval"],
         "static_configs": [{"targets": targets}]}
        for kind, targets in jobs.items()
    ]


def serve_spyglass(spec_path: str, data_dir: str) -> None:
    """Scrape the spec's targets into the embedded TSDB until SIGTERM, then
    write the synthetic series' samples to ``<data_dir>/report.json``."""
    from prometheus_client import CollectorRegistry

    from collector.scrape import ScrapeConfig, ScrapeManager
    from storage.labels import Matcher

    with open(spec_path) as f:
        spec = json.load(f)
    try:
        from storage.tsdb import TSDB

        store = TSDB.open(os.path.join(data_dir, "data"), registry=CollectorRegistry())
        note = "into the embedded TSDB"
    except ImportError:
        from storage.memstore import MemoryStorage

        store = MemoryStorage()
        note = "into MemoryStorage (storage.tsdb not available)"
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    mgr = ScrapeManager(store, registry=CollectorRegistry())
    mgr.start()
    mgr.apply_config([ScrapeConfig.model_validate(c) for c in scrape_configs(spec)])
    print(note, flush=True)
    stop.wait()
    mgr.stop()
    q = store.querier(-(2**62), 2**62)
    ss = q.select([Matcher("=~", "__name__", "|".join(REPORT_METRICS))])
    out = []
    for i in range(len(ss)):
        ts, vs = ss.series(i)
        out.append({"labels": ss.labels[i].to_dict(), "ts": ts.tolist(), "values": vs.tolist()})
    with open(os.path.join(data_dir, "report.json"), "w") as f:
        json.dump(out, f)
    close = getattr(store, "close", None)
    if close:
        close()


# --- measuring ---------------------------------------------------------------------


def _rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _get_json(port: int, path: str) -> dict:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    r = c.getresponse()
    return json.loads(r.read())


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class Measured:
    """One side's figures over the measured window."""

    def __init__(self, cpu: float, rss: float, window: tuple[float, float], series: list[dict]):
        self.cpu, self.rss = cpu, rss
        t0, t1 = window[0] * 1000, window[1] * 1000
        self.samples = 0.0
        self.durations: dict[str, list[float]] = {}
        for s in series:
            vals = [v for t, v in zip(s["ts"], s["values"]) if t0 <= t < t1 and not math.isnan(v)]
            if s["labels"]["__name__"] == "scrape_samples_scraped":
                self.samples += sum(vals)
            else:
                self.durations.setdefault(s["labels"]["job"], []).extend(vals)

    def cpu_ms_per_1k(self) -> float:
        return 1000 * self.cpu / max(1.0, self.samples / 1000)

    def duration_ms(self, job: str, q: float) -> float:
        d = sorted(self.durations.get(job, []))
        return 1000 * d[min(len(d) - 1, int(q * len(d)))] if d else float("nan")


def _measure(pid: int, warmup: float, window: float, alive) -> tuple[float, float, tuple[float, float]]:
    time.sleep(warmup)
    if not alive():
        raise RuntimeError("the scraper exited during warm-up")
    c0, t0 = process_cpu_seconds(pid), time.time()
    time.sleep(window)
    c1, t1 = process_cpu_seconds(pid), time.time()
    return c1 - c0, _rss_mib(pid), (t0, t1)


def _run_prometheus(spec: dict, tmp: str, warmup: float, window: float) -> Measured:
    import yaml

    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        yaml.safe_dump({"global": {"scrape_interval": spec["interval"]}, "scrape_configs": scrape_configs(spec)}, f)
    port = free_port()
    proc = subprocess.Popen(
        [peer_binary("prometheus"), f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/prom-data", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(f"http://127.0.0.1:{port}/-/ready", proc, 60)
        cpu, rss, (t0, t1) = _measure(proc.pid, warmup, window, lambda: proc.poll() is None)
        series = []
        for name in REPORT_METRICS:
            r = _get_json(port, f"/api/v1/query?query={name}%5B{int((t1 - t0) * 1000) + 1000}ms%5D&time={t1:.3f}")
            for s in r["data"]["result"]:
                series.append({"labels": s["metric"] | {"__name__": name},
                               "ts": [int(float(t) * 1000) for t, _ in s["values"]],
                               "values": [float(v) for _, v in s["values"]]})
        return Measured(cpu, rss, (t0, t1), series)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _run_spyglass(spec_path: str, tmp: str, warmup: float, window: float) -> tuple[Measured, str]:
    data_dir = os.path.join(tmp, "spyglass")
    os.makedirs(data_dir)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_scrape", "serve", "--spec", spec_path, "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO, env=env,
    )
    try:
        note = proc.stdout.readline().strip() if proc.stdout else ""
        if proc.poll() is not None or not note:
            raise RuntimeError("the Spyglass scraper did not start")
        cpu, rss, window_t = _measure(proc.pid, warmup, window, lambda: proc.poll() is None)
        proc.terminate()
        proc.wait(120)
        with open(os.path.join(data_dir, "report.json")) as f:
            series = json.load(f)
        return Measured(cpu, rss, window_t, series), note
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def parser_rows() -> list[Row]:
    """CPU per exposed line of the scrape loop's worker step (parse, cache
    lookup, batch; no storage), in this process. No peer figure: Prometheus's
    parser cannot be timed apart from its scrape loop."""
    from prometheus_client import CollectorRegistry

    from collector.scrape.config import ScrapeConfig
    from collector.scrape.loop import ScrapeLoop
    from collector.scrape.target import populate_labels
    from collector.scrape.telemetry import ScrapeTelemetry
    from spyglass.configtypes import GlobalConfig
    from storage.interface import AppendResult
    from storage.labels import Labels

    class Discard:
        def append(self, batch):
            return AppendResult(accepted=len(batch))

    def loop():
        sc = ScrapeConfig.model_validate({"job_name": "j", "static_configs": [{"targets": ["h:1"]}]})
        sc = sc.with_global(GlobalConfig())
        target, _, _ = populate_labels(Labels.EMPTY, Labels.from_dict({"__address__": "h:1"}), sc)
        return ScrapeLoop(target, sc, None, Discard(), ScrapeTelemetry(CollectorRegistry()))  # type: ignore[arg-type]

    rows = []
    for name, bodies, reps in (
        ("kube-state-metrics-like, 133k lines", [kube_state_metrics_payload(3000, v).encode() for v in range(2)], 4),
        ("node-exporter-like, 2.4k lines", [node_exporter_payload(0, v).encode() for v in range(2)], 40),
    ):
        lp = loop()
        lines = bodies[0].count(b"\n")
        t = time.process_time()
        lp._process(bodies[0], "text/plain", None, 1000, 0, 0.0)
        cold = time.process_time() - t
        warm = min(
            _cpu(lambda i=i, lp=lp, bodies=bodies: lp._process(bodies[(i + 1) % 2], "text/plain", None, 2000 + i * 1000, 0, 0.0))
            for i in range(reps)
        )
        rows.append(Row(
            f"scrape worker step, {name}, warm cache", "CPU µs/line", round(1e6 * warm / lines, 3), None,
            peer_name="no peer figure", note="parse + series cache + batch, no storage",
        ))
        rows.append(Row(
            f"scrape worker step, {name}, first scrape", "CPU µs/line", round(1e6 * cold / lines, 2), None,
            peer_name="no peer figure", note="every series new: labels built, target labels merged",
        ))
    return rows


def _cpu(fn) -> float:
    t = time.process_time()
    fn()
    return time.process_time() - t


def run(quick: bool) -> list[Row]:
    if quick:
        n_node, n_ksm, pods, interval, warmup, window = 4, 1, 400, "1s", 4.0, 8.0
    else:
        n_node, n_ksm, pods, interval, warmup, window = 20, 2, 1130, "2s", 12.0, 60.0
    tmp = tempfile.mkdtemp(prefix="bench-scrape-")
    spec_path = os.path.join(tmp, "spec.json")
    targets = [("node", 0)] * n_node + [("ksm", pods)] * n_ksm
    with open(spec_path, "w") as f:
        json.dump({"targets": targets, "interval": interval}, f)
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    payloads = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_scrape", "payloads", "--spec", spec_path],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO, env=env,
    )
    try:
        def listening():
            if payloads.poll() is not None:
                raise RuntimeError("the payload server exited")
            with open(spec_path) as f:
                return "ports" in json.load(f)

        _wait(listening, 300, "the payload server")
        with open(spec_path) as f:
            spec = json.load(f)
        theirs = _run_prometheus(spec, tmp, warmup, window)
        ours, note = _run_spyglass(spec_path, tmp, warmup, window)
    finally:
        payloads.terminate()
        payloads.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    ksm_series = round(len(kube_state_metrics_payload(pods).splitlines()) / 1000) if n_ksm else 0
    where = (f"{n_node} node-exporter-like (~1.8k series) + {n_ksm} kube-state-metrics-like (~{ksm_series}k lines) "
             f"targets every {interval}, {window:.0f} s window")
    scraped = f"samples scraped: Spyglass {ours.samples:,.0f}, Prometheus {theirs.samples:,.0f}"
    rows = [
        Row("scrape CPU per 1,000 samples scraped", "CPU ms", round(ours.cpu_ms_per_1k(), 2),
            round(theirs.cpu_ms_per_1k(), 2), goal="<= 1.0", note=f"{where}; Spyglass {note}; {scraped}"),
        Row("resident memory while scraping", "MiB", round(ours.rss, 1), round(theirs.rss, 1), goal="<= 1.0"),
    ]
    for job, label in (("node", "node-exporter-like"), ("ksm", "kube-state-metrics-like")):
        if job == "ksm" and not n_ksm:
            continue
        for q in (0.5, 0.95):
            rows.append(Row(f"scrape duration p{int(q * 100)}, {label} targets", "ms",
                            round(ours.duration_ms(job, q), 1), round(theirs.duration_ms(job, q), 1),
                            goal="<= 1.0"))
    return rows + parser_rows()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_scrape")
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("payloads", help="serve the targets of a spec file")
    sp.add_argument("--spec", required=True)
    sv = sub.add_parser("serve", help="run the Spyglass scraper of a spec file")
    sv.add_argument("--spec", required=True)
    sv.add_argument("--data-dir", required=True)
    sub.add_parser("run", help="run the benchmark and print its rows").add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "payloads":
        serve_payloads(args.spec)
    elif args.cmd == "serve":
        serve_spyglass(args.spec, args.data_dir)
    else:
        for row in run(args.quick):
            print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
