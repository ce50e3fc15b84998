"""OpenTelemetry → Prometheus names (the specification's compatibility rules)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from collector.receivers.otlp.naming import (
    MetricKind,
    format_float,
    label_name,
    metric_name,
    prometheus_unit,
    sanitize_pairs,
)

K = MetricKind


@pytest.mark.parametrize(
    "name, unit, kind, expected",
    [
        ("http.server.request.duration", "s", K.HISTOGRAM, "http_server_request_duration_seconds"),
        ("system.memory.usage", "By", K.UPDOWN, "system_memory_usage_bytes"),
        ("http.requests", "{request}", K.COUNTER, "http_requests_total"),
        ("cpu.utilization", "1", K.GAUGE, "cpu_utilization_ratio"),
        ("errors", "1", K.COUNTER, "errors_total"),  # "1" is a ratio only for gauges
        ("net.io", "By/s", K.COUNTER, "net_io_bytes_per_second_total"),
        ("rate", "m/h", K.GAUGE, "rate_meters_per_hour"),
        ("jobs_total", "s", K.COUNTER, "jobs_seconds_total"),  # unit before _total, one _total
        ("latency_seconds", "s", K.GAUGE, "latency_seconds"),  # name already has the unit
        ("memory", "MiBy", K.GAUGE, "memory_mebibytes"),
        ("temp", "Cel", K.GAUGE, "temp_celsius"),
        ("load", "%", K.GAUGE, "load_percent"),
        ("odd..name__here", "ms", K.GAUGE, "odd_name_here_milliseconds"),
        ("2xx.responses", "", K.COUNTER, "_2xx_responses_total"),
        ("queue", "widgets", K.GAUGE, "queue_widgets"),  # unknown units are kept as words
        ("...", "s", K.GAUGE, ""),
    ],
)
def test_metric_names(name, unit, kind, expected):
    assert metric_name(name, unit, kind) == expected


def test_suffixes_can_be_turned_off():
    assert metric_name("http.server.duration", "ms", K.HISTOGRAM, add_suffixes=False) == "http_server_duration"
    assert metric_name("requests", "", K.COUNTER, add_suffixes=False) == "requests"


@pytest.mark.parametrize(
    "unit, kind, expected",
    [("ms", K.HISTOGRAM, "milliseconds"), ("By/s", K.GAUGE, "bytes_per_second"), ("{packet}", K.COUNTER, ""),
     ("1", K.GAUGE, "ratio"), ("1", K.COUNTER, ""), ("/s", K.GAUGE, "per_second")],
)
def test_metadata_units(unit, kind, expected):
    assert prometheus_unit(unit, kind) == expected


@pytest.mark.parametrize(
    "key, expected",
    [("http.status_code", "http_status_code"), ("0day", "key_0day"), ("a..b", "a_b"), ("k8s.pod.name", "k8s_pod_name"),
     ("_private", "_private"), ("ünï", "_n_"), ("", "")],
)
def test_label_names(key, expected):
    assert label_name(key) == expected


def test_colliding_attribute_keys_are_joined_in_key_order():
    raw = ("b.c", "2", "a", "x", "b_c", "1")
    assert sorted(sanitize_pairs(raw)) == [("a", "x"), ("b_c", "2;1")]


@pytest.mark.parametrize("v, s", [(0.005, "0.005"), (10.0, "10"), (1e-7, "0.0000001"), (float("inf"), "+Inf"),
                                  (float("-inf"), "-Inf"), (2.5e20, "250000000000000000000")])
def test_float_format(v, s):
    assert format_float(v) == s


@given(st.text(max_size=30), st.sampled_from(["", "s", "By", "1", "{x}", "By/s", "ms"]), st.sampled_from(list(K)))
def test_metric_names_are_always_legacy_valid(name, unit, kind):
    out = metric_name(name, unit, kind)
    assert out == "" or re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", out)
    assert "__" not in out


@given(st.text(max_size=30))
def test_label_names_are_always_legacy_valid(key):
    out = label_name(key)
    assert out == "" or re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]*", out)
