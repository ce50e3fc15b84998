"""``spyglass rules test``: Prometheus's ``promtool test rules`` unit-test format.

    from alerting.ruletest import run
    exit_code = run(["tests/alerts-test.yml"])          # prints like promtool
    exit_code = run(files, run=["correct"], ignore_unknown_fields=True)

The format: ``rule_files``, ``evaluation_interval``, ``group_eval_order``,
``fuzzy_compare`` and ``tests`` with ``interval``, ``input_series`` (expanding
notation), ``alert_rule_test``, ``promql_expr_test``, ``external_labels``,
``external_url``, ``name`` and ``start_timestamp``. Not supported: native
histogram inputs and expectations (storage holds float samples), promtool's
``--diff`` JSON output, ``--junit`` and ``--debug``.
"""

from alerting.ruletest.runner import prom_labels_string, run, run_file

__all__ = ["prom_labels_string", "run", "run_file"]
