"""The ``promtool test rules`` file format, parsed strictly into typed values.

Unknown keys are errors, as with promtool (``field X not found in type
main.testGroup``); durations are Prometheus durations; ``start_timestamp`` is
RFC 3339 or Unix seconds.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import yaml

from spyglass.configtypes import parse_duration_ms

__all__ = [
    "AlertTestCase",
    "ExpectedAlert",
    "ExpectedSample",
    "InputSeries",
    "PromqlTestCase",
    "TestFileError",
    "TestGroup",
    "UnitTestFile",
    "parse_test_file",
]


class TestFileError(ValueError):
    """A test file that cannot be read; the message is what promtool reports."""

    __test__ = False  # not a pytest class


@dataclass(frozen=True, slots=True)
class InputSeries:
    # series in metric{label="value"} notation
    series: str
    # values in the expanding notation (see ruletest.series)
    values: str


@dataclass(frozen=True, slots=True)
class ExpectedAlert:
    # labels the alert must have (alertname is added)
    exp_labels: tuple[tuple[str, str], ...] = ()
    # annotations the alert must have, all of them
    exp_annotations: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AlertTestCase:
    # when to look at the alerts, relative to the group's start (ms)
    eval_time_ms: int
    # the rule whose firing alerts are compared
    alertname: str
    # the firing alerts expected at eval_time: all of them, no more
    exp_alerts: tuple[ExpectedAlert, ...] = ()


@dataclass(frozen=True, slots=True)
class ExpectedSample:
    # the series in metric{label="value"} notation ("" for no labels)
    labels: str = ""
    # its value
    value: float = 0.0
    # a native histogram in test notation (not supported: float samples only)
    histogram: str = ""


@dataclass(frozen=True, slots=True)
class PromqlTestCase:
    # the expression to evaluate
    expr: str
    # when to evaluate it, relative to the group's start (ms)
    eval_time_ms: int = 0
    # the expected result: exactly these samples
    exp_samples: tuple[ExpectedSample, ...] = ()


@dataclass(frozen=True, slots=True)
class TestGroup:
    __test__ = False

    # time between input samples (ms); 0 means the file's evaluation_interval
    interval_ms: int = 0
    input_series: tuple[InputSeries, ...] = ()
    alert_rule_test: tuple[AlertTestCase, ...] = ()
    promql_expr_test: tuple[PromqlTestCase, ...] = ()
    # labels available to templates as $externalLabels
    external_labels: tuple[tuple[str, str], ...] = ()
    # URL available to templates as $externalURL
    external_url: str = ""
    # name used in messages and by --run
    name: str = ""
    # when the group's time 0 is (ms since the epoch); 0 is the Unix epoch
    start_timestamp_ms: int = 0


@dataclass(frozen=True, slots=True)
class UnitTestFile:
    # rule files to load, relative to the test file, globs allowed
    rule_files: tuple[str, ...] = ()
    # time between rule evaluations (ms); 1m when absent
    evaluation_interval_ms: int = 60_000
    # names of groups to evaluate first, in this order
    group_eval_order: tuple[str, ...] = ()
    tests: tuple[TestGroup, ...] = ()
    # compare floats allowing one ULP of difference
    fuzzy_compare: bool = False


# --- strict decoding ------------------------------------------------------------


class _Dec:
    def __init__(self):
        self.errors: list[str] = []

    def line(self, n: yaml.Node) -> int:
        return n.start_mark.line + 1

    def tag(self, n: yaml.Node) -> str:
        if isinstance(n, yaml.MappingNode):
            return "!!map"
        if isinstance(n, yaml.SequenceNode):
            return "!!seq"
        return "!!" + (n.tag or "").rsplit(":", 1)[-1]

    def null(self, n) -> bool:
        return n is None or (isinstance(n, yaml.ScalarNode) and n.tag.endswith(":null"))

    def mapping(self, n, typ: str, known: set[str]) -> dict[str, yaml.Node]:
        if self.null(n):
            return {}
        if not isinstance(n, yaml.MappingNode):
            self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} into {typ}")
            return {}
        out: dict[str, yaml.Node] = {}
        for k, v in n.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            if key is None or key not in known:
                self.errors.append(f"line {self.line(k)}: field {getattr(k, 'value', '?')} not found in type {typ}")
                continue
            if key in out:
                self.errors.append(f'line {self.line(k)}: key "{key}" already set in map')
                continue
            out[key] = v
        return out

    def seq(self, n, typ: str) -> list[yaml.Node]:
        if self.null(n):
            return []
        if not isinstance(n, yaml.SequenceNode):
            self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} into {typ}")
            return []
        return list(n.value)

    def string(self, n) -> str:
        if self.null(n):
            return ""
        if not isinstance(n, yaml.ScalarNode):
            self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} into string")
            return ""
        return n.value

    def boolean(self, n) -> bool:
        if self.null(n):
            return False
        v = self.string(n)
        if v.lower() in ("true", "yes", "on", "y"):
            return True
        if v.lower() in ("false", "no", "off", "n"):
            return False
        self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} `{v}` into bool")
        return False

    def number(self, n) -> float:
        if self.null(n):
            return 0.0
        v = self.string(n)
        try:
            t = v.strip().lower()
            if t in (".inf", "+.inf"):
                return float("inf")
            if t == "-.inf":
                return float("-inf")
            if t == ".nan":
                return float("nan")
            return float(v)
        except ValueError:
            self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} `{v}` into float64")
            return 0.0

    def duration(self, n) -> int:
        if self.null(n):
            return 0
        v = self.string(n)
        try:
            if v != v.strip() or v[:1] in "+-":
                raise ValueError
            return parse_duration_ms(v)
        except ValueError:
            self.errors.append(f'not a valid duration string: "{v}"')
            return 0

    def string_map(self, n) -> tuple[tuple[str, str], ...]:
        if self.null(n):
            return ()
        if not isinstance(n, yaml.MappingNode):
            self.errors.append(f"line {self.line(n)}: cannot unmarshal {self.tag(n)} into map[string]string")
            return ()
        d: dict[str, str] = {}
        for k, v in n.value:
            d[self.string(k)] = self.string(v)
        return tuple(d.items())

    def timestamp(self, n) -> int:
        if self.null(n):
            return 0
        v = self.string(n)
        try:
            return parse_time_ms(v)
        except ValueError as e:
            self.errors.append(str(e))
            return 0


def parse_time_ms(s: str) -> int:
    """promtool's parseTime: Unix seconds (with fraction) or RFC 3339."""
    try:
        f = float(s)
        return round(f * 1000)
    except ValueError:
        pass
    try:
        t = _dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"cannot parse {s!r} to a valid timestamp") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=_dt.UTC)
    return round(t.timestamp() * 1000)


_FILE_FIELDS = {"rule_files", "evaluation_interval", "group_eval_order", "tests", "fuzzy_compare"}
_GROUP_FIELDS = {
    "interval",
    "input_series",
    "alert_rule_test",
    "promql_expr_test",
    "external_labels",
    "external_url",
    "name",
    "start_timestamp",
}


def parse_test_file(text: str) -> UnitTestFile:
    """Parse a unit-test file; raises TestFileError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise TestFileError(f"yaml: {where}{getattr(e, 'problem', None) or e}") from None
    d = _Dec()
    top = d.mapping(root, "main.unitTestFile", _FILE_FIELDS)
    rule_files = tuple(d.string(x) for x in d.seq(top.get("rule_files"), "[]string"))
    ev = d.duration(top.get("evaluation_interval"))
    order = tuple(d.string(x) for x in d.seq(top.get("group_eval_order"), "[]string"))
    fuzzy = d.boolean(top.get("fuzzy_compare"))
    groups = []
    for gn in d.seq(top.get("tests"), "[]main.testGroup"):
        g = d.mapping(gn, "main.testGroup", _GROUP_FIELDS)
        series = []
        for sn in d.seq(g.get("input_series"), "[]main.series"):
            s = d.mapping(sn, "main.series", {"series", "values"})
            series.append(InputSeries(d.string(s.get("series")), d.string(s.get("values"))))
        alerts = []
        for an in d.seq(g.get("alert_rule_test"), "[]main.alertTestCase"):
            a = d.mapping(an, "main.alertTestCase", {"eval_time", "alertname", "exp_alerts"})
            exp = []
            for en in d.seq(a.get("exp_alerts"), "[]main.alert"):
                e = d.mapping(en, "main.alert", {"exp_labels", "exp_annotations"})
                exp.append(ExpectedAlert(d.string_map(e.get("exp_labels")), d.string_map(e.get("exp_annotations"))))
            alerts.append(AlertTestCase(d.duration(a.get("eval_time")), d.string(a.get("alertname")), tuple(exp)))
        exprs = []
        for pn in d.seq(g.get("promql_expr_test"), "[]main.promqlTestCase"):
            p = d.mapping(pn, "main.promqlTestCase", {"expr", "eval_time", "exp_samples"})
            samples = []
            for sn in d.seq(p.get("exp_samples"), "[]main.sample"):
                s = d.mapping(sn, "main.sample", {"labels", "value", "histogram"})
                samples.append(
                    ExpectedSample(d.string(s.get("labels")), d.number(s.get("value")), d.string(s.get("histogram")))
                )
            exprs.append(PromqlTestCase(d.string(p.get("expr")), d.duration(p.get("eval_time")), tuple(samples)))
        groups.append(
            TestGroup(
                interval_ms=d.duration(g.get("interval")),
                input_series=tuple(series),
                alert_rule_test=tuple(alerts),
                promql_expr_test=tuple(exprs),
                external_labels=d.string_map(g.get("external_labels")),
                external_url=d.string(g.get("external_url")),
                name=d.string(g.get("name")),
                start_timestamp_ms=d.timestamp(g.get("start_timestamp")),
            )
        )
    if d.errors:
        unmarshal = [e for e in d.errors if e.startswith("line ")]
        other = [e for e in d.errors if not e.startswith("line ")]
        if unmarshal:
            raise TestFileError("yaml: unmarshal errors:\n  " + "\n  ".join(unmarshal))
        raise TestFileError(other[0])
    return UnitTestFile(rule_files, ev or 60_000, order, tuple(groups), fuzzy)
