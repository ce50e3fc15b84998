"""Request parameters of the Prometheus HTTP API, parsed the way Prometheus parses them."""

from __future__ import annotations

import math
from datetime import datetime

import promql_parser

from spyglass.configtypes import parse_duration_ms
from storage.labels import Matcher

# Prometheus's API boundary times (what `start`/`end` default to): Go's
# time.Unix(math.MinInt64/1000+62135596801, 0) and its mirror, in milliseconds.
MIN_TIME_MS = (-(2**63 // 1000) + 62135596801) * 1000
MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999
_MIN_TIME_STR = "-292273086-05-16T16:47:06Z"
_MAX_TIME_STR = "292277025-08-18T07:12:54.999999999Z"


class BadParam(ValueError):
    """An invalid request parameter; the API answers 400 bad_data with this text."""


def parse_time(value: str, name: str) -> int:
    """Unix seconds (float) or RFC 3339 → milliseconds."""
    s = value.strip()
    try:
        f = float(s)
    except ValueError:
        pass
    else:
        if math.isnan(f) or math.isinf(f):
            raise BadParam(f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp')
        sec = math.floor(f)
        frac = round((f - sec) * 1000) / 1000
        return sec * 1000 + round(frac * 1000)
    if s == _MIN_TIME_STR:
        return MIN_TIME_MS
    if s == _MAX_TIME_STR:
        return MAX_TIME_MS
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
        if dt.tzinfo is None:
            raise ValueError
        return round(dt.timestamp() * 1000)
    except ValueError:
        raise BadParam(
            f'invalid parameter "{name}": cannot parse "{value}" to a valid timestamp'
        ) from None


def parse_duration_param(value: str, name: str) -> int:
    """Float seconds or a Prometheus duration → milliseconds."""
    s = value.strip()
    try:
        f = float(s)
    except ValueError:
        pass
    else:
        if math.isnan(f) or math.isinf(f) or abs(f) * 1e9 > 2**63:
            raise BadParam(
                f'invalid parameter "{name}": cannot parse "{value}" to a valid duration. It overflows int64'
            )
        return round(f * 1000)
    try:
        return parse_duration_ms(s)
    except ValueError:
        raise BadParam(f'invalid parameter "{name}": cannot parse "{value}" to a valid duration') from None


_OPS = {
    "MatchOp.Equal": "=",
    "MatchOp.NotEqual": "!=",
    "MatchOp.Re": "=~",
    "MatchOp.NotRe": "!~",
}


def matchers_from_ast(ms) -> list[list[Matcher]]:
    """promql_parser ``Matchers`` → matcher sets (one per ``or`` alternative)."""
    groups = [list(ms.matchers)] if ms.matchers else []
    groups.extend(list(g) for g in (ms.or_matchers or []))
    out = []
    for group in groups or [[]]:
        out.append([Matcher(_OPS[str(m.op)], m.name, m.value) for m in group])
    return out


def parse_selector(text: str) -> list[list[Matcher]]:
    """A series selector (``match[]``) → matcher sets; each set is ANDed, sets are ORed."""
    try:
        expr = promql_parser.parse(text)
    except Exception as e:  # noqa: BLE001  whatever the parser raises, the parameter is bad
        raise BadParam(f"invalid parameter \"match[]\": {e}") from None
    if not isinstance(expr, promql_parser.VectorSelector):
        raise BadParam(f'invalid parameter "match[]": {text!r} is not a series selector')
    sets = matchers_from_ast(expr.matchers)
    if expr.name:
        for s in sets:
            s.append(Matcher("=", "__name__", expr.name))
    for s in sets:
        if all(m.matches("") for m in s):
            raise BadParam(
                'invalid parameter "match[]": match[] must contain at least one non-empty matcher'
            )
    return sets


def parse_limit(value: str | None) -> int:
    if value is None or value == "":
        return 0
    try:
        n = int(value)
    except ValueError:
        raise BadParam(f'invalid parameter "limit": cannot parse "{value}" to a valid limit') from None
    if n < 0:
        raise BadParam('invalid parameter "limit": limit must be non-negative')
    return n
