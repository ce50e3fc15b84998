"""Prometheus rule files: parsed once into typed groups and rules, validated like
``promtool check rules``.

A rule file is YAML with ``groups:`` (or a PrometheusRule custom resource, whose
groups sit under ``spec.groups``). Every problem is reported with the file, the
line and column, the group, the rule's 1-based index and its name, in
Prometheus's words::

    rf = load_file("rules.yml")            # raises RuleFileError listing every problem
    for g in rf.groups:
        for r in g.rules:
            r.kind, r.name, r.expr
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from alerting.rules.templates import check_alert_template
from spyglass.configtypes import parse_duration_ms
from storage.labels import is_legacy_label_name, is_legacy_metric_name

__all__ = ["Rule", "RuleFile", "RuleFileError", "RuleGroup", "load_file", "parse_rule_file"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One recording or alerting rule as written in a rule file."""

    # "record" or "alert"
    kind: str
    # the recorded metric name, or the alert name
    name: str
    # the PromQL expression
    expr: str
    # alerting rules: how long a condition must hold before the alert fires (ms)
    for_ms: int = 0
    # alerting rules: how long an alert keeps firing after its condition cleared (ms)
    keep_firing_for_ms: int = 0
    # labels added to (recording) or templated onto (alerting) the result
    labels: tuple[tuple[str, str], ...] = ()
    # alerting rules: templated annotations
    annotations: tuple[tuple[str, str], ...] = ()
    # where the rule starts in its file (1-based)
    line: int = 0

    @property
    def is_alert(self) -> bool:
        return self.kind == "alert"


@dataclass(frozen=True, slots=True)
class RuleGroup:
    """A group of rules evaluated in order at one timestamp, every ``interval_ms``."""

    # unique within its file
    name: str
    # the file the group came from
    file: str
    rules: tuple[Rule, ...] = ()
    # evaluation interval in ms; 0 means the global evaluation interval
    interval_ms: int = 0
    # how far back in time the group queries (ms); None means the global rule_query_offset
    query_offset_ms: int | None = None
    # most alerts or series one rule may produce; 0 means no limit
    limit: int = 0
    # labels added to every rule's result (they override the rule's own labels)
    labels: tuple[tuple[str, str], ...] = ()
    # where the group starts in its file (1-based)
    line: int = 0


@dataclass(frozen=True, slots=True)
class RuleFile:
    """The groups of one rule file."""

    path: str
    groups: tuple[RuleGroup, ...] = ()

    @property
    def num_rules(self) -> int:
        return sum(len(g.rules) for g in self.groups)


@dataclass
class RuleFileError(Exception):
    """A rule file that cannot be used; ``errors`` holds one message per problem,
    each prefixed with the file name as promtool prints them."""

    path: str
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(self.errors)


# --- YAML with positions -----------------------------------------------------------

_GROUPS_TYPE = "rulefmt.RuleGroups"
_GROUP_TYPE = "rulefmt.RuleGroup"
_RULE_TYPE = "rulefmt.Rule"

_GROUP_FIELDS = {"name", "interval", "query_offset", "limit", "rules", "labels"}
_RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}


def _pos(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _tag_name(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "!!map"
    if isinstance(node, yaml.SequenceNode):
        return "!!seq"
    t = node.tag or ""
    return "!!" + t.rsplit(":", 1)[-1] if t.startswith("tag:yaml.org,2002:") else t


def _is_null(node: yaml.Node | None) -> bool:
    return node is None or (isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"))


class _Decoder:
    """Decodes composed YAML nodes into rule-file values, collecting yaml.v3-style
    unmarshal errors (``line N: ...``) instead of stopping at the first."""

    def __init__(self, strict: bool):
        self.strict = strict
        self.unmarshal: list[str] = []  # "line N: message"
        self.other: list[str] = []  # errors Prometheus reports on their own

    def mapping(self, node: yaml.Node | None, type_name: str, known: set[str]) -> dict[str, yaml.Node]:
        if _is_null(node):
            return {}
        if not isinstance(node, yaml.MappingNode):
            self.unmarshal.append(f"line {_pos(node)[0]}: cannot unmarshal {_tag_name(node)} into {type_name}")
            return {}
        out: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = k.value if isinstance(k, yaml.ScalarNode) else None
            if key is None:
                self.unmarshal.append(f"line {_pos(k)[0]}: cannot unmarshal {_tag_name(k)} into string")
                continue
            if key not in known:
                if self.strict:
                    self.unmarshal.append(f"line {_pos(k)[0]}: field {key} not found in type {type_name}")
                continue
            if key in out:
                self.unmarshal.append(
                    f'line {_pos(k)[0]}: mapping key "{key}" already defined at line {_pos(out[key])[0] - 0}'
                )
                continue
            out[key] = v
        return out

    def string(self, node: yaml.Node | None) -> str:
        if _is_null(node):
            return ""
        if not isinstance(node, yaml.ScalarNode) or node.tag.endswith(":binary"):
            self.unmarshal.append(f"line {_pos(node)[0]}: cannot unmarshal {_tag_name(node)} into string")
            return ""
        return node.value

    def integer(self, node: yaml.Node | None) -> int:
        if _is_null(node):
            return 0
        if isinstance(node, yaml.ScalarNode):
            try:
                return int(node.value)
            except ValueError:
                pass
        self.unmarshal.append(
            f"line {_pos(node)[0]}: cannot unmarshal {_tag_name(node)} `{getattr(node, 'value', '')}` into int"
        )
        return 0

    def duration(self, node: yaml.Node | None) -> int:
        if _is_null(node):
            return 0
        if not isinstance(node, yaml.ScalarNode):
            self.unmarshal.append(f"line {_pos(node)[0]}: cannot unmarshal {_tag_name(node)} into string")
            return 0
        text = node.value
        try:
            if text.strip() != text or (text and text[0] in "+-"):
                raise ValueError
            return parse_duration_ms(text)
        except ValueError:
            self.other.append(f'not a valid duration string: "{text}"')
            return 0

    def string_map(self, node: yaml.Node | None) -> tuple[list[tuple[str, str]], dict[str, yaml.Node]]:
        if _is_null(node):
            return [], {}
        if not isinstance(node, yaml.MappingNode):
            self.unmarshal.append(
                f"line {_pos(node)[0]}: cannot unmarshal {_tag_name(node)} into map[string]string"
            )
            return [], {}
        items: dict[str, str] = {}
        nodes: dict[str, yaml.Node] = {}
        for k, v in node.value:
            key = self.string(k)
            items[key] = self.string(v)
            nodes[key] = k
        return list(items.items()), nodes


def _label_name_ok(name: str, legacy: bool) -> bool:
    if legacy:
        return is_legacy_label_name(name)
    return bool(name) and "\ufffd" not in name


def _metric_name_ok(name: str, legacy: bool) -> bool:
    if legacy:
        return is_legacy_metric_name(name)
    return bool(name) and "\ufffd" not in name


def _groups_node(root: yaml.Node) -> tuple[yaml.Node | None, bool]:
    """The node holding ``groups``: the document itself, or ``spec`` of a
    PrometheusRule custom resource."""
    if isinstance(root, yaml.MappingNode):
        keys = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
        kind = keys.get("kind")
        if isinstance(kind, yaml.ScalarNode) and kind.value == "PrometheusRule" and "spec" in keys:
            return keys["spec"], True
    return root, False


def parse_rule_file(
    text: str,
    path: str = "<string>",
    *,
    ignore_unknown_fields: bool = False,
    legacy_names: bool = False,
    parse_expr=None,
) -> RuleFile:
    """Parse and validate rule-file text; raises RuleFileError with every problem.

    ``parse_expr`` checks a PromQL expression (raising on error; the default is
    the engine's parser); ``legacy_names`` applies Prometheus 2.x's name charset
    instead of 3.x's UTF-8 names."""
    if parse_expr is None:
        from storage.promql import Engine

        parse_expr = Engine().parse

    def fail(msgs: Iterable[str]):
        raise RuleFileError(path, [f"{path}: {m}" for m in msgs])

    try:
        docs = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        fail([f"yaml: {where}{getattr(e, 'problem', None) or e}"])
    root = docs[0] if docs else None
    if root is None:
        return RuleFile(path, ())

    dec = _Decoder(strict=not ignore_unknown_fields)
    container, is_crd = _groups_node(root)
    if is_crd:
        top = dec.mapping(container, "v1.PrometheusRuleSpec", {"groups"})
    else:
        top = dec.mapping(container, _GROUPS_TYPE, {"groups"})
    gnode = top.get("groups")
    group_nodes: list[yaml.Node] = []
    if not _is_null(gnode):
        if isinstance(gnode, yaml.SequenceNode):
            group_nodes = list(gnode.value)
        else:
            dec.unmarshal.append(
                f"line {_pos(gnode)[0]}: cannot unmarshal {_tag_name(gnode)} into []rulefmt.RuleGroup"
            )

    raw_groups = []
    for gn in group_nodes:
        gm = dec.mapping(gn, _GROUP_TYPE, _GROUP_FIELDS)
        name = dec.string(gm.get("name"))
        interval = dec.duration(gm.get("interval"))
        qo = None if _is_null(gm.get("query_offset")) else dec.duration(gm.get("query_offset"))
        limit = dec.integer(gm.get("limit"))
        glabels, _glabel_nodes = dec.string_map(gm.get("labels"))
        rule_nodes: list[yaml.Node] = []
        rn = gm.get("rules")
        if not _is_null(rn):
            if isinstance(rn, yaml.SequenceNode):
                rule_nodes = list(rn.value)
            else:
                dec.unmarshal.append(f"line {_pos(rn)[0]}: cannot unmarshal {_tag_name(rn)} into []rulefmt.Rule")
        rules = []
        for r in rule_nodes:
            rm = dec.mapping(r, _RULE_TYPE, _RULE_FIELDS)
            rules.append(
                (
                    r,
                    rm,
                    {
                        "record": dec.string(rm.get("record")),
                        "alert": dec.string(rm.get("alert")),
                        "expr": dec.string(rm.get("expr")),
                        "for": dec.duration(rm.get("for")),
                        "keep_firing_for": dec.duration(rm.get("keep_firing_for")),
                        "labels": dec.string_map(rm.get("labels"))[0],
                        "annotations": dec.string_map(rm.get("annotations"))[0],
                    },
                )
            )
        raw_groups.append((gn, name, interval, qo, limit, glabels, rules))

    if dec.unmarshal:
        fail(["yaml: unmarshal errors:\n  " + "\n  ".join(dec.unmarshal)] + dec.other)
    if dec.other:
        fail(dec.other)

    errors: list[str] = []
    seen: set[str] = set()
    groups: list[RuleGroup] = []
    for gn, name, interval, qo, limit, glabels, rules in raw_groups:
        line, col = _pos(gn)
        if name == "":
            errors.append(f"{line}:{col}: Groupname must not be empty")
        if name in seen:
            errors.append(f'{line}:{col}: groupname: "{name}" is repeated in the same file')
        seen.add(name)
        for k, v in glabels:
            if not _label_name_ok(k, legacy_names) or k == "__name__":
                errors.append(f"invalid label name: {k}")
            if "\ufffd" in v:
                errors.append(f"invalid label value: {v}")
        out_rules = []
        for idx, (rnode, rm, r) in enumerate(rules, start=1):
            rule_name = r["alert"] or r["record"]
            for e in _validate_rule(r, rm, rnode, legacy_names, parse_expr):
                errors.append(f'{e[0]}group "{name}", rule {idx}, "{rule_name}": {e[1]}')
            out_rules.append(
                Rule(
                    kind="alert" if r["alert"] else "record",
                    name=rule_name,
                    expr=r["expr"],
                    for_ms=r["for"],
                    keep_firing_for_ms=r["keep_firing_for"],
                    labels=tuple(r["labels"]),
                    annotations=tuple(r["annotations"]),
                    line=_pos(rnode)[0],
                )
            )
        groups.append(
            RuleGroup(
                name=name,
                file=path,
                rules=tuple(out_rules),
                interval_ms=interval,
                query_offset_ms=qo,
                limit=limit,
                labels=tuple(glabels),
                line=line,
            )
        )
    if errors:
        fail(errors)
    return RuleFile(path, tuple(groups))


def _where(node: yaml.Node | None, alt: yaml.Node | None = None) -> str:
    # Go reports the position of the yaml node, 0:0 when the key is absent
    def p(n):
        return f"{_pos(n)[0]}:{_pos(n)[1]}: " if n is not None else "0:0: "

    if alt is not None or node is None and alt is None:
        return p(node) + p(alt)
    return p(node)


def _validate_rule(r: dict, rm: dict, rnode, legacy: bool, parse_expr) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    rec_node, alert_node, expr_node = rm.get("record"), rm.get("alert"), rm.get("expr")
    if r["record"] and r["alert"]:
        out.append((_where(rec_node, alert_node), "only one of 'record' and 'alert' must be set"))
    if not r["record"] and not r["alert"]:
        out.append((_where(rec_node, alert_node), "one of 'record' or 'alert' must be set"))
    if not r["expr"]:
        out.append((_where(expr_node) if expr_node is not None else "0:0: ", "field 'expr' must be set in rule"))
    else:
        try:
            parse_expr(r["expr"])
        except Exception as e:  # noqa: BLE001 - the engine's ParseError (message carries the position)
            out.append((_where(expr_node), f"could not parse expression: {e}"))
    if r["record"]:
        w = _where(rec_node)
        if r["annotations"]:
            out.append((w, "invalid field 'annotations' in recording rule"))
        if r["for"]:
            out.append((w, "invalid field 'for' in recording rule"))
        if r["keep_firing_for"]:
            out.append((w, "invalid field 'keep_firing_for' in recording rule"))
        if not _metric_name_ok(r["record"], legacy):
            out.append((w, f"invalid recording rule name: {r['record']}"))
        if "{" in r["record"] or "}" in r["record"]:
            out.append((w, f"braces present in the recording rule name; should it be in expr?: {r['record']}"))
    for k, v in r["labels"]:
        if not _label_name_ok(k, legacy) or k == "__name__":
            out.append(("", f"invalid label name: {k}"))
        if "\ufffd" in v:
            out.append(("", f"invalid label value: {v}"))
    for k, _ in r["annotations"]:
        if not _label_name_ok(k, legacy):
            out.append(("", f"invalid annotation name: {k}"))
    if r["alert"]:
        for k, v in r["labels"]:
            err = check_alert_template(v, r["alert"])
            if err:
                out.append(("", f'label "{k}": {err}'))
        for k, v in r["annotations"]:
            err = check_alert_template(v, r["alert"])
            if err:
                out.append(("", f'annotation "{k}": {err}'))
    return out


def load_file(path: str | Path, **kw) -> RuleFile:
    """Read and validate one rule file (see parse_rule_file for the options)."""
    p = str(path)
    try:
        text = Path(p).read_text(encoding="utf-8")
    except OSError as e:
        raise RuleFileError(p, [f"{p}: {e.strerror or e}"]) from None
    except UnicodeDecodeError as e:
        raise RuleFileError(p, [f"{p}: not UTF-8 text: {e}"]) from None
    return parse_rule_file(text, p, **kw)
