"""PromQL completion for the Explore editor: metric names, label names and values,
functions and aggregation keywords, chosen by what precedes the cursor."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from dashboards.grafana.promql_text import outside_quotes

FUNCTIONS = (
    "abs", "absent", "absent_over_time", "acos", "acosh", "asin", "asinh", "atan", "atanh",
    "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
    "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg",
    "delta", "deriv", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
    "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters",
    "hour", "idelta", "increase", "irate", "label_join", "label_replace", "last_over_time", "ln",
    "log10", "log2", "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi",
    "predict_linear", "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round",
    "scalar", "sgn", "sin", "sinh", "sort", "sort_by_label", "sort_by_label_desc", "sort_desc",
    "sqrt", "stddev_over_time", "stdvar_over_time", "sum_over_time", "tan", "tanh", "time",
    "timestamp", "vector", "year",
)
AGGREGATIONS = ("sum", "avg", "min", "max", "count", "group", "stddev", "stdvar", "topk",
                "bottomk", "quantile", "count_values", "limitk", "limit_ratio")
KEYWORDS = ("by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
            "and", "or", "unless")
MAX_ITEMS = 50


@dataclass(frozen=True, slots=True)
class Completion:
    """Suggestions replacing ``text[start:end]``; ``kind`` says what they are."""

    kind: str  # metric | label | value | none
    items: tuple[str, ...]
    start: int
    end: int


_WORD = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*$")


def _open_brace(text: str) -> int:
    """Index of an unclosed ``{`` (outside quotes), or -1."""
    depth_at = -1
    for i, c in outside_quotes(text):
        if c == "{":
            depth_at = i
        elif c == "}":
            depth_at = -1
    return depth_at


def complete(text: str, cursor: int | None, *, metrics: Callable[[], list[str]],
             labels: Callable[[str], list[str]], values: Callable[[str, str], list[str]],
             ) -> Completion:
    """What to offer at ``cursor`` (end of text when None)."""
    cursor = len(text) if cursor is None else max(0, min(cursor, len(text)))
    before = text[:cursor]
    brace = _open_brace(before)
    if brace >= 0:
        metric_m = _WORD.search(before[:brace])
        metric = metric_m.group(0) if metric_m else ""
        inside = before[brace + 1:]
        # label value: name op "partial
        vm = re.search(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)$', inside)
        if vm:
            partial = vm.group(3)
            items = [v for v in values(vm.group(1), metric) if v.startswith(partial)]
            return Completion("value", tuple(sorted(items)[:MAX_ITEMS]), cursor - len(partial), cursor)
        lm = re.search(r'(?:^|[,{\s])([A-Za-z_][A-Za-z0-9_]*)?$', inside)
        if lm is not None:
            partial = lm.group(1) or ""
            items = [l for l in labels(metric) if l.startswith(partial) and l != "__name__"]
            return Completion("label", tuple(sorted(items)[:MAX_ITEMS]), cursor - len(partial), cursor)
        return Completion("none", (), cursor, cursor)
    grouping = re.search(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)$", before)
    if grouping:
        partial = re.search(r"([A-Za-z_][A-Za-z0-9_]*)?$", grouping.group(2)).group(1) or ""
        items = [l for l in labels("") if l.startswith(partial) and l != "__name__"]
        return Completion("label", tuple(sorted(items)[:MAX_ITEMS]), cursor - len(partial), cursor)
    if re.search(r'"[^"]*$', before) or re.search(r"\[[^\]]*$", before):
        return Completion("none", (), cursor, cursor)
    m = _WORD.search(before)
    partial = m.group(0) if m else ""
    if not partial:
        return Completion("none", (), cursor, cursor)
    words = [f for f in FUNCTIONS + AGGREGATIONS + KEYWORDS if f.startswith(partial)]
    names = [n for n in metrics() if n.startswith(partial)]
    items = tuple(dict.fromkeys(sorted(words) + sorted(names)))[:MAX_ITEMS]
    return Completion("metric", items, cursor - len(partial), cursor)


def apply(text: str, c: Completion, item: str) -> str:
    return text[: c.start] + item + text[c.end:]
