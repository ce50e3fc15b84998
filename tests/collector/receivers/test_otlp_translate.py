"""OTLP → samples: the mapping of each metric type, resources, scopes, flags and deltas."""

from __future__ import annotations

import math

from opentelemetry.proto.metrics.v1 import metrics_pb2 as pb

from collector.receivers.otlp import OTLPOptions, Translator
from collector.receivers.otlp.delta import DELTA_OUT_OF_ORDER, DELTA_STREAM_LIMIT, DeltaAccumulator
from storage.interface import MetricMetadata, MetricType, is_stale
from storage.labels import LabelLimits
from tests.collector.receivers.otlphelpers import (
    DELTA,
    T0_MS,
    T0_NS,
    gauge,
    histogram,
    request,
    sum_,
)

S = 1_000_000_000  # one second in ns


def samples(t):
    b = t.batch
    return sorted(
        (str(b.series[i]), ts, v)
        for i, ts, v in zip(b.series_index.tolist(), b.timestamps.tolist(), b.values.tolist())
    )


def by_series(t):
    out: dict[str, list[float]] = {}
    for s, _, v in samples(t):
        out.setdefault(s, []).append(v)
    return out


def test_gauge_with_resource_and_scope_labels():
    t = Translator().translate(request(
        [gauge("process.cpu.utilization", [({"cpu": 0}, T0_NS, 0.5)], unit="1", description="CPU")],
        resource={"service.name": "api", "service.namespace": "shop", "service.instance.id": "pod-1"},
    ))
    assert samples(t) == [(
        (
            'process_cpu_utilization_ratio{cpu="0", instance="pod-1", job="shop/api", '
            'otel_scope_name="lib", otel_scope_version="1.0"}'
        ),
        T0_MS,
        0.5,
    )]
    assert t.batch.metadata == {"process_cpu_utilization_ratio": MetricMetadata(MetricType.GAUGE, "CPU", "ratio")}
    assert t.points == 1 and t.rejected_points == 0


def test_job_without_namespace_and_attribute_types():
    t = Translator(OTLPOptions(scope_labels=False)).translate(request(
        [gauge("g", [({"ok": True, "n": 42, "f": 1.5, "s": "x"}, T0_NS, 1.0)])],
        resource={"service.name": "api"},
    ))
    assert samples(t) == [('g{f="1.5", job="api", n="42", ok="true", s="x"}', T0_MS, 1.0)]


def test_cumulative_monotonic_sum_is_a_counter_and_non_monotonic_a_gauge():
    t = Translator().translate(request([
        sum_("http.requests", [({"code": "200"}, T0_NS, 7)], ints=True),
        sum_("queue.depth", [({}, T0_NS, -2.0)], monotonic=False, unit="{item}"),
    ], scope=("", "")))
    assert samples(t) == [
        ('http_requests_total{code="200", instance="i1", job="svc"}', T0_MS, 7.0),
        ('queue_depth{instance="i1", job="svc"}', T0_MS, -2.0),
    ]
    assert t.batch.metadata["http_requests_total"].type == MetricType.COUNTER
    assert t.batch.metadata["queue_depth"].type == MetricType.GAUGE


def test_histogram_buckets_are_cumulative_with_inf_sum_and_count():
    t = Translator(OTLPOptions(scope_labels=False)).translate(request([
        histogram("rpc.duration", [({"m": "get"}, T0_NS, [0.005, 0.1, 1.0], [1, 2, 0, 4], 9.25)], unit="s"),
    ], resource={"service.name": "s"}))
    got = by_series(t)
    assert got == {
        'rpc_duration_seconds_bucket{job="s", le="0.005", m="get"}': [1.0],
        'rpc_duration_seconds_bucket{job="s", le="0.1", m="get"}': [3.0],
        'rpc_duration_seconds_bucket{job="s", le="1", m="get"}': [3.0],
        'rpc_duration_seconds_bucket{job="s", le="+Inf", m="get"}': [7.0],
        'rpc_duration_seconds_sum{job="s", m="get"}': [9.25],
        'rpc_duration_seconds_count{job="s", m="get"}': [7.0],
    }
    assert t.batch.metadata["rpc_duration_seconds"] == MetricMetadata(MetricType.HISTOGRAM, "", "seconds")


def test_histogram_without_sum_or_buckets():
    t = Translator(OTLPOptions(scope_labels=False)).translate(request([
        histogram("h", [({}, T0_NS, [], [5], None)]),
    ], resource={}))
    assert by_series(t) == {'h_bucket{le="+Inf"}': [5.0], "h_count{}": [5.0]}


def test_invalid_histogram_point_is_rejected_others_kept():
    t = Translator(OTLPOptions(scope_labels=False)).translate(request([
        histogram("h", [({"a": "bad"}, T0_NS, [1.0, 2.0], [1, 1], 1.0), ({"a": "ok"}, T0_NS, [1.0], [1, 1], 1.0)]),
    ], resource={}))
    assert t.rejected_points == 1 and t.dropped == {"invalid_histogram": 1}
    assert 'h_count{a="ok"}' in by_series(t)


def test_summary_quantiles_sum_and_count():
    m = pb.Metric(name="latency", unit="ms")
    p = m.summary.data_points.add(time_unix_nano=T0_NS, count=10, sum=55.5)
    for q, v in [(0.99, 9.0), (0.5, 5.0)]:
        p.quantile_values.add(quantile=q, value=v)
    t = Translator(OTLPOptions(scope_labels=False)).translate(request([m], resource={}))
    assert samples(t) == [
        ("latency_milliseconds_count{}", T0_MS, 10.0),
        ("latency_milliseconds_sum{}", T0_MS, 55.5),
        ('latency_milliseconds{quantile="0.5"}', T0_MS, 5.0),
        ('latency_milliseconds{quantile="0.99"}', T0_MS, 9.0),
    ]
    assert t.batch.metadata["latency_milliseconds"].type == MetricType.SUMMARY


def test_exponential_histograms_are_rejected_with_a_message():
    m = pb.Metric(name="exp")
    m.exponential_histogram.aggregation_temporality = pb.AGGREGATION_TEMPORALITY_CUMULATIVE
    m.exponential_histogram.data_points.add(time_unix_nano=T0_NS, count=3, scale=2)
    m.exponential_histogram.data_points.add(time_unix_nano=T0_NS, count=3, scale=2)
    t = Translator().translate(request([m, gauge("g", [({}, T0_NS, 1.0)])]))
    assert t.points == 3 and t.rejected_points == 2
    assert t.dropped == {"exponential_histogram": 2}
    assert "explicit bucket" in t.errors[0]
    assert len(t.batch) == 1


def test_no_recorded_value_flag_becomes_stale_marker():
    m = gauge("g", [({}, T0_NS, 1.0)])
    m.gauge.data_points[0].flags = pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
    h = histogram("h", [({}, T0_NS, [1.0], [1, 1], 2.0)])
    h.histogram.data_points[0].flags = pb.DATA_POINT_FLAGS_NO_RECORDED_VALUE_MASK
    t = Translator().translate(request([m, h]))
    assert len(t.batch) == 5 and is_stale(t.batch.values).all()


def test_unspecified_temporality_is_rejected():
    t = Translator().translate(request([sum_("s", [({}, T0_NS, 1.0)], temporality=0)]))
    assert t.rejected_points == 1 and t.dropped == {"invalid_temporality": 1} and len(t.batch) == 0


def test_target_info_and_scope_info():
    t = Translator().translate(request(
        [gauge("g", [({}, T0_NS, 1.0)]), gauge("g2", [({}, T0_NS + 5 * S, 1.0)])],
        resource={"service.name": "api", "service.instance.id": "i", "host.name": "h", "k8s.pod.name": "p"},
        scope=("io.lib", "2.0"), scope_attrs={"lib.flavor": "x"},
    ))
    got = {s: (ts, v) for s, ts, v in samples(t)}
    assert got['target_info{host_name="h", instance="i", job="api", k8s_pod_name="p"}'] == (T0_MS + 5000, 1.0)
    assert got['otel_scope_info{instance="i", job="api", lib_flavor="x", otel_scope_name="io.lib", '
               'otel_scope_version="2.0"}'] == (T0_MS + 5000, 1.0)
    # resource attributes are not copied to series unless promoted
    assert 'g{instance="i", job="api", otel_scope_name="io.lib", otel_scope_version="2.0"}' in got


def test_no_target_info_for_a_resource_with_only_service_attributes():
    t = Translator().translate(request([gauge("g", [({}, T0_NS, 1.0)])]))
    assert not any(s.startswith("target_info") for s, _, _ in samples(t))


def test_promoted_resource_attributes_yield_to_point_attributes():
    t = Translator(OTLPOptions(promote_resource_attributes=["k8s.namespace.name", "team"], scope_labels=False)).translate(
        request([gauge("g", [({"team": "point"}, T0_NS, 1.0)])],
                resource={"service.name": "s", "k8s.namespace.name": "prod", "team": "res"}))
    assert 'g{job="s", k8s_namespace_name="prod", team="point"}' in by_series(t)


def test_resource_job_wins_over_a_point_attribute():
    t = Translator(OTLPOptions(scope_labels=False)).translate(
        request([gauge("g", [({"job": "fake"}, T0_NS, 1.0)])], resource={"service.name": "real"}))
    assert list(by_series(t)) == ['g{job="real"}']


def test_label_limits_reject_points():
    t = Translator(label_limits=LabelLimits(max_labels=3)).translate(
        request([gauge("g", [({"a": "1", "b": "2"}, T0_NS, 1.0), ({}, T0_NS, 2.0)])], scope=("", "")))
    assert t.rejected_points == 1 and t.dropped == {"invalid_labels": 1}
    assert len(t.batch) == 1


def test_zero_timestamp_uses_receive_time():
    t = Translator(clock_ns=lambda: 42 * S).translate(request([gauge("g", [({}, 0, 1.0)])]))
    assert t.batch.timestamps.tolist() == [42_000]


def test_delta_sums_accumulate_per_stream():
    tr = Translator(OTLPOptions(scope_labels=False))
    out = []
    for k, (start, end, v) in enumerate([(0, 10, 5.0), (10, 20, 3.0), (30, 40, 2.0), (35, 45, 100.0)]):
        t = tr.translate(request([sum_("c", [({"k": "a"}, T0_NS + end * S, v), ({"k": "b"}, T0_NS + end * S, 1.0)],
                                            temporality=DELTA, start=T0_NS + start * S)], resource={}))
        out.append(t)
    assert [by_series(t).get('c_total{k="a"}') for t in out] == [[5.0], [8.0], [10.0], None]
    assert [by_series(t).get('c_total{k="b"}') for t in out] == [[1.0], [2.0], [3.0], None]
    # the overlapping last interval (35..45 after 40) is refused, and said so
    assert out[3].rejected_points == 2 and out[3].dropped == {DELTA_OUT_OF_ORDER: 2}


def test_delta_histograms_accumulate_and_restart_on_new_bounds():
    tr = Translator(OTLPOptions(scope_labels=False))

    def send(t0, t1, bounds, counts, total):
        return by_series(tr.translate(request(
            [histogram("h", [({}, T0_NS + t1 * S, bounds, counts, total)], temporality=DELTA, start=T0_NS + t0 * S)],
            resource={})))

    send(0, 10, [1.0], [1, 2], 5.0)
    got = send(10, 20, [1.0], [3, 0], 1.0)
    assert got == {'h_bucket{le="1"}': [4.0], 'h_bucket{le="+Inf"}': [6.0], "h_count{}": [6.0], "h_sum{}": [6.0]}
    got = send(20, 30, [2.0], [1, 0], 1.0)  # new layout: the stream starts over
    assert got == {'h_bucket{le="2"}': [1.0], 'h_bucket{le="+Inf"}': [1.0], "h_count{}": [1.0], "h_sum{}": [1.0]}


def test_delta_accumulator_limits_and_forgets_idle_streams():
    now = [0.0]
    acc = DeltaAccumulator(max_streams=2, stale_after_s=60, clock=lambda: now[0])
    assert acc.add_sum("a", 0, 10, 1.0) == 1.0
    assert acc.add_sum("b", 0, 10, 1.0) == 1.0
    assert acc.add_sum("c", 0, 10, 1.0) == DELTA_STREAM_LIMIT
    now[0] = 30.0
    assert acc.add_sum("a", 10, 20, 1.0) == 2.0
    now[0] = 80.0  # b idle for 80 s > 60 s; a for 50 s
    assert acc.add_sum("c", 0, 10, 4.0) == 4.0
    assert len(acc) == 2
    assert acc.add_sum("b", 10, 20, 1.0) == DELTA_STREAM_LIMIT  # b was forgotten, no room for it
    assert acc.add_sum("a", 15, 30, 1.0) == DELTA_OUT_OF_ORDER  # overlaps (15 < 20)
    assert acc.add_sum("a", 20, 20, 1.0) == DELTA_OUT_OF_ORDER  # not after the last point


def test_nan_values_pass_through():
    t = Translator().translate(request([gauge("g", [({}, T0_NS, math.nan)])]))
    v = t.batch.values[0]
    assert math.isnan(v) and not is_stale(t.batch.values)[0]
