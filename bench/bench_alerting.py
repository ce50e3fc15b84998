"""Alerting benchmarks: Spyglass beside Prometheus + Alertmanager doing the same job.

Notification side (``alerting.notify``): the delay from posting a firing alert
(``POST /api/v2/alerts``) to its webhook arriving, beyond ``group_wait``, for
Spyglass and Debian's prometheus-alertmanager run as processes with the same
config, fed the same alerts in the same run. The goal is an absolute one: under
1 s beyond group_wait; the ratio column compares with Alertmanager. Two loads:
single alerts one after another (latency), and a burst of many alerts in many
groups at once (the last webhook of the burst).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from bench._procs import free_port, peer_binary, wait_ready
from bench.report import Row

GROUP_WAIT = 1.0
PEER = "alertmanager 0.25"


class _Hook:
    """Records the arrival time of every alert in every webhook body, per path."""

    def __init__(self):
        self.arrivals: dict[tuple[str, str], float] = {}
        self.cv = threading.Condition()
        outer = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                t = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.cv:
                    for a in body["alerts"]:
                        outer.arrivals.setdefault((self.path, a["labels"]["alertname"]), t)
                    outer.cv.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class Server(ThreadingHTTPServer):
            # Alertmanager opens one connection per group at once; the default
            # backlog of 5 would make it wait for SYN retransmits.
            request_queue_size = 512
            daemon_threads = True

        self.port = free_port()
        self.srv = Server(("127.0.0.1", self.port), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def wait(self, keys, timeout=30.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.cv:
            while not all(k in self.arrivals for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cv.wait(left)
        return True


def _config(hook_url: str) -> str:
    return textwrap.dedent(f"""
        route:
          receiver: hook
          group_by: [alertname]
          group_wait: {int(GROUP_WAIT * 1000)}ms
          group_interval: 10s
          repeat_interval: 1h
        receivers:
        - name: hook
          webhook_configs: [{{url: "{hook_url}"}}]
        """)


def _start(tmp: Path, hook: _Hook) -> tuple[dict[str, str], list[subprocess.Popen]]:
    am_bin = peer_binary("prometheus-alertmanager")
    (tmp / "am").mkdir()
    (tmp / "am.yml").write_text(_config(f"http://127.0.0.1:{hook.port}/am"))
    (tmp / "sg.yml").write_text(_config(f"http://127.0.0.1:{hook.port}/sg"))
    am_port, sg_port = free_port(), free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    procs = [
        subprocess.Popen([am_bin, f"--config.file={tmp / 'am.yml'}", f"--storage.path={tmp / 'am'}",
                          f"--web.listen-address=127.0.0.1:{am_port}", "--cluster.listen-address=",
                          "--log.level=warn"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
        subprocess.Popen([sys.executable, "-m", "bench._notify_server", str(tmp / "sg.yml"), str(tmp / "sg"),
                          str(sg_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    urls = {"/am": f"http://127.0.0.1:{am_port}", "/sg": f"http://127.0.0.1:{sg_port}"}
    for url, p in zip(urls.values(), procs):
        wait_ready(url + "/-/ready", p, 30.0)
    return urls, procs


def _post(client: httpx.Client, url: str, alerts: list[dict]) -> float:
    t = time.monotonic()
    r = client.post(url + "/api/v2/alerts", json=alerts)
    r.raise_for_status()
    return t


def _alert(name: str, **labels) -> dict:
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": "bench"}}


def run(quick: bool) -> list[Row]:
    singles = 5 if quick else 30
    burst_groups = 20 if quick else 200
    per_group = 5 if quick else 10
    hook = _Hook()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as d:
        urls, procs = _start(Path(d), hook)
        try:
            with httpx.Client(timeout=10) as client:
                delays: dict[str, list[float]] = {"/am": [], "/sg": []}
                for i in range(singles):
                    name = f"Single{i}"
                    posted = {path: _post(client, url, [_alert(name)]) for path, url in urls.items()}
                    if not hook.wait([(p, name) for p in urls]):
                        raise RuntimeError(f"webhook for {name} did not arrive")
                    for p in urls:
                        delays[p].append(hook.arrivals[(p, name)] - posted[p] - GROUP_WAIT)
                med = {p: statistics.median(v) for p, v in delays.items()}
                worst = {p: max(v) for p, v in delays.items()}
                rows.append(Row("notification delay beyond group_wait, single alert (median)", "s",
                                med["/sg"], med["/am"], peer_name=PEER, note="goal: < 1 s (absolute)"))
                rows.append(Row("notification delay beyond group_wait, single alert (max)", "s",
                                worst["/sg"], worst["/am"], peer_name=PEER, note="goal: < 1 s (absolute)"))
                # A burst: many groups created at once; the last webhook is what the slowest team sees.
                burst = [_alert(f"Burst{g}", instance=f"i{k}") for g in range(burst_groups) for k in range(per_group)]
                last: dict[str, float] = {}
                for p, url in urls.items():
                    t0 = _post(client, url, burst)
                    keys = [(p, f"Burst{g}") for g in range(burst_groups)]
                    if not hook.wait(keys, timeout=60):
                        raise RuntimeError(f"burst webhooks missing for {p}")
                    last[p] = max(hook.arrivals[k] for k in keys) - t0 - GROUP_WAIT
                rows.append(Row(f"notification delay beyond group_wait, burst of {burst_groups} groups x "
                                f"{per_group} alerts (last webhook)", "s", last["/sg"], last["/am"],
                                peer_name=PEER, note="goal: < 1 s (absolute)"))
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
    return rows
