"""Real peers for UI tests and the benchmark: Prometheus 2.42 scraping node-exporter
(and itself) with a few rules, and an Alertmanager; plus the Spyglass UI served by
uvicorn on a free port. Every port is free-picked; everything stops by itself."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from dashboards.app import create_dash_app
from dashboards.asgi import mount_ui
from tests.util import free_port, peer_binary, wait_http

RULES = """
groups:
- name: ui-test
  interval: 5s
  rules:
  - alert: AlwaysFiring
    expr: vector(1)
    labels: {severity: warning, team: "<img src=x onerror=alert(1)>"}
    annotations: {summary: "Always firing <b>bold?</b>", description: "for UI tests"}
  - alert: NodeUpPending
    expr: up{job="node"} > 0
    for: 1h
    labels: {severity: info}
    annotations: {summary: "pending for an hour"}
  - record: job:up:sum
    expr: sum by (job) (up)
"""


class Peers:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.procs: list[subprocess.Popen] = []
        self.prom_port = free_port()
        self.ne_port = free_port()
        self.am_port = free_port()

    @property
    def prom_url(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}"

    @property
    def am_url(self) -> str:
        return f"http://127.0.0.1:{self.am_port}"

    def _spawn(self, args: list[str], name: str) -> None:
        # The child keeps the log open; the parent's handle closes with the process.
        log = open(self.tmp / f"{name}.log", "wb")  # noqa: SIM115
        # `nice` execs the peer in place (same pid), unlike a preexec_fn, which is
        # unsafe while other threads run.
        self.procs.append(subprocess.Popen(["nice", "-n", "5", *args], stdout=log,
                                           stderr=subprocess.STDOUT, cwd=self.tmp))

    def start(self, *, scrape_interval: str = "2s", extra_config: str = "") -> Peers:
        (self.tmp / "rules.yml").write_text(RULES)
        (self.tmp / "am.yml").write_text(
            "route: {receiver: devnull, group_wait: 1s}\nreceivers: [{name: devnull}]\n")
        (self.tmp / "prometheus.yml").write_text(f"""
global: {{scrape_interval: {scrape_interval}, evaluation_interval: {scrape_interval}}}
rule_files: [rules.yml]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ["127.0.0.1:{self.am_port}"]}}]}}]
scrape_configs:
- job_name: node
  static_configs: [{{targets: ["127.0.0.1:{self.ne_port}"]}}]
- job_name: prometheus
  static_configs: [{{targets: ["127.0.0.1:{self.prom_port}"]}}]
{extra_config}
""")
        self._spawn([peer_binary("prometheus-node-exporter"),
                     f"--web.listen-address=127.0.0.1:{self.ne_port}",
                     "--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
                     "--collector.filesystem", "--collector.loadavg", "--collector.netdev",
                     "--collector.diskstats", "--collector.uname", "--collector.time",
                     "--collector.stat", "--collector.pressure", "--collector.vmstat"], "node-exporter")
        self._spawn([peer_binary("prometheus-alertmanager"), f"--config.file={self.tmp / 'am.yml'}",
                     f"--storage.path={self.tmp / 'am-data'}",
                     f"--web.listen-address=127.0.0.1:{self.am_port}",
                     "--cluster.listen-address="], "alertmanager")
        self._spawn([peer_binary("prometheus"), f"--config.file={self.tmp / 'prometheus.yml'}",
                     f"--storage.tsdb.path={self.tmp / 'prom-data'}",
                     f"--web.listen-address=127.0.0.1:{self.prom_port}",
                     "--web.enable-admin-api", "--web.enable-remote-write-receiver",
                     # the first notification goes out before the Alertmanager is
                     # discovered and is dropped; resend soon instead of after 1m
                     "--rules.alert.resend-delay=2s"], "prometheus")
        wait_http(f"{self.prom_url}/-/ready")
        wait_http(f"{self.am_url}/-/ready")
        wait_http(f"http://127.0.0.1:{self.ne_port}/metrics")
        return self

    def wait_for(self, expr: str, timeout: float = 30.0) -> None:
        import httpx
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = httpx.get(f"{self.prom_url}/api/v1/query", params={"query": expr}).json()
            if r["data"]["result"]:
                return
            time.sleep(0.5)
        raise AssertionError(f"{expr} returned nothing in {timeout}s")

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


class UIServer:
    """The UI (Dash mounted in FastAPI with the dashboard API) on a free port."""

    def __init__(self, api_url: str, am_url: str, store_dir: Path, **kw):
        self.dash_app = create_dash_app(api_url, store_dir, alertmanager_url=am_url,
                                        registry=CollectorRegistry(), **kw)
        self.app = mount_ui(FastAPI(), self.dash_app)
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> UIServer:
        self.thread.start()
        wait_http(f"{self.url}/_dash-layout")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@contextmanager
def running_stack(tmp: Path, **ui_kw) -> Iterator[tuple[Peers, UIServer]]:
    peers = Peers(tmp).start()
    ui = None
    try:
        ui = UIServer(peers.prom_url, peers.am_url, tmp / "store", **ui_kw).start()
        yield peers, ui
    finally:
        if ui is not None:
            ui.stop()
        peers.stop()
