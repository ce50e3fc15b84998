"""Engine behaviour the upstream scripts do not cover: errors and their positions,
limits, timeouts, concurrency, annotations, result shapes, telemetry."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from storage.interface import STALE_NAN, SampleBatch
from storage.labels import Labels
from storage.memstore import MemoryStorage
from storage.promql import (
    BadQueryError,
    ConcurrencyLimitError,
    Engine,
    EngineOptions,
    ParseError,
    PromQLError,
    QueryCanceledError,
    QueryTimeoutError,
    Sample,
    Scalar,
    Series,
    String,
    TooManySamplesError,
)

MIN = 60_000


def store_with(series: dict[str, list[float]], step_ms: int = 15_000) -> MemoryStorage:
    st = MemoryStorage()
    rows = []
    for text, values in series.items():
        ls = Labels.parse(text)
        rows += [(ls, i * step_ms, v) for i, v in enumerate(values)]
    st.append(SampleBatch.from_samples(rows))
    return st


@pytest.fixture
def engine():
    return Engine(EngineOptions(), registry=CollectorRegistry())


@pytest.fixture
def store():
    return store_with(
        {
            'http_requests_total{job="api", instance="a"}': [10.0 * i for i in range(41)],
            'http_requests_total{job="api", instance="b"}': [20.0 * i for i in range(41)],
            'memory_bytes{job="api", instance="a"}': [100.0 + i for i in range(41)],
        }
    )


# --- parse errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, line, column",
    [
        ("sum(rate(x[5m])", 1, 16),
        ("x +", 1, 4),
        ("sum(\n  rate(x[5m]) +\n)", 3, 1),
        ('x{a="b"} offset', 1, 16),
        ("rate(x)", 1, 6),
    ],
)
def test_parse_errors_carry_positions(engine, query, line, column):
    with pytest.raises(ParseError) as ei:
        engine.parse(query)
    e = ei.value
    assert e.error_type == "bad_data"
    assert (e.line, e.column) == (line, column)
    assert str(e).startswith(f"{line}:{column}: parse error: ")


def test_parse_error_is_raised_by_queries_too(engine, store):
    with pytest.raises(ParseError):
        engine.instant_query(store, "sum(", 0)


def test_type_error_points_at_the_argument_in_prometheus_words(engine):
    with pytest.raises(ParseError) as ei:
        engine.parse("1 + rate(x)")
    assert str(ei.value) == (
        '1:10: parse error: expected type range vector in call to function "rate", '
        "got instant vector"
    )


def test_invalid_regex_is_a_parse_error(engine):
    with pytest.raises(ParseError) as ei:
        engine.parse('x{a=~"("}')
    assert ei.value.error_type == "bad_data"


def test_parse_returns_the_tree(engine):
    tree = engine.parse("sum by (job) (rate(http_requests_total[5m]))")
    assert tree.op == "sum" and tree.grouping == ("job",)
    assert tree.expr.func == "rate" and tree.expr.args[0].range_ms == 5 * MIN
    assert tree.expr.pos == 14


def test_negative_at_times_survive_parsing(engine):
    tree = engine.parse("x @ -10.5")
    assert tree.at.ms == -10_500


# --- results ------------------------------------------------------------------------


def test_result_types(engine, store):
    t = 10 * MIN
    r = engine.instant_query(store, "1 + 2", t)
    assert r.result_type == "scalar" and r.value == Scalar(t, 3.0)
    r = engine.instant_query(store, '"hello"', t)
    assert r.result_type == "string" and r.value == String(t, "hello")
    r = engine.instant_query(store, "http_requests_total", t)
    assert r.result_type == "vector"
    assert {s.labels.get("instance"): s.v for s in r.value} == {"a": 400.0, "b": 800.0}
    assert all(isinstance(s, Sample) and s.t == t for s in r.value)
    r = engine.instant_query(store, "memory_bytes[1m]", t)
    assert r.result_type == "matrix"
    (s,) = r.value
    assert isinstance(s, Series)
    assert s.timestamps.tolist() == [t - 45_000, t - 30_000, t - 15_000, t]
    assert s.values.tolist() == [137.0, 138.0, 139.0, 140.0]


def test_range_query_returns_sorted_matrix_without_per_step_objects(engine, store):
    r = engine.range_query(store, "rate(http_requests_total[1m])", 5 * MIN, 10 * MIN, MIN)
    assert r.result_type == "matrix"
    assert [s.labels for s in r.value] == sorted(s.labels for s in r.value)
    a = r.value[0]
    assert a.timestamps.dtype == np.int64 and a.values.dtype == np.float64
    assert a.timestamps.tolist() == list(range(5 * MIN, 10 * MIN + 1, MIN))
    np.testing.assert_allclose(a.values, 10 / 15)
    assert "__name__" not in a.labels.names()


def test_scalar_range_query_is_one_series(engine, store):
    r = engine.range_query(store, "time()", 0, 2 * MIN, MIN)
    (s,) = r.value
    assert s.labels == Labels.EMPTY
    assert s.values.tolist() == [0.0, 60.0, 120.0]


def test_stale_marker_ends_a_series(engine):
    st = store_with({"up": [1.0, 1.0, STALE_NAN, 1.0]}, step_ms=MIN)
    r = engine.range_query(st, "up", 0, 4 * MIN, MIN)
    assert r.value[0].timestamps.tolist() == [0, MIN, 3 * MIN, 4 * MIN]


def test_range_query_of_range_vector_is_rejected(engine, store):
    with pytest.raises(BadQueryError) as ei:
        engine.range_query(store, "memory_bytes[5m]", 0, MIN, 15_000)
    assert 'invalid expression type "range vector"' in str(ei.value)
    assert ei.value.error_type == "bad_data"


def test_duplicate_series_after_name_drop_is_an_execution_error(engine):
    st = store_with({'a{x="1"}': [1.0], 'b{x="1"}': [2.0]})
    with pytest.raises(PromQLError) as ei:
        engine.instant_query(st, 'ceil({__name__=~"a|b"})', 0)
    assert ei.value.error_type == "execution"
    assert "same labelset" in str(ei.value)


def test_default_name_removal_is_immediate(engine):
    # Prometheus's default drops __name__ inside rate(), so label_replace cannot read it;
    # with the experimental delayed removal it still can.
    st = store_with({'a_total{env="1"}': [0.0, 60.0]}, step_ms=MIN)
    q = 'label_replace(rate(a_total[5m]), "src", "$1", "__name__", "(.+)")'
    r = engine.instant_query(st, q, MIN)
    assert [s.labels for s in r.value] == [Labels.from_dict({"env": "1"})]
    delayed = Engine(EngineOptions(delayed_name_removal=True), registry=CollectorRegistry())
    r = delayed.instant_query(st, q, MIN)
    assert [s.labels for s in r.value] == [Labels.from_dict({"env": "1", "src": "a_total"})]


def test_native_histogram_functions_ignore_floats(engine, store):
    r = engine.instant_query(store, "histogram_count(http_requests_total)", 10 * MIN)
    assert r.value == []


def test_unsupported_experimental_functions_are_refused(engine):
    with pytest.raises(ParseError):
        engine.parse("start_timestamp(up)")


# --- annotations ------------------------------------------------------------------------


def test_rate_over_non_counter_name_gives_info_with_position(engine, store):
    r = engine.instant_query(store, "rate(memory_bytes[5m])", 10 * MIN)
    assert r.infos == [
        (
            "PromQL info: metric might not be a counter, name does not end in "
            '_total/_sum/_count/_bucket: "memory_bytes" (1:6)'
        )
    ]
    assert r.warnings == []
    r = engine.instant_query(store, "rate(http_requests_total[5m])", 10 * MIN)
    assert r.infos == []


def test_sort_in_range_query_warns(engine, store):
    r = engine.range_query(store, "sort(memory_bytes)", 0, MIN, 15_000)
    assert r.warnings == [
        (
            "PromQL warning: sort is ineffective for range queries since results "
            "are always ordered by labels (1:1)"
        )
    ]


def test_quantile_out_of_range_warns_at_the_parameter(engine, store):
    r = engine.instant_query(store, "quantile(1.5, memory_bytes)", 10 * MIN)
    assert r.warnings == [
        "PromQL warning: quantile value should be between 0 and 1, got 1.5 (1:10)"
    ]
    assert r.value[0].v == math.inf


# --- limits -------------------------------------------------------------------------------


def test_too_many_samples_names_the_limit(store):
    small = Engine(EngineOptions(max_samples=50), registry=CollectorRegistry())
    with pytest.raises(TooManySamplesError) as ei:
        small.instant_query(store, "sum_over_time(http_requests_total[10m])", 10 * MIN)
    assert ei.value.error_type == "execution"
    assert "max_samples=50" in str(ei.value)
    assert small.instant_query(store, "memory_bytes", 10 * MIN).value  # a small query still runs


def test_too_many_points_per_series(store):
    e = Engine(EngineOptions(max_points_per_series=100), registry=CollectorRegistry())
    with pytest.raises(BadQueryError) as ei:
        e.range_query(store, "up", 0, 1000 * 15_000, 15_000)
    assert "exceeded maximum resolution of 100 points" in str(ei.value)
    with pytest.raises(BadQueryError):
        e.range_query(store, "up", 10, 0, 15_000)
    with pytest.raises(BadQueryError):
        e.range_query(store, "up", 0, 10, 0)


class _SteppingClock:
    """A fake clock that moves one second every time it is read."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        self.t += 1.0
        return self.t


def test_timeout(store):
    e = Engine(EngineOptions(timeout_s=5), registry=CollectorRegistry(), clock=_SteppingClock())
    with pytest.raises(QueryTimeoutError) as ei:
        e.instant_query(
            store, "sum(rate(http_requests_total[5m])) + sum(memory_bytes) * 2", 10 * MIN
        )
    assert ei.value.error_type == "timeout"
    assert "timed out" in str(ei.value)


def test_cancel(store, engine):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(QueryCanceledError) as ei:
        engine.instant_query(store, "memory_bytes", 0, cancel=cancel)
    assert ei.value.error_type == "canceled"


class _BlockingQueryable:
    """A queryable whose first querier waits until released (keeps a query running)."""

    def __init__(self, store):
        self.store = store
        self.entered = threading.Event()
        self.release = threading.Event()

    def querier(self, mint, maxt):
        self.entered.set()
        self.release.wait(10)
        return self.store.querier(mint, maxt)


def test_concurrency_limit(store):
    e = Engine(EngineOptions(max_concurrent=1), registry=CollectorRegistry())
    blocking = _BlockingQueryable(store)
    results = []
    t = threading.Thread(
        target=lambda: results.append(e.instant_query(blocking, "memory_bytes", MIN))
    )
    t.start()
    try:
        assert blocking.entered.wait(5)
        started = time.monotonic()
        with pytest.raises(ConcurrencyLimitError) as ei:
            e.instant_query(store, "memory_bytes", MIN, timeout_s=0.2)
        assert ei.value.error_type == "timeout"
        assert time.monotonic() - started < 5
    finally:
        blocking.release.set()
        t.join(10)
    assert results and results[0].value
    assert e.instant_query(store, "memory_bytes", MIN).value  # the slot is free again


def test_storage_errors_become_execution_errors(engine):
    class Broken:
        def querier(self, mint, maxt):
            raise OSError("disk on fire")

    with pytest.raises(PromQLError) as ei:
        engine.instant_query(Broken(), "up", 0)
    assert ei.value.error_type == "execution"
    assert "disk on fire" in str(ei.value)


# --- telemetry and stats ------------------------------------------------------------------


def test_telemetry_and_stats(store):
    reg = CollectorRegistry()
    e = Engine(EngineOptions(max_concurrent=7), registry=reg)
    r = e.instant_query(store, "sum(http_requests_total)", 10 * MIN)
    with pytest.raises(ParseError):
        e.instant_query(store, "sum(", 0)
    assert reg.get_sample_value("spyglass_promql_queries_total", {"result": "success"}) == 1
    assert reg.get_sample_value("spyglass_promql_queries_total", {"result": "bad_data"}) == 1
    assert reg.get_sample_value("spyglass_promql_queries_concurrent_max") == 7
    assert (
        reg.get_sample_value("spyglass_promql_query_samples_read_total") == r.stats.samples_read > 0
    )
    stats = r.stats.to_json()
    assert stats["samples"]["totalQueryableSamples"] == r.stats.samples_read
    assert set(stats["timings"]) >= {"evalTotalTime", "execQueueTime", "innerEvalTime"}


def test_parallel_queries_agree(store, engine):
    expected = engine.range_query(
        store, "sum by (instance) (rate(http_requests_total[1m]))", 0, 10 * MIN, 15_000
    ).value
    out = []

    def run():
        out.append(
            engine.range_query(
                store, "sum by (instance) (rate(http_requests_total[1m]))", 0, 10 * MIN, 15_000
            ).value
        )

    threads = [threading.Thread(target=run) for _ in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert len(out) == 4
    for res in out:
        assert [s.labels for s in res] == [s.labels for s in expected]
        for a, b in zip(res, expected):
            np.testing.assert_array_equal(a.values, b.values)


class _CancelOnSelect:
    """Sets the cancel event while the query reads storage, so that only the
    checks inside the evaluation of that node can notice it."""

    def __init__(self, store, cancel):
        self.store, self.cancel = store, cancel

    def querier(self, mint, maxt):
        inner = self.store.querier(mint, maxt)
        outer = self

        class Q:
            def select(self, matchers, hints=None):
                out = inner.select(matchers, hints)
                outer.cancel.set()
                return out

            def close(self):
                inner.close()

        return Q()


def test_cancel_is_noticed_inside_a_node(store, engine):
    cancel = threading.Event()
    with pytest.raises(QueryCanceledError):
        engine.range_query(
            _CancelOnSelect(store, cancel),
            "rate(http_requests_total[5m])",
            0,
            10 * MIN,
            15_000,
            cancel=cancel,
        )


def test_dense_intermediate_results_are_bounded_by_max_samples(store):
    e = Engine(EngineOptions(max_samples=1_000), registry=CollectorRegistry())
    # one series x 2,001 steps needs more grid cells than the limit allows
    with pytest.raises(TooManySamplesError):
        e.range_query(store, "memory_bytes", 0, 2_000 * 15_000, 15_000)
    assert e.range_query(store, "memory_bytes", 0, 100 * 15_000, 15_000).value
