"""The Prometheus-API Queryable and rule QueryFunc against real backends: a
Spyglass server process and Debian's Prometheus 2.42, both filled with the same
remote-write requests, compared with a ``MemoryStorage`` holding the same data
and with each backend's own answers.

Sample timestamps sit 337 ms off the 15 s grid and evaluation times half a
second off, so that Prometheus 2.42's left-closed windows and 3.x's left-open
ones select the same samples (as in tests/e2e/test_prometheus_api.py).
"""

from __future__ import annotations

import math
import time

import httpx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from alerting.rules.rule import engine_query_func
from storage.interface import STALE_NAN, SampleBatch, SelectHints
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.promql import Engine
from storage.remote.promapi import PrometheusAPIQueryable, remote_query_func
from storage.remote.promapi_wire import _STRICT_TEXT_PARSE, loads_matrix
from tests.e2e.peers import PrometheusProcess
from tests.e2e.rwdata import demo_series, send, write_request
from tests.e2e.server import SpyglassProcess
from tests.storage.remote.test_promapi import assert_same_series_set, without_stale

pytestmark = [pytest.mark.peer, pytest.mark.slow]

NOW_MS = (int(time.time() * 1000) // 60_000) * 60_000
T = NOW_MS - 60_500  # evaluation time: off the sample and subquery grids
BACKENDS = ["spyglass", "prometheus"]


def _data() -> list[tuple[dict[str, str], list[tuple[int, float]]]]:
    data = demo_series(NOW_MS)
    times = [t for t, _ in data[0][1]]
    # values that need escaping in a selector (no newline: Prometheus 2.x regexes
    # do not match one with "."), and special floats
    odd = [(t, [1.5, math.nan, math.inf, -math.inf, -0.25][i % 5]) for i, t in enumerate(times)]
    data.append(({"__name__": "odd_values", "job": "odd", "quote": 'say "hi" \\ ok', "emoji": "pod-ü-😀"}, odd))
    # a series that ends (stale marker) and comes back
    flap = [(t, STALE_NAN if i == 40 else float(i)) for i, t in enumerate(times)]
    data.append(({"__name__": "flappy", "job": "odd"}, flap))
    return data


DATA = _data()
TIMES = sorted({t for _, pts in DATA for t, _ in pts})
# Prometheus 3.x UTF-8 label names: for the Spyglass server only (2.42 has no
# syntax for them), two minutes before the other data so that no other test's
# time range sees them
UTF8_T = TIMES[0] - 120_000
UTF8_DATA = [({"__name__": "k8s.pod.restarts", "k8s.pod": "web-1", "job": "utf8"}, [(UTF8_T, 3.0)]),
             ({"__name__": "k8s.pod.restarts", "k8s.pod": "web-2", "job": "utf8"}, [(UTF8_T, 5.0)])]


def _fill(url: str, data) -> None:
    for i in range(0, len(data), 7):  # several requests, like a real sender
        r = send(url + "/api/v1/write", write_request(data[i : i + 7]))
        assert r.status_code in (200, 204), (url, r.status_code, r.text)


@pytest.fixture(scope="module")
def store() -> MemoryStorage:
    s = MemoryStorage()
    s.append(SampleBatch.from_samples([(Labels.from_dict(lbls), t, v) for lbls, pts in DATA for t, v in pts]))
    return s


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    base = tmp_path_factory.mktemp("promapi")
    prom = PrometheusProcess(base / "prom").start()
    try:
        spy = SpyglassProcess(base / "spy", extra_args=["--no-host-metrics"]).start()
    except BaseException:
        prom.stop()
        raise
    try:
        _fill(prom.url, DATA)
        _fill(spy.url, UTF8_DATA + DATA)
        yield {"spyglass": spy.url, "prometheus": prom.url}
    finally:
        spy.stop()
        prom.stop()


@pytest.fixture(scope="module")
def remotes(backends):
    out = {name: PrometheusAPIQueryable(url, timeout=30, registry=CollectorRegistry())
           for name, url in backends.items()}
    yield out
    for q in out.values():
        q.close()


# --- select == MemoryStorage ---------------------------------------------------------------

_VOCAB: dict[str, list[str]] = {}
for _lbls, _ in DATA:
    for _n, _v in _lbls.items():
        _VOCAB.setdefault(_n, [])
        if _v not in _VOCAB[_n]:
            _VOCAB[_n].append(_v)
for _n in _VOCAB:
    _VOCAB[_n] = sorted(_VOCAB[_n])[:6] + ["", "nope"]
_VOCAB["absent"] = ["", "x"]
_REGEXES = [".*", ".+", "", "node_.*", ".*_total", "idle|user", "10\\.0\\.0\\.[12]:9100", ".*😀", '.*"hi".*',
            "[0-9]+", "(?i)API"]


_FIRST_REGEXES = {
    "__name__": [".+", "node_.*", ".*_total", "odd.*|flappy"],
    "job": [".+", "api|odd", "no.*"],
    "instance": [".*:9100", "api-.*", ".+"],
}


@st.composite
def matcher_sets(draw):
    # a positive matcher on a common label first, so that most sets select something
    name = draw(st.sampled_from(["__name__", "job", "instance"]))
    if draw(st.booleans()):
        out = [Matcher("=", name, draw(st.sampled_from(_VOCAB[name][:-2])))]
    else:
        out = [Matcher("=~", name, draw(st.sampled_from(_FIRST_REGEXES[name])))]
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(sorted(_VOCAB)))
        # mostly negative: random conjunctions of positive matchers select nothing
        op = draw(st.sampled_from(["=", "!=", "!=", "=~", "!~", "!~"]))
        out.append(Matcher(op, name, draw(st.sampled_from(_REGEXES if "~" in op else _VOCAB[name]))))
    return out


@st.composite
def time_ranges(draw):
    def edge():
        if draw(st.booleans()):
            return draw(st.sampled_from(TIMES)) + draw(st.sampled_from([-1, 0, 1]))
        return draw(st.integers(TIMES[0] - 60_000, TIMES[-1] + 60_000))
    a, b = edge(), edge()
    return min(a, b), max(a, b)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(matchers=matcher_sets(), trange=time_ranges())
def test_select_returns_what_the_store_holds(remotes, store, backend, matchers, trange):
    mint, maxt = trange
    got = remotes[backend].querier(mint, maxt).select(matchers)
    assert_same_series_set(got, without_stale(store.querier(mint, maxt).select(matchers)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_answers_take_the_fast_matrix_path(backends, backend):
    r = httpx.post(backends[backend] + "/api/v1/query",
                   data={"query": '{__name__=~"node_load1|odd_values"}[5m]', "time": f"{T / 1000:.3f}"})
    _doc, lifted = loads_matrix(r.content)
    if not _STRICT_TEXT_PARSE:
        pytest.fail("this numpy cannot parse sample text strictly: the fast path is off")
    assert lifted is not None, r.text[:300]  # not the (slower, equal) generic path
    assert lifted.counts == [20, 20, 20, 20]


@pytest.mark.parametrize("backend", BACKENDS)
def test_range_edges_are_exact(remotes, store, backend):
    # Prometheus 2.42 returns the sample at mint-1 too (left-closed window): filtered out
    ms = [Matcher("=~", "__name__", "node_load1|flappy")]
    t, u = TIMES[40], TIMES[43]
    for mint, maxt in [(t, t), (t + 1, u), (t - 1, u - 1), (t, u + 1), (t + 1, t + 2)]:
        got = remotes[backend].querier(mint, maxt).select(ms)
        assert_same_series_set(got, without_stale(store.querier(mint, maxt).select(ms)))


@pytest.mark.parametrize("backend", BACKENDS)
def test_series_and_labels_match_the_store(remotes, store, backend):
    q, local = remotes[backend].querier(TIMES[0], TIMES[-1]), store.querier(TIMES[0], TIMES[-1])
    for ms in ([Matcher("=~", "__name__", "node_.*")], [Matcher("=", "job", "odd")],
               [Matcher("!=", "instance", "api-0"), Matcher("=~", "emoji", ".+|")]):
        assert q.select(ms, SelectHints(series_only=True)).labels == local.select(ms).labels
        assert q.label_names(ms) == local.label_names(ms)
        for name in ("instance", "mode", "emoji", "quote", "le"):
            assert q.label_values(name, ms) == local.label_values(name, ms), (ms, name)
    # without matchers the backends answer from their index (head/block granularity,
    # see the module doc): Spyglass's head also holds the UTF-8 series from before
    head_only = {"k8s.pod"} if backend == "spyglass" else set()
    assert q.label_names() == sorted(set(local.label_names()) | head_only)
    assert q.label_values("emoji") == ["pod-ü-😀"]


# --- the engine over the remote API == the backend's own answers ---------------------------------

EXPRS = [
    'rate(node_cpu_seconds_total{mode!="idle"}[5m])',
    "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "node_load1 offset 5m",
    "max_over_time(node_load1[10m:1m])",
    "sum(rate(http_requests_total[5m] offset 2m)) by (code)",
]


def _api(url: str, path: str, params: dict) -> dict:
    r = httpx.get(url + path, params=params, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", body
    return body["data"]


def _close(x: list[float], y: list[float]) -> bool:
    # Prometheus 3.x (and Spyglass) sum with Kahan compensation, 2.42 naively
    return np.allclose(x, y, rtol=1e-12, atol=0, equal_nan=True)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("expr", EXPRS)
def test_engine_over_the_remote_api_answers_as_the_backend(backends, remotes, backend, expr):
    engine = Engine(registry=CollectorRegistry())
    url = backends[backend]
    got = engine.instant_query(remotes[backend], expr, T)
    want = _api(url, "/api/v1/query", {"query": expr, "time": f"{T / 1000:.3f}"})
    assert got.result_type == want["resultType"] == "vector"
    want_v = sorted((Labels.from_dict(s["metric"]), float(s["value"][1])) for s in want["result"])
    got_v = sorted((s.labels, s.v) for s in got.value)
    assert [g[0] for g in got_v] == [w[0] for w in want_v]
    assert _close([g[1] for g in got_v], [w[1] for w in want_v])

    # windows start after the data does: where a counter's first sample is inside a
    # window, Prometheus 2.42 extrapolates rate() differently from 3.x (zero-point
    # clamp before the 1.1x threshold check), which is not what this test is about
    start, end, step = NOW_MS - 20 * 60_000 - 500, T, 60_000
    got = engine.range_query(remotes[backend], expr, start, end, step)
    want = _api(url, "/api/v1/query_range",
                {"query": expr, "start": f"{start / 1000:.3f}", "end": f"{end / 1000:.3f}", "step": "60"})
    want_m = {Labels.from_dict(s["metric"]): s["values"] for s in want["result"]}
    assert sorted(s.labels for s in got.value) == sorted(want_m)
    for s in got.value:
        w = want_m[s.labels]
        assert s.timestamps.tolist() == [round(p[0] * 1000) for p in w]
        assert _close(s.values.tolist(), [float(p[1]) for p in w])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("expr", EXPRS + ["scalar(sum(node_load1))", "count(odd_values) by (job)", "vector(1)"])
def test_remote_query_func_answers_as_engine_query_func(remotes, store, backend, expr):
    remote_q = remote_query_func(remotes[backend].client)
    local_q = engine_query_func(Engine(registry=CollectorRegistry()), store)
    got = sorted((s.labels, s.t, s.v) for s in remote_q(expr, T))
    want = sorted((s.labels, s.t, s.v) for s in local_q(expr, T))
    assert got, expr
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert _close([g[2] for g in got], [w[2] for w in want])


# --- the backend's sample limit -------------------------------------------------------------------


def test_selects_split_under_prometheus_sample_limit(tmp_path, store):
    prom = PrometheusProcess(tmp_path / "prom", extra_args=["--query.max-samples=300"]).start()
    try:
        _fill(prom.url, DATA)
        reg = CollectorRegistry()
        remote = PrometheusAPIQueryable(prom.url, registry=reg)
        ms = [Matcher("=", "__name__", "node_cpu_seconds_total")]  # 18 series x 120 samples
        got = remote.querier(TIMES[0] - 1, TIMES[-1]).select(ms)
        assert got.num_samples == 18 * 120
        assert_same_series_set(got, store.querier(TIMES[0] - 1, TIMES[-1]).select(ms))
        assert reg.get_sample_value("spyglass_promapi_select_splits_total", {"backend": prom.url}) >= 7
        remote.close()
    finally:
        prom.stop()


def test_utf8_names_on_a_3x_backend(remotes):
    remote = remotes["spyglass"]
    q = remote.querier(UTF8_T - 1000, UTF8_T)
    ms = [Matcher("=", "__name__", "k8s.pod.restarts"), Matcher("!=", "k8s.pod", "web-1")]
    got = q.select(ms)
    assert got.labels == [Labels.from_dict({"__name__": "k8s.pod.restarts", "k8s.pod": "web-2", "job": "utf8"})]
    assert got.timestamps.tolist() == [UTF8_T] and got.values.tolist() == [5.0]
    assert q.label_values("k8s.pod", [Matcher("=", "job", "utf8")]) == ["web-1", "web-2"]
    assert "k8s.pod" in q.label_names([Matcher("=", "job", "utf8")])
    (s,) = remote_query_func(remote.client)('sum({"k8s.pod.restarts"})', UTF8_T)
    assert s.v == 8.0
