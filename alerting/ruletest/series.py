"""The ``input_series`` notation of promtool unit tests.

A series is ``metric{label="value"}`` and its values a space-separated list:
``1 2 3``; ``a+bxn`` (``a``, then ``n`` more values each ``b`` higher), ``a-bxn``,
``axn`` (``a`` repeated ``n+1`` times), ``_`` (no sample), ``_xn`` (``n``
missing samples), ``stale`` (a staleness marker). Sample *i* is at
``start + i * interval``::

    expand_values("1+1x2 _ stale")   # [1.0, 2.0, 3.0, None, STALE_NAN]

Native histogram values (``{{schema:1 ...}}``) are not supported: Spyglass's
storage holds float samples only.
"""

from __future__ import annotations

import math
import re

from storage.interface import STALE_NAN
from storage.labels import InvalidLabels, Labels

__all__ = ["SeriesError", "expand_values", "parse_series"]


class SeriesError(ValueError):
    """Input series that cannot be read; the message says which part and why."""


# Hexadecimal numbers are not allowed here: "0+0x5" must read as 0, +0, x5.
_NUM = r"[+-]?(?:[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_ITEM = re.compile(
    rf"^(?:(?P<blank>_)|(?P<stale>stale)|(?P<num>{_NUM}))"
    rf"(?:(?P<op>[+-])(?P<inc>(?:[iI][nN][fF]|[nN][aA][nN]|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)))?"
    r"(?:x(?P<times>\d+))?$"
)


def _num(text: str) -> float:
    t = text.lower()
    sign = -1.0 if t.startswith("-") else 1.0
    body = t.lstrip("+-")
    if body in ("inf", "infinity"):
        return sign * math.inf
    if body == "nan":
        return math.nan
    return float(t)


def expand_values(text: str) -> list:
    """Expand a values string to floats, ``None`` for a missing sample and the
    stale marker for ``stale``."""
    out: list = []
    for tok in text.split():
        if tok.startswith("{{"):
            raise SeriesError(
                f"native histogram value {tok!r} is not supported (Spyglass stores float samples only)"
            )
        m = _ITEM.match(tok)
        if m is None:
            raise SeriesError(f"invalid value {tok!r}: expected a number, _, stale, or a+bxn / a-bxn / axn")
        times = m.group("times")
        if m.group("blank"):
            if m.group("op"):
                raise SeriesError(f"invalid value {tok!r}: a missing sample cannot increment")
            out.extend([None] * (int(times) if times is not None else 1))
            continue
        if m.group("stale"):
            if m.group("op") or times is not None:
                raise SeriesError(f"invalid value {tok!r}: stale cannot be repeated or incremented")
            out.append(STALE_NAN)
            continue
        start = _num(m.group("num"))
        if times is None:
            if m.group("op"):
                raise SeriesError(f"invalid value {tok!r}: an increment needs a count (a+bxn)")
            out.append(start)
            continue
        inc = _num(m.group("inc")) if m.group("op") else 0.0
        if m.group("op") == "-":
            inc = -inc
        n = int(times)
        cur = start
        out.append(cur)
        for _ in range(n):
            # add step by step like promqltest, so rounding matches Prometheus
            cur += inc
            out.append(cur)
    return out


def parse_series(text: str) -> Labels:
    """A series in ``metric{label="value"}`` notation."""
    t = text.strip()
    if t in ("", "{}"):
        raise SeriesError(f"invalid series {text!r}: a series needs a name or labels")
    try:
        return Labels.parse(t)
    except InvalidLabels as e:
        raise SeriesError(str(e)) from None
