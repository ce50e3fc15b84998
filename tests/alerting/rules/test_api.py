"""/api/v1/rules and /api/v1/alerts data in Prometheus's shapes."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules.api import BadParameter, alerts_data, group_next_token, rules_data
from alerting.rules.manager import Manager, ManagerOptions
from alerting.rules.rule import QuerySample
from storage.labels import Labels
from storage.memstore import MemoryStorage

RULES = """
groups:
- name: g1
  interval: 1m
  limit: 5
  rules:
  - record: r1
    expr: up
    labels: {team: a}
  - alert: Down
    expr: up == 0
    for: 1m
    keep_firing_for: 30s
    labels: {severity: page}
    annotations: {summary: "{{ $labels.i }} down"}
- name: g2
  rules:
  - alert: Other
    expr: vector(1)
"""


@pytest.fixture
def mgr(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text(RULES)

    def q(expr, t):
        if expr == "up == 0":
            return [QuerySample(Labels.parse('up{i="a"}'), t, 0.0)]
        return [QuerySample(Labels.parse('up{i="a"}'), t, 1.0)]

    store = MemoryStorage()
    m = Manager(ManagerOptions(query_func=q, appendable=store, registry=CollectorRegistry()))
    m.update([str(f)])
    g1, _g2 = m.rule_groups()
    g1.eval(60_000)
    g1.eval(120_000)
    return m


def test_rules_shape(mgr):
    data = json.loads(json.dumps(rules_data(mgr.rule_groups())))
    g1, g2 = data["groups"]
    assert list(g1) == ["name", "file", "rules", "interval", "limit", "evaluationTime", "lastEvaluation"]
    assert (g1["name"], g1["interval"], g1["limit"]) == ("g1", 60.0, 5)
    rec, alert = g1["rules"]
    assert list(rec) == ["name", "query", "labels", "health", "evaluationTime", "lastEvaluation", "type"]
    assert rec["type"] == "recording" and rec["labels"] == {"team": "a"} and rec["health"] == "ok"
    assert rec["lastEvaluation"] == "1970-01-01T00:02:00Z"
    assert list(alert) == [
        "state", "name", "query", "duration", "keepFiringFor", "labels", "annotations", "alerts",
        "health", "evaluationTime", "lastEvaluation", "type",
    ]
    assert (alert["state"], alert["duration"], alert["keepFiringFor"]) == ("firing", 60.0, 30.0)
    assert alert["annotations"] == {"summary": "{{ $labels.i }} down"}
    assert alert["alerts"] == [
        {
            "labels": {"alertname": "Down", "i": "a", "severity": "page"},
            "annotations": {"summary": "a down"},
            "state": "firing",
            "activeAt": "1970-01-01T00:01:00Z",
            "value": "0e+00",
        }
    ]
    # never evaluated: unknown health, Go's zero time
    other = g2["rules"][0]
    assert (other["health"], other["state"], other["lastEvaluation"]) == ("unknown", "unknown", "0001-01-01T00:00:00Z")


def test_rules_filters(mgr):
    gs = mgr.rule_groups()
    only_alerts = rules_data(gs, type="alert")
    assert [r["name"] for g in only_alerts["groups"] for r in g["rules"]] == ["Down", "Other"]
    only_rec = rules_data(gs, type="record")
    assert [g["name"] for g in only_rec["groups"]] == ["g1"]  # g2 has no recording rules: omitted
    assert [r["name"] for g in rules_data(gs, rule_name=["Other"])["groups"] for r in g["rules"]] == ["Other"]
    assert [g["name"] for g in rules_data(gs, rule_group=["g2"])["groups"]] == ["g2"]
    assert rules_data(gs, file=["nope.yml"])["groups"] == []
    assert [r["name"] for g in rules_data(gs, match=['{severity="page"}'])["groups"] for r in g["rules"]] == ["Down"]
    assert rules_data(gs, exclude_alerts="true")["groups"][0]["rules"][1]["alerts"] == []
    with pytest.raises(BadParameter, match='not supported value "bogus"'):
        rules_data(gs, type="bogus")
    with pytest.raises(BadParameter):
        rules_data(gs, match=["up["])


def test_rules_pagination(mgr):
    gs = mgr.rule_groups()
    page1 = rules_data(gs, group_limit="1")
    assert [g["name"] for g in page1["groups"]] == ["g1"]
    assert page1["groupNextToken"] == group_next_token(gs[1].file, "g2")
    page2 = rules_data(gs, group_limit="1", group_next_token_param=page1["groupNextToken"])
    assert [g["name"] for g in page2["groups"]] == ["g2"] and "groupNextToken" not in page2
    with pytest.raises(BadParameter, match="group_limit needs to be present"):
        rules_data(gs, group_next_token_param="x")
    with pytest.raises(BadParameter, match="were rule groups changed"):
        rules_data(gs, group_limit="1", group_next_token_param="deadbeef")


def test_alerts_data(mgr):
    data = alerts_data(mgr.alerting_rules())
    assert data == {
        "alerts": [
            {
                "labels": {"alertname": "Down", "i": "a", "severity": "page"},
                "annotations": {"summary": "a down"},
                "state": "firing",
                "activeAt": "1970-01-01T00:01:00Z",
                "value": "0e+00",
            }
        ]
    }
