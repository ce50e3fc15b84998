"""``spyglass rules check FILE...``: Prometheus's ``promtool check rules``.

    from alerting.rules.cli import check
    sys.exit(check(["rules.yml"]))      # 0 ok, 1 invalid, 3 lint problems with lint_fatal

Output goes where promtool puts it: ``Checking FILE`` and ``SUCCESS: N rules
found`` on stdout, ``FAILED:`` and the problems on stderr.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Sequence
from typing import TextIO

from alerting.rules.file import RuleFile, RuleFileError, load_file
from storage.labels import Labels

SUCCESS = 0
FAILURE = 1
LINT_FAILURE = 3


def duplicate_rules(rf: RuleFile) -> list[tuple[str, Labels]]:
    """Rules of a file with the same name and labels (group labels included)."""
    keyed = []
    for g in rf.groups:
        for r in g.rules:
            labels = dict(g.labels)
            labels.update(r.labels)
            keyed.append((r.name, Labels.from_dict(labels)))
    keyed.sort()
    dups: list[tuple[str, Labels]] = []
    for prev, cur in itertools.pairwise(keyed):
        if prev == cur and (not dups or dups[-1] != cur):
            dups.append(cur)
    return dups


def check(
    files: Sequence[str],
    *,
    lint: str = "duplicate-rules",
    lint_fatal: bool = False,
    ignore_unknown_fields: bool = False,
    legacy_names: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Validate rule files; returns promtool's exit code. ``lint`` is ``"duplicate-rules"``
    (the default) or ``"none"``."""
    out = out or sys.stdout
    err = err or sys.stderr
    failed = False
    has_errors = False
    for f in files:
        print("Checking", f, file=out)
        try:
            rf = load_file(f, ignore_unknown_fields=ignore_unknown_fields, legacy_names=legacy_names)
        except RuleFileError as e:
            failed = has_errors = True
            print("  FAILED:", file=err)
            for m in e.errors:
                print(m, file=err)
            print(file=out)
            continue
        dups = duplicate_rules(rf) if lint == "duplicate-rules" else []
        if dups:
            failed = True
            lines = [f"lint error {len(dups)} duplicate rule(s) found."]
            for name, labels in dups:
                lines.append(f"Metric: {name}")
                lines.append("Label(s):")
                lines.extend(f"\t{n}: {v}" for n, v in labels.items())
            lines.append("Might cause inconsistency while recording expressions")
            print("  FAILED:", file=err)
            print("\n".join(lines), file=err)
        else:
            print(f"  SUCCESS: {rf.num_rules} rules found", file=out)
        print(file=out)
    if failed and has_errors:
        return FAILURE
    if failed and lint_fatal:
        return LINT_FAILURE
    return SUCCESS
