"""Prometheus's own PromQL engine tests (shared/conformance/promql/*.test), unmodified.

Every eval's outcome must be the one recorded in ``conformance_expectations.json``
(regenerate it with ``python -m tests.storage.promql.promqltest --write-expectations``
and review the diff): the files issue 3 names must pass completely except for
evals skipped because they need native histograms; a recorded skip or failure
that now passes fails this test too, so the list cannot go stale.
"""

from __future__ import annotations

import json

import pytest

from tests.storage.promql.promqltest import (
    EXPECTATIONS,
    REQUIRED_FILES,
    Runner,
    conformance_folder,
    expectation_of,
)

FILES = sorted(p.name for p in conformance_folder().glob("*.test"))
ALLOWED_SKIPS = (
    "selects native-histogram series",
    "expects native-histogram results",
    "promql-parser rejects the query (experimental syntax)",
)


@pytest.fixture(scope="module")
def runner():
    return Runner()


@pytest.fixture(scope="module")
def expectations():
    return json.loads(EXPECTATIONS.read_text())


def test_expectations_cover_only_known_evals(expectations):
    assert FILES, "no .test files found in shared/conformance/promql"
    for key, exp in expectations.items():
        name, _line = key.rsplit(":", 1)
        assert name in FILES, f"{key}: no such file"
        assert exp["reason"].strip(), f"{key}: a skip or failure needs a reason"
        assert exp["status"] in ("skipped", "failed"), key
        if name in REQUIRED_FILES:
            assert exp["status"] == "skipped", f"{key}: required files allow no failures"
        if exp["status"] == "skipped":
            assert exp["reason"].startswith(ALLOWED_SKIPS), (
                f"{key}: not an allowed skip: {exp['reason']}"
            )


@pytest.mark.parametrize("name", FILES)
def test_conformance_file(name, runner, expectations, capsys):
    outcomes = runner.run_file(conformance_folder() / name)
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "skipped")}
    with capsys.disabled():
        print(
            f"\n{name}: {counts['passed']} passed, {counts['failed']} failed, "
            f"{counts['skipped']} skipped",
            end="",
        )
    problems = []
    seen = set()
    for o in outcomes:
        key = f"{o.file}:{o.line}"
        seen.add(key)
        want = expectations.get(key)
        got = expectation_of(o)
        if want is None:
            if o.status != "passed":
                problems.append(f"line {o.line} {o.expr!r}: unexpected {o.status}: {o.reason}")
            continue
        if want["status"] != o.status:
            problems.append(
                f"line {o.line} {o.expr!r}: recorded as {want['status']} "
                f"({want['reason']}), but it {o.status}" + (f": {o.reason}" if o.reason else "")
            )
        elif o.status == "skipped" and want["reason"] != got["reason"]:
            problems.append(f"line {o.line}: skip reason changed: {got['reason']!r}")
    for key in expectations:
        if key.startswith(name + ":") and key not in seen:
            problems.append(f"{key}: recorded but there is no eval on that line")
    assert not problems, "\n".join(problems)
    if name in REQUIRED_FILES:
        assert counts["failed"] == 0
