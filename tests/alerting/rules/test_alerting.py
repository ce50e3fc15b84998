"""The alert state machine, recording rules and group evaluation, on a fake query function."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules.alerting import RESOLVED_RETENTION_MS, AlertingRule, AlertState
from alerting.rules.group import Group, GroupOptions
from alerting.rules.recording import RecordingRule
from alerting.rules.rule import QuerySample
from alerting.rules.telemetry import RuleMetrics
from storage.interface import is_stale_value
from storage.labels import Labels
from storage.memstore import MemoryStorage

MIN = 60_000


class FakeQuery:
    """Answers each expression with the vector set for it (labels -> value)."""

    def __init__(self):
        self.results: dict[str, dict[str, float]] = {}
        self.calls: list[tuple[str, int]] = []

    def set(self, expr: str, series: dict[str, float]):
        self.results[expr] = series

    def __call__(self, expr: str, t: int):
        self.calls.append((expr, t))
        if expr == "boom":
            raise RuntimeError("query failed")
        return [QuerySample(Labels.parse(k), t, v) for k, v in self.results.get(expr, {}).items()]


def states(rule):
    return sorted((a.labels.get("instance"), str(a.state)) for a in rule.current_alerts())


def test_pending_then_firing_after_for():
    q = FakeQuery()
    q.set("up == 0", {'up{instance="a"}': 0})
    r = AlertingRule("Down", "up == 0", for_ms=2 * MIN)
    r.eval(q, 0)
    assert states(r) == [("a", "pending")]
    r.eval(q, MIN)
    assert states(r) == [("a", "pending")]
    r.eval(q, 2 * MIN)
    assert states(r) == [("a", "firing")]
    a = r.current_alerts()[0]
    assert (a.active_at, a.fired_at) == (0, 2 * MIN)
    assert a.labels == Labels.parse('{alertname="Down", instance="a"}')  # __name__ dropped


def test_pending_alert_that_stops_is_dropped_at_once():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("A", "x", for_ms=5 * MIN)
    r.eval(q, 0)
    q.set("x", {})
    r.timed_eval(q, MIN, 0, 0)
    assert r.current_alerts() == []
    assert r.state() == AlertState.INACTIVE
    assert AlertingRule("B", "x").state() == AlertState.UNKNOWN  # never evaluated


def test_resolved_alert_is_kept_15_minutes_and_resent():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("A", "x")
    r.eval(q, 0)
    sent = r.alerts_to_send(0, resend_delay_ms=MIN, interval_ms=MIN)
    assert len(sent) == 1 and sent[0].ends_at_ms == 4 * MIN  # valid for four intervals
    q.set("x", {})
    r.eval(q, MIN)
    (a,) = r.current_alerts()
    assert (a.state, a.resolved_at) == (AlertState.INACTIVE, MIN)
    sent = r.alerts_to_send(MIN, MIN, MIN)
    assert len(sent) == 1 and sent[0].ends_at_ms == MIN  # the resolution
    assert r.active_alerts() == []  # resolved alerts are not "active"
    # kept (and re-sent every resend delay) until the retention has passed
    r.eval(q, MIN + RESOLVED_RETENTION_MS)
    assert len(r.current_alerts()) == 1
    r.eval(q, MIN + RESOLVED_RETENTION_MS + 1)
    assert r.current_alerts() == []


def test_resend_delay():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("A", "x")
    sent_at = []
    for t in range(0, 6 * MIN, MIN):
        r.eval(q, t)
        if r.alerts_to_send(t, resend_delay_ms=2 * MIN, interval_ms=MIN):
            sent_at.append(t // MIN)
    # re-sent only once the resend delay has strictly passed
    assert sent_at == [0, 3]


def test_keep_firing_for():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("A", "x", keep_firing_for_ms=2 * MIN)
    r.eval(q, 0)
    assert states(r) == [("a", "firing")]
    q.set("x", {})
    r.eval(q, MIN)
    assert states(r) == [("a", "firing")]
    assert r.current_alerts()[0].keep_firing_since == MIN
    r.eval(q, 2 * MIN)
    assert states(r) == [("a", "firing")]
    r.eval(q, 3 * MIN)
    assert states(r) == [("a", "inactive")]
    # a returning condition resets keep_firing_since
    q.set("x", {'x{instance="b"}': 1})
    r.eval(q, 4 * MIN)
    q.set("x", {})
    r.eval(q, 5 * MIN)
    q.set("x", {'x{instance="b"}': 1})
    r.eval(q, 6 * MIN)
    b = next(a for a in r.current_alerts() if a.labels.get("instance") == "b")
    assert b.keep_firing_since is None and b.state == AlertState.FIRING


def test_templated_labels_annotations_and_value():
    q = FakeQuery()
    q.set("x", {'x{instance="h:9100", job="node"}': 0.5})
    r = AlertingRule(
        "Full",
        "x",
        labels={"severity": "{{ if gt $value 0.4 }}page{{ else }}ticket{{ end }}", "empty": "{{ $labels.nope }}"},
        annotations={"summary": "{{ $labels.instance | stripPort }} at {{ $value | humanizePercentage }}"},
        external_labels={"cluster": "c1"},
    )
    r.eval(q, 0)
    (a,) = r.current_alerts()
    # a label that expands to "" is dropped, as Prometheus's label builder does
    assert a.labels == Labels.from_dict({"alertname": "Full", "instance": "h:9100", "job": "node", "severity": "page"})
    assert a.annotations.to_dict() == {"summary": "h at 50%"}
    assert a.value == 0.5


def test_template_error_is_rendered_not_raised():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("T", "x", annotations={"d": "{{ humanize \"no\" }}"})
    r.eval(q, 0)
    d = r.current_alerts()[0].annotations.get("d")
    assert d.startswith("<error expanding template: error executing template __alert_T: ")


def test_duplicate_labelsets_fail_the_rule():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1, 'y{instance="a"}': 2})
    r = AlertingRule("A", "x")
    with pytest.raises(Exception, match="same labelset after applying alert labels"):
        r.eval(q, 0)


def test_limit():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1, 'x{instance="b"}': 1})
    r = AlertingRule("A", "x")
    with pytest.raises(RuntimeError, match="exceeded limit of 1 with 2 alerts"):
        r.eval(q, 0, limit=1)
    assert r.current_alerts() == []
    rec = RecordingRule("r", "x")
    with pytest.raises(RuntimeError, match="exceeded limit of 1 with 2 series"):
        rec.eval(q, 0, limit=1)


def test_growing_for_sends_firing_alert_back_to_pending():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    old = AlertingRule("A", "x", for_ms=MIN)
    old.eval(q, 0)
    old.eval(q, MIN)
    assert states(old) == [("a", "firing")]
    new = AlertingRule("A", "x", for_ms=10 * MIN)
    new.copy_state_from(old)
    new.eval(q, 2 * MIN)
    assert states(new) == [("a", "pending")]


def test_alerts_series_and_query_offset():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    r = AlertingRule("A", "x", for_ms=MIN, labels={"sev": "p"})
    out = r.eval(q, 10 * MIN, query_offset_ms=MIN)
    assert q.calls[-1] == ("x", 9 * MIN)
    assert out == [
        (Labels.parse('ALERTS{alertname="A", alertstate="pending", instance="a", sev="p"}'), 9 * MIN, 1.0),
        (Labels.parse('ALERTS_FOR_STATE{alertname="A", instance="a", sev="p"}'), 9 * MIN, 600.0),
    ]
    r2 = AlertingRule("A", "x", restored=False)
    assert r2.eval(q, 0) == []  # not restored yet: no ALERTS series


def test_recording_rule_renames_and_labels():
    q = FakeQuery()
    q.set("sum by (job) (up)", {'{job="a"}': 3, '{job="b"}': 1})
    r = RecordingRule("job:up:sum", "sum by (job) (up)", {"team": "x", "job": "override"})
    with pytest.raises(Exception, match="same labelset"):
        r.eval(q, 0)
    r = RecordingRule("job:up:sum", "sum by (job) (up)", {"team": "x"})
    out = r.eval(q, 5, query_offset_ms=5)
    assert q.calls[-1][1] == 0
    # samples carry the query's time (evaluation time minus the offset)
    assert sorted(out) == [
        (Labels.parse('job:up:sum{job="a", team="x"}'), 0, 3.0),
        (Labels.parse('job:up:sum{job="b", team="x"}'), 0, 1.0),
    ]


def _group(q, rules, store=None, **kw):
    store = store if store is not None else MemoryStorage()
    sent = []
    opts = GroupOptions(
        query_func=q,
        appendable=store,
        queryable=store,
        notify=lambda expr, alerts: sent.append((expr, list(alerts))),
        metrics=RuleMetrics.for_registry(CollectorRegistry()),
        **kw,
    )
    return Group("g", "f.yml", rules, MIN, opts), store, sent


def _series(store, name):
    ss = store.querier(-10**12, 10**12).select([__import__("storage.labels", fromlist=["Matcher"]).Matcher("=", "__name__", name)])
    return {ls: list(zip(*[a.tolist() for a in ss.series(i)])) for i, ls in enumerate(ss.labels)}


def test_group_writes_results_marks_stale_and_notifies():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1, 'x{instance="b"}': 2})
    g, store, sent = _group(q, [RecordingRule("rec", "x"), AlertingRule("A", "x")], external_url="http://p:9090")
    g.eval(0)
    q.set("x", {'x{instance="a"}': 5})
    g.eval(MIN)
    rec = _series(store, "rec")
    a = Labels.parse('rec{instance="a"}')
    b = Labels.parse('rec{instance="b"}')
    assert rec[a] == [(0, 1.0), (MIN, 5.0)]
    assert rec[b][0] == (0, 2.0) and rec[b][1][0] == MIN and is_stale_value(rec[b][1][1])
    alerts = _series(store, "ALERTS")
    assert set(alerts) == {Labels.parse('ALERTS{alertname="A", alertstate="firing", instance="a"}'),
                           Labels.parse('ALERTS{alertname="A", alertstate="firing", instance="b"}')}
    fb = alerts[Labels.parse('ALERTS{alertname="A", alertstate="firing", instance="b"}')]
    assert is_stale_value(fb[-1][1])  # b resolved: its ALERTS series ends
    expr, first = sent[0]
    assert expr == "x" and {x.labels.get("instance") for x in first} == {"a", "b"}
    assert first[0].generator_url == "http://p:9090/graph?g0.expr=x&g0.tab=1"
    resolved = [x for x in sent[1][1] if x.labels.get("instance") == "b"]
    assert resolved and resolved[0].ends_at_ms == MIN
    assert resolved[0].to_api_v2()["endsAt"] == "1970-01-01T00:01:00Z"


def test_a_failing_rule_does_not_stop_the_others():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    g, store, _ = _group(q, [RecordingRule("bad", "boom"), RecordingRule("good", "x")])
    g.eval(0)
    bad, good = g.rules
    assert bad.status.health.value == "err" and bad.status.last_error == "query failed"
    assert good.status.health.value == "ok"
    assert _series(store, "good")


def test_eval_timestamps_are_slotted_per_group():
    q = FakeQuery()
    g, _, _ = _group(q, [])
    interval_ns = MIN * 1_000_000
    offset = g.hash() % interval_ns
    t = 1_700_000_000_123 * 1_000_000
    slot = g.eval_timestamp_ns(t)
    assert slot <= t < slot + interval_ns
    assert (slot - offset) % interval_ns == 0
    g2 = Group("other", "f.yml", [], MIN, g.opts)
    assert g2.eval_timestamp_ns(t) != slot  # different groups, different slots


def test_missed_iterations_are_counted():
    q = FakeQuery()
    now = [1_700_000_000_000]
    reg = CollectorRegistry()
    store = MemoryStorage()
    opts = GroupOptions(query_func=q, appendable=store, clock=lambda: now[0], metrics=RuleMetrics.for_registry(reg))
    g = Group("g", "f.yml", [RecordingRule("r", "x")], MIN, opts)
    g.run_iteration()
    first = g.last_eval_timestamp_ms
    now[0] += MIN
    g.run_iteration()
    assert g.last_eval_timestamp_ms == first + MIN
    now[0] += 4 * MIN  # the scheduler ran late: three slots were missed
    g.run_iteration()
    assert g.last_eval_timestamp_ms == first + 5 * MIN
    assert reg.get_sample_value("spyglass_rules_group_iterations_missed_total", {"rule_group": "f.yml;g"}) == 3
    assert reg.get_sample_value("spyglass_rules_group_iterations_total", {"rule_group": "f.yml;g"}) == 6


def test_for_state_is_restored_after_restart():
    # before the restart: A has been pending since t0
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    store = MemoryStorage()
    t0 = 1_000 * MIN
    old, store, _ = _group(q, [AlertingRule("A", "x", for_ms=30 * MIN)], store)
    for i in range(10):
        old.eval(t0 + i * MIN)
    # down for 5 minutes, then a fresh rule (not restored) evaluates twice and restores
    now = [t0 + 15 * MIN]
    new_rule = AlertingRule("A", "x", for_ms=30 * MIN, restored=False)
    g, _, _ = _group(q, [new_rule], store, clock=lambda: now[0], for_grace_period_ms=10 * MIN)
    g.should_restore = True
    g.eval(now[0])
    assert new_rule.current_alerts()[0].active_at == now[0]
    g.restore_for_state(now[0])
    # 9 minutes were spent pending before going down at t0+9m; the 6 minutes of outage
    # are added, so the alert fires 30m after its original start plus the outage
    a = new_rule.current_alerts()[0]
    assert a.active_at == t0 + 6 * MIN
    assert new_rule.restored


def test_restore_respects_grace_period():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    t0 = 1_000 * MIN
    old, store, _ = _group(q, [AlertingRule("A", "x", for_ms=30 * MIN)])
    for i in range(28):
        old.eval(t0 + i * MIN)
    now = t0 + 29 * MIN
    r = AlertingRule("A", "x", for_ms=30 * MIN, restored=False)
    g, _, _ = _group(q, [r], store, for_grace_period_ms=10 * MIN)
    g.eval(now)
    g.restore_for_state(now)
    # 27 of 30 minutes were spent: 3 < grace, so it fires after the grace period
    assert r.current_alerts()[0].active_at == now + 10 * MIN - 30 * MIN


def test_outage_longer_than_tolerance_restores_nothing():
    q = FakeQuery()
    q.set("x", {'x{instance="a"}': 1})
    old, store, _ = _group(q, [AlertingRule("A", "x", for_ms=30 * MIN)])
    old.eval(0)
    now = 2 * 3600_000
    r = AlertingRule("A", "x", for_ms=30 * MIN, restored=False)
    g, _, _ = _group(q, [r], store, outage_tolerance_ms=3600_000)
    g.eval(now)
    g.restore_for_state(now)
    assert r.current_alerts()[0].active_at == now and r.restored


def test_short_for_is_not_restored():
    q = FakeQuery()
    r = AlertingRule("A", "x", for_ms=MIN, restored=False)
    g, _, _ = _group(q, [r], for_grace_period_ms=10 * MIN)
    g.restore_for_state(0)
    assert r.restored


def test_value_string_is_go_e_format():
    from alerting.rules.alerting import value_string

    assert value_string(1.0) == "1e+00"
    assert value_string(0.123) == "1.23e-01"
    assert value_string(math.inf) == "+Inf"


def test_external_labels_are_added_for_the_notifier_without_overriding():
    from alerting.rules.rule import NotifierAlert, add_external_labels

    a = NotifierAlert(Labels.parse('{alertname="A", dc="own"}'), Labels.EMPTY, 0, 1)
    (b,) = add_external_labels([a], {"dc": "eu", "cluster": "c1"})
    assert b.labels == Labels.parse('{alertname="A", cluster="c1", dc="own"}')
