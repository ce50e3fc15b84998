"""Range-query answers kept per (expression, step) and extended as time moves on.

A dashboard asks the same range queries on every load, refresh and click, each
time over a window that slid forward by a few seconds. Prometheus evaluates every
step of a range query on its own (a step's value depends only on samples at or
before it), so on a step grid aligned to absolute multiples of the step, the
answer for old steps does not change: only the newest steps must be computed
again. This is what Thanos's and Cortex's query-frontend results cache does, and
the same rules apply here:

- steps younger than ``freshness_ms`` when they were computed are not trusted
  (scrapes land late, rules and remote-write lag behind): they are asked again;
- an expression with ``@`` (``@ start()``, ``@ end()``, ``@ <time>``) depends on
  the query's own range and is never cached;
- an identical request (same start, end and step) within ``ttl_s`` is answered
  from memory: a burst of panels, clicks or auto-refreshes costs one evaluation;
- concurrent requests for one (expression, step) wait for each other instead of
  computing the same thing twice.

Instant queries are kept only for ``ttl_s`` and only for the very same evaluation
time: that is what lets a page ask for its rows below the first screen in the
background while it renders the first screen, and pick the answers up a moment
later (``dashboards.panelquery.run_panels(prefetch=...)``).

Usage::

    cache = QueryCache(clock_ms=lambda: int(time.time() * 1000))
    res, how = cache.query_range(api, "rate(x[5m])", start_ms, end_ms, step_ms)  # how: hit|partial|miss
    res, how = cache.query(api, "up", time_ms)                                    # hit|miss
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from dashboards.client import PrometheusClient, QueryResult, Series
from dashboards.telemetry import DashboardsTelemetry

_MAX_INSTANT = 4096
# "@" outside string literals: the at-modifier ties results to the query's range.
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')


def cacheable(expr: str) -> bool:
    """Whether a range query's steps are independent of its start and end."""
    return "@" not in _STRINGS.sub("", expr)


def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    # Prometheus orders a matrix by its label sets compared pair by pair; sorted
    # (name, value) tuples compare the same way.
    return tuple(sorted(labels.items()))


@dataclass(frozen=True, slots=True)
class _Entry:
    start_ms: int
    end_ms: int
    final_ms: int  # steps at or before this are final; below start_ms when none is
    series: tuple[Series, ...]
    warnings: tuple[str, ...]
    result_type: str
    stored_at: float  # monotonic seconds
    samples: int


def _slice(series: tuple[Series, ...], lo_ms: int, hi_ms: int) -> list[Series]:
    """Each series' points with lo_ms <= t <= hi_ms (series left empty are dropped)."""
    out = []
    for s in series:
        t_ms = np.rint(s.timestamps * 1000.0)
        a = int(np.searchsorted(t_ms, lo_ms, side="left"))
        b = int(np.searchsorted(t_ms, hi_ms, side="right"))
        if b > a:
            out.append(s if (a == 0 and b == len(t_ms)) else
                       Series(s.labels, s.timestamps[a:b], s.values[a:b]))
    return out


def splice(head: list[Series], tail: tuple[Series, ...]) -> tuple[Series, ...]:
    """Series of ``head`` (older steps) joined with those of ``tail`` (newer steps),
    matched by label set, in Prometheus's matrix order."""
    by_key: dict[tuple, Series] = {_label_key(s.labels): s for s in head}
    for s in tail:
        k = _label_key(s.labels)
        old = by_key.get(k)
        by_key[k] = s if old is None else Series(
            old.labels, np.concatenate((old.timestamps, s.timestamps)),
            np.concatenate((old.values, s.values)))
    return tuple(by_key[k] for k in sorted(by_key))


class QueryCache:
    """Range answers by (expression, step, grid phase); see the module docstring.

    ``max_samples`` bounds memory (16 bytes a sample; the least recently used
    entries go first); ``max_age_s`` bounds how long an entry's old steps are
    trusted before the whole range is asked again (out-of-order writes, retention).
    """

    def __init__(self, *, clock_ms: Callable[[], int] | None = None, freshness_ms: int = 60_000,
                 ttl_s: float = 5.0, max_samples: int = 2_000_000, max_age_s: float = 900.0,
                 monotonic: Callable[[], float] = time.monotonic,
                 telemetry: DashboardsTelemetry | None = None):
        self._clock_ms = clock_ms or (lambda: int(time.time() * 1000))
        self.freshness_ms = freshness_ms
        self.ttl_s = ttl_s
        self.max_samples = max_samples
        self.max_age_s = max_age_s
        self._mono = monotonic
        self._t = telemetry or DashboardsTelemetry.for_registry()
        self._entries: OrderedDict[tuple, _Entry] = OrderedDict()
        self._instant: OrderedDict[tuple, tuple[float, QueryResult]] = OrderedDict()
        self._samples = 0
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, list] = {}  # key → [lock, users]

    # ------------------------------------------------------------------ public
    def query_range(self, api: PrometheusClient, expr: str, start_ms: int, end_ms: int,
                    step_ms: int) -> tuple[QueryResult, str]:
        """The answer of ``query_range(expr, start, end, step)`` and how it was found:
        "hit" (memory only), "partial" (only the newest steps asked), "miss" or
        "uncacheable". API errors propagate and leave the cache as it was."""
        step_ms = max(int(step_ms), 1)
        if not cacheable(expr) or end_ms < start_ms:
            return self._ask(api, expr, start_ms, end_ms, step_ms), "uncacheable"
        key = (expr, step_ms, start_ms % step_ms)
        lock = self._acquire(key)
        try:
            with lock:
                return self._query_locked(api, key, expr, start_ms, end_ms, step_ms)
        finally:
            self._release(key)

    def query(self, api: PrometheusClient, expr: str, time_ms: int) -> tuple[QueryResult, str]:
        """The answer of the instant query ``query(expr, time)``: "hit" when the same
        question was answered less than ``ttl_s`` ago (or is being answered now),
        "miss" otherwise. API errors propagate and are not kept."""
        key = ("instant", expr, int(time_ms))
        lock = self._acquire(key)
        try:
            with lock:
                mono = self._mono()
                with self._lock:
                    hit = self._instant.get(key)
                if hit is not None and mono - hit[0] < self.ttl_s:
                    self._t.query_cache.labels("hit").inc()
                    return hit[1], "hit"
                res = api.query(expr, time_ms / 1000)
                with self._lock:
                    self._instant[key] = (mono, res)
                    self._instant.move_to_end(key)
                    # short-lived: drop what is past its time, and bound the count
                    while self._instant and (mono - next(iter(self._instant.values()))[0] > self.ttl_s
                                             or len(self._instant) > _MAX_INSTANT):
                        self._instant.popitem(last=False)
                self._t.query_cache.labels("miss").inc()
                return res, "miss"
        finally:
            self._release(key)

    @property
    def samples(self) -> int:
        return self._samples

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._instant.clear()
            self._samples = 0
            self._t.query_cache_samples.set(0)

    # ----------------------------------------------------------------- private
    def _query_locked(self, api: PrometheusClient, key: tuple, expr: str, start_ms: int,
                      end_ms: int, step_ms: int) -> tuple[QueryResult, str]:
        mono = self._mono()
        with self._lock:
            e = self._entries.get(key)
            if e is not None:
                self._entries.move_to_end(key)
        if e is not None and (mono - e.stored_at > self.max_age_s or e.start_ms > start_ms):
            e = None
        # steps evaluated from here on are final if older than the freshness window
        final_now = (self._clock_ms() - self.freshness_ms) // step_ms * step_ms
        if e is not None:
            recent = mono - e.stored_at < self.ttl_s
            if end_ms <= e.final_ms or (recent and end_ms == e.end_ms):
                self._t.query_cache.labels("hit").inc()
                return self._result(e, _slice(e.series, start_ms, end_ms)), "hit"
            reuse_to = min(e.final_ms, end_ms)
            if reuse_to >= start_ms:
                t0 = time.perf_counter()
                tail = self._ask(api, expr, reuse_to + step_ms, end_ms, step_ms)
                series = splice(_slice(e.series, start_ms, reuse_to), tail.series)
                warnings = tuple(dict.fromkeys(e.warnings + tail.warnings))
                res = QueryResult(tail.result_type or e.result_type, series, warnings,
                                  time.perf_counter() - t0, tail.url)
                self._store(key, start_ms, end_ms, max(reuse_to, min(final_now, end_ms)), res, mono)
                self._t.query_cache.labels("partial").inc()
                return res, "partial"
        res = self._ask(api, expr, start_ms, end_ms, step_ms)
        self._store(key, start_ms, end_ms, min(final_now, end_ms), res, mono)
        self._t.query_cache.labels("miss").inc()
        return res, "miss"

    @staticmethod
    def _ask(api: PrometheusClient, expr: str, start_ms: int, end_ms: int, step_ms: int) -> QueryResult:
        return api.query_range(expr, start_ms / 1000, end_ms / 1000, step_ms / 1000)

    @staticmethod
    def _result(e: _Entry, series: list[Series]) -> QueryResult:
        return QueryResult(e.result_type, tuple(series), e.warnings, 0.0, "")

    def _store(self, key: tuple, start_ms: int, end_ms: int, final_ms: int, res: QueryResult,
               mono: float) -> None:
        if res.result_type != "matrix":
            return
        n = res.samples
        entry = _Entry(start_ms, end_ms, final_ms, res.series, res.warnings, res.result_type, mono, n)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._samples -= old.samples
            if n > self.max_samples:
                self._t.query_cache_samples.set(self._samples)
                return
            self._entries[key] = entry
            self._samples += n
            while self._samples > self.max_samples and self._entries:
                _, dropped = self._entries.popitem(last=False)
                self._samples -= dropped.samples
            self._t.query_cache_samples.set(self._samples)

    def _acquire(self, key: tuple) -> threading.Lock:
        with self._lock:
            slot = self._key_locks.get(key)
            if slot is None:
                slot = self._key_locks[key] = [threading.Lock(), 0]
            slot[1] += 1
            return slot[0]

    def _release(self, key: tuple) -> None:
        with self._lock:
            slot = self._key_locks[key]
            slot[1] -= 1
            if slot[1] == 0:
                del self._key_locks[key]
