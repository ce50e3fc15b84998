"""``spyglass rules check``: promtool's output and exit codes, and agreement with promtool 2.42."""

from __future__ import annotations

import glob
import io
import subprocess
from pathlib import Path

import pytest
import yaml

from alerting.rules.cli import check
from tests.util import SHARED, peer_binary

BAD = """groups:
- name: a
  rules:
  - record: x
    expr: 'up +'
- name: a
  rules: []
"""
DUP = """groups:
- name: a
  rules:
  - record: x
    expr: up
  - record: x
    expr: sum(up)
"""


def _run(files, **kw):
    out, err = io.StringIO(), io.StringIO()
    rc = check(files, out=out, err=err, **kw)
    return rc, out.getvalue(), err.getvalue()


def test_success_and_failure_output(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text("groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n")
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    rc, out, err = _run([str(good), str(bad)])
    assert rc == 1
    assert out == f"Checking {good}\n  SUCCESS: 1 rules found\n\nChecking {bad}\n\n"
    assert err == (
        "  FAILED:\n"
        f'{bad}: 5:11: group "a", rule 1, "x": could not parse expression: 1:5: parse error: unexpected end of input\n'
        f'{bad}: 6:3: groupname: "a" is repeated in the same file\n'
    )


def test_duplicate_rules_are_a_lint_problem(tmp_path):
    f = tmp_path / "dup.yml"
    f.write_text(DUP)
    rc, _out, err = _run([str(f)])
    assert rc == 0  # lint problems do not fail without --lint-fatal
    assert err == "  FAILED:\nlint error 1 duplicate rule(s) found.\nMetric: x\nLabel(s):\nMight cause inconsistency while recording expressions\n"
    assert _run([str(f)], lint_fatal=True)[0] == 3
    assert _run([str(f)], lint="none")[0] == 0


def _corpus_files(tmp_path) -> list[str]:
    files = sorted(glob.glob(str(SHARED / "corpus/alert-rules/awesome-prometheus-alerts/**/*.yml"), recursive=True))
    # promtool 2.42 reads plain rule files only: extract the CRDs' spec.groups
    for crd in sorted(glob.glob(str(SHARED / "corpus/alert-rules/kube-prometheus/manifests/*.yaml"))):
        doc = yaml.safe_load(Path(crd).read_text())
        out = tmp_path / (crd.rsplit("/", 1)[-1])
        out.write_text(yaml.safe_dump({"groups": doc["spec"]["groups"]}))
        files.append(str(out))
    return files


@pytest.mark.peer
def test_corpus_verdicts_agree_with_promtool(tmp_path):
    promtool = peer_binary("promtool")
    files = _corpus_files(tmp_path)
    assert len(files) == 120
    peer = subprocess.run([promtool, "check", "rules", *files], capture_output=True, text=True, check=False)
    rc, out, _err = _run(files)
    assert (rc, peer.returncode) == (0, 0)
    assert out == peer.stdout  # "Checking F / SUCCESS: N rules found" for every file


@pytest.mark.peer
@pytest.mark.parametrize(
    "text",
    [
        BAD,
        "groups:\n- name: a\n  rules:\n  - record: x\n    expr: up\n    for: 5m\n",
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: up\n    annotations: {d: '{{ $labels.x'}\n",
        "groups:\n- name: a\n  rules:\n  - alert: A\n    expr: sum(up) by (\n",
        "groups:\n- rules: []\n",
    ],
)
def test_errors_agree_with_promtool(tmp_path, text):
    promtool = peer_binary("promtool")
    f = tmp_path / "r.yml"
    f.write_text(text)
    peer = subprocess.run([promtool, "check", "rules", str(f)], capture_output=True, text=True, check=False)
    rc, out, err = _run([str(f)])
    assert rc == peer.returncode == 1
    assert out == peer.stdout
    assert err == peer.stderr
