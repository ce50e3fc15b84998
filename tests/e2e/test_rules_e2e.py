"""Rules in a real `spyglass up` and in real Prometheus, same rule file, same data:
same /api/v1/rules and /api/v1/alerts content and the same recorded series."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.e2e.peers import PrometheusProcess
from tests.e2e.rwdata import send, write_request
from tests.e2e.server import SpyglassProcess, wait_until

pytestmark = [pytest.mark.peer, pytest.mark.slow]

RULES = """
groups:
  - name: node
    interval: 1s
    rules:
      - record: job:node_load1:sum
        expr: sum by (job) (node_load1)
      - alert: HighLoad
        expr: node_load1 > 2
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.instance }} load is {{ $value | humanize }}"
          description: 'Load {{ printf "%.1f" $value }} on {{ $labels.instance }} ({{ $externalLabels.cluster }})'
      - alert: Pending
        expr: node_load1 > 0
        for: 1h
"""

CONFIG = """
global:
  evaluation_interval: 1s
  external_labels: {cluster: test}
rule_files: [rules.yml]
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("rules")
    (base / "prom").mkdir()
    (base / "prom" / "rules.yml").write_text(RULES)
    (base / "rules.yml").write_text(RULES)
    prom = PrometheusProcess(base / "prom", CONFIG).start()
    spy = SpyglassProcess(base / "spy", config_text=CONFIG + "builtin_rules: false\n",
                          extra_args=["--no-host-metrics"]).start()
    try:
        yield prom, spy
    finally:
        spy.stop()
        prom.stop()


def _feed(urls, seconds: float = 6.0):
    """Live samples for a few seconds (rules evaluate at "now")."""
    end = time.time() + seconds
    while time.time() < end:
        now = int(time.time() * 1000)
        body = write_request([
            ({"__name__": "node_load1", "job": "node", "instance": "a:9100"}, [(now, 3.5)]),
            ({"__name__": "node_load1", "job": "node", "instance": "b:9100"}, [(now, 1.25)]),
        ])
        for u in urls:
            assert send(u + "/api/v1/write", body).status_code in (200, 204)
        time.sleep(0.5)


def _strip(rules_data):
    out = []
    for g in rules_data["groups"]:
        for r in g["rules"]:
            out.append({
                "group": g["name"], "interval": g["interval"], "name": r["name"], "query": r["query"],
                # Prometheus 2.42 omits empty recording-rule labels; 3.x (our target) writes {}
                "type": r["type"], "health": r["health"], "labels": r.get("labels") or {},
                "annotations": r.get("annotations"), "state": r.get("state"), "duration": r.get("duration"),
                "alerts": sorted(((a["labels"], a["annotations"], a["state"], a["value"]) for a in r.get("alerts", [])),
                                 key=str),
            })
    return out


def test_rules_and_alerts_match_prometheus(pair):
    prom, spy = pair
    _feed([prom.url, spy.url])

    def firing(url):
        alerts = httpx.get(url + "/api/v1/alerts").json()["data"]["alerts"]
        return [a for a in alerts if a["state"] == "firing"]

    wait_until(lambda: firing(prom.url) and firing(spy.url), timeout=20, what="HighLoad to fire in both")
    _feed([prom.url, spy.url], 2)
    p = _strip(httpx.get(prom.url + "/api/v1/rules").json()["data"])
    s = _strip(httpx.get(spy.url + "/api/v1/rules").json()["data"])
    assert s == p

    def alerts(url):
        got = httpx.get(url + "/api/v1/alerts").json()["data"]["alerts"]
        return sorted(((a["labels"], a["annotations"], a["state"]) for a in got), key=str)

    pa, sa = alerts(prom.url), alerts(spy.url)
    assert sa == pa
    assert any(a[1]["summary"] == "a:9100 load is 3.5" and a[1]["description"] == "Load 3.5 on a:9100 (test)"
               for a in sa)

    for url in (prom.url, spy.url):
        rec = httpx.get(url + "/api/v1/query", params={"query": "job:node_load1:sum"}).json()["data"]["result"]
        assert rec and rec[0]["value"][1] == "4.75", url
        alerts_series = httpx.get(url + "/api/v1/query", params={"query": "ALERTS"}).json()["data"]["result"]
        assert {(s["metric"]["alertname"], s["metric"]["alertstate"]) for s in alerts_series} == {
            ("HighLoad", "firing"), ("Pending", "pending")}, url


def test_type_filter(pair):
    _, spy = pair
    data = httpx.get(spy.url + "/api/v1/rules", params={"type": "record"}).json()["data"]
    assert [r["name"] for g in data["groups"] for r in g["rules"]] == ["job:node_load1:sum"]
    r = httpx.get(spy.url + "/api/v1/rules", params={"type": "bogus"})
    assert r.status_code == 400 and r.json()["errorType"] == "bad_data"
