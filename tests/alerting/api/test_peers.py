"""Real clients against the API: Debian's amtool, and Prometheus 2.42 sending the
alerts of a rule file (its notifier speaks API v2)."""

import json
import subprocess
import textwrap
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerting.api import create_app
from alerting.notify import Notifier, parse_config
from tests.alerting.notify.capture_server import AppServer, CaptureServer
from tests.util import free_port, peer_binary, wait_http


def amtool(base, *args):
    r = subprocess.run([peer_binary("amtool"), f"--alertmanager.url={base}", *args], capture_output=True,
                       text=True, timeout=30, check=False)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.mark.peer
def test_amtool_alerts_and_silences(tmp_path):
    n = Notifier(parse_config("route: {receiver: r, group_by: [alertname]}\nreceivers: [{name: r}]\n"),
                 str(tmp_path), registry=CollectorRegistry(), external_url="http://sg.test")
    n.start()
    try:
        with AppServer(create_app(n)) as srv:
            amtool(srv.url, "alert", "add", "alertname=DiskFull", "severity=critical", "instance=db1",
                   "--annotation=summary=disk is full")
            amtool(srv.url, "alert", "add", "alertname=Other", "severity=info")
            out = json.loads(amtool(srv.url, "alert", "query", "-o", "json"))
            assert sorted(a["labels"]["alertname"] for a in out) == ["DiskFull", "Other"]
            assert "DiskFull" in amtool(srv.url, "alert", "query", "severity=critical")
            assert "Other" not in amtool(srv.url, "alert", "query", "severity=critical")
            sid = amtool(srv.url, "silence", "add", "alertname=DiskFull", "instance=~db.*", "--comment=maint",
                         "--author=ops", "--duration=2h").strip()
            assert len(sid) == 36
            sils = json.loads(amtool(srv.url, "silence", "query", "-o", "json"))
            assert [s["id"] for s in sils] == [sid] and sils[0]["createdBy"] == "ops"
            assert {(m["name"], m["value"], m["isRegex"]) for m in sils[0]["matchers"]} == {
                ("alertname", "DiskFull", False), ("instance", "db.*", True)}
            # Silenced alerts disappear from the default query and show with --silenced.
            assert "DiskFull" not in amtool(srv.url, "alert", "query")
            assert "suppressed" in amtool(srv.url, "alert", "query", "--silenced", "alertname=DiskFull")
            amtool(srv.url, "silence", "expire", sid)
            assert amtool(srv.url, "silence", "query", "-q") == ""
            assert sid in amtool(srv.url, "silence", "query", "--expired", "-q")
            assert "DiskFull" in amtool(srv.url, "alert", "query")
            # The state lives in the notifier, not in the client.
            assert n.silences.get(sid).created_by == "ops"
    finally:
        n.shutdown()


@pytest.mark.peer
@pytest.mark.slow
def test_prometheus_sends_rule_alerts_to_spyglass(tmp_path):
    with CaptureServer() as hook:
        n = Notifier(parse_config(textwrap.dedent(f"""
            route: {{receiver: r, group_by: [alertname], group_wait: 1s}}
            receivers: [{{name: r, webhook_configs: [{{url: "{hook.url}/hook"}}]}}]
            """)), str(tmp_path / "sg"), registry=CollectorRegistry(), external_url="http://sg.test")
        n.start()
        try:
            with AppServer(create_app(n)) as srv:
                (tmp_path / "rules.yml").write_text(textwrap.dedent("""
                    groups:
                    - name: g
                      interval: 1s
                      rules:
                      - alert: AlwaysOn
                        expr: vector(1)
                        labels: {severity: test}
                        annotations: {summary: "value {{ $value }}"}
                    """))
                (tmp_path / "prometheus.yml").write_text(textwrap.dedent(f"""
                    global: {{evaluation_interval: 1s}}
                    rule_files: [{tmp_path / 'rules.yml'}]
                    alerting:
                      alertmanagers:
                      - static_configs: [{{targets: ["127.0.0.1:{srv.port}"]}}]
                    """))
                port = free_port()
                with open(tmp_path / "prom.log", "wb") as logf:
                    prom = subprocess.Popen(
                        [peer_binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}",
                         # Alertmanager discovery settles after ~5 s; resend soon after, not in a minute.
                         "--rules.alert.resend-delay=1s"],
                        stdout=logf, stderr=subprocess.STDOUT)
                    try:
                        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=30)
                        deadline = time.monotonic() + 30
                        while not hook.at("/hook") and time.monotonic() < deadline:
                            time.sleep(0.2)
                    finally:
                        prom.terminate()
                        prom.wait(10)
                (req,) = hook.at("/hook")[:1]
                body = req.json()
                (alert,) = body["alerts"]
                assert alert["labels"] == {"alertname": "AlwaysOn", "severity": "test"}
                assert alert["annotations"] == {"summary": "value 1"}
                assert alert["status"] == "firing" and alert["generatorURL"].startswith("http")
                assert body["groupKey"] == '{}:{alertname="AlwaysOn"}'
                api = httpx.get(srv.url + "/api/v2/alerts").json()
                assert api[0]["labels"]["alertname"] == "AlwaysOn" and api[0]["status"]["state"] == "active"
        finally:
            n.shutdown()
