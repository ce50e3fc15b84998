"""Dashboards in headless Chromium: how long until a view is fully drawn, end to end.

Goals (issue 5): Node Exporter Full (125 panels) < 3 s; a ~20-panel Kubernetes
dashboard over 10,000 series < 1.5 s; an Explore graph of 2,000 series < 2 s.

The figure that counts is Spyglass's own: a real ``spyglass up`` process scraping
a real node-exporter and a synthetic kube-state-metrics/cAdvisor target of ~13,000
series every 2 s into its TSDB, answering the UI's queries with its PromQL engine,
and serving the UI on the same port. The peer column is the same UI (run in this
process) over a real Prometheus 2.42 scraping the same targets: there is no
Grafana here to compare with, and the ratio shows what our backend costs next to
Prometheus's. Goals are absolute times, stated in each row's note.

A dashboard is done when no panel is loading and every figure is drawn: time
series are drawn on a canvas first (``dashboards/assets/quickplot.js``) and become
plotly graphs when the pointer enters them; other figures are drawn by plotly.

Each view is opened in up to four ways:
- "in the app": a link clicked inside the app (history push, no page load;
  scripts already parsed), from the dashboard list;
- "page load": a full navigation to the URL with a warm HTTP cache (a bookmark or
  a shared link);
- "first visit" (Node Exporter Full only): the same with the browser's cache
  emptied first, so every script is fetched and compiled;
- "a range not seen before" (the two big dashboards): a page load of a range
  starting 10 s earlier each time (15 min + 10 s to now, + 20 s…), so the UI's
  query cache (``dashboards/querycache.py``) has nothing to reuse and every query
  runs in full. The other figures reload "now-15m to now", as a user does, where
  the cache asks only for the newest steps.
Each figure is the median of several runs after one warm-up run.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench._procs import ServerProcess
from bench.report import Row
from tests.dashboards.browser import make_driver, panels_done, wait_until
from tests.dashboards.peers import Peers, UIServer
from tests.util import SHARED, free_port, wait_http

CORPUS = SHARED / "corpus" / "grafana-dashboards"
DASHBOARDS = (CORPUS / "rfmoz-grafana-dashboards" / "node-exporter-full.json",
              CORPUS / "dotdc-grafana-dashboards-kubernetes" / "k8s-views-global.json")
PEER = "Spyglass UI over prometheus 2.42"
SCRAPE_INTERVAL = "2s"


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
            def do_GET(self):
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


def spyglass_up(workdir: Path, node_exporter_port: int, kube_port: int) -> ServerProcess:
    """``spyglass up`` scraping the bench's targets, at the niceness the peers run at."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "spyglass.yml"
    cfg.write_text(
        # rules (Spyglass's built-in kubernetes-mixin recording rules) every 30 s, as
        # kube-prometheus-stack evaluates them
        f"global: {{scrape_interval: {SCRAPE_INTERVAL}, evaluation_interval: 30s}}\n"
        "scrape_configs:\n"
        f"- job_name: node\n  static_configs: [{{targets: ['127.0.0.1:{node_exporter_port}']}}]\n"
        f"- job_name: kube\n  static_configs: [{{targets: ['127.0.0.1:{kube_port}'], "
        "labels: {cluster: bench}}]\n")
    port = free_port()
    data = workdir / "data"
    argv = ["nice", "-n", "5", sys.executable, "-m", "spyglass.cli", "up", "--config", str(cfg),
            "--data-dir", str(data), "--http", f"127.0.0.1:{port}", "--otlp-grpc", "off",
            "--otlp-http", "off", "--no-host-metrics", "--log.level", "warn"]
    return ServerProcess("spyglass", argv, port, workdir, data / "tsdb")


def _wait_for(api_url: str, expr: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = httpx.get(f"{api_url}/api/v1/query", params={"query": expr}, timeout=10)
        if r.status_code == 200 and r.json()["data"]["result"]:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{expr} returned nothing from {api_url} in {timeout}s")


def _clear_cache(driver) -> None:
    driver.execute_cdp_cmd("Network.clearBrowserCache", {})


def _time_load(driver, url: str, done, timeout: float = 60.0, empty_cache: bool = False) -> float:
    driver.get("about:blank")
    if empty_cache:
        _clear_cache(driver)
    t0 = time.perf_counter()
    driver.get(url)
    wait_until(lambda: done(driver), timeout, interval=0.03, message=url)
    return time.perf_counter() - t0


def explore_done(min_series: int) -> Callable[[object], bool]:
    """Explore has drawn its graph of at least ``min_series`` series (SVG lines, or a
    WebGL canvas when the browser draws WebGL on a GPU)."""
    def done(driver) -> bool:
        return bool(driver.execute_script("""
            const box = document.getElementById('ex-graph-box');
            const count = document.getElementById('ex-series-count');
            if (!box || box.style.display === 'none' || !count) return false;
            if (parseInt(count.innerText.replace(/[^0-9]/g, ''), 10) < arguments[0]) return false;
            const g = document.querySelector('#ex-graph .js-plotly-plot');
            return !!(g && g._fullData && g._fullData.length &&
                      (g.querySelector('.scatterlayer .trace path.js-line') ||
                       g.querySelector('canvas.gl-canvas-context')));""", min_series))
    return done


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


def _median(measure: Callable[[], float], n: int) -> tuple[float, list[float]]:
    measure()  # warm-up: browser caches, compiled scripts, server caches
    runs = [measure() for _ in range(n)]
    return statistics.median(runs), runs


def _import(ui_url: str) -> None:
    for f in DASHBOARDS:
        r = httpx.post(f"{ui_url}/api/dashboards/db", timeout=30,
                       json={"dashboard": json.loads(f.read_text()), "overwrite": True})
        r.raise_for_status()


def run(quick: bool) -> list[Row]:
    n = 2 if quick else 5
    history_s = 20 if quick else 90
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        kube = KubeTarget().start()
        extra = (f"- job_name: kube\n  scrape_interval: {SCRAPE_INTERVAL}\n"
                 f"  static_configs: [{{targets: ['127.0.0.1:{kube.port}'], labels: {{cluster: bench}}}}]\n")
        peers = Peers(tmp)
        sg: ServerProcess | None = None
        ui = None
        driver = None
        try:
            peers.start(scrape_interval=SCRAPE_INTERVAL, extra_config=extra)
            sg = spyglass_up(tmp / "spyglass", peers.ne_port, kube.port)
            sg.start(timeout=120)
            sg_url = f"http://127.0.0.1:{sg.port}"
            for api in (peers.prom_url, sg_url):
                _wait_for(api, 'up{job="kube"} == 1')
                _wait_for(api, "kube_pod_info")
            time.sleep(history_s)  # some history for the range queries
            ui = UIServer(peers.prom_url, peers.am_url, tmp / "store",
                          scrape_interval_ms=int(SCRAPE_INTERVAL[:-1]) * 1000).start()
            wait_http(f"{sg_url}/_dash-layout", timeout=120)  # the UI is built after ready
            for url in (sg_url, ui.url):
                _import(url)
            driver = make_driver(tmp / "profile", width=1600, height=1000)
            series = httpx.get(f"{sg_url}/api/v1/status/tsdb").json()["data"]["headStats"]["numSeries"]
            rows: list[Row] = []

            shifts = itertools.count(10, 10)

            def unseen(url: str) -> str:
                # a range starting a little earlier each time (15 min + 10 s, + 20 s…, to
                # now): the UI's query cache has kept nothing for it, every query runs in full
                return url.replace("from=now-15m&to=now", f"from=now-{900 + next(shifts)}s&to=now")

            def add(figure: str, url: str, done, goal: float, first_visit: bool = False,
                    uncached: bool = False) -> None:
                hows: list[tuple[str, Callable[[str], float]]] = [
                    ("in the app", lambda base: _time_in_app(driver, base, url, done)),
                    ("page load", lambda base: _time_load(driver, base + url, done))]
                if first_visit:
                    hows.append(("first visit, empty cache",
                                 lambda base: _time_load(driver, base + url, done, empty_cache=True)))
                if uncached:
                    hows.append(("page load, a range not seen before",
                                 lambda base: _time_load(driver, base + unseen(url), done)))
                for how, measure in hows:
                    t_sg, runs_sg = _median(lambda m=measure: m(sg_url), n)
                    t_prom, runs_prom = _median(lambda m=measure: m(ui.url), n)
                    rows.append(Row(
                        f"{figure}, {how}", "s", round(t_sg, 3), round(t_prom, 3), peer_name=PEER,
                        note=f"goal < {goal} s: {'met' if t_sg < goal else 'NOT met'} (runs "
                             f"{' '.join(f'{r:.2f}' for r in runs_sg)}; over Prometheus "
                             f"{' '.join(f'{r:.2f}' for r in runs_prom)})"))

            add("Node Exporter Full, default view (2 rows open)", "/d/rYdddlPWk?from=now-15m&to=now",
                panels_done, 3.0, first_visit=True)
            add("Node Exporter Full, all 125 panels (rows expanded)",
                "/d/rYdddlPWk?from=now-15m&to=now&rows=expanded", panels_done, 3.0, uncached=True)
            add(f"Kubernetes / Views / Global (26 panels), {series:,} series in the TSDB",
                "/d/k8s_views_global?from=now-15m&to=now", panels_done, 1.5, uncached=True)
            add("Spyglass Kubernetes / Cluster (built-in, 11 panels)",
                "/d/spyglass-k8s-cluster?from=now-15m&to=now", panels_done, 1.5)
            q = "{__name__=~%22container_memory_working_set_bytes|container_cpu_usage_seconds_total%22}"
            add("Explore, range query graph of 2,160 series",
                f"/explore?query={q}&mode=range&from=now-15m&to=now", explore_done(2000), 2.0)
            return rows
        finally:
            if driver is not None:
                driver.quit()
            if ui is not None:
                ui.stop()
            if sg is not None:
                sg.stop()
            peers.stop()
            kube.stop()
