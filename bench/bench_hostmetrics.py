"""Host metrics: CPU cost of one collection, Spyglass vs prometheus-node-exporter.

Spyglass: process CPU time of ``HostMetrics.collect()`` (all collectors, into a
SampleBatch). node-exporter: the CPU time its process spends answering one
``/metrics`` scrape (from /proc/<pid>/stat, so the HTTP client is not counted),
with its default collectors. Lower is better.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import httpx
from prometheus_client import CollectorRegistry

from agent.hostmetrics import HostMetrics, HostMetricsConfig
from bench._procs import free_port, process_cpu_seconds, wait_ready
from bench.report import Row


def run(quick: bool) -> list[Row]:
    n = 20 if quick else 200
    hm = HostMetrics(HostMetricsConfig(), registry=CollectorRegistry())
    hm.collect()
    t0 = time.process_time()
    for _ in range(n):
        batch = hm.collect()
    ours = (time.process_time() - t0) / n
    series = len(batch.series)

    peer = None
    binary = shutil.which("prometheus-node-exporter")
    if binary:
        port = free_port()
        proc = subprocess.Popen(
            [binary, f"--web.listen-address=127.0.0.1:{port}", "--no-collector.systemd"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            wait_ready(url, proc, 20)
            with httpx.Client() as client:
                client.get(url)
                c0 = process_cpu_seconds(proc.pid)
                for _ in range(n):
                    client.get(url)
                peer = (process_cpu_seconds(proc.pid) - c0) / n
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return [
        Row(
            "CPU per host-metrics collection",
            "ms",
            ours * 1000,
            None if peer is None else peer * 1000,
            goal="<= 1.0",
            peer_name="node-exporter 1.5",
            note=f"{series} series; node-exporter measured per scrape including its Go runtime metrics",
        ),
    ]
