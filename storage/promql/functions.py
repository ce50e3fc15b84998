"""Functions over instant vectors and scalars: math, clamping, rounding, dates,
labels, sorting, ``absent``, ``scalar``/``vector``.

They work on whole (series, steps) grids; the per-step scalar arguments
(``clamp(v, min, max)``'s bounds, ``round``'s precision) are arrays over steps::

    values = math_function("ln", vec.values)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import re2

from storage.labels import METRIC_NAME, Labels, Matcher, MatchOp
from storage.promql.errors import EvaluationError
from storage.promql.grid import StepVector, merge_same_labels
from storage.promql.lexer import valid_utf8

_QUIET = re2.Options()
_QUIET.log_errors = False


def _sgn(x):
    return np.where(x < 0, -1.0, np.where(x > 0, 1.0, x))


MATH = {
    "abs": np.abs,
    "ceil": np.ceil,
    "floor": np.floor,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "ln": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "rad": lambda x: x * (np.pi / 180),
    "deg": lambda x: x * (180 / np.pi),
    "sgn": _sgn,
}

DATE_FUNCTIONS = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
    }
)


def math_function(name: str, values: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return MATH[name](values)


def round_to(values: np.ndarray, to_nearest: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        inverse = 1.0 / to_nearest
        return np.floor(values * inverse + 0.5) / inverse


def clamp(v: StepVector, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Clamped values and presence; a step where max < min has no result."""
    with np.errstate(invalid="ignore"):
        values = np.maximum(lo[None, :], np.minimum(hi[None, :], v.values))
        # Go's math.Max/Min propagate NaN from either side
        values = np.where(np.isnan(v.values), np.nan, values)
        ok = ~(hi < lo)
    return values, v.present & ok[None, :]


def date_parts(name: str, seconds: np.ndarray) -> np.ndarray:
    """The calendar field ``name`` of Unix times (UTC), like Go's ``time.Unix(int64(s), 0)``."""
    with np.errstate(invalid="ignore"):
        s = np.where(np.isfinite(seconds), seconds, 0)
        s = np.clip(s, -62135596800, 253402300799)  # years 1 .. 9999
        secs = np.trunc(s).astype(np.int64)
    dt = secs.astype("datetime64[s]")
    days = dt.astype("datetime64[D]")
    if name == "hour":
        out = (secs - days.astype(np.int64) * 86400) // 3600
    elif name == "minute":
        out = ((secs - days.astype(np.int64) * 86400) % 3600) // 60
    elif name == "day_of_week":
        out = (days.astype(np.int64) + 4) % 7  # 1970-01-01 was a Thursday
    else:
        months = days.astype("datetime64[M]")
        years = days.astype("datetime64[Y]")
        if name == "year":
            out = years.astype(np.int64) + 1970
        elif name == "month":
            out = months.astype(np.int64) % 12 + 1
        elif name == "day_of_month":
            out = (days - months).astype(np.int64) + 1
        elif name == "day_of_year":
            out = (days - years).astype(np.int64) + 1
        elif name == "days_in_month":
            out = ((months + 1).astype("datetime64[D]") - months.astype("datetime64[D]")).astype(
                np.int64
            )
        else:
            raise EvaluationError(f"unknown date function {name}")
    return out.astype(np.float64)


# --- labels --------------------------------------------------------------------------


def _valid_label_name(name: str) -> bool:
    return bool(name) and valid_utf8(name)


_EXPAND = re.compile(r"\$(\$|\{([^}]*)\}|([A-Za-z0-9_]+))")


def expand_template(template: str, match, groupindex: dict[str, int]) -> str:
    """Go's ``Regexp.Expand``: ``$1``, ``${1}``, ``$name``, ``${name}``, ``$$``.

    A name is the longest run of letters, digits and underscores, so ``$1x``
    means group "1x" (empty), not group 1 followed by "x".
    """
    out: list[str] = []
    pos = 0
    for m in _EXPAND.finditer(template):
        out.append(template[pos : m.start()])
        pos = m.end()
        if m.group(1) == "$":
            out.append("$")
            continue
        name = m.group(2) if m.group(2) is not None else m.group(3)
        if m.group(2) is not None and not re.fullmatch(r"[A-Za-z0-9_]+", name or ""):
            out.append(m.group(0))  # Go leaves an invalid ${...} as is
            continue
        if name.isdigit():
            i = int(name)
            if i < len(match.groups()) + 1:
                out.append(match.group(i) or "")
        elif name in groupindex:
            out.append(match.group(groupindex[name]) or "")
    out.append(template[pos:])
    return "".join(out)


def label_replace(v: StepVector, dst: str, repl: str, src: str, regex: str) -> StepVector:
    try:
        pattern = re2.compile(f"^(?s:{regex})$", _QUIET)
    except re2.error:
        raise EvaluationError(f"invalid regular expression in label_replace(): {regex}") from None
    if not _valid_label_name(dst):
        raise EvaluationError(f"invalid destination label name in label_replace(): {dst}")
    groupindex = dict(pattern.groupindex) if hasattr(pattern, "groupindex") else {}
    labels = list(v.labels)
    drop = v.drop_name.copy()
    for i, ls in enumerate(labels):
        m = pattern.match(ls.get(src))
        if m is None:
            continue
        value = expand_template(repl, m, groupindex)
        labels[i] = ls.updated({dst: value})
        drop[i] = False if dst == METRIC_NAME else drop[i]
    out = StepVector(labels, v.values, v.present, drop, v.sample_ts, v.ordered)
    return merge_same_labels(out, keep_order=True)


def label_join(v: StepVector, dst: str, sep: str, srcs: Sequence[str]) -> StepVector:
    for s in srcs:
        if not _valid_label_name(s):
            raise EvaluationError(f"invalid source label name in label_join(): {s}")
    if not _valid_label_name(dst):
        raise EvaluationError(f"invalid destination label name in label_join(): {dst}")
    labels = list(v.labels)
    drop = v.drop_name.copy()
    for i, ls in enumerate(labels):
        value = sep.join(ls.get(s) for s in srcs)
        labels[i] = ls.updated({dst: value})
        drop[i] = False if dst == METRIC_NAME else drop[i]
    out = StepVector(labels, v.values, v.present, drop, v.sample_ts, v.ordered)
    return merge_same_labels(out, keep_order=True)


def absent_labels(matchers: Sequence[Matcher]) -> Labels:
    """The labels ``absent()`` gives its result: the selector's equality matchers
    (a label matched more than once, or not by equality, is left out)."""
    has: set[str] = set()
    out: dict[str, str] = {}
    for m in matchers:
        if m.name == METRIC_NAME:
            continue
        if m.op is MatchOp.EQUAL and m.name not in has:
            out[m.name] = m.value
            has.add(m.name)
        else:
            out.pop(m.name, None)
    return Labels.from_dict(out)


# --- sorting -------------------------------------------------------------------------

_CHUNK = re.compile(r"\d+|\D+")


def natural_less(a: str, b: str) -> bool:
    """``natsort.Compare`` as Prometheus uses it for ``sort_by_label``."""
    ca, cb = _CHUNK.findall(a), _CHUNK.findall(b)
    for i, x in enumerate(ca):
        if i >= len(cb):
            return False
        y = cb[i]
        if x.isdigit() and y.isdigit() and x.isascii() and y.isascii():
            xi, yi = int(x), int(y)
            if xi == yi:
                if i == len(ca) - 1:
                    return True
                if i == len(cb) - 1:
                    return False
                continue
            return xi < yi
        if x == y:
            if i == len(ca) - 1:
                return True
            if i == len(cb) - 1:
                return False
            continue
        return x < y
    return False


def sort_by_value(v: StepVector, descending: bool) -> StepVector:
    vals = v.values[:, 0]
    nan = np.isnan(vals)
    key = np.where(nan, 0, -vals if descending else vals)
    order = np.lexsort((np.arange(len(vals)), key, nan))
    out = v.take(order)
    out.ordered = True
    return out


def sort_by_label(v: StepVector, names: Sequence[str], descending: bool) -> StepVector:
    def cmp(i: int, j: int) -> int:
        a, b = v.labels[i], v.labels[j]
        for n in names:
            x, y = a.get(n), b.get(n)
            if x == y:
                continue
            less = natural_less(x, y)
            return (-1 if less else 1) * (-1 if descending else 1)
        c = (a > b) - (a < b)
        return -c if descending else c

    order = sorted(range(len(v.labels)), key=functools.cmp_to_key(cmp))
    out = v.take(order)
    out.ordered = True
    return out
