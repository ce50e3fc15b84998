"""The `spyglass` command's offline subcommands, run as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import yaml

from tests.util import SHARED

PROMTOOL_DATA = SHARED / "corpus" / "rule-tests" / "prometheus-promtool" / "testdata"


def spyglass(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "spyglass.cli", *args], capture_output=True, text=True, check=False,
                          timeout=120, cwd=cwd)


def test_version():
    out = spyglass("version")
    assert out.returncode == 0 and out.stdout.startswith("spyglass, version ")


def test_rules_check_and_test_exit_codes():
    ok = spyglass("rules", "check", str(PROMTOOL_DATA / "rules.yml"))
    assert ok.returncode == 0 and "SUCCESS" in ok.stdout
    bad = spyglass("rules", "check", str(PROMTOOL_DATA / "bad-rules-syntax.yml"))
    assert bad.returncode == 1
    passing = spyglass("rules", "test", "long-period.yml", cwd=PROMTOOL_DATA)
    assert passing.returncode == 0, passing.stdout + passing.stderr
    failing = spyglass("rules", "test", "failing.yml", cwd=PROMTOOL_DATA)
    assert failing.returncode == 1 and "FAILED" in failing.stdout + failing.stderr


def test_slo_generate(tmp_path):
    spec = tmp_path / "slo.yml"
    spec.write_text("""
version: prometheus/v1
service: myservice
labels: {owner: team-a}
slos:
  - name: requests-availability
    objective: 99.9
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="myservice",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="myservice"}[{{.window}}]))
    alerting:
      name: MyServiceHighErrorRate
      page_alert: {labels: {severity: page}}
      ticket_alert: {labels: {severity: ticket}}
""")
    out = spyglass("slo", "generate", str(spec))
    assert out.returncode == 0, out.stderr
    groups = yaml.safe_load(out.stdout)["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert any(r.get("alert") == "MyServiceHighErrorRate" and r["labels"]["severity"] == "page" for r in rules)
    assert any(r.get("record") == "slo:sli_error:ratio_rate5m" for r in rules)
    assert spyglass("slo", "generate", str(tmp_path / "missing.yml")).returncode == 1


def test_config_check(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("global: {scrape_interval: 30s}\n")
    assert spyglass("config", "check", str(good)).returncode == 0
    bad = tmp_path / "bad.yml"
    bad.write_text("global:\n  scrape_intervall: 30s\n")
    out = spyglass("config", "check", str(bad))
    assert out.returncode == 1 and "global.scrape_intervall" in out.stderr and "bad.yml:2" in out.stderr
