"""The Prometheus-API Queryable and rule QueryFunc against Spyglass's real HTTP API
served in-process (FastAPI app over ``httpx.WSGITransport``, no sockets), and
against hand-made answers for the error paths.

The end-to-end twins, over a real Spyglass process and Debian's Prometheus, are
in test_promapi_e2e.py.
"""

from __future__ import annotations

import logging
import math

import httpx
import numpy as np
import orjson
import pytest
from a2wsgi import ASGIMiddleware
from fastapi import FastAPI
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from alerting.rules.rule import engine_query_func
from collector.api.prometheus import PrometheusAPI
from spyglass.configtypes import HTTPClientConfig
from storage.interface import (
    STALE_NAN,
    Querier,
    Queryable,
    QueryLimitError,
    SampleBatch,
    SelectHints,
    SeriesSet,
    is_stale,
)
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions
from storage.remote.promapi import (
    PrometheusAPIError,
    PrometheusAPILimitError,
    PrometheusAPIQueryable,
    PrometheusAPIResultError,
    PrometheusAPITimeoutError,
    PrometheusAPIUnavailableError,
    remote_query_func,
)
from tests.util import free_port

T0 = 1_700_000_000_000
STEP = 15_000
N = 120  # samples per series: 30 minutes


def _series() -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """Counters, gauges, a histogram and label values that need escaping."""
    rng = np.random.default_rng(7)
    out = []
    times = T0 + 337 + STEP * np.arange(N, dtype=np.int64)
    for inst in ("a:9100", "b:9100"):
        for mode in ("idle", "user"):
            out.append((Labels.from_dict({"__name__": "cpu_seconds_total", "instance": inst, "mode": mode}),
                        times, np.cumsum(rng.uniform(0, 15, N)).round(3)))
        out.append((Labels.from_dict({"__name__": "load1", "instance": inst}), times, rng.uniform(0, 4, N).round(4)))
    for le, scale in (("0.1", 10), ("1", 20), ("+Inf", 22)):
        out.append((Labels.from_dict({"__name__": "req_seconds_bucket", "le": le}), times,
                    np.cumsum(np.full(N, scale, np.float64))))
    odd = {"__name__": "odd", "quote": 'say "hi"\\n', "nl": "two\nlines", "k8s.pod": "pod-ü-😀"}
    vals = rng.uniform(-1, 1, N)
    vals[5] = math.nan
    vals[6] = math.inf
    out.append((Labels.from_dict(odd), times, vals))
    # ends with a stale marker 10 minutes in, then comes back
    vs = np.arange(N, dtype=np.float64)
    vs[40] = STALE_NAN
    out.append((Labels.from_dict({"__name__": "flappy", "instance": "a:9100"}), times, vs))
    return out


SERIES = _series()
ALL_TIMES = SERIES[0][1]


def _store(series=SERIES) -> MemoryStorage:
    store = MemoryStorage()
    rows = [(ls, int(t), float(v)) for ls, ts, vs in series for t, v in zip(ts, vs)]
    store.append(SampleBatch.from_samples(rows))
    return store


def spyglass_api(store, max_samples: int = 50_000_000) -> httpx.BaseTransport:
    """Spyglass's Prometheus API over ``store``, in this process."""
    app = FastAPI()
    engine = Engine(EngineOptions(max_samples=max_samples), registry=CollectorRegistry())
    app.include_router(PrometheusAPI(storage=store, engine=engine).router())
    return httpx.WSGITransport(app=ASGIMiddleware(app))


@pytest.fixture(scope="module")
def store():
    return _store()


@pytest.fixture(scope="module")
def remote(store):
    q = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(store), registry=CollectorRegistry())
    yield q
    q.close()


def without_stale(ss: SeriesSet) -> SeriesSet:
    """What the API can return: the same samples without stale markers."""
    out = []
    for i, ls in enumerate(ss.labels):
        ts, vs = ss.series(i)
        keep = ~is_stale(vs)
        if keep.any():
            out.append((ls, ts[keep], vs[keep]))
    return SeriesSet.from_series(out)


def assert_same_series_set(got: SeriesSet, want: SeriesSet) -> None:
    assert got.labels == want.labels
    assert got.offsets.tolist() == want.offsets.tolist()
    assert np.array_equal(got.timestamps, want.timestamps)
    assert np.array_equal(got.values, want.values, equal_nan=True)


# --- select == MemoryStorage ------------------------------------------------------------

_VOCAB = {
    "__name__": ["cpu_seconds_total", "load1", "req_seconds_bucket", "odd", "flappy", "nope"],
    "instance": ["a:9100", "b:9100", ""],
    "mode": ["idle", "user", ""],
    "le": ["0.1", "+Inf"],
    "quote": ['say "hi"\\n'],
    "nl": ["two\nlines"],
    "k8s.pod": ["pod-ü-😀"],
    "absent": ["", "x"],
}
_REGEXES = [".*", ".+", "", "a.*", ".*:9100", "idle|user", "cpu.*|load1", "two.lines", ".*😀", "[ab]:.*"]


@st.composite
def matcher_sets(draw):
    n = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        name = draw(st.sampled_from(sorted(_VOCAB)))
        op = draw(st.sampled_from(["=", "!=", "=~", "!~"]))
        value = draw(st.sampled_from(_REGEXES if "~" in op else _VOCAB[name]))
        out.append(Matcher(op, name, value))
    return out


@st.composite
def time_ranges(draw):
    """Ranges around the data, often starting or ending exactly at a sample (±1 ms)."""
    def edge():
        if draw(st.booleans()):
            return int(draw(st.sampled_from(ALL_TIMES.tolist()))) + draw(st.sampled_from([-1, 0, 1]))
        return draw(st.integers(int(ALL_TIMES[0]) - 60_000, int(ALL_TIMES[-1]) + 60_000))
    a, b = edge(), edge()
    return min(a, b), max(a, b)


@settings(max_examples=60, deadline=None)
@given(matcher_sets(), time_ranges())
def test_select_returns_what_the_store_holds(remote, store, matchers, trange):
    mint, maxt = trange
    got = remote.querier(mint, maxt).select(matchers)
    want = store.querier(mint, maxt).select(matchers)
    assert_same_series_set(got, without_stale(want))


def test_it_is_a_queryable(remote):
    assert isinstance(remote, Queryable)
    assert isinstance(remote.querier(0, 1), Querier)


def test_select_never_returns_stale_markers(remote, store):
    ms = [Matcher("=", "__name__", "flappy")]
    want = store.querier(T0 - 3_600_000, T0 + 3_600_000).select(ms)
    assert is_stale(want.values).sum() == 1
    got = remote.querier(T0 - 3_600_000, T0 + 3_600_000).select(ms)
    assert got.num_samples == want.num_samples - 1 and not is_stale(got.values).any()


def test_select_of_an_empty_or_inverted_range(remote):
    assert len(remote.querier(T0 - 10_000, T0).select([Matcher("=", "__name__", "load1")])) == 0
    assert len(remote.querier(T0 + 10_000, T0).select([Matcher("=", "__name__", "load1")])) == 0


def test_series_only_and_label_queries(remote, store):
    mint, maxt = int(ALL_TIMES[10]), int(ALL_TIMES[50])
    for ms in ([Matcher("=~", "__name__", "cpu.*|odd")], [Matcher("!=", "instance", "a:9100")]):
        got = remote.querier(mint, maxt).select(ms, SelectHints(series_only=True))
        assert got.labels == store.querier(mint, maxt).select(ms).labels
        assert got.num_samples == 0 and len(got.offsets) == len(got.labels) + 1
        assert remote.querier(mint, maxt).label_names(ms) == store.querier(mint, maxt).label_names(ms)
        for name in ("instance", "mode", "k8s.pod", "nl", "absent"):
            assert (remote.querier(mint, maxt).label_values(name, ms)
                    == store.querier(mint, maxt).label_values(name, ms)), name
    assert remote.querier(mint, maxt).label_names() == store.querier(mint, maxt).label_names()
    assert remote.querier(mint, maxt).label_values("k8s.pod") == ["pod-ü-😀"]


# --- splitting ------------------------------------------------------------------------


def _requests(reg: CollectorRegistry, endpoint: str = "select", outcome: str = "success") -> float:
    return reg.get_sample_value(
        "spyglass_promapi_requests_total",
        {"backend": "http://spyglass.test", "endpoint": endpoint, "outcome": outcome},
    ) or 0.0


def test_ranges_the_backend_refuses_are_split_and_merged(store):
    reg = CollectorRegistry()
    # the backend loads at most 150 samples per query; the select needs 4 * 120
    q = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(store, max_samples=150),
                               registry=reg, min_range_per_request_ms=STEP)
    ms = [Matcher("=", "__name__", "cpu_seconds_total")]
    mint, maxt = int(ALL_TIMES[0]) - 5, int(ALL_TIMES[-1]) + 5
    got = q.querier(mint, maxt).select(ms)
    assert_same_series_set(got, store.querier(mint, maxt).select(ms))
    splits = reg.get_sample_value("spyglass_promapi_select_splits_total", {"backend": "http://spyglass.test"})
    assert splits >= 3
    assert _requests(reg, outcome="limit") == splits
    assert reg.get_sample_value("spyglass_promapi_samples_read_total",
                                {"backend": "http://spyglass.test"}) == got.num_samples == 480

    # a slice of min_range_per_request_ms the backend still refuses is the error
    tight = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(store, max_samples=3),
                                   registry=reg, min_range_per_request_ms=STEP)
    with pytest.raises(PrometheusAPILimitError, match="too many samples") as e:
        tight.querier(mint, maxt).select(ms)
    assert isinstance(e.value, QueryLimitError) and e.value.status == 422
    capped = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(store, max_samples=150),
                                    registry=reg, max_requests_per_select=3)
    with pytest.raises(PrometheusAPILimitError, match="max_requests_per_select=3"):
        capped.querier(mint, maxt).select(ms)


def test_long_ranges_go_in_pieces(store):
    reg = CollectorRegistry()
    q = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(store), registry=reg,
                               max_range_per_request_ms=10 * 60_000)
    ms = [Matcher("=~", "__name__", "load1|odd")]
    mint, maxt = int(ALL_TIMES[3]), int(ALL_TIMES[-3])  # just under 29 minutes: 3 pieces
    assert_same_series_set(q.querier(mint, maxt).select(ms), store.querier(mint, maxt).select(ms))
    assert _requests(reg) == 3
    # pieces meet exactly: a sample on or next to a piece boundary is read once
    for shift in (-1, 0, 1):
        lo = int(ALL_TIMES[20]) - 10 * 60_000 + shift
        assert_same_series_set(q.querier(lo, int(ALL_TIMES[60])).select(ms),
                               store.querier(lo, int(ALL_TIMES[60])).select(ms))
    with pytest.raises(PrometheusAPILimitError, match="max_requests_per_select"):
        q.querier(0, T0).select(ms)


def test_the_max_samples_hint_is_enforced(remote):
    ms = [Matcher("=", "__name__", "load1")]
    q = remote.querier(T0 - 3_600_000, T0 + 3_600_000)
    assert q.select(ms, SelectHints(max_samples=240)).num_samples == 240
    with pytest.raises(QueryLimitError, match="more than 239 samples"):
        q.select(ms, SelectHints(max_samples=239))


# --- the engine over the remote queryable --------------------------------------------------

EXPRS = [
    "load1",
    "load1 offset 5m",
    'rate(cpu_seconds_total{mode!="idle"}[5m])',
    "sum by (instance) (rate(cpu_seconds_total[5m]))",
    "histogram_quantile(0.9, sum by (le) (rate(req_seconds_bucket[5m])))",
    "max_over_time(load1[10m:1m])",
    "avg_over_time(odd[10m])",
    'count({__name__=~".+"})',
]


@pytest.fixture(scope="module")
def no_stale():
    """A store without stale markers, and the remote API over it: over the API
    stale markers are missing (see the lingering test below)."""
    local = _store([s for s in SERIES if s[0].name != "flappy"])
    remote = PrometheusAPIQueryable("http://spyglass.test", transport=spyglass_api(local),
                                    registry=CollectorRegistry())
    yield local, remote
    remote.close()


@pytest.mark.parametrize("expr", EXPRS)
def test_engine_over_the_remote_api_answers_as_over_the_store(no_stale, expr):
    local, remote = no_stale
    engine = Engine(registry=CollectorRegistry())
    t = int(ALL_TIMES[-1]) - 30_500
    a, b = engine.instant_query(remote, expr, t), engine.instant_query(local, expr, t)
    assert a.result_type == b.result_type == "vector"
    assert [s.labels for s in a.value] == [s.labels for s in b.value]
    assert np.allclose([s.v for s in a.value], [s.v for s in b.value], rtol=1e-12, equal_nan=True)
    start, end = int(ALL_TIMES[0]) + 60_000, int(ALL_TIMES[-1])
    a = engine.range_query(remote, expr, start, end, 60_000)
    b = engine.range_query(local, expr, start, end, 60_000)
    assert [s.labels for s in a.value] == [s.labels for s in b.value]
    for x, y in zip(a.value, b.value):
        assert np.array_equal(x.timestamps, y.timestamps)
        assert np.allclose(x.values, y.values, rtol=1e-12, equal_nan=True)


def test_without_stale_markers_an_ended_series_lingers_for_the_lookback(remote, store):
    engine = Engine(registry=CollectorRegistry())
    t = int(ALL_TIMES[41]) - 1  # after the stale marker at sample 40, before sample 41
    assert engine.instant_query(store, "flappy", t).value == []
    (s,) = engine.instant_query(remote, "flappy", t).value
    assert s.v == 39.0


# --- remote_query_func ----------------------------------------------------------------------


@pytest.mark.parametrize("expr", EXPRS + ["scalar(sum(load1))", "time()", "1 + 2", "absent(nope)"])
def test_remote_query_func_answers_as_engine_query_func(remote, store, expr):
    remote_q = remote_query_func(remote.client)
    local_q = engine_query_func(Engine(registry=CollectorRegistry()), store)
    t = int(ALL_TIMES[-1]) - 30_500
    got = sorted((s.labels, s.t, s.v) for s in remote_q(expr, t))
    want = sorted((s.labels, s.t, s.v) for s in local_q(expr, t))
    assert [g[:2] for g in got] == [w[:2] for w in want]
    assert np.allclose([g[2] for g in got], [w[2] for w in want], rtol=1e-12, equal_nan=True)


def test_remote_query_func_errors(remote):
    q = remote_query_func(remote.client)
    with pytest.raises(PrometheusAPIResultError, match="not a vector or scalar"):
        q("load1[5m]", T0)
    with pytest.raises(PrometheusAPIResultError):
        q('"text"', T0)
    with pytest.raises(PrometheusAPIError) as e:
        q("sum(", T0)
    # the backend's own words, as Spyglass's engine says them locally
    assert str(e.value) == "1:5: parse error: unclosed left parenthesis"
    assert (e.value.error_type, e.value.status) == ("bad_data", 400)
    assert e.value.url == "http://spyglass.test/api/v1/query"


# --- wire details and error mapping, with hand-made answers ----------------------------------


class Recorder:
    """A mock backend: answers with ``reply`` and records requests."""

    def __init__(self, status=200, body=None, raw: bytes | None = None, exc: Exception | None = None):
        self.status, self.exc = status, exc
        self.raw = raw if raw is not None else orjson.dumps(
            body if body is not None else {"status": "success", "data": {"resultType": "vector", "result": []}})
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.exc is not None:
            raise self.exc
        return httpx.Response(self.status, content=self.raw)

    def form(self, i: int = -1) -> dict[str, list[str]]:
        import urllib.parse

        r = self.requests[i]
        text = r.content.decode() if r.method == "POST" else r.url.query.decode()
        return urllib.parse.parse_qs(text, keep_blank_values=True)


def test_requests_carry_the_form_auth_headers_and_path_prefix():
    rec = Recorder()
    http = HTTPClientConfig(bearer_token="s3cret", http_headers={"X-Scope-OrgID": "team-a"})
    q = remote_query_func("https://mimir.test/prometheus/", http, timeout=7.5,
                          transport=httpx.MockTransport(rec), registry=CollectorRegistry())
    assert q("up", 1_700_000_000_001) == []
    r = rec.requests[0]
    assert r.method == "POST" and str(r.url) == "https://mimir.test/prometheus/api/v1/query"
    assert r.headers["authorization"] == "Bearer s3cret"
    assert r.headers["x-scope-orgid"] == "team-a"
    assert r.headers["user-agent"].startswith("Spyglass/")
    assert rec.form() == {"query": ["up"], "time": ["1700000000.001"], "timeout": ["7.5"]}

    rec = Recorder(body={"status": "success", "data": []})
    basic = HTTPClientConfig(basic_auth={"username": "u", "password": "p"})
    remote = PrometheusAPIQueryable("http://prom.test", basic, transport=httpx.MockTransport(rec),
                                    registry=CollectorRegistry())
    from storage.remote.promapi_wire import API_MAX_TIME_MS, API_MIN_TIME_MS

    remote.querier(API_MIN_TIME_MS, API_MAX_TIME_MS).label_names()
    assert rec.form() == {}  # unbounded: no start, end or match[]
    assert rec.requests[-1].headers["authorization"] == "Basic dTpw"
    remote.querier(-1500, 2000).label_values("k8s.pod", [Matcher("=", "job", "x")])
    r = rec.requests[-1]
    assert r.method == "GET" and r.url.path == "/api/v1/label/U__k8s_2e_pod/values"
    assert rec.form() == {"match[]": ['{job="x"}'], "start": ["-1.500"], "end": ["2.000"]}
    remote.querier(0, 1).select([Matcher("=", "job", "x")], SelectHints(series_only=True))
    assert rec.requests[-1].url.path == "/api/v1/series"
    assert rec.form() == {"match[]": ['{job="x"}'], "start": ["0.000"], "end": ["0.001"]}


_ERR = {"status": "error", "errorType": "execution", "error": "boom"}


@pytest.mark.parametrize("status,body,raw,cls,etype,message", [
    (400, {"status": "error", "errorType": "bad_data", "error": "1:1: parse error: x"}, None,
     PrometheusAPIError, "bad_data", "1:1: parse error: x"),
    (422, _ERR, None, PrometheusAPIError, "execution", "boom"),
    (422, {"status": "error", "errorType": "execution",
           "error": "query processing would load too many samples into memory in query execution"}, None,
     PrometheusAPILimitError, "execution", "query processing would load too many samples"),
    (422, None, b'{"error":"cannot select more than -search.maxSamplesPerQuery=1 samples"}',
     PrometheusAPILimitError, "limit", "maxSamplesPerQuery"),
    (503, {"status": "error", "errorType": "timeout", "error": "query timed out in query execution"}, None,
     PrometheusAPITimeoutError, "timeout", "query timed out"),
    (503, None, b"upstream connect error", PrometheusAPIUnavailableError, "unavailable", "upstream connect error"),
    (429, None, b"", PrometheusAPIUnavailableError, "unavailable", "HTTP 429 Too Many Requests"),
    (502, None, b"<html>bad gateway</html>", PrometheusAPIUnavailableError, "unavailable", "bad gateway"),
    (500, {"status": "error", "errorType": "internal", "error": "panic"}, None,
     PrometheusAPIError, "internal", "panic"),
    (404, None, b"404 page not found", PrometheusAPIError, "error", "404 page not found"),
    (200, _ERR, None, PrometheusAPIError, "execution", "boom"),
    (200, None, b"<html>login</html>", PrometheusAPIError, "internal", "malformed answer"),
    (200, {"status": "success"}, None, PrometheusAPIError, "internal", "malformed answer"),
    (200, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": [[1]]}]}},
     None, PrometheusAPIError, "internal", "malformed answer: a sample is not a"),
])
def test_answers_map_to_clear_errors(status, body, raw, cls, etype, message):
    rec = Recorder(status, body, raw)
    remote = PrometheusAPIQueryable("http://prom.test", transport=httpx.MockTransport(rec),
                                    registry=CollectorRegistry())
    with pytest.raises(cls, match=message) as e:
        remote.querier(0, 1000).select([Matcher("=", "job", "x")])
    assert type(e.value) is cls
    assert e.value.error_type == etype
    assert e.value.status == status
    with pytest.raises(cls):
        remote_query_func(remote.client)("x", 0)


def test_network_failures_and_timeouts():
    reg = CollectorRegistry()
    q = remote_query_func("http://prom.test", transport=httpx.MockTransport(Recorder(exc=httpx.ReadTimeout("slow"))),
                          timeout=2, registry=reg)
    with pytest.raises(PrometheusAPITimeoutError, match="no answer within 2s") as e:
        q("up", 0)
    assert (e.value.error_type, e.value.status) == ("timeout", 0)
    # a real refused connection: nothing listens on a fresh free port
    url = f"http://127.0.0.1:{free_port()}"
    remote = PrometheusAPIQueryable(url, timeout=2, registry=reg)
    with pytest.raises(PrometheusAPIUnavailableError, match="ConnectError") as e:
        remote.querier(0, 1).label_names()
    assert e.value.error_type == "unavailable" and e.value.url == url + "/api/v1/labels"
    assert reg.get_sample_value("spyglass_promapi_requests_total",
                                {"backend": url, "endpoint": "labels", "outcome": "unavailable"}) == 1
    with pytest.raises(ValueError, match="http"):
        PrometheusAPIQueryable("prom:9090")
    # credentials in the URL never reach metric labels or messages
    assert PrometheusAPIQueryable("http://u:pw@[::1]:9/x/?a=b", registry=reg).client.backend == "http://[::1]:9/x"


def test_backend_warnings_are_logged_and_counted(caplog):
    reg = CollectorRegistry()
    body = {"status": "success", "data": {"resultType": "scalar", "result": [1.5, "2"]},
            "warnings": ["PromQL warning: metric might not be a counter"], "infos": ["just so"]}
    q = remote_query_func("http://prom.test", transport=httpx.MockTransport(Recorder(body=body)), registry=reg)
    with caplog.at_level(logging.WARNING, logger="storage.remote.promapi"):
        assert q("x", 0) == [(Labels.EMPTY, 1500, 2.0)]
    assert "might not be a counter" in caplog.text and "just so" not in caplog.text
    assert reg.get_sample_value("spyglass_promapi_warnings_total",
                                {"backend": "http://prom.test", "endpoint": "query"}) == 1


def test_series_a_looser_backend_adds_are_filtered_out():
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "a\nb"}, "values": [[0.5, "1"]]},
        {"metric": {"__name__": "up", "job": "ab"}, "values": [[0.5, "2"]]}]}}
    remote = PrometheusAPIQueryable("http://prom.test", transport=httpx.MockTransport(Recorder(body=body)),
                                    registry=CollectorRegistry())
    # RE2 with Prometheus 3.x semantics: "." matches a newline, "a.b" does not match "ab"
    got = remote.querier(0, 1000).select([Matcher("=~", "job", "a.b")])
    assert got.labels == [Labels.from_dict({"__name__": "up", "job": "a\nb"})]


def test_native_histograms_are_skipped_and_counted():
    reg = CollectorRegistry()
    body = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "h"}, "histograms": [[0.5, {"count": "1", "sum": "2"}]]},
        {"metric": {"__name__": "f"}, "values": [[0.5, "3"]]}]}}
    remote = PrometheusAPIQueryable("http://prom.test", transport=httpx.MockTransport(Recorder(body=body)),
                                    registry=reg)
    got = remote.querier(0, 1000).select([Matcher("=~", "__name__", "h|f")])
    assert got.labels == [Labels.parse("f")] and got.values.tolist() == [3.0]
    assert reg.get_sample_value("spyglass_promapi_native_histogram_samples_ignored_total",
                                {"backend": "http://prom.test"}) == 1
