"""OTLP (real OpenTelemetry SDK exporters, gRPC and HTTP) and InfluxDB line protocol
into a real `spyglass up`, read back through the Prometheus API."""

from __future__ import annotations

import time

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (
    OTLPMetricExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
    OTLPMetricExporter as HttpExporter,
)
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

from tests.e2e.server import SpyglassProcess, wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def spy(tmp_path_factory):
    s = SpyglassProcess(tmp_path_factory.mktemp("ingest") / "data", otlp=True,
                        extra_args=["--no-host-metrics"]).start()
    yield s
    s.stop()


def _query(spy, expr):
    r = httpx.get(spy.url + "/api/v1/query", params={"query": expr}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["data"]["result"]


@pytest.mark.parametrize("transport", ["grpc", "http", "http-on-main-port"])
def test_otel_sdk_exporters(spy, transport):
    if transport == "grpc":
        exporter = GrpcExporter(endpoint=f"127.0.0.1:{spy.otlp_grpc_port}", insecure=True)
    elif transport == "http":
        exporter = HttpExporter(endpoint=f"http://127.0.0.1:{spy.otlp_http_port}/v1/metrics")
    else:
        exporter = HttpExporter(endpoint=f"{spy.url}/api/v1/otlp/v1/metrics")
    svc = f"checkout-{transport}"
    provider = MeterProvider(
        resource=Resource.create({"service.name": svc, "service.instance.id": "pod-1", "k8s.namespace.name": "shop"}),
        metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)],
    )
    meter = provider.get_meter("test")
    counter = meter.create_counter("orders", unit="1", description="orders placed")
    hist = meter.create_histogram("latency", unit="s")
    counter.add(5, {"region": "eu"})
    hist.record(0.3)
    provider.force_flush()
    provider.shutdown()

    res = wait_until(lambda: _query(spy, f'orders_total{{job="{svc}"}}'), timeout=20, what="orders_total")
    assert res[0]["metric"]["instance"] == "pod-1" and res[0]["metric"]["region"] == "eu"
    assert res[0]["value"][1] == "5"
    buckets = _query(spy, f'latency_seconds_bucket{{job="{svc}"}}')
    by_le = {b["metric"]["le"]: b["value"][1] for b in buckets}  # the SDK's default boundaries
    assert by_le["0"] == "0" and by_le["5"] == "1" and by_le["+Inf"] == "1"
    info = _query(spy, f'target_info{{job="{svc}"}}')
    assert info and info[0]["metric"]["k8s_namespace_name"] == "shop"


def test_influx_line_protocol(spy):
    now_ns = time.time_ns()
    body = f"cpu,host=web1 usage_idle=91.5,usage_user=3i {now_ns}\nmem,host=web1 value=42 {now_ns}\n"
    r = httpx.post(spy.url + "/api/v2/write", params={"bucket": "telegraf", "precision": "ns"}, content=body)
    assert r.status_code == 204, r.text
    r = httpx.post(spy.url + "/write", params={"db": "x"}, content="bad line without fields\n")
    assert r.status_code == 400 and "line 1" in r.text
    res = _query(spy, 'cpu_usage_idle{host="web1"}')
    assert res and res[0]["value"][1] == "91.5"
    assert _query(spy, 'mem{host="web1"}')[0]["value"][1] == "42"
