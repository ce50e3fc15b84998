"""Which API requests run on the event loop and which in the thread pool."""

from __future__ import annotations

import asyncio
import threading

import httpx
from fastapi import FastAPI

from collector.api.lanes import Lanes
from collector.api.prometheus import PrometheusAPI
from storage.interface import SampleBatch
from storage.labels import Labels
from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions
from storage.promql.errors import QueryTimeoutError


def test_a_shape_is_the_query_its_range_length_and_step_not_its_position():
    lanes = Lanes()
    a = lanes.key("query_range", {"query": ["up"], "start": ["100"], "end": ["3700"], "step": ["15"]})
    b = lanes.key("query_range", {"query": ["up"], "start": ["160"], "end": ["3760"], "step": ["15"]})
    assert a == b
    assert a != lanes.key("query_range", {"query": ["up"], "start": ["100"], "end": ["7300"], "step": ["15"]})
    assert a != lanes.key("query_range", {"query": ["up"], "start": ["100"], "end": ["3700"], "step": ["30"]})
    assert a != lanes.key("query_range", {"query": ["up2"], "start": ["100"], "end": ["3700"], "step": ["15"]})
    assert lanes.key("query", {"query": ["up"], "time": ["1"]}) == lanes.key("query", {"query": ["up"], "time": ["2"]})
    assert lanes.key("series", {"match[]": ["up"]}) is None


def test_quick_only_after_a_quick_run_and_no_longer_after_a_slow_one():
    lanes = Lanes(inline_max_s=0.002, max_shapes=2)
    k = lanes.key("query", {"query": ["up"]})
    assert not lanes.quick(k) and not lanes.quick(None)
    lanes.record(k, 0.0005)
    assert lanes.quick(k)
    lanes.record(k, 0.003)
    assert not lanes.quick(k)
    lanes.record(k, 0.0001)
    # bounded: a third shape forgets the others, which are then learned again
    lanes.record(lanes.key("query", {"query": ["a"]}), 0.0001)
    lanes.record(lanes.key("query", {"query": ["b"]}), 0.0001)
    assert not lanes.quick(k)


class RecordingEngine(Engine):
    """An engine that notes the thread and timeout of each query; ``slow`` makes the
    next queries under a short timeout fail as a query past its deadline would."""

    def __init__(self):
        super().__init__(EngineOptions())
        self.calls: list[tuple[int, float | None]] = []
        self.slow = False

    def instant_query(self, queryable, expr, time_ms, *, timeout_s=None, **kw):
        self.calls.append((threading.get_ident(), timeout_s))
        if self.slow and timeout_s is not None:
            raise QueryTimeoutError("query timed out in expression evaluation")
        return super().instant_query(queryable, expr, time_ms, timeout_s=timeout_s, **kw)


def _serve(api: PrometheusAPI, requests: list[dict]) -> tuple[list[httpx.Response], int]:
    app = FastAPI()
    app.include_router(api.router())

    async def go():
        loop_thread = threading.get_ident()
        out = []
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
            for params in requests:
                out.append(await c.get("/api/v1/query", params=params))
        return out, loop_thread

    return asyncio.run(go())


def _api() -> tuple[PrometheusAPI, RecordingEngine]:
    store = MemoryStorage()
    store.append(SampleBatch.from_samples([(Labels.from_pairs([("__name__", "up")]), 1_000, 1.0)]))
    engine = RecordingEngine()
    return PrometheusAPI(storage=store, engine=engine, lanes=Lanes(inline_max_s=1.0, budget_s=0.025)), engine


def test_a_query_runs_in_the_pool_until_known_quick_then_inline():
    api, engine = _api()
    q = {"query": "up", "time": "10"}
    (first, second, third), loop = _serve(api, [q, q, dict(q, time="20")])
    assert [r.json()["data"]["result"][0]["value"][1] for r in (first, second, third)] == ["1", "1", "1"]
    (t1, timeout1), (t2, timeout2), (t3, timeout3) = engine.calls
    assert t1 != loop and timeout1 is None  # never seen: the pool, with the full timeout
    assert t2 == loop and timeout2 == api.lanes.budget_s  # quick last time: inline, under the budget
    assert t3 == loop and timeout3 == api.lanes.budget_s  # the same shape at another time


def test_an_inline_query_past_its_budget_is_answered_from_the_pool():
    api, engine = _api()
    q = {"query": "up", "time": "10"}
    _serve(api, [q])
    engine.slow = True
    engine.calls.clear()
    (r,), loop = _serve(api, [q])
    assert r.status_code == 200 and r.json()["data"]["result"][0]["value"][1] == "1"
    (t1, timeout1), (t2, timeout2) = engine.calls
    assert t1 == loop and timeout1 == api.lanes.budget_s
    assert t2 != loop and timeout2 is None
    # the pool run's own time decides the next one: a query slow for good stays there
    api.lanes.inline_max_s = 0.5
    api.lanes.record(api.lanes.key("query", {k: [v] for k, v in q.items()}), 0.9)
    engine.calls.clear()
    _serve(api, [q])
    assert engine.calls[0][0] != loop


def test_errors_keep_their_shape_in_both_lanes():
    api, engine = _api()
    bad = {"query": "sum(", "time": "10"}
    (r1, r2), loop = _serve(api, [bad, bad])
    assert [t == loop for t, _ in engine.calls] == [False, True]  # one in each lane
    for r in (r1, r2):
        assert r.status_code == 400 and r.json()["errorType"] == "bad_data"
    assert r1.json() == r2.json()
