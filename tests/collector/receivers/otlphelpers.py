"""Building OTLP export requests by hand for tests."""

from __future__ import annotations

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

T0_NS = 1_700_000_000_000_000_000
T0_MS = T0_NS // 1_000_000
CUMULATIVE = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
DELTA = pb.AGGREGATION_TEMPORALITY_DELTA


def kv(key: str, value) -> KeyValue:
    if isinstance(value, bool):
        v = AnyValue(bool_value=value)
    elif isinstance(value, int):
        v = AnyValue(int_value=value)
    elif isinstance(value, float):
        v = AnyValue(double_value=value)
    else:
        v = AnyValue(string_value=value)
    return KeyValue(key=key, value=v)


def attrs(d: dict | None) -> list[KeyValue]:
    return [kv(k, v) for k, v in (d or {}).items()]


def request(metrics: list[pb.Metric], resource: dict | None = None, scope=("lib", "1.0"),
            scope_attrs: dict | None = None) -> ExportMetricsServiceRequest:
    req = ExportMetricsServiceRequest()
    rm = req.resource_metrics.add()
    rm.resource.attributes.extend(attrs({"service.name": "svc", "service.instance.id": "i1"} if resource is None else resource))
    sm = rm.scope_metrics.add()
    sm.scope.name, sm.scope.version = scope
    sm.scope.attributes.extend(attrs(scope_attrs))
    sm.metrics.extend(metrics)
    return req


def gauge(name: str, points: list[tuple[dict, int, float]], unit: str = "", description: str = "") -> pb.Metric:
    m = pb.Metric(name=name, unit=unit, description=description)
    for a, t, v in points:
        p = m.gauge.data_points.add(time_unix_nano=t, as_double=v)
        p.attributes.extend(attrs(a))
    return m


def sum_(name: str, points: list[tuple[dict, int, float]], *, monotonic=True, temporality=CUMULATIVE,
         unit: str = "", start: int = 0, ints=False) -> pb.Metric:
    m = pb.Metric(name=name, unit=unit)
    m.sum.is_monotonic = monotonic
    m.sum.aggregation_temporality = temporality
    for a, t, v in points:
        p = m.sum.data_points.add(time_unix_nano=t, start_time_unix_nano=start)
        if ints:
            p.as_int = int(v)
        else:
            p.as_double = v
        p.attributes.extend(attrs(a))
    return m


def histogram(name: str, points: list[tuple[dict, int, list[float], list[int], float | None]], *,
              temporality=CUMULATIVE, unit: str = "", start: int = 0) -> pb.Metric:
    m = pb.Metric(name=name, unit=unit)
    m.histogram.aggregation_temporality = temporality
    for a, t, bounds, counts, total in points:
        p = m.histogram.data_points.add(time_unix_nano=t, start_time_unix_nano=start, count=sum(counts))
        p.explicit_bounds.extend(bounds)
        p.bucket_counts.extend(counts)
        if total is not None:
            p.sum = total
        p.attributes.extend(attrs(a))
    return m
