"""Rule files: the corpus loads, problems are reported like promtool reports them."""

from __future__ import annotations

import glob

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerting.rules.file import RuleFileError, load_file, parse_rule_file
from tests.util import SHARED

CORPUS = sorted(glob.glob(str(SHARED / "corpus" / "alert-rules" / "**" / "*.y*ml"), recursive=True))


def test_corpus_rule_files_load_or_are_rejected_for_metricsql():
    assert len(CORPUS) >= 130
    loaded, rules = 0, 0
    for f in CORPUS:
        if f.endswith("sloth/examples/_gen/victoria-metrics.yml"):
            with pytest.raises(RuleFileError) as e:
                load_file(f)
            # MetricsQL, not PromQL: the reason names the function PromQL lacks
            assert "unknown function with name 'histogram_share'" in str(e.value)
            assert all("could not parse expression" in m for m in e.value.errors)
            continue
        rf = load_file(f)
        loaded += 1
        rules += rf.num_rules
    # provenance: 954 + 234 + 456 rules, less victoria-metrics.yml's
    assert loaded == len(CORPUS) - 1
    assert rules > 1500


def test_prometheus_rule_crd_groups_are_read_from_spec():
    f = str(SHARED / "corpus/alert-rules/kube-prometheus/manifests/alertmanager-prometheusRule.yaml")
    rf = load_file(f)
    assert rf.groups[0].name == "alertmanager.rules"
    r = rf.groups[0].rules[0]
    assert (r.kind, r.name, r.for_ms) == ("alert", "AlertmanagerFailedReload", 600_000)
    assert dict(r.labels) == {"severity": "critical"}
    assert r.line == 18


GOOD = """
groups:
- name: g
  interval: 30s
  query_offset: 1m
  limit: 10
  labels: {team: a}
  rules:
  - record: job:up:sum
    expr: sum by (job) (up)
    labels: {x: "1"}
  - alert: Down
    expr: up == 0
    for: 5m
    keep_firing_for: 2m
    labels: {severity: page}
    annotations: {summary: "{{ $labels.instance }} down"}
"""


def test_fields_are_parsed_into_typed_values():
    rf = parse_rule_file(GOOD, "good.yml")
    g = rf.groups[0]
    assert (g.name, g.file, g.interval_ms, g.query_offset_ms, g.limit) == ("g", "good.yml", 30_000, 60_000, 10)
    assert g.labels == (("team", "a"),)
    rec, alert = g.rules
    assert (rec.kind, rec.name, rec.expr, rec.labels) == ("record", "job:up:sum", "sum by (job) (up)", (("x", "1"),))
    assert (alert.for_ms, alert.keep_firing_for_ms) == (300_000, 120_000)
    assert alert.annotations == (("summary", "{{ $labels.instance }} down"),)
    assert rf.num_rules == 2


@pytest.mark.parametrize(
    "text,messages",
    [
        (
            "groups:\n- name: a\n  rules:\n  - record: x\n    expr: 'up +'\n",
            ['f.yml: 5:11: group "a", rule 1, "x": could not parse expression: 1:5: parse error: unexpected end of input'],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    for: 5m\n    annotations: {a: b}\n",
            [
                "f.yml: 4:13: group \"a\", rule 1, \"x\": invalid field 'annotations' in recording rule",
                "f.yml: 4:13: group \"a\", rule 1, \"x\": invalid field 'for' in recording rule",
            ],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - record: 'x{y}'\n    expr: up\n",
            ['f.yml: 4:13: group "a", rule 1, "x{y}": braces present in the recording rule name; should it be in expr?: x{y}'],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - expr: up\n",
            ["f.yml: 0:0: 0:0: group \"a\", rule 1, \"\": one of 'record' or 'alert' must be set"],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - record: x\n    alert: y\n    expr: up\n",
            ["f.yml: 4:13: 5:12: group \"a\", rule 1, \"y\": only one of 'record' and 'alert' must be set"],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n",
            ["f.yml: 0:0: group \"a\", rule 1, \"A\": field 'expr' must be set in rule"],
        ),
        (
            "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    labels: {__name__: x, b: '{{ $labels.x'}\n",
            [
                'f.yml: group "a", rule 1, "A": invalid label name: __name__',
                'f.yml: group "a", rule 1, "A": label "b": template: __alert_A:1: unclosed action',
            ],
        ),
        (
            "groups:\n- name: a\n  rules: []\n- name: a\n  rules: []\n",
            ['f.yml: 4:3: groupname: "a" is repeated in the same file'],
        ),
        ("groups:\n- rules: []\n", ["f.yml: 2:3: Groupname must not be empty"]),
        (
            "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    bogus: 1\n",
            ["f.yml: yaml: unmarshal errors:\n  line 6: field bogus not found in type rulefmt.Rule"],
        ),
        ("groups:\n- name: a\n  interval: 5x\n  rules: []\n", ['f.yml: not a valid duration string: "5x"']),
        ("groups: [\n", None),
    ],
)
def test_errors_name_file_line_group_and_rule(text, messages):
    with pytest.raises(RuleFileError) as e:
        parse_rule_file(text, "f.yml")
    if messages is None:
        assert e.value.errors[0].startswith("f.yml: yaml: ")
    else:
        assert e.value.errors == messages


def test_ignore_unknown_fields_and_legacy_names():
    text = "groups:\n- name: a\n  owner: x\n  rules:\n  - record: x\n    expr: up\n    labels: {a-b: c}\n"
    with pytest.raises(RuleFileError):
        parse_rule_file(text, "f.yml")
    rf = parse_rule_file(text, "f.yml", ignore_unknown_fields=True)
    assert rf.groups[0].rules[0].labels == (("a-b", "c"),)  # UTF-8 names (Prometheus 3.x)
    with pytest.raises(RuleFileError, match="invalid label name: a-b"):
        parse_rule_file(text, "f.yml", ignore_unknown_fields=True, legacy_names=True)


def test_empty_file_has_no_groups():
    assert parse_rule_file("", "e.yml").groups == ()
    assert parse_rule_file("groups: []", "e.yml").num_rules == 0


def test_missing_file():
    with pytest.raises(RuleFileError, match="nope.yml: No such file"):
        load_file("/nonexistent/nope.yml")


_VALUES = st.one_of(
    st.sampled_from(["up", "sum(x) by (a)", "up ==", "5m", "-1", "x{y}", "{{ $labels.a }}", "", "[", "a: b"]),
    st.text(max_size=8),
    st.integers(),
    st.none(),
)
_RULE = st.fixed_dictionaries(
    {},
    optional={
        "record": _VALUES,
        "alert": _VALUES,
        "expr": _VALUES,
        "for": _VALUES,
        "labels": st.dictionaries(st.text(max_size=4), _VALUES, max_size=2),
        "annotations": st.dictionaries(st.text(max_size=4), _VALUES, max_size=2),
        "junk": _VALUES,
    },
)
_GROUP = st.fixed_dictionaries(
    {"name": _VALUES}, optional={"interval": _VALUES, "rules": st.lists(_RULE, max_size=3), "limit": _VALUES}
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.lists(_GROUP, max_size=3), _VALUES))
def test_any_yaml_is_loaded_or_rejected_with_rule_file_error(groups):
    import yaml

    text = yaml.safe_dump({"groups": groups})
    try:
        rf = parse_rule_file(text, "p.yml")
    except RuleFileError as e:
        assert e.errors and all(m.startswith("p.yml: ") for m in e.errors)
    else:
        assert all(r.kind in ("record", "alert") for g in rf.groups for r in g.rules)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=120))
def test_any_text_is_loaded_or_rejected_with_rule_file_error(text):
    try:
        parse_rule_file(text, "p.yml")
    except RuleFileError as e:
        assert e.errors
