"""The real OpenTelemetry SDK exporters (gRPC and HTTP) against our OTLP receiver,
and the gRPC server's error paths."""

from __future__ import annotations

import threading

import grpc
import httpx
import pytest
from fastapi import FastAPI
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpExporter,
)
from opentelemetry.metrics import Observation
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, otlp
from storage.interface import AppendResult, MetricType, StorageFullError
from storage.labels import Matcher
from storage.memstore import MemoryStorage
from tests.collector.receivers.otlphelpers import DELTA, T0_NS, gauge, request, sum_
from tests.collector.receivers.server import serving

RESOURCE = {"service.name": "checkout", "service.namespace": "shop", "service.instance.id": "pod-7",
            "deployment.environment": "test"}


def series(store, name):
    ss = store.querier(0, 2**62).select([Matcher("=", "__name__", name)])
    return {tuple(sorted(lab.to_dict().items())): ss.series(i)[1].tolist() for i, lab in enumerate(ss.labels)}


def _instrument(exporter, temporality=None, views=()):
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    provider = MeterProvider(metric_readers=[reader], resource=Resource.create(RESOURCE), views=list(views))
    return provider, provider.get_meter("shop.checkout", "0.3.1")


def _exercise(provider, meter):
    orders = meter.create_counter("orders", unit="{order}", description="Orders placed")
    latency = meter.create_histogram("checkout.duration", unit="s", description="Checkout latency")
    meter.create_observable_gauge("cart.fill", callbacks=[lambda _o: [Observation(0.25, {"cart": "a"})]], unit="1")
    orders.add(3, {"payment": "card"})
    orders.add(2, {"payment": "card"})
    latency.record(0.2, {"step": "pay"})
    latency.record(30.0, {"step": "pay"})
    provider.force_flush()


def _check(store):
    base = {"job": "shop/checkout", "instance": "pod-7", "otel_scope_name": "shop.checkout",
            "otel_scope_version": "0.3.1"}
    key = tuple(sorted({**base, "__name__": "orders_total", "payment": "card"}.items()))
    assert series(store, "orders_total")[key][-1] == 5.0
    assert store.metadata("orders_total")["orders_total"][0].type == MetricType.COUNTER
    assert store.metadata("orders_total")["orders_total"][0].help == "Orders placed"
    buckets = series(store, "checkout_duration_seconds_bucket")
    by_le = {dict(k)["le"]: v[-1] for k, v in buckets.items()}
    assert (by_le["0"], by_le["5"], by_le["25"], by_le["50"], by_le["+Inf"]) == (0.0, 1.0, 1.0, 2.0, 2.0)
    (count,) = series(store, "checkout_duration_seconds_count").values()
    (total,) = series(store, "checkout_duration_seconds_sum").values()
    assert count[-1] == 2.0 and total[-1] == pytest.approx(30.2)
    (fill,) = series(store, "cart_fill_ratio").items()
    assert dict(fill[0])["cart"] == "a" and fill[1][-1] == 0.25
    ((tkey, tval),) = series(store, "target_info").items()
    t = dict(tkey)
    assert t["job"] == "shop/checkout" and t["instance"] == "pod-7" and t["deployment_environment"] == "test"
    assert t["telemetry_sdk_language"] == "python" and "service_name" not in t and tval[-1] == 1.0


def test_sdk_grpc_exporter():
    store = MemoryStorage()
    rx = otlp.OTLPReceiver(store, IngestLimits(), CollectorRegistry())
    server = rx.grpc_server()
    port = server.start("127.0.0.1:0")
    try:
        provider, meter = _instrument(GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10))
        _exercise(provider, meter)
        provider.shutdown()
    finally:
        server.shutdown()
    _check(store)
    assert rx.metrics.requests.labels("otlp_grpc", "OK")._value.get() >= 1


def test_sdk_http_exporter_with_gzip_on_both_paths():
    for prefix in ("", "/api/v1/otlp"):
        store = MemoryStorage()
        app = FastAPI()
        app.include_router(otlp.http_router(store, IngestLimits(), CollectorRegistry(), prefix=prefix))
        with serving(app) as url:
            exporter = HttpExporter(endpoint=f"{url}{prefix}/v1/metrics", compression=Compression.Gzip, timeout=10)
            provider, meter = _instrument(exporter)
            _exercise(provider, meter)
            provider.shutdown()
        _check(store)


def test_sdk_delta_temporality_is_accumulated_to_cumulative():
    store = MemoryStorage()
    app = FastAPI()
    app.include_router(otlp.http_router(store, IngestLimits(), CollectorRegistry()))
    delta = {Counter: AggregationTemporality.DELTA, Histogram: AggregationTemporality.DELTA}
    with serving(app) as url:
        provider, meter = _instrument(HttpExporter(endpoint=f"{url}/v1/metrics", preferred_temporality=delta, timeout=10))
        c = meter.create_counter("jobs")
        h = meter.create_histogram("size", unit="By")
        c.add(4)
        h.record(10)
        provider.force_flush()
        c.add(6)
        h.record(20)
        provider.force_flush()
        provider.shutdown()
    (vals,) = series(store, "jobs_total").values()
    assert vals == [4.0, 10.0]
    (counts,) = series(store, "size_bytes_count").values()
    assert counts == [1.0, 2.0]
    (sums,) = series(store, "size_bytes_sum").values()
    assert sums == [10.0, 30.0]


def test_delta_state_is_shared_between_grpc_and_http():
    store = MemoryStorage()
    rx = otlp.OTLPReceiver(store, IngestLimits(), CollectorRegistry())
    app = FastAPI()
    app.include_router(rx.http_router())
    server = rx.grpc_server()
    port = server.start("127.0.0.1:0")
    channel, stub = _stub(port)
    s = 1_000_000_000
    try:
        stub.Export(request([sum_("d", [({}, T0_NS + 10 * s, 2.0)], temporality=DELTA, start=T0_NS)]), timeout=10)
        with serving(app) as url:
            body = request([sum_("d", [({}, T0_NS + 20 * s, 5.0)], temporality=DELTA, start=T0_NS + 10 * s)])
            r = httpx.post(url + "/v1/metrics", content=body.SerializeToString(),
                           headers={"Content-Type": "application/x-protobuf"}, timeout=10)
            assert r.status_code == 200
    finally:
        channel.close()
        server.shutdown()
    (vals,) = series(store, "d_total").values()
    assert vals == [2.0, 7.0]


def test_sdk_exponential_histograms_get_partial_success():
    store = MemoryStorage()
    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(otlp.http_router(store, IngestLimits(), reg))
    with serving(app) as url:
        provider, meter = _instrument(
            HttpExporter(endpoint=f"{url}/v1/metrics", timeout=10),
            views=[View(instrument_type=Histogram, aggregation=ExponentialBucketHistogramAggregation())],
        )
        meter.create_histogram("lat", unit="s").record(1.5)
        meter.create_counter("ok").add(1)
        provider.force_flush()
        provider.shutdown()
    assert series(store, "ok_total")
    assert not store.querier(0, 2**62).label_values("__name__", [Matcher("=~", "__name__", "lat.*")])
    assert reg.get_sample_value("spyglass_receiver_samples_dropped_total",
                                {"protocol": "otlp_http", "reason": "exponential_histogram"}) >= 1


def _stub(port):
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    return channel, metrics_service_pb2_grpc.MetricsServiceStub(channel)


def _retry_seconds(err: grpc.RpcError) -> int:
    for k, v in err.trailing_metadata() or ():
        if k == "grpc-status-details-bin":
            st = status_pb2.Status.FromString(v)
            for d in st.details:
                info = error_details_pb2.RetryInfo()
                if d.Unpack(info):
                    return info.retry_delay.seconds
    return -1


def test_grpc_overload_is_unavailable_with_retry_info():
    entered, release = threading.Event(), threading.Event()

    class Slow:
        def append(self, batch):
            entered.set()
            release.wait(10)
            return AppendResult(accepted=len(batch))

    rx = otlp.OTLPReceiver(Slow(), IngestLimits(max_in_flight_requests=1, retry_after_seconds=4), CollectorRegistry())
    server = rx.grpc_server()
    port = server.start("127.0.0.1:0")
    channel, stub = _stub(port)
    try:
        req = request([gauge("g", [({}, T0_NS, 1.0)])])
        fut = stub.Export.future(req, timeout=20)
        assert entered.wait(10)
        with pytest.raises(grpc.RpcError) as ei:
            stub.Export(req, timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE
        assert _retry_seconds(ei.value) == 4
        release.set()
        assert not fut.result().HasField("partial_success")
    finally:
        release.set()
        channel.close()
        server.shutdown()


def test_grpc_storage_full_is_unavailable_and_oversize_is_refused():
    class Full:
        def append(self, batch):
            raise StorageFullError("disk")

    rx = otlp.OTLPReceiver(Full(), IngestLimits(max_decoded_bytes=2000), CollectorRegistry())
    server = rx.grpc_server()
    port = server.start("127.0.0.1:0")
    channel, stub = _stub(port)
    try:
        with pytest.raises(grpc.RpcError) as ei:
            stub.Export(request([gauge("g", [({}, T0_NS, 1.0)])]), timeout=10)
        assert ei.value.code() == grpc.StatusCode.UNAVAILABLE and _retry_seconds(ei.value) == 30
        big = request([gauge("g", [({"k": str(i)}, T0_NS, 1.0) for i in range(200)])])
        with pytest.raises(grpc.RpcError) as ei:
            stub.Export(big, timeout=10)
        assert ei.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()
        server.shutdown()


def test_grpc_partial_success():
    store = MemoryStorage()
    rx = otlp.OTLPReceiver(store, IngestLimits(max_labels_per_series=5), CollectorRegistry())
    server = rx.grpc_server()
    port = server.start("127.0.0.1:0")
    channel, stub = _stub(port)
    try:
        resp = stub.Export(request([gauge("g", [({"a": "1"}, T0_NS, 1.0), ({}, T0_NS, 2.0)])]), timeout=10)
        assert resp.partial_success.rejected_data_points == 1
        assert "more than the limit of 5" in resp.partial_success.error_message
    finally:
        channel.close()
        server.shutdown()
