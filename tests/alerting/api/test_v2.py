"""Alertmanager API v2 shapes, through FastAPI's test client."""

import re
import textwrap
import time

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from alerting.api import create_app
from alerting.notify import Notifier, parse_config

CONF = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1h
  routes:
  - matchers: [team=db]
    receiver: db
inhibit_rules:
- source_matchers: [severity=critical]
  target_matchers: [severity=warning]
  equal: [alertname]
receivers:
- name: default
- name: db
  webhook_configs: [{url: "http://127.0.0.1:9/hook"}]
"""
MS_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"


@pytest.fixture
def api(tmp_path):
    n = Notifier(parse_config(textwrap.dedent(CONF)), str(tmp_path), registry=CollectorRegistry(),
                 external_url="http://sg.test")
    n.start()
    try:
        with TestClient(create_app(n)) as client:
            yield client, n
    finally:
        n.shutdown()


def wait_groups(client, count, **params):
    for _ in range(100):
        groups = client.get("/api/v2/alerts/groups", params=params).json()
        if len(groups) == count:
            return groups
        time.sleep(0.02)
    raise AssertionError(f"wanted {count} groups, have {groups}")


def test_post_and_get_alerts(api):
    client, _n = api
    now = time.time()
    r = client.post("/api/v2/alerts", json=[
        {"labels": {"alertname": "Disk", "team": "db", "severity": "warning", "empty": ""},
         "annotations": {"summary": "full"}, "generatorURL": "http://prom/graph"},
        {"labels": {"alertname": "Disk", "severity": "critical"}, "startsAt": "2024-05-01T10:00:00Z"},
    ])
    assert r.status_code == 200, r.text
    alerts = client.get("/api/v2/alerts").json()
    assert len(alerts) == 2
    warn = next(a for a in alerts if a["labels"]["severity"] == "warning")
    assert set(warn) == {"annotations", "endsAt", "fingerprint", "receivers", "startsAt", "status", "updatedAt",
                         "generatorURL", "labels"}
    assert warn["labels"] == {"alertname": "Disk", "team": "db", "severity": "warning"}  # empty label dropped
    assert warn["receivers"] == [{"name": "db"}]
    assert warn["status"] == {"inhibitedBy": [next(a for a in alerts if a["labels"]["severity"] == "critical")["fingerprint"]],
                              "silencedBy": [], "state": "suppressed"}
    for k in ("startsAt", "endsAt", "updatedAt"):
        assert re.match(MS_RE, warn[k]), warn[k]
    # No endsAt: resolve_timeout (5m) after receipt.
    ends = time.mktime(time.strptime(warn["endsAt"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
    assert abs(ends - (now + 300)) < 5
    assert [a["fingerprint"] for a in alerts] == sorted(a["fingerprint"] for a in alerts)
    # Filters.
    assert len(client.get("/api/v2/alerts", params={"inhibited": "false"}).json()) == 1
    assert len(client.get("/api/v2/alerts", params={"active": "false"}).json()) == 1
    assert len(client.get("/api/v2/alerts", params=[("filter", "team=db")]).json()) == 1
    assert len(client.get("/api/v2/alerts", params=[("filter", 'team=~"d.*"'), ("filter", "severity!=warning")]).json()) == 0
    assert len(client.get("/api/v2/alerts", params={"receiver": "def.*"}).json()) == 1
    assert client.get("/api/v2/alerts", params=[("filter", "bad filter")]).status_code == 400
    assert client.get("/api/v2/alerts", params={"silenced": "maybe"}).status_code == 400


def test_invalid_alerts_are_refused_with_reasons(api):
    client, _ = api
    r = client.post("/api/v2/alerts", json=[{"labels": {}}, {"labels": {"a": "b"}, "startsAt": "2024-05-01T10:00:00Z",
                                                             "endsAt": "2024-04-01T10:00:00Z"},
                                            {"labels": {"ok": "yes"}}])
    assert r.status_code == 400
    assert "at least one label pair required" in r.json() and "start time must be before end time" in r.json()
    assert len(client.get("/api/v2/alerts").json()) == 1  # the valid one was kept
    assert client.post("/api/v2/alerts", content=b"{not json").status_code == 400
    assert client.post("/api/v2/alerts", json=[{"annotations": {}}]).status_code == 400


def test_groups(api):
    client, _n = api
    client.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "team": "db"}},
                                        {"labels": {"alertname": "B"}}, {"labels": {"alertname": "A"}}])
    groups = wait_groups(client, 3)
    assert [(g["labels"], g["receiver"]["name"], len(g["alerts"])) for g in groups] == [
        ({"alertname": "A"}, "db", 1), ({"alertname": "A"}, "default", 1), ({"alertname": "B"}, "default", 1)]
    assert set(groups[0]) == {"alerts", "labels", "receiver"}
    assert len(client.get("/api/v2/alerts/groups", params={"receiver": "db"}).json()) == 1


def test_silence_lifecycle(api):
    client, _n = api
    now = time.time()
    body = {"matchers": [{"name": "alertname", "value": "A", "isRegex": False},
                         {"name": "team", "value": "d.*", "isRegex": True, "isEqual": False}],
            "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 10)),
            "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
            "createdBy": "me", "comment": "maintenance"}
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code == 200, r.text
    sid = r.json()["silenceID"]
    s = client.get(f"/api/v2/silence/{sid}").json()
    assert set(s) == {"id", "status", "updatedAt", "comment", "createdBy", "endsAt", "matchers", "startsAt"}
    assert s["status"] == {"state": "active"} and s["matchers"][1] == {
        "isEqual": False, "isRegex": True, "name": "team", "value": "d.*"}
    assert len(client.get("/api/v2/silences", params=[("filter", 'team!~"d.*"')]).json()) == 1
    assert client.get("/api/v2/silences", params=[("filter", "team=db")]).json() == []
    # Update in place keeps the ID; changing matchers replaces it.
    body2 = dict(body, id=sid, comment="longer", startsAt=s["startsAt"],
                 endsAt=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 7200)))
    assert client.post("/api/v2/silences", json=body2).json()["silenceID"] == sid
    body3 = dict(body2, matchers=body["matchers"][:1])
    sid3 = client.post("/api/v2/silences", json=body3).json()["silenceID"]
    assert sid3 != sid and client.get(f"/api/v2/silence/{sid}").json()["status"]["state"] == "expired"
    states = [x["status"]["state"] for x in client.get("/api/v2/silences").json()]
    assert states == ["active", "expired"]
    assert client.delete(f"/api/v2/silence/{sid3}").status_code == 200
    assert client.get(f"/api/v2/silence/{sid3}").json()["status"]["state"] == "expired"
    assert client.delete("/api/v2/silence/00000000-0000-0000-0000-000000000000").status_code == 404
    assert client.get("/api/v2/silence/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize("change,msg", [
    ({"endsAt": "2020-01-01T00:00:00Z", "startsAt": "2019-01-01T00:00:00Z"}, "end time can't be in the past"),
    ({"startsAt": "2099-01-02T00:00:00Z", "endsAt": "2099-01-01T00:00:00Z"}, "start time must be before end time"),
    ({"matchers": []}, "at least 1"),
    ({"matchers": [{"name": "a", "value": "", "isRegex": False}]}, "must not match the empty string"),
    ({"matchers": [{"name": "a", "value": "(", "isRegex": True}]}, "error parsing regexp"),
    ({"id": "does-not-exist"}, "silence not found"),
])
def test_bad_silences(api, change, msg):
    client, _ = api
    body = {"matchers": [{"name": "a", "value": "b", "isRegex": False}], "startsAt": "2024-01-01T00:00:00Z",
            "endsAt": "2099-01-01T00:00:00Z", "createdBy": "me", "comment": "c"}
    body.update(change)
    r = client.post("/api/v2/silences", json=body)
    assert r.status_code in (400, 404) and msg in r.json()


def test_status_and_receivers(api):
    client, _ = api
    st = client.get("/api/v2/status").json()
    assert st["cluster"] == {"peers": [], "status": "disabled"}
    assert set(st["versionInfo"]) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    assert yaml.safe_load(st["config"]["original"])["route"]["receiver"] == "default"
    assert "127.0.0.1:9/hook" not in st["config"]["original"]  # webhook URLs are secrets
    assert re.match(MS_RE, st["uptime"])
    assert client.get("/api/v2/receivers").json() == [{"name": "default"}, {"name": "db"}]
