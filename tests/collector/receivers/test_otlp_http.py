"""OTLP/HTTP metrics: encodings, partial success, errors and overload."""

from __future__ import annotations

import gzip
import json
import threading

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, otlp
from storage.interface import AppendResult, OverloadedError, RejectReason, StorageFullError
from storage.labels import Matcher
from storage.memstore import MemoryStorage
from tests.collector.receivers.otlphelpers import T0_MS, T0_NS, gauge, request, sum_
from tests.collector.receivers.server import serving

PB = {"Content-Type": "application/x-protobuf"}
JS = {"Content-Type": "application/json"}


def make(store=None, prefix="", **limits):
    store = store if store is not None else MemoryStorage()
    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(otlp.http_router(store, IngestLimits(**limits), reg, prefix=prefix))
    return store, reg, TestClient(app)


def values(store, name):
    ss = store.querier(0, 2**62).select([Matcher("=", "__name__", name)])
    return {str(lab): ss.series(i)[1].tolist() for i, lab in enumerate(ss.labels)}


def test_protobuf_request_gets_protobuf_response():
    store, reg, c = make()
    r = c.post("/v1/metrics", content=request([gauge("g", [({}, T0_NS, 2.0)])]).SerializeToString(), headers=PB)
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    resp = ExportMetricsServiceResponse.FromString(r.content)
    assert not resp.HasField("partial_success")
    assert list(values(store, "g").values()) == [[2.0]]
    assert reg.get_sample_value("spyglass_receiver_samples_received_total", {"protocol": "otlp_http"}) == 1


def test_prefix_mounts_under_the_prometheus_path():
    _, _, c = make(prefix="/api/v1/otlp")
    body = request([gauge("g", [({}, T0_NS, 2.0)])]).SerializeToString()
    assert c.post("/api/v1/otlp/v1/metrics", content=body, headers=PB).status_code == 200
    assert c.post("/v1/metrics", content=body, headers=PB).status_code == 404


def test_json_request_with_otlp_json_conventions():
    store, _, c = make()
    # as an OTLP/JSON client writes it: camelCase, int64 as strings, enums as numbers
    body = {
        "resourceMetrics": [{
            "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
            "scopeMetrics": [{
                "scope": {"name": "s"},
                "metrics": [{
                    "name": "requests", "unit": "1",
                    "sum": {"aggregationTemporality": 2, "isMonotonic": True, "dataPoints": [{
                        "asInt": "12", "timeUnixNano": str(T0_NS),
                        "attributes": [{"key": "code", "value": {"intValue": "200"}}],
                        "exemplars": [{"asDouble": 1.0, "timeUnixNano": str(T0_NS),
                                       "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}],
                    }]},
                }],
            }],
            "unknownField": 1,
        }]
    }
    r = c.post("/v1/metrics", content=json.dumps(body), headers=JS)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json" and r.json() == {}
    assert values(store, "requests_total") == {
        'requests_total{code="200", job="web", otel_scope_name="s"}': [12.0]
    }


def test_gzip_bodies_are_inflated():
    store, _, c = make()
    body = gzip.compress(request([gauge("g", [({}, T0_NS, 3.0)])]).SerializeToString())
    r = c.post("/v1/metrics", content=body, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert list(values(store, "g").values()) == [[3.0]]


def test_partial_success_reports_rejected_points_and_reasons():
    _, reg, c = make()
    exp = pb.Metric(name="exp")
    exp.exponential_histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    exp.exponential_histogram.data_points.add(time_unix_nano=T0_NS, count=1)
    req = request([exp, gauge("g", [({}, T0_NS, 1.0)])])
    for headers in (PB, JS):
        body = req.SerializeToString() if headers is PB else json_format.MessageToJson(req)
        r = c.post("/v1/metrics", content=body, headers=headers)
        assert r.status_code == 200
        resp = ExportMetricsServiceResponse()
        if headers is PB:
            resp.ParseFromString(r.content)
        else:
            json_format.Parse(r.text, resp)
        assert resp.partial_success.rejected_data_points == 1
        assert "exponential_histogram: 1" in resp.partial_success.error_message
    assert reg.get_sample_value("spyglass_receiver_samples_dropped_total",
                                {"protocol": "otlp_http", "reason": "exponential_histogram"}) == 2


def test_storage_rejects_are_reported_in_partial_success():
    class Rejecting:
        def append(self, batch):
            res = AppendResult(accepted=0)
            res.reject(RejectReason.TOO_OLD, len(batch), "too old")
            return res

    _, _, c = make(Rejecting())
    r = c.post("/v1/metrics", content=request([gauge("g", [({}, T0_NS, 1.0)])]).SerializeToString(), headers=PB)
    resp = ExportMetricsServiceResponse.FromString(r.content)
    assert r.status_code == 200 and resp.partial_success.rejected_data_points == 1
    assert "too_old" in resp.partial_success.error_message


@pytest.mark.parametrize("headers, body, status, needle", [
    ({"Content-Type": "text/plain"}, b"x", 415, "Content-Type"),
    ({**PB, "Content-Encoding": "br"}, b"x", 415, "Content-Encoding"),
    (PB, b"\xff\xff\xff", 400, "cannot decode"),
    (JS, b"{not json", 400, "cannot decode"),
    (JS, b'{"resourceMetrics": 5}', 400, "cannot decode"),
    ({**PB, "Content-Encoding": "gzip"}, b"not gzip", 400, "gzip"),
])
def test_bad_requests_get_a_status_body(headers, body, status, needle):
    _, _, c = make()
    r = c.post("/v1/metrics", content=body, headers=headers)
    assert r.status_code == status
    st_ = status_pb2.Status()
    if headers.get("Content-Type") == "application/json":
        json_format.Parse(r.text, st_)
    else:
        st_.ParseFromString(r.content)
    assert needle in st_.message and st_.code != 0


def test_size_limits_and_gzip_bomb():
    _, _, c = make(max_body_bytes=10_000, max_decoded_bytes=100_000)
    assert c.post("/v1/metrics", content=b"x" * 20_000, headers=PB).status_code == 413
    bomb = gzip.compress(b"\0" * 10_000_000)
    assert len(bomb) < 10_000
    r = c.post("/v1/metrics", content=bomb, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 413 and "100000" in status_pb2.Status.FromString(r.content).message
    _, _, c = make(max_series_per_request=1)
    r = c.post("/v1/metrics", content=request([gauge("g", [({"a": "1"}, T0_NS, 1.0), ({"a": "2"}, T0_NS, 1.0)])]).SerializeToString(), headers=PB)
    assert r.status_code == 413


@pytest.mark.parametrize("exc, status, retry", [(OverloadedError("busy"), 429, "5"), (StorageFullError("full"), 503, "30")])
def test_storage_back_pressure_is_retryable(exc, status, retry):
    class Failing:
        def append(self, batch):
            raise exc

    _, _, c = make(Failing())
    r = c.post("/v1/metrics", content=request([gauge("g", [({}, T0_NS, 1.0)])]).SerializeToString(), headers=PB)
    assert r.status_code == status and r.headers["Retry-After"] == retry


def test_in_flight_limit_answers_429_with_retry_after():
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def append(self, batch):
            entered.set()
            release.wait(10)
            return AppendResult(accepted=len(batch))

    app = FastAPI()
    app.include_router(otlp.http_router(Slow(), IngestLimits(max_in_flight_requests=1, retry_after_seconds=3), CollectorRegistry()))
    body = request([gauge("g", [({}, T0_NS, 1.0)])]).SerializeToString()
    with serving(app) as url:
        first = []
        t = threading.Thread(target=lambda: first.append(httpx.post(url + "/v1/metrics", content=body, headers=PB, timeout=20)))
        t.start()
        assert entered.wait(10)
        r = httpx.post(url + "/v1/metrics", content=body, headers=PB, timeout=10)
        assert r.status_code == 429 and r.headers["Retry-After"] == "3"
        release.set()
        t.join(10)
        assert first[0].status_code == 200


_JSON_CLIENT = make()[2]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["resourceMetrics", "scopeMetrics", "metrics", "name", "gauge", "sum", "dataPoints",
                         "asDouble", "asInt", "timeUnixNano", "attributes", "key", "value", "stringValue",
                         "histogram", "bucketCounts", "explicitBounds", "summary", "x"]),
        children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_random_json_never_breaks_the_server(doc):
    r = _JSON_CLIENT.post("/v1/metrics", content=json.dumps(doc), headers=JS)
    assert r.status_code in (200, 400), (r.status_code, r.text)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_protobuf_never_breaks_the_server(data):
    r = _JSON_CLIENT.post("/v1/metrics", content=data, headers=PB)
    assert r.status_code in (200, 400), (r.status_code, r.text)


def test_json_and_protobuf_store_the_same_samples():
    req = request([
        gauge("g", [({"a": "x", "n": 3}, T0_NS, 1.25)]),
        sum_("c", [({}, T0_NS, 9.0)]),
    ], resource={"service.name": "s", "host.name": "h"})
    a, _, ca = make()
    b, _, cb = make()
    assert ca.post("/v1/metrics", content=req.SerializeToString(), headers=PB).status_code == 200
    assert cb.post("/v1/metrics", content=json_format.MessageToJson(req), headers=JS).status_code == 200
    for name in ("g", "c_total", "target_info"):
        assert values(a, name) == values(b, name) != {}
    assert list(values(a, "g").values()) == [[1.25]]
    assert a.querier(0, 2**62).select([Matcher("=", "__name__", "g")]).series(0)[0].tolist() == [T0_MS]
