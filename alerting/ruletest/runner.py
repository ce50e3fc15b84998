"""Runs promtool-style rule unit tests over an in-memory store and the PromQL engine.

Each test group loads its input series lazily (samples up to the evaluation
time), evaluates every rule group at each ``evaluation_interval`` step, checks
the firing alerts at each ``alert_rule_test`` time, then runs the
``promql_expr_test`` queries, and reports failures in promtool's words.
"""

from __future__ import annotations

import glob
import logging
import math
import os
import re
import sys
from collections.abc import Sequence
from typing import TextIO

from prometheus_client import CollectorRegistry

from alerting.rules.alerting import AlertingRule, AlertState
from alerting.rules.file import RuleFileError, load_file
from alerting.rules.group import Group, GroupOptions, build_rule
from alerting.rules.rule import engine_query_func
from alerting.rules.telemetry import RuleMetrics
from alerting.ruletest.model import TestFileError, TestGroup, UnitTestFile, parse_test_file
from alerting.ruletest.series import SeriesError, expand_values, parse_series
from alerting.ruletest.shortcut import shortcut_query
from alerting.template.gofmt import go_quote
from alerting.template.goregexp import GoRegexpError, compile_go
from alerting.template.gotime import GoDuration
from spyglass.configtypes import format_duration_ms
from storage.interface import SampleBatch
from storage.labels import Labels, is_legacy_label_name
from storage.memstore import MemoryStorage

__all__ = ["prom_labels_string", "run", "run_file"]

_EPOCH_MS = 0

# promtool evaluates with a no-op logger: failures are reported as test results
_QUIET = logging.getLogger("spyglass.ruletest.quiet")
_QUIET.addHandler(logging.NullHandler())
_QUIET.propagate = False


def prom_labels_string(ls: Labels) -> str:
    """Prometheus's labels.String(): ``{__name__="up", job="a"}`` (all labels inside)."""
    parts = []
    for n, v in ls.items():
        name = n if is_legacy_label_name(n) else go_quote(n)
        parts.append(f"{name}={go_quote(v)}")
    return "{" + ", ".join(parts) + "}"


def _fmt_e(v: float) -> str:
    from alerting.template.gofmt import format_float

    return format_float(v, "E", -1)


def _indent(lines: str, indent: str) -> str:
    parts = lines.split("\n")
    return ("\n" + indent).join(parts)


def _alerts_string(items: list[tuple[Labels, Labels]]) -> str:
    if not items:
        return "[]"
    out = []
    for i, (ls, ann) in enumerate(items):
        body = "\nLabels:" + prom_labels_string(ls) + "\nAnnotations:" + prom_labels_string(ann)
        out.append(f"{i}:" + _indent(body, "  "))
    return "[\n" + ",\n".join(out) + "\n]"


def _floats_equal(a: float, b: float, fuzzy: bool) -> bool:
    if a == b:
        return True
    if fuzzy:
        return math.nextafter(a, -math.inf) == b or math.nextafter(a, math.inf) == b
    return False


def _resolve_rule_files(base: str, patterns: Sequence[str], err: TextIO) -> list[str]:
    out = []
    for rf in patterns:
        # like Go's filepath.Join, which also cleans the result
        p = rf if (not rf or os.path.isabs(rf)) else os.path.normpath(os.path.join(base or ".", rf))
        m = sorted(glob.glob(p))
        if not m:
            print("  WARNING: no file match pattern", p, file=err)
        out.extend(m)
    return out


def _ordered_groups(groups: list[Group], order: dict[str, int]) -> list[Group]:
    return sorted(groups, key=lambda g: order.get(g.name, 0))


def run_file(
    path: str,
    *,
    run: re.Pattern | None = None,
    ignore_unknown_fields: bool = False,
    err: TextIO = sys.stderr,
) -> list[str]:
    """Run one unit-test file; returns the failure messages (empty when it passes)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        return [f"open {path}: {e.strerror}"]
    try:
        utf = parse_test_file(text)
    except TestFileError as e:
        return [str(e)]
    rule_files = _resolve_rule_files(os.path.dirname(path), utf.rule_files, err)
    order: dict[str, int] = {}
    for i, gn in enumerate(utf.group_eval_order):
        if gn in order:
            return [f"group name repeated in evaluation order: {gn}"]
        order[gn] = i
    errors: list[str] = []
    for i, tg in enumerate(utf.tests):
        name = tg.name or f"unnamed#{i}"
        if run is not None and not run.search(tg.name):
            continue
        errors.extend(_run_group(tg, name, utf, rule_files, order, ignore_unknown_fields))
    return errors


def _load_series(tg: TestGroup, interval_ms: int, start_ms: int) -> list[tuple[Labels, int, float]]:
    samples = []
    for s in tg.input_series:
        try:
            ls = parse_series(s.series)
            values = expand_values(s.values)
        except SeriesError as e:
            raise SeriesError(f"series {s.series!r} values {s.values!r}: {e}") from None
        t = start_ms
        for v in values:
            if v is not None:
                samples.append((ls, t, v))
            t += interval_ms
    samples.sort(key=lambda x: x[1])
    return samples


class _NameTrackingStore(MemoryStorage):
    """A MemoryStorage that knows which metric names it holds (for shortcut_query)."""

    def __init__(self):
        super().__init__()
        self.names: set[str] = set()

    def append(self, batch: SampleBatch):
        for ls in batch.series:
            self.names.add(ls.name)
        return super().append(batch)


_RULE_FILE_CACHE: dict[tuple, object] = {}


def _load_rule_file(path: str, ignore_unknown_fields: bool):
    """Parse a rule file once per content: a test file's groups all load the same files."""
    st = os.stat(path)
    # keyed by the path as given: messages name the file the way the test file did
    key = (path, st.st_mtime_ns, st.st_size, ignore_unknown_fields)
    got = _RULE_FILE_CACHE.get(key)
    if got is None:
        try:
            got = load_file(path, ignore_unknown_fields=ignore_unknown_fields)
        except RuleFileError as e:
            got = e
        if len(_RULE_FILE_CACHE) > 64:
            _RULE_FILE_CACHE.clear()
        _RULE_FILE_CACHE[key] = got
    if isinstance(got, RuleFileError):
        raise got
    return got


def _run_group(
    tg: TestGroup,
    name: str,
    utf: UnitTestFile,
    rule_files: list[str],
    order: dict[str, int],
    ignore_unknown_fields: bool,
) -> list[str]:
    from storage.promql import Engine, EngineOptions

    eval_interval = utf.evaluation_interval_ms
    interval = tg.interval_ms or eval_interval
    mint = tg.start_timestamp_ms
    try:
        pending = _load_series(tg, interval, mint)
    except SeriesError as e:
        return [str(e)]

    store = _NameTrackingStore()
    engine = Engine(
        EngineOptions(default_subquery_step_ms=eval_interval),
        registry=CollectorRegistry(),
    )
    query = engine_query_func(engine, store)
    rule_query = shortcut_query(query, engine.parse, store.names)
    metrics = RuleMetrics.for_registry(CollectorRegistry())
    gopts = GroupOptions(
        query_func=rule_query, appendable=store, queryable=store, metrics=metrics, logger=_QUIET
    )

    groups: list[Group] = []
    load_errors: list[str] = []
    for f in rule_files:
        try:
            rf = _load_rule_file(f, ignore_unknown_fields)
        except RuleFileError as e:
            load_errors.extend(e.errors)
            continue
        for g in rf.groups:
            rules = [
                build_rule(spec, g.labels, dict(tg.external_labels), tg.external_url, True, metrics)
                for spec in g.rules
            ]
            groups.append(
                Group(g.name, rf.path, rules, g.interval_ms or interval, gopts, g.limit, g.query_offset_ms)
            )
    if load_errors:
        return load_errors
    groups = _ordered_groups(groups, order)

    max_eval = max(
        [a.eval_time_ms for a in tg.alert_rule_test] + [p.eval_time_ms for p in tg.promql_expr_test] + [0]
    )
    maxt = mint + max_eval

    alert_times = sorted({a.eval_time_ms for a in tg.alert_rule_test})
    for a in tg.alert_rule_test:
        if a.alertname == "":
            where = f" (in TestGroup {tg.name})" if tg.name else ""
            return [
                ("an item under alert_rule_test misses required attribute alertname at eval_time "
                 f"{format_duration_ms(a.eval_time_ms)}{where}")
            ]
    test_name = f"    name: {tg.name},\n" if tg.name else ""
    errs: list[str] = []
    curr = 0
    loaded = 0
    ts = mint
    while ts <= maxt:
        # lazily load the input samples up to this evaluation
        j = loaded
        while j < len(pending) and pending[j][1] <= ts:
            j += 1
        if j > loaded:
            store.append(SampleBatch.from_samples(pending[loaded:j]))
            loaded = j
        eval_errs = []
        for g in groups:
            g.eval(ts)
            for r in g.rules:
                if r.status.last_error:
                    took = GoDuration((ts - _EPOCH_MS) * 1_000_000)
                    eval_errs.append(f"    rule: {r.name}, time: {took}, err: {r.status.last_error}")
        errs.extend(eval_errs)
        if eval_errs:
            return errs

        while curr < len(alert_times) and ts - mint <= alert_times[curr] < ts + eval_interval - mint:
            t = alert_times[curr]
            cases = [a for a in tg.alert_rule_test if a.eval_time_ms == t]
            wanted = {a.alertname for a in cases}
            got: dict[str, list[tuple[Labels, Labels]]] = {}
            for g in groups:
                for r in g.rules:
                    if isinstance(r, AlertingRule) and r.name in wanted:
                        got.setdefault(r.name, []).extend(
                            (a.labels, a.annotations) for a in r.active_alerts() if a.state == AlertState.FIRING
                        )
            for case in cases:
                got_alerts = sorted(got.get(case.alertname, []))
                exp_alerts = sorted(
                    (Labels.from_dict({**dict(e.exp_labels), "alertname": case.alertname}), Labels.from_dict(dict(e.exp_annotations)))
                    for e in case.exp_alerts
                )
                if got_alerts != exp_alerts:
                    exp_s = _indent(_alerts_string(exp_alerts), "            ")
                    got_s = _indent(_alerts_string(got_alerts), "            ")
                    errs.append(
                        f"{test_name}    alertname: {case.alertname}, time: {format_duration_ms(case.eval_time_ms)}, "
                        f"\n        exp:{exp_s}, \n        got:{got_s}"
                    )
            curr += 1
        ts += eval_interval

    for tc in tg.promql_expr_test:
        when = format_duration_ms(tc.eval_time_ms)
        try:
            vec = query(tc.expr, mint + tc.eval_time_ms)
        except Exception as e:  # noqa: BLE001 - reported in the test result, as promtool does
            errs.append(f"    expr: {go_quote(tc.expr)}, time: {when}, err: {e}")
            continue
        got_s = sorted(((s.labels, s.v) for s in vec), key=lambda x: x[0])
        exp_s = []
        bad = None
        for es in tc.exp_samples:
            if es.histogram:
                bad = f'labels "{es.labels}": native histogram samples are not supported (float samples only)'
                break
            text = es.labels.strip()
            try:
                ls = Labels.EMPTY if text in ("", "{}") else Labels.parse(text)
            except Exception as e:  # noqa: BLE001 - reported in the test result, as promtool does
                bad = f"labels {go_quote(es.labels)}: {e}"
                break
            exp_s.append((ls, es.value))
        if bad is not None:
            errs.append(f"    expr: {go_quote(tc.expr)}, time: {when}, err: {bad}")
            continue
        exp_s.sort(key=lambda x: x[0])
        same = len(exp_s) == len(got_s) and all(
            el == gl and _floats_equal(ev, gv, utf.fuzzy_compare) for (el, ev), (gl, gv) in zip(exp_s, got_s)
        )
        if not same:

            def fmt(ss):
                if not ss:
                    return "nil"
                return ", ".join(f"{prom_labels_string(ls)} {_fmt_e(v)}" for ls, v in ss)

            errs.append(
                f"    expr: {go_quote(tc.expr)}, time: {when},\n        exp: {fmt(exp_s)}\n        got: {fmt(got_s)}"
            )
    return errs


def run(
    files: Sequence[str],
    *,
    run: Sequence[str] | None = None,
    ignore_unknown_fields: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``promtool test rules FILE...``: prints per-file results and returns the exit
    code (0 all passed, 1 a failure). ``run`` keeps only test groups whose name
    matches one of the regular expressions."""
    out = out or sys.stdout
    err = err or sys.stderr
    pattern = None
    if run:
        try:
            pattern = compile_go("|".join(run))
        except GoRegexpError as e:
            print(f"invalid --run pattern: {e}", file=err)
            return 1
    failed = False
    for f in files:
        print("Unit Testing: ", f, file=out)
        errors = run_file(f, run=pattern, ignore_unknown_fields=ignore_unknown_fields, err=err)
        if errors:
            print("  FAILED:", file=err)
            for e in errors:
                print(e, file=err)
                print(file=out)
            failed = True
        else:
            print("  SUCCESS", file=out)
        print(file=out)
    return 1 if failed else 0
