"""Out of the box: `spyglass up --rules ... --alertmanager-config ...` evaluates rules and
notifies a webhook; amtool talks to it; it also forwards to a real Alertmanager."""

from __future__ import annotations

import json
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.e2e.server import SpyglassProcess, wait_until
from tests.util import free_port, peer_binary, wait_http

pytestmark = [pytest.mark.slow]

RULES = """
groups:
  - name: demo
    interval: 1s
    rules:
      - alert: DemoAlwaysFiring
        expr: vector(1)
        labels: {severity: page, team: sre}
        annotations: {summary: "it fires"}
"""


class Capture:
    def __init__(self):
        self.bodies: list[dict] = []
        cap = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                cap.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def capture():
    c = Capture()
    yield c
    c.close()


def test_rules_notify_a_webhook_out_of_the_box(tmp_path, capture):
    (tmp_path / "rules.yml").write_text(RULES)
    am = tmp_path / "alertmanager.yml"
    am.write_text(f"""
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
receivers:
  - name: hook
    webhook_configs:
      - url: {capture.url}
""")
    spy = SpyglassProcess(tmp_path / "data", config_text="global: {evaluation_interval: 1s}\nbuiltin_rules: false\n",
                          extra_args=["--no-host-metrics", "--rules", str(tmp_path / "rules.yml"),
                                      "--alertmanager-config", str(am)]).start()
    try:
        body = wait_until(lambda: capture.bodies and capture.bodies[0], timeout=30, what="the webhook")
        assert body["version"] == "4" and body["status"] == "firing" and body["receiver"] == "hook"
        assert body["groupKey"] == '{}:{alertname="DemoAlwaysFiring"}'
        alert = body["alerts"][0]
        assert alert["labels"] == {"alertname": "DemoAlwaysFiring", "severity": "page", "team": "sre"}
        assert alert["annotations"] == {"summary": "it fires"}
        assert alert["generatorURL"].startswith(spy.url) and "/graph?g0.expr=vector%281%29" in alert["generatorURL"]

        # the API v2 shows it, and amtool can silence it
        alerts = httpx.get(spy.url + "/api/v2/alerts").json()
        assert [a["labels"]["alertname"] for a in alerts] == ["DemoAlwaysFiring"]
        amtool = peer_binary("amtool")
        out = subprocess.run([amtool, f"--alertmanager.url={spy.url}", "silence", "add", "alertname=DemoAlwaysFiring",
                              "--comment=e2e", "--author=test", "--duration=1h"],
                             capture_output=True, text=True, timeout=30, check=False)
        assert out.returncode == 0, out.stderr
        sid = out.stdout.strip()
        q = subprocess.run([amtool, f"--alertmanager.url={spy.url}", "silence", "query", "-q"],
                           capture_output=True, text=True, timeout=30, check=False)
        assert q.stdout.split() == [sid]
        wait_until(lambda: httpx.get(spy.url + "/api/v2/alerts").json()[0]["status"]["state"] == "suppressed",
                   timeout=10, what="the alert to be silenced")
    finally:
        spy.stop()


def test_forwarding_to_a_real_alertmanager(tmp_path, capture):
    (tmp_path / "rules.yml").write_text(RULES)
    am_port = free_port()
    (tmp_path / "am.yml").write_text("route: {receiver: x}\nreceivers: [{name: x}]\n")
    am = subprocess.Popen([peer_binary("prometheus-alertmanager"), f"--config.file={tmp_path / 'am.yml'}",
                           f"--storage.path={tmp_path / 'am-data'}", f"--web.listen-address=127.0.0.1:{am_port}",
                           "--cluster.listen-address="], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_http(f"http://127.0.0.1:{am_port}/-/ready")
        cfg = f"""
global: {{evaluation_interval: 1s, external_labels: {{cluster: e2e}}}}
builtin_rules: false
rule_files: [{tmp_path / 'rules.yml'}]
alerting:
  alert_relabel_configs:
    - {{source_labels: [team], target_label: owner}}
  alertmanagers:
    - static_configs: [{{targets: ['127.0.0.1:{am_port}']}}]
"""
        with SpyglassProcess(tmp_path / "data", config_text=cfg, extra_args=["--no-host-metrics"]):
            def received():
                got = httpx.get(f"http://127.0.0.1:{am_port}/api/v2/alerts").json()
                return got[0]["labels"] if got else None

            labels = wait_until(received, timeout=30, what="the alert at the real Alertmanager")
            assert labels == {"alertname": "DemoAlwaysFiring", "severity": "page", "team": "sre",
                              "cluster": "e2e", "owner": "sre"}
    finally:
        am.terminate()
        am.wait(10)


RECORD_RULES = """
groups:
  - name: split
    interval: 1s
    rules:
      - record: job:up:sum
        expr: sum by (job) (rw_up)
      - alert: SomethingUp
        expr: rw_up == 1
        labels: {severity: info}
"""


@pytest.mark.parametrize("backend", ["spyglass", "prometheus"])
def test_alerting_role_against_a_separate_backend(tmp_path, backend):
    """`spyglass alerting --query-url` evaluates rules on a backend and writes results back."""
    import time

    from tests.e2e.peers import PrometheusProcess
    from tests.e2e.rwdata import send, write_request

    (tmp_path / "rules.yml").write_text(RECORD_RULES)
    if backend == "spyglass":
        store = SpyglassProcess(tmp_path / "collector", command="collector").start()
    else:
        store = PrometheusProcess(tmp_path / "prom").start()
    alerting = SpyglassProcess(tmp_path / "alerting", command="alerting",
                               config_text="global: {evaluation_interval: 1s}\nbuiltin_rules: false\n",
                               extra_args=["--query-url", store.url, "--rules", str(tmp_path / "rules.yml")])
    try:
        alerting.start()

        def feed():
            now = int(time.time() * 1000)
            body = write_request([({"__name__": "rw_up", "job": "j", "instance": "i"}, [(now, 1.0)])])
            assert send(store.url + "/api/v1/write", body).status_code in (200, 204)

        def firing():
            feed()
            got = httpx.get(alerting.url + "/api/v1/alerts").json()["data"]["alerts"]
            return [a for a in got if a["state"] == "firing"]

        alerts = wait_until(firing, timeout=30, interval=0.5, what="the alert to fire in the alerting process")
        assert alerts[0]["labels"] == {"alertname": "SomethingUp", "severity": "info", "instance": "i", "job": "j"}

        def recorded():
            feed()
            r = httpx.get(store.url + "/api/v1/query", params={"query": "job:up:sum"}).json()["data"]["result"]
            a = httpx.get(store.url + "/api/v1/query", params={"query": 'ALERTS{alertname="SomethingUp"}'}).json()
            return r and a["data"]["result"] and (r, a["data"]["result"])

        rec, alerts_series = wait_until(recorded, timeout=30, interval=0.5, what="rule results written back")
        assert rec[0]["metric"] == {"__name__": "job:up:sum", "job": "j"} and rec[0]["value"][1] == "1"
        assert alerts_series[0]["metric"]["alertstate"] == "firing"
        groups = httpx.get(alerting.url + "/api/v1/rules").json()["data"]["groups"]
        assert [r["health"] for g in groups for r in g["rules"]] == ["ok", "ok"]
    finally:
        alerting.stop()
        store.stop()
