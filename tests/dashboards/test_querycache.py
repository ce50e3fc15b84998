"""The panel query cache: answers extended from memory equal the backend's own
answers, old steps are reused only once final, and identical questions are asked
once. The backend here is a model of Prometheus's range evaluation: each step's
value is a function of the series and the step time, series come and go, and
"late" samples may still change the newest steps."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from dashboards.client import APIError, QueryResult, Series
from dashboards.querycache import QueryCache, cacheable, splice
from dashboards.telemetry import DashboardsTelemetry


class ModelAPI:
    """``query_range``/``query`` of a deterministic backend, counting calls. Series
    ``s<i>`` exists while ``born[i] <= t < died[i]``; its value at step t is
    ``i * 1000 + t / 1000`` plus ``revision`` for steps younger than ``late_ms``
    (samples that land late change the newest steps between two calls)."""

    def __init__(self, n: int = 4, lifetimes=None, late_ms: int = 0):
        self.lifetimes = lifetimes or [(0, 10**13)] * n
        self.late_ms = late_ms
        self.revision = 0
        self.now_ms = 0
        self.calls: list[tuple] = []
        self.fail = False
        self.delay_s = 0.0

    def _value(self, i: int, t_ms: int) -> float:
        v = i * 1000 + t_ms / 1000
        if self.now_ms - t_ms < self.late_ms:
            v += self.revision
        return v

    def query_range(self, expr, start_s, end_s, step_s) -> QueryResult:
        self.calls.append(("range", expr, start_s, end_s, step_s))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.fail:
            raise APIError("backend down", error_type="unavailable")
        start, end, step = round(start_s * 1000), round(end_s * 1000), round(step_s * 1000)
        grid = np.arange(start, end + 1, step, dtype=np.int64)
        series = []
        # answer in a scrambled order: the cache must not rely on the backend's order
        for i in sorted(range(len(self.lifetimes)), key=lambda k: (k * 7) % 5):
            born, died = self.lifetimes[i]
            ts = grid[(grid >= born) & (grid < died)]
            if len(ts):
                series.append(Series({"__name__": "m", "s": f"s{i}"}, ts / 1000.0,
                                     np.array([self._value(i, int(t)) for t in ts])))
        series.sort(key=lambda s: tuple(sorted(s.labels.items())))
        return QueryResult("matrix", tuple(series))

    def query(self, expr, time_s) -> QueryResult:
        self.calls.append(("instant", expr, time_s))
        if self.fail:
            raise APIError("backend down", error_type="unavailable")
        return QueryResult("vector", (Series({"x": "1"}, np.array([time_s]), np.array([1.0])),))


def _cache(api: ModelAPI, **kw) -> tuple[QueryCache, list[float]]:
    mono = [0.0]
    kw.setdefault("freshness_ms", 60_000)
    cache = QueryCache(clock_ms=lambda: api.now_ms, monotonic=lambda: mono[0],
                       telemetry=DashboardsTelemetry(CollectorRegistry()), **kw)
    return cache, mono


def _same(a: QueryResult, b: QueryResult) -> None:
    assert [dict(s.labels) for s in a.series] == [dict(s.labels) for s in b.series]
    for x, y in zip(a.series, b.series):
        np.testing.assert_array_equal(x.timestamps, y.timestamps)
        np.testing.assert_array_equal(x.values, y.values)


STEP = 2_000


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(moves=st.lists(st.tuples(st.integers(0, 200), st.integers(10, 400), st.integers(0, 3)),
                      min_size=1, max_size=8),
       lifetimes=st.lists(st.tuples(st.integers(0, 2_000_000), st.integers(0, 2_000_000)),
                          min_size=1, max_size=5),
       late_ms=st.sampled_from([0, 5_000, 50_000]))
def test_answers_equal_the_backend_while_time_moves_on(moves, lifetimes, late_ms):
    """Dashboards reloaded as time moves on (windows of various lengths, new and
    vanished series, late samples within the freshness window): every answer is the
    backend's own answer for that range, whatever the cache reused."""
    api = ModelAPI(lifetimes=[(min(a, b) + 1_000_000, max(a, b) + 1_000_000) for a, b in lifetimes],
                   late_ms=late_ms)
    cache, mono = _cache(api, ttl_s=0)  # exact answers; the TTL's few seconds are tested below
    now = 1_000_000
    for advance, span_steps, revision in moves:
        now += advance * 1_000
        api.now_ms = now
        api.revision += revision
        mono[0] += advance
        end = now // STEP * STEP
        start = end - span_steps * STEP
        got, how = cache.query_range(api, "m", start, end, STEP)
        want = api.query_range("m", start / 1000, end / 1000, STEP / 1000)
        _same(got, want)
        assert how in ("hit", "partial", "miss")


def test_only_the_newest_steps_are_asked_again():
    api = ModelAPI()
    cache, mono = _cache(api)
    api.now_ms = 10_000_000
    end = api.now_ms // STEP * STEP
    _, how = cache.query_range(api, "m", end - 900_000, end, STEP)
    assert how == "miss"
    api.now_ms += 10_000
    mono[0] += 10
    end2 = api.now_ms // STEP * STEP
    _, how = cache.query_range(api, "m", end2 - 900_000, end2, STEP)
    assert how == "partial"
    # the second call asked from the first step that was not final (now - 60 s) on
    _, _, start_s, end_s, _ = api.calls[-1]
    assert start_s * 1000 == (10_000_000 - 60_000) // STEP * STEP + STEP and end_s * 1000 == end2


def test_identical_request_within_ttl_is_not_asked_again():
    api = ModelAPI()
    cache, mono = _cache(api, ttl_s=5.0)
    api.now_ms = 10_000_000
    args = ("m", 9_000_000, 10_000_000, STEP)
    cache.query_range(api, *args)
    mono[0] += 4.0
    _, how = cache.query_range(api, *args)
    assert how == "hit" and len(api.calls) == 1
    mono[0] += 2.0  # past the TTL: the steps that were not final are asked again
    _, how = cache.query_range(api, *args)
    assert how == "partial" and len(api.calls) == 2


def test_a_range_entirely_in_the_past_is_answered_from_memory():
    api = ModelAPI()
    cache, mono = _cache(api)
    api.now_ms = 10_000_000
    cache.query_range(api, "m", 8_000_000, 9_000_000, STEP)
    api.now_ms += 600_000
    mono[0] += 600
    got, how = cache.query_range(api, "m", 8_500_000, 9_000_000, STEP)
    assert how == "hit" and len(api.calls) == 1
    _same(got, api.query_range("m", 8_500, 9_000, 2))


def test_old_entries_expire_and_earlier_starts_ask_everything():
    api = ModelAPI()
    cache, mono = _cache(api, max_age_s=100)
    api.now_ms = 10_000_000
    cache.query_range(api, "m", 8_000_000, 9_000_000, STEP)
    _, how = cache.query_range(api, "m", 7_000_000, 9_000_000, STEP)  # starts before the entry
    assert how == "miss"
    mono[0] += 101
    _, how = cache.query_range(api, "m", 8_000_000, 9_000_000, STEP)
    assert how == "miss"


def test_at_modifier_and_grid_phase_are_not_mixed_up():
    assert not cacheable("rate(x[5m] @ end())") and not cacheable("x @ 1700000000")
    assert cacheable('x{path="/a@b"}') and cacheable("rate(x[5m])")
    api = ModelAPI()
    cache, _ = _cache(api)
    api.now_ms = 10_000_000
    _, how = cache.query_range(api, "x @ end()", 9_000_000, 10_000_000, STEP)
    _, how2 = cache.query_range(api, "x @ end()", 9_000_000, 10_000_000, STEP)
    assert how == how2 == "uncacheable" and len(api.calls) == 2
    # a grid shifted by half a step is another grid: never spliced onto the first
    cache.query_range(api, "m", 9_000_000, 9_900_000, STEP)
    got, how = cache.query_range(api, "m", 9_001_000, 9_901_000, STEP)
    assert how == "miss"
    _same(got, api.query_range("m", 9_001, 9_901, 2))


def test_errors_propagate_and_leave_the_cache_alone():
    api = ModelAPI()
    cache, mono = _cache(api)
    api.now_ms = 10_000_000
    cache.query_range(api, "m", 9_000_000, 10_000_000, STEP)
    api.fail = True
    api.now_ms += 20_000
    mono[0] += 20
    with pytest.raises(APIError):
        cache.query_range(api, "m", 9_020_000, 10_020_000, STEP)
    with pytest.raises(APIError):
        cache.query(api, "up", 10_020_000)
    api.fail = False
    got, how = cache.query_range(api, "m", 9_020_000, 10_020_000, STEP)
    assert how == "partial"
    _same(got, api.query_range("m", 9_020, 10_020, 2))


def test_memory_is_bounded_least_recently_used_first():
    api = ModelAPI(n=2)
    cache, _ = _cache(api, max_samples=1_000)
    api.now_ms = 10_000_000
    for expr in ("a", "b", "c"):  # 2 series x 251 steps = 502 samples each
        cache.query_range(api, expr, 9_500_000, 10_000_000, STEP)
    assert cache.samples <= 1_000
    n = len(api.calls)
    cache.query_range(api, "c", 9_500_000, 10_000_000, STEP)  # kept: the newest
    assert len(api.calls) == n
    cache.query_range(api, "a", 9_500_000, 10_000_000, STEP)  # dropped: the oldest
    assert len(api.calls) == n + 1


def test_concurrent_identical_requests_ask_once():
    api = ModelAPI()
    api.delay_s = 0.2
    cache, _ = _cache(api)
    api.now_ms = 10_000_000
    results = []

    def ask():
        results.append(cache.query_range(api, "m", 9_000_000, 10_000_000, STEP))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(api.calls) == 1
    assert sorted(how for _, how in results) == ["hit", "hit", "hit", "miss"]


def test_instant_answers_live_for_the_ttl_and_the_same_time_only():
    api = ModelAPI()
    cache, mono = _cache(api, ttl_s=5.0)
    _, how = cache.query(api, "up", 10_000_000)
    assert how == "miss"
    _, how = cache.query(api, "up", 10_000_000)
    assert how == "hit"
    _, how = cache.query(api, "up", 10_000_001)
    assert how == "miss"
    mono[0] += 6
    _, how = cache.query(api, "up", 10_000_000)
    assert how == "miss" and len(api.calls) == 3


def test_splice_joins_by_label_set_in_prometheus_order():
    a = [Series({"s": "b"}, np.array([1.0]), np.array([1.0])),
         Series({"s": "a"}, np.array([1.0]), np.array([2.0]))]
    b = (Series({"s": "c"}, np.array([2.0]), np.array([3.0])),
         Series({"s": "a"}, np.array([2.0]), np.array([4.0])))
    out = splice(a, b)
    assert [s.labels["s"] for s in out] == ["a", "b", "c"]
    np.testing.assert_array_equal(out[0].values, [2.0, 4.0])
