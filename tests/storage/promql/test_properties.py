"""Property tests of the evaluator on generated queries: it never fails with an
internal error, and an instant query equals the matching step of a range query
(the grid evaluation must not depend on which steps are evaluated)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from storage.interface import STALE_NAN, SampleBatch
from storage.labels import Labels
from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions, InternalError, PromQLError
from tests.storage.promql.strategies import vector_exprs

MIN = 60_000


@pytest.fixture(scope="module")
def store():
    rng = np.random.default_rng(3)
    st_ = MemoryStorage()
    rows = []
    series = [
        ('up{job="a", instance="0"}', "gauge"),
        ('up{job="a", instance="1"}', "gauge"),
        ('http_requests_total{job="a", instance="0", mode="x"}', "counter"),
        ('http_requests_total{job="b", instance="1", mode="y"}', "counter"),
        ('node_cpu_seconds_total{job="a", instance="0", mode="idle"}', "counter"),
        ('node_cpu_seconds_total{job="a", instance="1", mode="user"}', "counter"),
        ('x:y_z{job="c", le="0.1"}', "counter"),
        ('x:y_z{job="c", le="+Inf"}', "counter"),
        ('a{job="a", instance="2"}', "gauge"),
        ('a{mode="z"}', "gauge"),
    ]
    for text, kind in series:
        ls = Labels.parse(text)
        phase = int(rng.integers(0, 15_000))
        value = 0.0
        for i in range(480):
            t = phase + i * 15_000
            if rng.random() < 0.05:
                continue  # a missed scrape
            if kind == "counter":
                value += float(rng.integers(0, 10))
                if rng.random() < 0.01:
                    value = 0.0  # a restart
            else:
                value = float(rng.normal(10, 5))
            v = value
            if rng.random() < 0.01:
                v = math.nan
            if rng.random() < 0.005:
                v = STALE_NAN
            rows.append((ls, t, v))
    st_.append(SampleBatch.from_samples(rows))
    return st_


@pytest.fixture(scope="module")
def engine():
    return Engine(EngineOptions(), registry=CollectorRegistry())


def _close(a: float, b: float) -> bool:
    if math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b))


@settings(
    max_examples=150,
    derandomize=True,  # the same examples every run: CI cannot flake
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(query=vector_exprs(), minute=st.integers(5, 115))
def test_instant_equals_range_step_and_no_internal_errors(store, engine, query, minute):
    t = minute * MIN
    try:
        inst = engine.instant_query(store, query, t)
        inst_err = None
    except InternalError:
        raise
    except PromQLError as e:
        inst, inst_err = None, e
    try:
        rng = engine.range_query(store, query, t - 2 * MIN, t + 2 * MIN, MIN)
        rng_err = None
    except InternalError:
        raise
    except PromQLError as e:
        rng, rng_err = None, e
    if inst_err is not None or rng_err is not None:
        # other steps may legitimately fail (e.g. duplicate series there); the
        # instant query failing alone would be a bug
        assert inst_err is None or rng_err is not None, (query, inst_err)
        return
    at_t = {}
    for s in rng.value:
        hit = np.flatnonzero(s.timestamps == t)
        if len(hit):
            at_t[s.labels] = float(s.values[hit[0]])
    got = {s.labels: s.v for s in inst.value}
    assert set(got) == set(at_t), (query, got, at_t)
    for ls, v in got.items():
        assert _close(v, at_t[ls]), (query, ls, v, at_t[ls])
