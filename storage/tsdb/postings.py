"""Label matchers evaluated over a postings index (label name → value → sorted
series ids), with Prometheus's semantics.

A series missing a label matches as if the label were ``""``. So a matcher
that matches the empty string (``a=""``, ``a!="x"``, ``a=~"x|"``,
``a!~"x"``) is evaluated as "all series minus those whose value does *not*
match", and one that does not match ``""`` as "the union of the postings of the
values that match". Regexes are RE2, fully anchored. Literal alternations
(``a|b|c``) and prefixes (``abc.*``) skip scanning every value::

    ids = select_postings(index, [Matcher("=", "__name__", "up"), Matcher("=~", "job", "a|b")])
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from storage.labels import Matcher, MatchOp

_EMPTY = np.empty(0, np.int64)
_META = set(".^$*+?()[]{}|")


class LabelIndex(Protocol):
    """What matcher evaluation needs from an index; ids are int64, sorted."""

    def all_postings(self) -> np.ndarray: ...

    def label_values(self, name: str) -> list[str]:
        """Sorted values of ``name`` (empty when the name is absent)."""
        ...

    def postings_for(self, name: str, values: Sequence[str]) -> np.ndarray:
        """Sorted union of the postings of ``name=v`` for each ``v`` present."""
        ...

    def postings_for_range(self, name: str, lo: int, hi: int) -> np.ndarray:
        """Sorted union of the postings of ``label_values(name)[lo:hi]``."""
        ...


def literal_alternatives(pattern: str) -> list[str] | None:
    """``"a|b\\.c"`` → ``["a", "b.c"]``; None when the pattern is not a plain
    alternation of literals."""
    out: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 >= len(pattern) or pattern[i + 1].isalnum() or pattern[i + 1].isspace():
                return None  # \d, \w, \pL ... are classes, not literals
            cur.append(pattern[i + 1])
            i += 2
            continue
        if c == "|":
            out.append("".join(cur))
            cur = []
        elif c in _META:
            return None
        else:
            cur.append(c)
        i += 1
    out.append("".join(cur))
    return out


def literal_prefix(pattern: str) -> str | None:
    """``"abc.*"`` → ``"abc"``; None for anything else."""
    if not pattern.endswith(".*"):
        return None
    alts = literal_alternatives(pattern[:-2])
    if alts is None or len(alts) != 1:
        return None
    return alts[0]


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection of two sorted unique id arrays."""
    if len(a) > len(b):
        a, b = b, a
    if len(a) == 0:
        return _EMPTY
    pos = np.searchsorted(b, a)
    pos[pos == len(b)] = 0
    return a[b[pos] == a]


def subtract(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a`` minus ``b`` for sorted unique id arrays."""
    if len(a) == 0 or len(b) == 0:
        return a
    pos = np.searchsorted(b, a)
    pos[pos == len(b)] = 0
    return a[b[pos] != a]


def _prefix_range(values: list[str], prefix: str) -> tuple[int, int]:
    """Index range of the sorted ``values`` that start with ``prefix``."""
    lo = bisect.bisect_left(values, prefix)
    k = len(prefix)
    hi = bisect.bisect_right(values, prefix, lo, key=lambda v: v[:k])
    return lo, hi


def _matching(index: LabelIndex, m: Matcher) -> tuple[str, np.ndarray | None]:
    """Classify one matcher: ("pos", ids) the series it selects, ("neg", ids)
    the series it removes, ("all", None) a no-op, or ("none", None)."""
    name, value, op = m.name, m.value, m.op
    if op is MatchOp.EQUAL:
        if value == "":
            return "neg", index.postings_for_range(name, 0, len(index.label_values(name)))
        return "pos", index.postings_for(name, [value])
    if op is MatchOp.NOT_EQUAL:
        if value == "":
            return "pos", index.postings_for_range(name, 0, len(index.label_values(name)))
        return "neg", index.postings_for(name, [value])
    # regexes
    if value == ".*":
        return ("all", None) if op is MatchOp.REGEX else ("none", None)
    if value == ".+":
        everything = index.postings_for_range(name, 0, len(index.label_values(name)))
        return ("pos", everything) if op is MatchOp.REGEX else ("neg", everything)
    hits_empty = m.matches_empty()
    alts = literal_alternatives(value)
    if alts is not None:
        present = [a for a in alts if a != ""]
        ids = index.postings_for(name, present)
        if op is MatchOp.REGEX:
            return ("neg", _complement_values(index, name, set(alts))) if hits_empty else ("pos", ids)
        # !~ literals: removes series whose value is one of them; "" in alts means
        # series without the label are removed too
        if "" in alts:
            return "pos", _complement_values(index, name, set(alts))
        return "neg", ids
    values = index.label_values(name)
    prefix = literal_prefix(value)
    if prefix is not None and prefix != "":
        lo, hi = _prefix_range(values, prefix)
        ids = index.postings_for_range(name, lo, hi)
        return ("pos", ids) if op is MatchOp.REGEX else ("neg", ids)
    # general case: scan the values with RE2
    if hits_empty:
        misses = [v for v in values if not m.matches(v)]
        return "neg", index.postings_for(name, misses)
    hits = [v for v in values if m.matches(v)]
    return "pos", index.postings_for(name, hits)


def _complement_values(index: LabelIndex, name: str, excluded: set[str]) -> np.ndarray:
    """Postings of the values of ``name`` that are not in ``excluded``."""
    return index.postings_for(name, [v for v in index.label_values(name) if v not in excluded])


def select_postings(index: LabelIndex, matchers: Sequence[Matcher]) -> np.ndarray:
    """Sorted ids of the series matching all ``matchers``."""
    pos: list[np.ndarray] = []
    neg: list[np.ndarray] = []
    for m in matchers:
        kind, ids = _matching(index, m)
        if kind == "none":
            return _EMPTY
        if kind == "pos":
            if len(ids) == 0:
                return _EMPTY
            pos.append(ids)
        elif kind == "neg":
            neg.append(ids)
    if pos:
        pos.sort(key=len)
        result = pos[0]
        for ids in pos[1:]:
            result = intersect(result, ids)
            if len(result) == 0:
                return _EMPTY
    else:
        result = index.all_postings()
    for ids in neg:
        result = subtract(result, ids)
    return result
