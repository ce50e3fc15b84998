"""Preprocessed trees are kept across queries unless they depend on the
query's start/end/step (``@ start()``/``@ end()``, ``start()``...)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from storage.interface import SampleBatch
from storage.labels import Labels
from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions
from storage.promql.parser import parse
from storage.promql.preprocess import PreparedCache, preprocess, range_dependent

INDEPENDENT = [
    "up",
    "sum by (job) (rate(http_requests_total[5m]))",
    "rate(x[5m] @ 100) / on(a) group_left(b) (y offset 1m)",
    "max_over_time((x)[10m:1m])",
    "timestamp((x))",
    "time() - x",
    "hour(x) + predict_linear(y[5m], 60)",
]
DEPENDENT = [
    "x @ end()",
    "rate(x[5m] @ start())",
    "sum(x)[5m:1m] @ end()",
    "x * step()",
    "vector(range()) + vector(end())",
]


def test_range_dependence_is_recognised():
    for q in INDEPENDENT:
        assert not range_dependent(parse(q)), q
    for q in DEPENDENT:
        assert range_dependent(parse(q)), q


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(INDEPENDENT + DEPENDENT),
    st.integers(0, 10**12),
    st.integers(0, 10**6),
    st.sampled_from([0, 1000, 15_000]),
)
def test_cached_preparation_equals_fresh_preparation(query, start, length, step):
    tree = parse(query)
    cache = PreparedCache()
    end = start + length
    first = cache.prepare(tree, start, end, step)
    assert first == preprocess(tree, start, end, step)
    # a second query at other times still gets what preprocess gives
    assert cache.prepare(tree, start + 7, end + 7, step) == preprocess(tree, start + 7, end + 7, step)
    if not range_dependent(tree):
        assert cache.prepare(tree, start + 7, end + 7, step) is first


def test_cache_is_bounded_and_keyed_by_the_tree_itself():
    cache = PreparedCache(max_entries=3)
    trees = [parse(f"m{i}") for i in range(10)]
    for t in trees:
        assert cache.prepare(t, 0, 0) == preprocess(t, 0, 0)
    assert len(cache._entries) <= 3
    # an equal but distinct tree is prepared for itself
    other = parse("m9")
    assert cache.prepare(other, 0, 0) == preprocess(other, 0, 0)


def test_engine_answers_at_end_for_each_query_time():
    db = MemoryStorage()
    ls = Labels.from_dict({"__name__": "x"})
    db.append(SampleBatch.from_samples([(ls, t * 1000, float(t)) for t in range(0, 600, 10)]))
    engine = Engine(EngineOptions(), registry=CollectorRegistry())
    tree = engine.parse("x @ end()")
    for t in (100_000, 200_000, 300_000):
        res = engine.query_tree(db, tree, "x @ end()", t, t, 0)
        assert [s.v for s in res.value] == [t / 1000]
    tree = engine.parse("x")
    for t in (100_000, 250_000):
        res = engine.query_tree(db, tree, "x", t, t, 0)
        assert [s.v for s in res.value] == [t / 1000]
