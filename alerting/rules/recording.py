"""Recording rules: an expression's result stored under a new metric name.

    r = RecordingRule("job:up:sum", "sum by (job) (up)", {"team": "a"})
    samples = r.eval(query_func, ts_ms=60_000)   # list of (Labels, t, v)
"""

from __future__ import annotations

from collections.abc import Mapping

from alerting.rules.rule import QueryFunc, RuleStatus
from storage.labels import METRIC_NAME, Labels


class DuplicateLabelSetError(Exception):
    """Two results of one rule got the same labels."""


class RecordingRule:
    """One recording rule: ``name`` becomes each result's ``__name__``, ``labels``
    are set on every result."""

    kind = "record"

    def __init__(self, name: str, expr: str, labels: Mapping[str, str] | None = None):
        self.name = name
        self.expr = expr
        self.labels = Labels.from_dict(dict(labels or {}))
        self.status = RuleStatus()

    def eval(self, query: QueryFunc, ts_ms: int, query_offset_ms: int = 0, limit: int = 0):
        """Evaluate at ``ts_ms - query_offset_ms``; returns [(Labels, t, v)]."""
        vector = query(self.expr, ts_ms - query_offset_ms)
        updates = self.labels.to_dict()
        updates[METRIC_NAME] = self.name
        out = []
        seen = set()
        for s in vector:
            d = s.labels.to_dict()
            d.update(updates)
            ls = Labels.from_dict(d)
            if ls in seen:
                raise DuplicateLabelSetError(
                    "vector contains metrics with the same labelset after applying rule labels"
                )
            seen.add(ls)
            out.append((ls, s.t, s.v))
        if limit > 0 and len(out) > limit:
            raise RuntimeError(f"exceeded limit of {limit} with {len(out)} series")
        return out

    def identity(self) -> tuple:
        """What a reload compares to decide whether the rule changed."""
        return ("record", self.name, self.expr, self.labels)

    def timed_eval(self, query: QueryFunc, ts_ms: int, query_offset_ms: int, limit: int):
        return self.status.timed(ts_ms, self.eval, query, ts_ms, query_offset_ms, limit)
