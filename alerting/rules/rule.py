"""What recording and alerting rules share: the query function they run, their
health, and the alerts they hand to the notifier.

The query function is injected (``QueryFunc``), so rules evaluate over the real
engine in a server and over any stand-in in tests::

    qf = engine_query_func(Engine(EngineOptions()), storage)
    qf("sum(up)", 1_700_000_000_000)   # -> list[Sample]
"""

from __future__ import annotations

import datetime as _dt
import enum
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from storage.labels import Labels

__all__ = [
    "NotifierAlert",
    "NotifyFunc",
    "QueryFunc",
    "RuleHealth",
    "RuleResultError",
    "add_external_labels",
    "engine_query_func",
    "rfc3339",
]


class RuleResultError(Exception):
    """A rule's query returned something else than a vector or a scalar."""


class RuleHealth(str, enum.Enum):
    UNKNOWN = "unknown"
    GOOD = "ok"
    BAD = "err"


@dataclass(frozen=True, slots=True)
class QuerySample:
    """One element of a rule query's result (an instant-vector sample)."""

    labels: Labels
    t: int
    v: float


# (expr, evaluation time in ms) -> instant vector; raises on query errors
QueryFunc = Callable[[str, int], Sequence]


def engine_query_func(engine, queryable, cache_size: int = 4096) -> QueryFunc:
    """Prometheus's EngineQueryFunc: a vector as is, a scalar as a one-sample
    vector without labels, anything else an error.

    Rules run the same expressions over and over, so each is parsed once
    (``Engine.query_tree``) and its tree kept in a small cache."""
    trees: dict[str, object] = {}
    lock = threading.Lock()

    def query(expr: str, t_ms: int):
        tree = trees.get(expr)
        if tree is None:
            tree = engine.parse(expr)
            with lock:
                if len(trees) >= cache_size:
                    trees.clear()
                trees[expr] = tree
        t = int(t_ms)
        res = engine.query_tree(queryable, tree, expr, t, t, 0)
        if res.result_type == "vector":
            return res.value
        if res.result_type == "scalar":
            return [QuerySample(Labels.EMPTY, res.value.t, res.value.v)]
        raise RuleResultError("rule result is not a vector or scalar")

    return query


def rfc3339(ms: int | None) -> str:
    """Go's time.Time JSON (RFC 3339 with nanoseconds, trailing zeros dropped);
    ``None`` is Go's zero time."""
    if ms is None:
        return "0001-01-01T00:00:00Z"
    sec, msec = divmod(int(ms), 1000)
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(seconds=sec)
    frac = f".{msec:03d}".rstrip("0").rstrip(".") if msec else ""
    return d.strftime("%Y-%m-%dT%H:%M:%S") + frac + "Z"


@dataclass(frozen=True, slots=True)
class NotifierAlert:
    """An alert as the rule manager sends it to Alertmanager (Prometheus's
    notifier.Alert): resolved alerts carry their resolution time in ``ends_at_ms``,
    active ones a ``valid until`` time four intervals ahead."""

    labels: Labels
    annotations: Labels
    starts_at_ms: int
    ends_at_ms: int
    generator_url: str = ""

    def to_api_v2(self) -> dict:
        """The Alertmanager API v2 ``postableAlert`` JSON object."""
        return {
            "labels": self.labels.to_dict(),
            "annotations": self.annotations.to_dict(),
            "startsAt": rfc3339(self.starts_at_ms),
            "endsAt": rfc3339(self.ends_at_ms),
            "generatorURL": self.generator_url,
        }


# Receives the alerts that need (re)sending after a rule evaluated; ``expr`` is
# the rule's expression (for generator URLs). Must not block for long.
NotifyFunc = Callable[[str, Sequence[NotifierAlert]], None]


@dataclass
class RuleStatus:
    """Mutable bookkeeping of a rule's last evaluation (guarded by ``lock``)."""

    health: RuleHealth = RuleHealth.UNKNOWN
    last_error: str = ""
    eval_duration_s: float = 0.0
    eval_timestamp_ms: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def timed(self, ts_ms: int, fn: Callable, *args):
        """Call ``fn(*args)`` and record the evaluation at ``ts_ms`` and how long
        it took, also when it raises: ``rule.status.timed(ts, rule.eval, q, ts)``.
        (A plain call, not a context manager: it runs for every rule of every group.)"""
        t0 = time.perf_counter()
        try:
            return fn(*args)
        finally:
            with self.lock:
                self.eval_duration_s = time.perf_counter() - t0
                self.eval_timestamp_ms = ts_ms

    def set_result(self, error: BaseException | str | None) -> None:
        with self.lock:
            if error is None:
                self.health, self.last_error = RuleHealth.GOOD, ""
            else:
                self.health, self.last_error = RuleHealth.BAD, str(error)


def merge_labels(*maps: Mapping[str, str] | Sequence[tuple[str, str]]) -> dict[str, str]:
    """Later maps override earlier ones (Prometheus's FromMaps)."""
    out: dict[str, str] = {}
    for m in maps:
        out.update(m.items() if isinstance(m, Mapping) else m)
    return out


def add_external_labels(alerts, external_labels: Mapping[str, str]) -> list[NotifierAlert]:
    """What Prometheus's notifier does before sending: external labels are added to
    each alert unless the alert already has a label of that name."""
    if not external_labels:
        return list(alerts)
    out = []
    for a in alerts:
        d = dict(external_labels)
        d.update(a.labels.to_dict())
        out.append(NotifierAlert(Labels.from_dict(d), a.annotations, a.starts_at_ms, a.ends_at_ms, a.generator_url))
    return out
