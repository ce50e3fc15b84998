"""Remote-write receiver over HTTP: 1.0 and 2.0 decoding, negotiation, limits and errors."""

from __future__ import annotations

import math
import struct
import threading

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from collector.protos import remote_write_v1_pb2 as rw1
from collector.receivers import IngestLimits, remote_write
from storage.interface import (
    STALE_NAN_BITS,
    AppendResult,
    MetricMetadata,
    MetricType,
    OverloadedError,
    RejectReason,
    SampleBatch,
    StorageFullError,
    is_stale,
)
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from tests.collector.receivers.rwhelpers import (
    V1_HEADERS,
    V2_HEADERS,
    V2Builder,
    snappy,
    v1_request,
)
from tests.collector.receivers.server import serving

T0 = 1_700_000_000_000


def make(store=None, **limits):
    store = store if store is not None else MemoryStorage()
    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(remote_write.router(store, IngestLimits(**limits), reg))
    return store, reg, TestClient(app)


def select(store, **eq):
    return store.querier(0, 2**62).select([Matcher("=", k, v) for k, v in eq.items()])


def metric(reg, name, **labels):
    return reg.get_sample_value(name, labels) or 0.0


def test_v1_samples_and_metadata_are_stored():
    store, reg, c = make()
    req = v1_request([
        ({"__name__": "up", "job": "node", "instance": "a:9100"}, [(T0, 1.0), (T0 + 15000, 0.0)]),
        ({"__name__": "node_load1", "job": "node", "instance": "a:9100"}, [(T0, 0.25)]),
    ])
    md = req.metadata.add(type=rw1.MetricMetadata.GAUGE, metric_family_name="node_load1", help="1m load average.")
    md.unit = ""
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 204, r.text
    ss = select(store, __name__="up")
    assert ss.labels == [Labels.from_dict({"__name__": "up", "job": "node", "instance": "a:9100"})]
    ts, vs = ss.series(0)
    assert ts.tolist() == [T0, T0 + 15000] and vs.tolist() == [1.0, 0.0]
    assert select(store, __name__="node_load1").series(0)[1].tolist() == [0.25]
    assert store.metadata("node_load1") == {
        "node_load1": [MetricMetadata(MetricType.GAUGE, "1m load average.", "")]
    }
    assert metric(reg, "spyglass_receiver_samples_received_total", protocol="remote_write") == 3
    assert metric(reg, "spyglass_receiver_requests_total", protocol="remote_write", code="204") == 1


def test_unsorted_labels_and_empty_values_are_normalised():
    store, _, c = make()
    req = rw1.WriteRequest()
    ts = req.timeseries.add()
    for n, v in [("zone", "b"), ("__name__", "m"), ("empty", ""), ("app", "x")]:
        ts.labels.add(name=n, value=v)
    ts.samples.add(timestamp=T0, value=2)
    assert c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS).status_code == 204
    assert select(store, __name__="m").labels == [Labels.from_dict({"__name__": "m", "app": "x", "zone": "b"})]


def test_stale_marker_bits_survive():
    store, _, c = make()
    stale = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]
    req = v1_request([({"__name__": "up", "job": "j"}, [(T0, 1.0), (T0 + 1, stale), (T0 + 2, math.nan)])])
    assert c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS).status_code == 204
    vs = select(store, __name__="up").series(0)[1]
    assert is_stale(vs).tolist() == [False, True, False]
    assert math.isnan(vs[2])


def test_repeated_series_in_one_request_share_a_slot():
    seen = []

    class Recorder:
        def append(self, batch: SampleBatch) -> AppendResult:
            seen.append(batch)
            return AppendResult(accepted=len(batch))

    _, _, c = make(Recorder())
    lab = {"__name__": "x", "a": "1"}
    req = v1_request([(lab, [(T0, 1.0)]), ({"__name__": "y"}, [(T0, 5.0)]), (lab, [(T0 + 1, 2.0)])])
    assert c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS).status_code == 204
    (b,) = seen
    assert len(b.series) == 2 and len(set(b.series)) == 2
    assert [str(b.series[i]) for i in b.series_index] == ['x{a="1"}', "y{}", 'x{a="1"}']
    assert b.values.tolist() == [1.0, 5.0, 2.0]


def test_v2_symbols_metadata_and_written_headers():
    store, reg, c = make()
    b = V2Builder()
    b.series({"__name__": "http_requests_total", "job": "api", "code": "200"}, [(T0, 10), (T0 + 1000, 12)],
             type=1, help="Requests served.", unit="", exemplars=[(T0, 1.0, "abc123")])
    b.series({"__name__": "rpc_duration_seconds_bucket", "le": "0.5"}, [(T0, 3)], type=3, help="RPC latency.",
             unit="seconds")
    r = c.post("/api/v1/write", content=b.body(), headers=V2_HEADERS)
    assert r.status_code == 204, r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "3"
    assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"
    # exemplars are accepted and counted, but storage keeps none: written is 0
    assert r.headers["X-Prometheus-Remote-Write-Exemplars-Written"] == "0"
    assert metric(reg, "spyglass_receiver_exemplars_received_total", protocol="remote_write") == 1
    ss = select(store, job="api")
    assert ss.labels == [Labels.from_dict({"__name__": "http_requests_total", "job": "api", "code": "200"})]
    assert ss.series(0)[1].tolist() == [10, 12]
    meta = store.metadata()
    assert meta["http_requests_total"] == [MetricMetadata(MetricType.COUNTER, "Requests served.", "")]
    # a histogram's series metadata describes its family
    assert meta["rpc_duration_seconds"] == [MetricMetadata(MetricType.HISTOGRAM, "RPC latency.", "seconds")]


def test_v2_bad_symbol_reference_is_400():
    _, _, c = make()
    b = V2Builder()
    ts = b.series({"__name__": "m"}, [(T0, 1)])
    ts.labels_refs.extend([99, 100])
    r = c.post("/api/v1/write", content=b.body(), headers=V2_HEADERS)
    assert r.status_code == 400 and "symbols" in r.text
    assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "0"


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_native_histograms_are_refused_and_the_rest_stored(version):
    store, reg, c = make()
    if version == "v1":
        req = v1_request([({"__name__": "ok", "job": "j"}, [(T0, 1.0)])])
        ts = req.timeseries.add()
        ts.labels.add(name="__name__", value="latency")
        h = ts.histograms.add(count_int=4, sum=2.0, schema=3, timestamp=T0)
        h.positive_spans.add(offset=0, length=1)
        h.positive_deltas.append(4)
        body, headers = snappy(req.SerializeToString()), V1_HEADERS
    else:
        b = V2Builder()
        b.series({"__name__": "ok", "job": "j"}, [(T0, 1.0)])
        b.series({"__name__": "latency"}, histograms=1)
        body, headers = b.body(), V2_HEADERS
    r = c.post("/api/v1/write", content=body, headers=headers)
    assert r.status_code == 400
    assert "native histogram" in r.text and "latency" in r.text
    assert select(store, __name__="ok").num_samples == 1
    assert metric(reg, "spyglass_receiver_samples_dropped_total", protocol="remote_write",
                  reason="native_histogram") == 1
    if version == "v2":
        assert r.headers["X-Prometheus-Remote-Write-Samples-Written"] == "1"
        assert r.headers["X-Prometheus-Remote-Write-Histograms-Written"] == "0"


@pytest.mark.parametrize(
    "labels, limits, reason",
    [
        ([("job", "x")], {}, "no metric name"),
        ([("__name__", "m"), ("a", "1"), ("a", "2")], {}, "duplicate"),
        ([("__name__", "m"), ("a", "1"), ("b", "2")], {"max_labels_per_series": 2}, "more than the limit of 2"),
        ([("__name__", "m"), ("a", "x" * 50)], {"max_label_value_length": 10}, "limit of 10"),
        ([("__name__", "m"), ("a" * 20, "1")], {"max_label_name_length": 10}, "limit of 10"),
        ([("__name__", "bad metric"), ("a", "1")], {"utf8_names": False}, "invalid metric name"),
    ],
)
def test_invalid_series_get_400_with_reason_and_valid_ones_stored(labels, limits, reason):
    store, reg, c = make(**limits)
    req = v1_request([({"__name__": "good"}, [(T0, 1.0)])])
    ts = req.timeseries.add()
    for n, v in labels:
        ts.labels.add(name=n, value=v)
    ts.samples.add(timestamp=T0, value=1)
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 400
    assert reason in r.text and "1 samples not stored" in r.text
    assert select(store, __name__="good").num_samples == 1
    assert metric(reg, "spyglass_receiver_samples_dropped_total", protocol="remote_write",
                  reason="invalid_labels") == 1
    # the verdict is cached by the label bytes, and repeated on the next request
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 400 and reason in r.text


def test_storage_rejects_become_400_with_reasons():
    class Rejecting:
        def append(self, batch):
            res = AppendResult(accepted=len(batch) - 1)
            res.reject(RejectReason.OUT_OF_ORDER, 1, "series up{}: out of order sample at 5")
            return res

    _, reg, c = make(Rejecting())
    req = v1_request([({"__name__": "up"}, [(5, 1.0)]), ({"__name__": "x"}, [(5, 1.0)])])
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 400
    assert "out_of_order: 1" in r.text and "out of order sample at 5" in r.text
    assert metric(reg, "spyglass_receiver_samples_dropped_total", protocol="remote_write", reason="out_of_order") == 1


@pytest.mark.parametrize("exc, retry_after", [(StorageFullError("disk full"), "30"), (OverloadedError("busy"), "5")])
def test_storage_back_pressure_is_retryable_503(exc, retry_after):
    class Failing:
        def append(self, batch):
            raise exc

    _, _, c = make(Failing())
    req = v1_request([({"__name__": "up"}, [(T0, 1.0)])])
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 503 and r.headers["Retry-After"] == retry_after
    assert "retry later" in r.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/json", "Content-Encoding": "snappy"},
        {"Content-Type": "application/x-protobuf;proto=io.prometheus.write.v3.Request", "Content-Encoding": "snappy"},
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        {"Content-Type": "application/x-protobuf", "Content-Encoding": "zstd"},
    ],
)
def test_unsupported_content_is_415(headers):
    _, reg, c = make()
    req = v1_request([({"__name__": "up"}, [(T0, 1.0)])])
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=headers)
    assert r.status_code == 415
    assert metric(reg, "spyglass_receiver_requests_refused_total", protocol="remote_write",
                  reason="unsupported_media_type") == 1


def test_explicit_v1_proto_parameter_and_missing_encoding_are_accepted():
    store, _, c = make()
    req = v1_request([({"__name__": "up"}, [(T0, 1.0)])])
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()),
               headers={"Content-Type": "application/x-protobuf; proto=prometheus.WriteRequest"})
    assert r.status_code == 204
    assert select(store, __name__="up").num_samples == 1


def test_body_over_limit_is_413_by_content_length_and_by_stream():
    _, _, c = make(max_body_bytes=1000)
    r = c.post("/api/v1/write", content=b"x" * 2000, headers=V1_HEADERS)
    assert r.status_code == 413 and "limit of 1000" in r.text

    def chunks():  # no Content-Length: the limit must hold while streaming
        for _ in range(10):
            yield b"y" * 500

    r = c.post("/api/v1/write", content=chunks(), headers=V1_HEADERS)
    assert r.status_code == 413


def test_snappy_bomb_is_refused_before_decompressing(monkeypatch):
    from collector.receivers import body

    # a real bomb: well under the body limit, inflating to 2 MiB of zeros
    real_bomb = snappy(b"\0" * (2 << 20))
    assert len(real_bomb) < 200_000
    called = []
    real = body._snappy_decompress
    monkeypatch.setattr(body, "_snappy_decompress", lambda data: called.append(len(data)) or real(data))
    _, reg, c = make(max_decoded_bytes=1 << 20)
    # a 7-byte body claiming 4 GiB - 1 of output
    bomb = bytes([0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x00, 0x00])
    r = c.post("/api/v1/write", content=bomb, headers=V1_HEADERS)
    assert r.status_code == 413 and "4294967295" in r.text
    r = c.post("/api/v1/write", content=real_bomb, headers=V1_HEADERS)
    assert r.status_code == 413 and "2097152" in r.text
    assert called == []  # refused on the declared length alone
    assert metric(reg, "spyglass_receiver_requests_refused_total", protocol="remote_write", reason="too_large") == 2
    # within the limit the same path decompresses
    ok = snappy(v1_request([({"__name__": "up"}, [(T0, 1.0)])]).SerializeToString())
    assert c.post("/api/v1/write", content=ok, headers=V1_HEADERS).status_code == 204
    assert called == [len(ok)]


def test_snappy_with_a_lying_preamble_is_400():
    _, _, c = make()
    good = snappy(v1_request([({"__name__": "up"}, [(T0, 1.0)])]).SerializeToString())
    lying = bytes([5]) + good[1:]  # claims 5 bytes, holds more
    assert c.post("/api/v1/write", content=lying, headers=V1_HEADERS).status_code == 400
    assert c.post("/api/v1/write", content=b"\x80\x80\x80\x80\x80\x80", headers=V1_HEADERS).status_code == 400


@pytest.mark.parametrize("payload", [b"\x0a\x05\x0a\x03", b"\xff\xff\xff", b"\x0a\xff\xff\xff\xff\x0f"])
def test_malformed_protobuf_is_400_and_server_keeps_serving(payload):
    _, _, c = make()
    for headers in (V1_HEADERS, V2_HEADERS):
        r = c.post("/api/v1/write", content=snappy(payload), headers=headers)
        assert r.status_code == 400 and "cannot decode" in r.text
    ok = snappy(v1_request([({"__name__": "up"}, [(T0, 1.0)])]).SerializeToString())
    assert c.post("/api/v1/write", content=ok, headers=V1_HEADERS).status_code == 204


def test_too_many_series_is_413():
    _, _, c = make(max_series_per_request=2)
    req = v1_request([({"__name__": f"m{i}"}, [(T0, 1.0)]) for i in range(3)])
    r = c.post("/api/v1/write", content=snappy(req.SerializeToString()), headers=V1_HEADERS)
    assert r.status_code == 413 and "3 series" in r.text


def test_requests_beyond_in_flight_limit_get_503_retry_after():
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def append(self, batch):
            entered.set()
            release.wait(10)
            return AppendResult(accepted=len(batch))

    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(remote_write.router(Slow(), IngestLimits(max_in_flight_requests=1, retry_after_seconds=7), reg))
    body = snappy(v1_request([({"__name__": "up"}, [(T0, 1.0)])]).SerializeToString())
    with serving(app) as url:
        first: list[httpx.Response] = []
        t = threading.Thread(target=lambda: first.append(httpx.post(url + "/api/v1/write", content=body, headers=V1_HEADERS, timeout=20)))
        t.start()
        assert entered.wait(10)
        r = httpx.post(url + "/api/v1/write", content=body, headers=V1_HEADERS, timeout=10)
        assert r.status_code == 503 and r.headers["Retry-After"] == "7"
        release.set()
        t.join(10)
        assert first[0].status_code == 204
        # once the first is done the gate admits again
        assert httpx.post(url + "/api/v1/write", content=body, headers=V1_HEADERS, timeout=10).status_code == 204
    assert metric(reg, "spyglass_receiver_requests_refused_total", protocol="remote_write", reason="overload") == 1


def test_label_cache_is_bounded_and_keeps_live_entries():
    from collector.receivers.labelcache import LabelCache

    a, b, c_, d = (Labels.from_dict({"__name__": n}) for n in "abcd")
    cache = LabelCache(2)
    cache.put("a", a)
    cache.put("b", b)
    cache.put("c", c_)  # young generation full: {a, b} becomes the old one
    assert cache.get("a") == a  # a hit in the old generation moves it to the young one
    cache.put("d", d)  # {c, a} becomes old, {b} is dropped
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c"), cache.get("d")) == (a, c_, d)
    assert len(cache) <= 4
    off = LabelCache(0)
    assert off.put("a", a) == a and off.get("a") is None


def test_decoded_batch_columns_are_numpy():
    from collector.receivers.remote_write import decode_v1

    req = v1_request([({"__name__": "a"}, [(T0, 1.0), (T0 + 1, 2.0)]), ({"__name__": "b"}, [(T0, 3.0)])])
    d = decode_v1(req.SerializeToString())
    b = d.batch
    assert b.timestamps.dtype == np.int64 and b.values.dtype == np.float64 and b.series_index.dtype == np.int64
    assert b.series_index.tolist() == [0, 0, 1]


def test_samples_with_unusual_encodings_fall_back_to_protobuf():
    from collector.receivers.remote_write import decode_v1

    req = v1_request([({"__name__": "a"}, [(T0, 1.5)]), ({"__name__": "b"}, [(T0, 0.0), (T0 + 1, 2.0)])])
    data = bytearray(req.SerializeToString())
    # append, inside the first series, a sample carrying an unknown field 7 and a
    # repeated timestamp (last one wins): legal protobuf no fast path expects
    odd = (bytes([0x09]) + struct.pack("<d", 4.0) + bytes([0x10, 0x05, 0x38, 0x01])
           + rw1.Sample(timestamp=T0 + 9).SerializeToString())
    extra = rw1.Sample.FromString(odd)
    assert (extra.timestamp, extra.value) == (T0 + 9, 4.0)
    ts_msg = rw1.TimeSeries()
    ts_msg.labels.add(name="__name__", value="c")
    ts_body = ts_msg.SerializeToString() + bytes([0x12, len(odd)]) + odd
    data += bytes([0x0A, len(ts_body)]) + ts_body
    d = decode_v1(bytes(data))
    got = sorted((str(d.batch.series[i]), t, v) for i, t, v in
                 zip(d.batch.series_index.tolist(), d.batch.timestamps.tolist(), d.batch.values.tolist()))
    assert got == [("a{}", T0, 1.5), ("b{}", T0, 0.0), ("b{}", T0 + 1, 2.0), ("c{}", extra.timestamp, 4.0)]
