"""Spyglass's host metrics against the real prometheus-node-exporter on this machine.

For every metric family the Node Exporter Full dashboard queries: the same
name, type, help and label names, the same label-value sets, and equal values
where they are stable. Intentional differences are listed, with reasons, in
node_exporter_differences.yaml; an entry there that stops being true fails too.
"""

import json
import re
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from agent.hostmetrics import HostMetrics, HostMetricsConfig, render_text
from tests.util import SHARED, free_port, peer_binary, wait_http

HERE = Path(__file__).resolve().parent
DASHBOARD = (
    SHARED
    / "corpus"
    / "grafana-dashboards"
    / "rfmoz-grafana-dashboards"
    / "node-exporter-full.json"
)


def dashboard_metric_names() -> set[str]:
    exprs: list[str] = []

    def walk(o):
        if isinstance(o, dict):
            for k, v in o.items():
                if k in ("expr", "query", "definition") and isinstance(v, str):
                    exprs.append(v)
                walk(v)
        elif isinstance(o, list):
            for x in o:
                walk(x)

    walk(json.loads(DASHBOARD.read_text()))
    return {m for e in exprs for m in re.findall(r"\b(node_[a-zA-Z0-9_]+)", e)}


def by_sample_name(text: str) -> dict[str, dict]:
    """sample name -> {type, help, series: {frozenset(labels): value}} (the parser
    strips _total from counter family names; sample names keep it)."""
    out: dict[str, dict] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            d = out.setdefault(s.name, {"type": fam.type, "help": fam.documentation, "series": {}})
            d["series"][frozenset(s.labels.items())] = s.value
    return out


def label_names(series: dict) -> set[frozenset]:
    return {frozenset(k for k, _ in labels) for labels in series}


@pytest.fixture(scope="module")
def differences():
    return yaml.safe_load((HERE / "node_exporter_differences.yaml").read_text())


@pytest.fixture(scope="module")
def scrapes():
    """One node-exporter scrape, then one Spyglass collection right after, same settings."""
    cfg = HostMetricsConfig()
    port = free_port()
    proc = subprocess.Popen(
        [
            peer_binary("prometheus-node-exporter"),
            f"--web.listen-address=127.0.0.1:{port}",
            # Run the peer with Spyglass's defaults where they differ from Debian's.
            f"--collector.filesystem.mount-points-exclude={cfg.filesystem.mount_points_exclude}",
            f"--collector.filesystem.fs-types-exclude={cfg.filesystem.fs_types_exclude}",
            f"--collector.netstat.fields={cfg.netstat_fields}",
            f"--collector.vmstat.fields={cfg.vmstat_fields}",
            f"--collector.diskstats.device-exclude={cfg.diskstats.device_exclude}",
            f"--collector.netdev.device-exclude={cfg.netdev.device_exclude}",
            "--no-collector.systemd",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", timeout=20)
        peer_text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        hm = HostMetrics(cfg, registry=CollectorRegistry())
        ours_text = render_text(hm.collect_families())
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return by_sample_name(peer_text), by_sample_name(ours_text), hm


@pytest.mark.peer
def test_dashboard_families_match_node_exporter(scrapes, differences):
    peer, ours, _ = scrapes
    wanted = dashboard_metric_names()
    absent = differences["not_implemented"]
    newer = differences["newer_than_peer"]
    label_diff = differences["label_value_differences"]
    compared, problems = [], []
    for name in sorted(wanted):
        if name in absent:
            if name in ours:
                problems.append(f"{name}: listed as not implemented but Spyglass emits it")
            continue
        if name not in peer:
            if name in ours and name not in newer:
                problems.append(f"{name}: node-exporter lacks it; list it under newer_than_peer")
            continue
        if name not in ours:
            problems.append(f"{name}: node-exporter emits it, Spyglass does not")
            continue
        p, o = peer[name], ours[name]
        compared.append(name)
        if (p["type"], p["help"]) != (o["type"], o["help"]):
            problems.append(
                f"{name}: type/help {o['type']}/{o['help']!r} != {p['type']}/{p['help']!r}"
            )
        if label_names(p["series"]) != label_names(o["series"]):
            problems.append(
                f"{name}: label names {label_names(o['series'])} != {label_names(p['series'])}"
            )
        elif name not in label_diff and set(p["series"]) != set(o["series"]):
            problems.append(
                f"{name}: label values differ: only node-exporter "
                f"{sorted(map(sorted, set(p['series']) - set(o['series'])))[:3]}, only Spyglass "
                f"{sorted(map(sorted, set(o['series']) - set(p['series'])))[:3]}"
            )
    assert not problems, "\n".join(problems)
    # This machine (a VM: no hwmon, cpufreq or schedstat) still exercises most of the dashboard.
    assert len(compared) >= 140, f"only {len(compared)} families compared"
    for key in (
        "node_cpu_seconds_total",
        "node_filesystem_avail_bytes",
        "node_disk_io_time_seconds_total",
        "node_network_receive_bytes_total",
        "node_uname_info",
        "node_memory_MemAvailable_bytes",
    ):
        assert key in compared


@pytest.mark.peer
def test_stable_values_and_growing_counters(scrapes, differences):
    peer, ours, _ = scrapes
    problems = []
    for name, tol in differences["stable_values"].items():
        for labels, pv in peer[name]["series"].items():
            ov = ours[name]["series"].get(labels)
            if ov is None or abs(ov - pv) > tol["abs"]:
                problems.append(f"{name}{dict(labels)}: Spyglass {ov} != node-exporter {pv}")
    for name, tol in differences["growing_counters"].items():
        for labels, pv in peer[name]["series"].items():
            ov = ours[name]["series"].get(labels)
            if ov is None or not (pv - 1e-9 <= ov <= pv * (1 + tol["rel"]) + tol["abs"]):
                problems.append(f"{name}{dict(labels)}: Spyglass {ov} vs node-exporter {pv}")
    assert not problems, "\n".join(problems)
    cpus = {dict(labels)["cpu"] for labels in ours["node_cpu_seconds_total"]["series"]}
    assert len(cpus) == len(
        {dict(labels)["cpu"] for labels in peer["node_cpu_seconds_total"]["series"]}
    )


def test_differences_file_names_dashboard_families(differences):
    wanted = dashboard_metric_names()
    for section in ("not_implemented", "newer_than_peer", "label_value_differences"):
        for name, reason in differences[section].items():
            assert name in wanted, f"{section}: {name} is not used by the dashboard"
            assert reason.strip(), f"{section}: {name} has no reason"
