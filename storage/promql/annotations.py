"""Warnings and infos a query returns beside its result, worded as Prometheus words them.

Each annotation remembers the position of the sub-expression it is about; the
text gets ``(line:column)`` appended for the API's ``warnings``/``infos``::

    notes = Annotations("rate(foo[5m])")
    notes.info(possible_non_counter("foo"), pos=5)
    notes.strings()   # ([], ['PromQL info: metric might not be a counter, ... "foo" (1:6)'])
"""

from __future__ import annotations

import math

from storage.promql.lexer import line_column

WARNING = "PromQL warning"
INFO = "PromQL info"


def invalid_quantile(q: float) -> str:
    return f"{WARNING}: quantile value should be between 0 and 1, got {go_g(q)}"


def invalid_ratio(r: float, capped: float) -> str:
    return (
        f"{WARNING}: ratio value should be between -1 and 1, got {go_g(r)}, "
        f"capping to {go_g(capped)}"
    )


def bad_bucket_label(metric: str, le: str) -> str:
    text = f'{WARNING}: bucket label "le" is missing or has a malformed value of {go_quote(le)}'
    return text + (f" for metric name {go_quote(metric)}" if metric else "")


def sort_in_range_query() -> str:
    return (
        f"{WARNING}: sort is ineffective for range queries since results are always "
        "ordered by labels"
    )


def possible_non_counter(metric: str) -> str:
    return (
        f"{INFO}: metric might not be a counter, name does not end in "
        f"_total/_sum/_count/_bucket: {go_quote(metric)}"
    )


def forced_monotonicity(metric: str) -> str:
    text = (
        f"{INFO}: input to histogram_quantile needed to be fixed for monotonicity "
        "(see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)"
    )
    return text + (f" for metric name {go_quote(metric)}" if metric else "")


def go_g(x: float) -> str:
    """Go's ``strconv.FormatFloat(x, 'g', -1, 64)`` (what ``%g`` prints): shortest
    digits, exponent form below 1e-4 and from 1e6 (at least two exponent digits)."""
    from decimal import Decimal

    x = float(x)
    if math.isnan(x):
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+Inf" if x > 0 else "-Inf"
    if x == 0:
        return "-0" if str(x).startswith("-") else "0"
    sign, digits, exp = Decimal(repr(x)).normalize().as_tuple()
    ds = "".join(map(str, digits))
    point = len(ds) + exp  # digits before the decimal point
    e = point - 1
    neg = "-" if sign else ""
    if e < -4 or e >= 6:
        mant = ds[0] + ("." + ds[1:] if len(ds) > 1 else "")
        return f"{neg}{mant}e{'-' if e < 0 else '+'}{abs(e):02d}"
    if point <= 0:
        return f"{neg}0.{'0' * -point}{ds}"
    if point >= len(ds):
        return f"{neg}{ds}{'0' * (point - len(ds))}"
    return f"{neg}{ds[:point]}.{ds[point:]}"


def format_openmetrics_float(x: float) -> str:
    """Prometheus's ``labels.FormatOpenMetricsFloat`` (the ``quantile`` label text)."""
    if x == 1:
        return "1.0"
    if x == 0:
        return "0.0"
    if x == -1:
        return "-1.0"
    s = go_g(x)
    if s in ("NaN", "+Inf", "-Inf") or "e" in s or "." in s:
        return s
    return s + ".0"


def go_labels(labels) -> str:
    """Prometheus's ``labels.Labels.String()``: ``{__name__="x", a="b"}``."""
    from storage.labels import is_legacy_label_name

    parts = []
    for name, value in labels.items():
        n = name if is_legacy_label_name(name) else go_quote(name)
        parts.append(f"{n}={go_quote(value)}")
    return "{" + ", ".join(parts) + "}"


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (enough for label values and names)."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class Annotations:
    """The warnings and infos of one query, without duplicates, in order of arrival."""

    def __init__(self, query: str):
        self.query = query
        self._items: dict[tuple[str, str, int | None], None] = {}

    def warn(self, message: str, pos: int | None) -> None:
        self._items[("warning", message, pos)] = None

    def info(self, message: str, pos: int | None) -> None:
        self._items[("info", message, pos)] = None

    def _text(self, message: str, pos: int | None) -> str:
        if pos is None:
            return message
        line, col = line_column(self.query, pos)
        return f"{message} ({line}:{col})"

    def strings(self) -> tuple[list[str], list[str]]:
        warnings: dict[str, None] = {}
        infos: dict[str, None] = {}
        for kind, message, pos in self._items:
            (warnings if kind == "warning" else infos)[self._text(message, pos)] = None
        return list(warnings), list(infos)

    def __len__(self) -> int:
        return len(self._items)
