"""Variable queries of the Prometheus datasource — ``label_values()``, ``label_names()``,
``metrics()``, ``query_result()`` — parsed into a typed request, and the variable's
``regex`` (a JavaScript ``/pattern/flags`` literal) and ``sort`` applied to the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

from dashboards.grafana.errors import DashboardError
from dashboards.grafana.promql_text import outside_quotes


@dataclass(frozen=True, slots=True)
class VariableQuery:
    """What a query variable asks the API for.

    ``kind`` is "label_values" (``label`` of series matching ``match``, or of all
    series when ``match`` is empty), "label_names" (optionally of ``match``),
    "metrics" (metric names matching the regex ``match``) or "query_result"
    (the instant vector of the PromQL ``match``, one option per series).
    """

    kind: str
    match: str = ""
    label: str = ""


_FUNC_RE = re.compile(r"^\s*(label_values|label_names|metrics|query_result)\s*\((.*)\)\s*$", re.DOTALL)
_LABEL_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_variable_query(text: str) -> VariableQuery:
    """``label_values(up{job="x"}, instance)`` → ``VariableQuery("label_values", 'up{job="x"}', "instance")``.

    Any other text is a PromQL expression whose series become the options, as
    Grafana does for a bare query.
    """
    m = _FUNC_RE.match(text)
    if not m:
        return VariableQuery("query_result", text.strip())
    func, args = m.group(1), m.group(2).strip()
    if func == "label_values":
        if not args:
            raise DashboardError("label_values() needs a label name")
        metric, label = _split_last_arg(args)
        label = label.strip()
        if not _LABEL_RE.match(label):
            raise DashboardError(f"label_values(): {label!r} is not a label name")
        return VariableQuery("label_values", metric.strip(), label)
    if func == "label_names":
        return VariableQuery("label_names", args)
    if func == "metrics":
        return VariableQuery("metrics", args)
    return VariableQuery("query_result", args)


def _split_last_arg(args: str) -> tuple[str, str]:
    """Split at the last top-level comma (selectors contain commas inside braces/quotes)."""
    depth = 0
    last = -1
    for i, c in outside_quotes(args):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "," and depth == 0:
            last = i
    if last < 0:
        return "", args
    return args[:last], args[last + 1:]


# --------------------------------------------------------------------- regex
_JS_LITERAL = re.compile(r"^/(.*)/([gimsuy]*)$", re.DOTALL)


def compile_js_regex(text: str) -> re.Pattern[str]:
    """A Grafana variable regex: ``/pattern/flags`` or a bare pattern.

    JavaScript named groups ``(?<name>…)`` become Python's ``(?P<name>…)``.
    """
    m = _JS_LITERAL.match(text)
    pattern, flags = (m.group(1), m.group(2)) if m else (text, "")
    pattern = re.sub(r"\(\?<([A-Za-z_]\w*)>", r"(?P<\1>", pattern)
    f = 0
    if "i" in flags:
        f |= re.IGNORECASE
    if "m" in flags:
        f |= re.MULTILINE
    if "s" in flags:
        f |= re.DOTALL
    return re.compile(pattern, f)


def apply_regex(values: list[str], regex: str) -> list[tuple[str, str]]:
    """Filter and extract ``(text, value)`` options the way Grafana does: the first
    capture group (or the named groups ``text`` / ``value``) is kept; values that do
    not match are dropped; duplicates are removed keeping the first."""
    if not regex:
        return _dedupe([(v, v) for v in values])
    rx = compile_js_regex(regex)
    out = []
    for v in values:
        m = rx.search(v)
        if not m:
            continue
        groups = m.groupdict()
        if groups.get("text") is not None or groups.get("value") is not None:
            value = groups.get("value") if groups.get("value") is not None else groups.get("text")
            text = groups.get("text") if groups.get("text") is not None else value
            out.append((text, value))
        elif m.groups():
            g = next((x for x in m.groups() if x is not None), None)
            if g is None:
                continue
            out.append((g, g))
        else:
            out.append((v, v))
    return _dedupe(out)


def _dedupe(options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen = set()
    out = []
    for t, v in options:
        if v in seen:
            continue
        seen.add(v)
        out.append((t, v))
    return out


# ---------------------------------------------------------------------- sort
_NUM = re.compile(r"-?\d+(?:\.\d+)?")


def _numeric_key(text: str) -> tuple[int, float]:
    m = _NUM.search(text)
    return (0, float(m.group())) if m else (1, 0.0)


def _natural_key(text: str) -> list[object]:
    return [(0, int(part)) if part.isdigit() else (1, part.lower())
            for part in re.split(r"(\d+)", text) if part]


def sort_options(options: list[tuple[str, str]], sort: int) -> list[tuple[str, str]]:
    """Grafana's ``sort`` codes: 0 none, 1/2 alphabetical asc/desc, 3/4 numerical,
    5/6 alphabetical case-insensitive, 7/8 natural."""
    if sort in (1, 2):
        return sorted(options, key=lambda o: o[0], reverse=sort == 2)
    if sort in (3, 4):
        return sorted(options, key=lambda o: _numeric_key(o[0]), reverse=sort == 4)
    if sort in (5, 6):
        return sorted(options, key=lambda o: o[0].lower(), reverse=sort == 6)
    if sort in (7, 8):
        return sorted(options, key=lambda o: _natural_key(o[0]), reverse=sort == 8)
    return list(options)


def split_custom(query: str) -> list[tuple[str, str]]:
    """Options of a custom variable: ``a, b, c`` or ``text : value`` pairs; ``\\,``
    is a literal comma."""
    parts = re.split(r"(?<!\\),", query)
    out = []
    for p in parts:
        p = p.replace("\\,", ",").strip()
        if not p:
            continue
        m = re.match(r"^(.*?)\s+:\s+(.*)$", p)
        if m:
            out.append((m.group(1).strip(), m.group(2).strip()))
        else:
            out.append((p, p))
    return _dedupe(out)
