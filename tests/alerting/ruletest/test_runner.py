"""Unit-test runner behaviours: alert timing, templates, ordering, fuzzy compare, start time."""

from __future__ import annotations

import io
import textwrap

from alerting.ruletest import prom_labels_string, run
from storage.labels import Labels

RULES = """
groups:
- name: first
  rules:
  - record: job:x:sum
    expr: sum by (job) (x)
- name: second
  rules:
  - alert: High
    expr: job:x:sum > 5
    for: 2m
    labels: {severity: "{{ if gt $value 8.0 }}page{{ else }}ticket{{ end }}"}
    annotations:
      summary: "{{ $labels.job }} at {{ $value }} in {{ $externalLabels.dc }} ({{ $externalURL }})"
"""


def _files(tmp_path, tests: str, rules: str = RULES):
    (tmp_path / "rules.yml").write_text(rules)
    t = tmp_path / "t.yml"
    t.write_text(textwrap.dedent(tests))
    return str(t)


def _run(path, **kw):
    out, err = io.StringIO(), io.StringIO()
    rc = run([path], out=out, err=err, **kw)
    return rc, out.getvalue(), err.getvalue()


def test_alert_goes_pending_then_fires_with_templates(tmp_path):
    t = _files(
        tmp_path,
        """
        rule_files: [rules.yml]
        group_eval_order: [first, second]
        tests:
        - interval: 1m
          external_labels: {dc: eu1}
          external_url: http://prom.example
          input_series:
          - series: 'x{job="a", i="1"}'
            values: '3+1x10'
          alert_rule_test:
          - {eval_time: 3m, alertname: High, exp_alerts: []}
          - eval_time: 5m
            alertname: High
            exp_alerts:
            - exp_labels: {job: a, severity: ticket}
              exp_annotations: {summary: "a at 8 in eu1 (http://prom.example)"}
          promql_expr_test:
          - expr: job:x:sum
            eval_time: 4m
            exp_samples:
            - {labels: 'job:x:sum{job="a"}', value: 7}
          - expr: ALERTS
            eval_time: 4m
            exp_samples:
            - {labels: 'ALERTS{alertname="High", alertstate="pending", job="a", severity="ticket"}', value: 1}
        """,
    )
    rc, out, err = _run(t)
    assert (rc, err) == (0, "")
    assert out == f"Unit Testing:  {t}\n  SUCCESS\n\n"


def test_group_eval_order_matters(tmp_path):
    # evaluated after the alert, the recording rule's result arrives one step late
    t = _files(
        tmp_path,
        """
        rule_files: [rules.yml]
        group_eval_order: [second, first]
        tests:
        - interval: 1m
          input_series:
          - {series: 'x{job="a"}', values: '6x10'}
          alert_rule_test:
          - eval_time: 2m
            alertname: High
            exp_alerts:
            - exp_labels: {job: a, severity: ticket}
              exp_annotations: {summary: "a at 6 in  ()"}
        """,
    )
    rc, _, err = _run(t)
    assert rc == 1
    assert "alertname: High, time: 2m," in err and "got:[]" in err


def test_failure_messages(tmp_path):
    t = _files(
        tmp_path,
        """
        rule_files: [rules.yml]
        tests:
        - name: my group
          interval: 1m
          input_series:
          - {series: 'x{job="a"}', values: '1 2'}
          promql_expr_test:
          - expr: x
            eval_time: 1m
            exp_samples: [{labels: 'x{job="a"}', value: 3}]
          - expr: nope(
            eval_time: 0m
        """,
    )
    rc, out, err = _run(t)
    assert rc == 1
    assert err.startswith(
        "  FAILED:\n"
        '    expr: "x", time: 1m,\n'
        '        exp: {__name__="x", job="a"} 3E+00\n'
        '        got: {__name__="x", job="a"} 2E+00\n'
        '    expr: "nope(", time: 0s, err: '
    )
    assert out == f"Unit Testing:  {t}\n\n\n\n"


def test_fuzzy_compare_allows_one_ulp(tmp_path):
    body = """
        fuzzy_compare: {fuzzy}
        tests:
        - input_series: [{{series: x, values: '2.9999999999999996'}}]
          promql_expr_test:
          - {{expr: x, eval_time: 0, exp_samples: [{{labels: x, value: 3}}]}}
        """
    assert _run(_files(tmp_path, body.format(fuzzy="true")))[0] == 0
    assert _run(_files(tmp_path, body.format(fuzzy="false")))[0] == 1


def test_start_timestamp_and_run_filter(tmp_path):
    t = _files(
        tmp_path,
        """
        tests:
        - name: rfc3339
          start_timestamp: "2024-01-01T00:00:00Z"
          input_series: [{series: m, values: '1 2 3'}]
          promql_expr_test:
          - {expr: timestamp(m), eval_time: 2m, exp_samples: [{value: 1704067320}]}
        - name: broken
          promql_expr_test:
          - {expr: time(), eval_time: 0, exp_samples: [{value: 1}]}
        """,
    )
    assert _run(t)[0] == 1
    assert _run(t, run=["rfc"])[0] == 0


def test_rule_evaluation_errors_stop_the_group(tmp_path):
    rules = "groups:\n- name: g\n  rules:\n  - record: r\n    expr: a + on(x) b\n"
    t = _files(
        tmp_path,
        """
        rule_files: [rules.yml]
        tests:
        - input_series:
          - {series: 'a{x="1", y="1"}', values: 1}
          - {series: 'b{x="1", y="1"}', values: 1}
          - {series: 'b{x="1", y="2"}', values: 1}
        """,
        rules,
    )
    rc, _, err = _run(t)
    assert rc == 1 and "    rule: r, time: 0s, err: found duplicate series" in err


def test_unknown_fields_and_bad_files(tmp_path):
    t = _files(tmp_path, "tests:\n- interval: 1m\n  bogus: 1\n")
    rc, _, err = _run(t)
    assert rc == 1 and "field bogus not found in type main.testGroup" in err
    rc, _, err = _run(str(tmp_path / "missing.yml"))
    assert rc == 1 and "no such file" in err.lower()
    t = _files(tmp_path, "rule_files: [nothing-*.yml]\ntests: []\n")
    rc, _, err = _run(t)
    assert rc == 0 and "WARNING: no file match pattern" in err


def test_prom_labels_string():
    assert prom_labels_string(Labels.parse('up{job="a\\"b", "a-b"="c"}')) == '{__name__="up", "a-b"="c", job="a\\"b"}'
    assert prom_labels_string(Labels.EMPTY) == "{}"
