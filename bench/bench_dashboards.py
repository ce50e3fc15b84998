"""Dashboards in headless Chromium: how long until a dashboard is fully drawn.

Goals (issue 5): Node Exporter Full (125 panels) < 3 s; a ~20-panel Kubernetes
dashboard over 10,000 series < 1.5 s; an Explore graph of 2,000 series < 2 s.
There is no Grafana here to run side by side, so the figures are absolute times
against those goals. Data comes from a real Prometheus 2.42 scraping a real
node-exporter and a synthetic kube-state-metrics/cAdvisor target of ~10,000 series.
Each figure is the median of several loads after one warm-up load.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench.report import Row
from tests.dashboards.browser import make_driver, panels_done, wait_until
from tests.dashboards.peers import Peers, UIServer
from tests.util import SHARED, free_port

CORPUS = SHARED / "corpus" / "grafana-dashboards"
NO_PEER = "none: no Grafana here; goal is absolute"


class KubeTarget:
    """A scrape target with kube-state-metrics, cAdvisor and node-exporter names:
    40 nodes × 9 pods × 3 containers, about 12,900 series (1,080 containers, so
    CPU and memory of every container are 2,160 series for Explore)."""

    def __init__(self, nodes: int = 40, pods_per_node: int = 9, namespaces: int = 30,
                 containers: tuple[str, ...] = ("app", "sidecar", "proxy")):
        self.port = free_port()
        self.t0 = time.time()
        lines_static = []
        self.counters = []  # (prefix, rate)
        self.gauges = []
        ns = [f"ns-{i}" for i in range(namespaces)]
        for n in range(nodes):
            node = f"node-{n:03d}"
            lines_static.append(f'kube_node_info{{node="{node}",kernel_version="6.1"}} 1')
            lines_static.append(f'machine_cpu_cores{{node="{node}"}} 8')
            lines_static.append(f'machine_memory_bytes{{node="{node}"}} 3.4359738368e+10')
            for cond in ("Ready", "MemoryPressure", "DiskPressure"):
                for st in ("true", "false", "unknown"):
                    v = 1 if (cond == "Ready") == (st == "true") and st != "unknown" else 0
                    lines_static.append(f'kube_node_status_condition{{node="{node}",condition="{cond}",status="{st}"}} {v}')
            for res, v in (("cpu", 8), ("memory", 3.2e10)):
                lines_static.append(f'kube_node_status_allocatable{{node="{node}",resource="{res}"}} {v}')
            for cpu in range(8):
                for mode in ("user", "system", "idle", "iowait"):
                    self.counters.append((f'node_cpu_seconds_total{{instance="{node}:9100",cpu="{cpu}",mode="{mode}"}}',
                                          0.7 if mode == "idle" else 0.1))
            self.gauges.append((f'node_memory_MemTotal_bytes{{instance="{node}:9100"}}', 3.4e10, 0))
            self.gauges.append((f'node_memory_MemAvailable_bytes{{instance="{node}:9100"}}', 2.0e10, 3e9))
            for dev in ("eth0", "lo"):
                self.counters.append((f'node_network_receive_bytes_total{{instance="{node}:9100",device="{dev}"}}', 1e6))
                self.counters.append((f'node_network_transmit_bytes_total{{instance="{node}:9100",device="{dev}"}}', 8e5))
            for p in range(pods_per_node):
                namespace = ns[(n * pods_per_node + p) % namespaces]
                pod = f"app-{n:03d}-{p:02d}"
                base = f'namespace="{namespace}",pod="{pod}"'
                lines_static.append(f'kube_pod_info{{{base},node="{node}",created_by_kind="ReplicaSet"}} 1')
                for phase in ("Running", "Pending", "Succeeded", "Failed", "Unknown"):
                    lines_static.append(f'kube_pod_status_phase{{{base},phase="{phase}"}} {1 if phase == "Running" else 0}')
                lines_static.append(f'kube_pod_status_qos_class{{{base},qos_class="Burstable"}} 1')
                for c in containers:
                    cb = f'{base},container="{c}"'
                    lines_static.append(f'kube_pod_container_status_running{{{cb}}} 1')
                    lines_static.append(f'kube_pod_container_resource_requests{{{cb},resource="cpu",node="{node}"}} 0.1')
                    lines_static.append(f'kube_pod_container_resource_requests{{{cb},resource="memory",node="{node}"}} 1.34217728e+08')
                    lines_static.append(f'kube_pod_container_resource_limits{{{cb},resource="memory",node="{node}"}} 2.68435456e+08')
                    self.counters.append((f'container_cpu_usage_seconds_total{{{cb},node="{node}",image="img"}}', 0.05 + p * 0.001))
                    self.gauges.append((f'container_memory_working_set_bytes{{{cb},node="{node}",image="img"}}', 1e8, 2e7))
                    self.counters.append((f'kube_pod_container_status_restarts_total{{{cb}}}', 0.0))
                self.counters.append((f'container_network_receive_bytes_total{{{base},node="{node}"}}', 2e4))
                self.counters.append((f'container_network_transmit_bytes_total{{{base},node="{node}"}}', 1e4))
        for i, name in enumerate(ns):
            lines_static.append(f'kube_namespace_labels{{namespace="{name}"}} 1')
            lines_static.append(f'kube_namespace_created{{namespace="{name}"}} 1.7e9')
            lines_static.append(f'kube_namespace_status_phase{{namespace="{name}",phase="Active"}} 1')
        self.static = "\n".join(lines_static)
        self.series = len(lines_static) + len(self.counters) + len(self.gauges)
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = target.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def render(self) -> str:
        import math
        dt = time.time() - self.t0
        parts = [self.static]
        parts += [f"{name} {rate * dt:.3f}" for name, rate in self.counters]
        parts += [f"{name} {base + amp * math.sin(dt / 30 + i):.1f}"
                  for i, (name, base, amp) in enumerate(self.gauges)]
        return "\n".join(parts) + "\n"

    def start(self) -> KubeTarget:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()


def _time_load(driver, url: str, done, timeout: float = 60.0) -> float:
    driver.get("about:blank")
    t0 = time.perf_counter()
    driver.get(url)
    wait_until(lambda: done(driver), timeout, interval=0.03, message=url)
    return time.perf_counter() - t0


def _explore_done(driver) -> bool:
    return bool(driver.execute_script("""
        const box = document.getElementById('ex-graph-box');
        const ins = document.getElementById('ex-inspect');
        if (!box || box.style.display === 'none' || !ins || !!/\b(2\d{3}) series/.test(ins.innerText))
            return false;
        const g = document.querySelector('#ex-graph .js-plotly-plot');
        return !!(g && g._fullData && g._fullData.length &&
                  g.querySelector('canvas.gl-canvas-context'));"""))


def _time_in_app(driver, base: str, path: str, done, timeout: float = 60.0) -> float:
    """Open ``path`` the way a click on a link inside the app does (dcc.Link: history
    push, no page reload), from the dashboard list; plotly.js is already loaded."""
    driver.get(base + "/dashboards")
    wait_until(lambda: driver.find_elements("css selector", ".dash-list"), 30)
    t0 = time.perf_counter()
    driver.execute_script("window.history.pushState({}, '', arguments[0]);"
                          "window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));", path)
    wait_until(lambda: done(driver), timeout, interval=0.03, message=path)
    return time.perf_counter() - t0


def _median(measure, n: int) -> tuple[float, str]:
    measure()  # warm-up: browser caches, plotly.js compiled, Prometheus caches
    runs = [measure() for _ in range(n)]
    return statistics.median(runs), " ".join(f"{r:.2f}" for r in runs)


def run(quick: bool) -> list[Row]:
    n = 2 if quick else 5
    history_s = 20 if quick else 90
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        kube = KubeTarget().start()
        extra = (f"- job_name: kube\n  scrape_interval: 2s\n"
                 f"  static_configs: [{{targets: ['127.0.0.1:{kube.port}'], labels: {{cluster: bench}}}}]\n")
        peers = Peers(tmp)
        peers.start(scrape_interval="2s", extra_config=extra)
        ui = None
        driver = None
        try:
            peers.wait_for('up{job="kube"} == 1')
            peers.wait_for("kube_pod_info")
            time.sleep(history_s)  # some history for the range queries
            ui = UIServer(peers.prom_url, peers.am_url, tmp / "store", scrape_interval_ms=2000).start()
            for f in (CORPUS / "rfmoz-grafana-dashboards" / "node-exporter-full.json",
                      CORPUS / "dotdc-grafana-dashboards-kubernetes" / "k8s-views-global.json"):
                r = httpx.post(f"{ui.url}/api/dashboards/db",
                               json={"dashboard": json.loads(f.read_text()), "overwrite": True})
                r.raise_for_status()
            driver = make_driver(tmp / "profile", width=1600, height=1000)
            rows = []
            series = httpx.get(f"{peers.prom_url}/api/v1/status/tsdb").json()["data"]["headStats"]["numSeries"]

            def add(figure: str, url: str, done, goal: float) -> None:
                for how, measure in (
                        ("opened in the app", lambda: _time_in_app(driver, ui.url, url, done)),
                        ("cold page load", lambda: _time_load(driver, ui.url + url, done))):
                    t, runs = _median(measure, n)
                    rows.append(Row(f"{figure}, {how}", "s", round(t, 3), None, peer_name=NO_PEER,
                                    note=f"goal < {goal} s: {'met' if t < goal else 'NOT met'} "
                                         f"(runs {runs})"))

            add("Node Exporter Full, default view (2 rows open)", "/d/rYdddlPWk?from=now-15m&to=now",
                panels_done, 3.0)
            add("Node Exporter Full, all 125 panels (rows expanded)",
                "/d/rYdddlPWk?from=now-15m&to=now&rows=expanded", panels_done, 3.0)
            add(f"Kubernetes / Views / Global (26 panels), {series:,} series in the TSDB",
                "/d/k8s_views_global?from=now-15m&to=now", panels_done, 1.5)
            add("Spyglass Kubernetes / Cluster (built-in, 11 panels)",
                "/d/spyglass-k8s-cluster?from=now-15m&to=now", panels_done, 1.5)
            q = "{__name__=~%22container_memory_working_set_bytes|container_cpu_usage_seconds_total%22}"
            add("Explore, range query graph of 2,160 series (WebGL)",
                f"/explore?query={q}&mode=range&from=now-15m&to=now", _explore_done, 2.0)
            return rows
        finally:
            if driver is not None:
                driver.quit()
            if ui is not None:
                ui.stop()
            peers.stop()
            kube.stop()
