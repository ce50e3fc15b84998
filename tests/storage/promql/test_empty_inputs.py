"""Operators and functions over selectors that match nothing (most of a rule
set's expressions on a typical cluster) take a short way out; these check that
the answers, errors and annotations stay those of the full evaluation."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from storage.interface import SampleBatch
from storage.labels import Labels
from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions
from storage.promql.errors import PromQLError

T = 600_000


@pytest.fixture(scope="module")
def store():
    db = MemoryStorage()
    rows = []
    for job in ("a", "b"):
        ls = Labels.from_dict({"__name__": "x_total", "job": job})
        rows += [(ls, t * 1000, float(t) * (2 if job == "b" else 1)) for t in range(0, 601, 15)]
    db.append(SampleBatch.from_samples(rows))
    return db


@pytest.fixture(scope="module")
def engine():
    return Engine(EngineOptions(), registry=CollectorRegistry())


def vec(engine, store, q):
    return {s.labels: s.v for s in engine.instant_query(store, q, T).value}


@pytest.mark.parametrize(
    "q",
    [
        "x_total + nope",
        "nope - x_total",
        "x_total > on(job) nope",
        "nope * on(job) group_left x_total",
        "x_total / ignoring(job) group_right nope",
        "x_total and nope",
        "nope and x_total",
        "nope unless x_total",
        "sum(nope)",
        "avg by (job) (nope)",
        "max(nope) - min(nope)",
        "stddev(nope) + stdvar(nope) + count(nope) + group(nope)",
        "rate(nope[5m])",
        "sum(rate(nope[5m])) / sum(rate(x_total[5m]))",
        'count_values("v", nope)',
    ],
)
def test_no_series_in_no_series_out(engine, store, q):
    assert vec(engine, store, q) == {}
    res = engine.range_query(store, q, T - 120_000, T, 30_000)
    assert res.value == []


def test_set_operators_keep_the_other_side(engine, store):
    both = vec(engine, store, "x_total")
    assert len(both) == 2
    assert vec(engine, store, "x_total unless nope") == both
    assert vec(engine, store, "nope or x_total") == both
    assert vec(engine, store, "x_total or nope") == both


def test_errors_and_warnings_do_not_depend_on_data(engine, store):
    with pytest.raises(PromQLError, match="invalid label name"):
        engine.instant_query(store, 'count_values("", nope)', T)
    # a duplicate on the "one" side is still an error when the other side has data
    with pytest.raises(PromQLError, match="many-to-many"):
        engine.instant_query(store, 'x_total + on() x_total', T)


def test_absent_of_nothing_is_one(engine, store):
    assert list(vec(engine, store, "absent(nope)").values()) == [1.0]
    assert list(vec(engine, store, "absent_over_time(nope[5m])").values()) == [1.0]
    assert vec(engine, store, "absent(x_total)") == {}
