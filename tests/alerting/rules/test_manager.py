"""The rule manager: loading, hot reload keeping the last good rules, scheduling."""

from __future__ import annotations

import itertools
import time

import pytest
from prometheus_client import CollectorRegistry

from alerting.rules.manager import Manager, ManagerOptions, RuleLoadError, builtin_rule_files
from alerting.rules.rule import QuerySample, engine_query_func
from storage.interface import is_stale_value
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage

MIN = 60_000

V1 = """
groups:
- name: a
  rules:
  - record: r1
    expr: x
  - alert: A
    expr: x > 0
    for: 5m
- name: b
  rules:
  - record: r2
    expr: x
"""


def _fake_query(expr, t):
    return [QuerySample(Labels.parse('x{i="1"}'), t, 1.0)]


def _mgr(**kw):
    store = MemoryStorage()
    reg = CollectorRegistry()
    opts = ManagerOptions(query_func=_fake_query, appendable=store, queryable=store, registry=reg, **kw)
    return Manager(opts), store, reg


def test_update_loads_groups_with_defaults(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text(V1)
    m, _, reg = _mgr(evaluation_interval_ms=30_000, external_labels={"dc": "x"})
    m.update([str(tmp_path / "*.yml")])
    gs = m.rule_groups()
    assert [(g.file, g.name, g.interval_ms) for g in gs] == [(str(f), "a", 30_000), (str(f), "b", 30_000)]
    assert [r.name for r in m.alerting_rules()] == ["A"]
    assert m.alerting_rules()[0].external_labels == {"dc": "x"}
    assert reg.get_sample_value("spyglass_rules_config_last_reload_successful") == 1
    assert reg.get_sample_value("spyglass_rules_group_rules", {"rule_group": f"{f};a"}) == 2


def test_bad_reload_keeps_last_good_rules(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text(V1)
    m, _, reg = _mgr()
    m.update([str(f)])
    before = m.rule_groups()
    f.write_text(V1.replace("expr: x > 0", "expr: x >"))
    with pytest.raises(RuleLoadError) as e:
        m.update([str(f)])
    assert e.value.errors == [
        f'{f}: 8:11: group "a", rule 2, "A": could not parse expression: 1:4: parse error: unexpected end of input'
    ]
    assert m.rule_groups() == before
    assert reg.get_sample_value("spyglass_rules_config_last_reload_successful") == 0


def test_reload_keeps_unchanged_groups_and_carries_alert_state(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text(V1)
    m, _store, _ = _mgr()
    m.update([str(f)])
    ga, gb = m.rule_groups()
    ga.eval(0)
    ga.eval(MIN)
    assert ga.rules[1].current_alerts()[0].active_at == 0
    f.write_text(V1.replace("for: 5m", "for: 10m"))
    m.update([str(f)])
    na, nb = m.rule_groups()
    assert nb is gb  # unchanged: the same running group
    assert na is not ga
    assert na.rules[1].current_alerts()[0].active_at == 0  # state carried over
    assert na.series_in_previous_eval[0] == ga.series_in_previous_eval[0]


def test_removed_group_series_are_marked_stale(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text(V1)
    now = [10 * MIN]
    m, store, _ = _mgr(clock=lambda: now[0])
    m.update([str(f)])
    gb = m.rule_groups()[1]
    gb.eval(5 * MIN)
    f.write_text(V1.split("- name: b")[0])
    m.update([str(f)])  # not started: the stale markers are written at once
    ss = store.querier(0, 10**9).select([Matcher("=", "__name__", "r2")])
    ts, vs = ss.series(0)
    assert ts.tolist() == [5 * MIN, 10 * MIN] and is_stale_value(vs[-1])


def test_missing_file_is_an_error(tmp_path):
    m, _, _ = _mgr()
    with pytest.raises(RuleLoadError, match="No such file"):
        m.update([str(tmp_path / "none.yml")])
    m.update([str(tmp_path / "*.yml")])  # a glob matching nothing is fine
    assert m.rule_groups() == []


def test_builtin_kubernetes_mixin_rules_load():
    (f,) = builtin_rule_files()
    m, _, _ = _mgr()
    m.update([f])
    names = {r.name for g in m.rule_groups() for r in g.rules}
    assert "node_namespace_pod_container:container_cpu_usage_seconds_total:sum_irate" in names
    assert len(names) > 40


def test_scheduled_evaluation_with_apscheduler(tmp_path):
    f = tmp_path / "r.yml"
    f.write_text("groups:\n- name: fast\n  interval: 200ms\n  rules:\n  - record: r\n    expr: x\n")
    calls = []

    def q(expr, t):
        calls.append(t)
        return []

    store = MemoryStorage()
    m = Manager(ManagerOptions(query_func=q, appendable=store, registry=CollectorRegistry()))
    m.update([str(f)])
    m.start()
    try:
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        m.stop()
    assert len(calls) >= 3
    # evaluations happen on the group's slots: 200ms apart (a loaded machine
    # may make the scheduler miss a slot, never evaluate off one)
    assert all(b > a and (b - a) % 200 == 0 for a, b in itertools.pairwise(calls[:3]))
    n = len(calls)
    time.sleep(0.5)
    assert len(calls) == n  # stopped


def test_engine_query_func_over_memstore():
    from storage.promql import Engine, EngineOptions

    store = MemoryStorage()
    store.add(Labels.parse('up{job="a"}'), 0, 1.0)
    q = engine_query_func(Engine(EngineOptions(), registry=CollectorRegistry()), store)
    (s,) = q("sum(up)", 1000)
    assert (s.labels, s.v) == (Labels.EMPTY, 1.0)
    (s,) = q("scalar(up)", 1000)  # a scalar becomes a sample without labels
    assert (s.labels, s.v) == (Labels.EMPTY, 1.0)
    with pytest.raises(Exception, match="rule result is not a vector or scalar"):
        q("up[5m]", 1000)
