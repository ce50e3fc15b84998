"""Units, time ranges, intervals, variable queries and value display."""

import itertools
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dashboards.grafana.fields import FieldRef, display, field_config, map_value
from dashboards.grafana.parse import parse_dashboard
from dashboards.grafana.timerange import (
    TimeRange,
    TimeRangeError,
    calculate_interval,
    parse_time,
    rate_interval,
)
from dashboards.grafana.units import format_value
from dashboards.grafana.varquery import (
    VariableQuery,
    apply_regex,
    parse_variable_query,
    sort_options,
    split_custom,
)


@pytest.mark.parametrize("value,unit,decimals,text", [
    (1536, "bytes", None, "1.5 KiB"),
    (1536, "bytes", 2, "1.50 KiB"),
    (1_500_000, "decbytes", None, "1.5 MB"),
    (2_000_000, "bps", None, "2 Mb/s"),
    (1024 ** 3 * 3, "binBps", 1, "3.0 GiB/s"),
    (0.123, "percentunit", None, "12.3%"),
    (45.678, "percent", 1, "45.7%"),
    (90, "s", None, "1.5 min"),
    (7200, "s", None, "2 hour"),
    (0.25, "s", None, "250 ms"),
    (1500, "ms", None, "1.5 s"),
    (12_300, "short", None, "12.3 K"),
    (4_200_000, "short", None, "4.2 Mil"),
    (12, "reqps", None, "12 req/s"),
    (3.5, "ops", None, "3.5 ops/s"),
    (1, "bool_yes_no", None, "Yes"),
    (2_400_000_000, "hertz", None, "2.4 GHz"),
    (42, "celsius", None, "42°C"),
    (7, "read/s", None, "7 read/s"),
    (3, "suffix: pods", None, "3 pods"),
    (2500, "si:W", None, "2.5 kW"),
    (0.0, "bytes", None, "0 B"),
    (float("nan"), "short", None, "NaN"),
    (-1536, "bytes", None, "-1.5 KiB"),
])
def test_units(value, unit, decimals, text):
    assert format_value(value, unit, decimals) == text


@given(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(
    ["bytes", "short", "percent", "percentunit", "s", "ms", "bps", "none", "", "reqps", "x/y"]),
    st.one_of(st.none(), st.integers(0, 6)))
def test_units_never_fail(value, unit, decimals):
    assert isinstance(format_value(value, unit, decimals), str)


NOW = int(datetime(2024, 5, 15, 13, 45, 30, tzinfo=UTC).timestamp() * 1000)


def test_time_parsing():
    assert parse_time("now", now_ms=NOW) == NOW
    assert parse_time("now-6h", now_ms=NOW) == NOW - 6 * 3600_000
    assert parse_time("now-1h+30m", now_ms=NOW) == NOW - 1800_000
    day = int(datetime(2024, 5, 15, tzinfo=UTC).timestamp() * 1000)
    assert parse_time("now/d", now_ms=NOW) == day
    assert parse_time("now/d", now_ms=NOW, round_up=True) == day + 86400_000 - 1
    assert parse_time("now-1d/d", now_ms=NOW) == day - 86400_000
    assert parse_time("1715700000000", now_ms=NOW) == 1715700000000
    assert parse_time("2024-05-15 00:00:00", now_ms=NOW) == day
    with pytest.raises(TimeRangeError):
        parse_time("yesterday", now_ms=NOW)
    with pytest.raises(TimeRangeError):
        TimeRange.parse("now", "now-1h", now_ms=NOW)


def test_intervals():
    six_h = 6 * 3600_000
    assert calculate_interval(six_h, 1000) == 20_000  # 21.6 s → 20 s (nearest)
    assert calculate_interval(24 * 3600_000, 700) == 120_000  # 123 s → 2 m
    assert calculate_interval(six_h, 1000, 60_000) == 60_000
    assert calculate_interval(3600_000, 100_000) == 500  # never past 11,000 points (327 ms → 500)
    assert calculate_interval(30 * 86400_000, 1, 0) >= 30 * 86400_000
    assert calculate_interval(30 * 86400_000, 10_000_000) >= 30 * 86400_000 // 11_000
    assert rate_interval(30_000) == 60_000 and rate_interval(120_000) == 135_000


@given(st.integers(60_000, 90 * 86400_000), st.integers(10, 4000))
def test_interval_bounds_points(span, points):
    iv = calculate_interval(span, points)
    # rounding to the nearest readable interval (by ratio) gives at most sqrt(r) times
    # the requested points, r the widest gap between neighbours (1 d → 1 w: 7); never
    # over the limit
    from dashboards.grafana.timerange import NICE_INTERVALS_MS as nice
    worst = max(b / a for a, b in itertools.pairwise(nice) if b <= 30 * 86400_000) ** 0.5
    assert span / iv <= min(worst * points, 11_000)


def test_variable_queries():
    assert parse_variable_query('label_values(up{job="a", x=~"b,c"}, instance)') == \
        VariableQuery("label_values", 'up{job="a", x=~"b,c"}', "instance")
    assert parse_variable_query("label_values(job)") == VariableQuery("label_values", "", "job")
    assert parse_variable_query("label_names()") == VariableQuery("label_names", "")
    assert parse_variable_query("metrics(node_.*)") == VariableQuery("metrics", "node_.*")
    assert parse_variable_query("query_result(topk(3, up))") == VariableQuery("query_result", "topk(3, up)")
    assert parse_variable_query("up == 1").kind == "query_result"


def test_variable_regex_and_sort():
    vals = ['up{instance="a:9100"} 1 1', 'up{instance="b:9100"} 1 1', "other"]
    assert apply_regex(vals, '/instance="([^"]+)"/') == [("a:9100", "a:9100"), ("b:9100", "b:9100")]
    named = apply_regex(["k8s-node-1.example"], r"/(?<text>[^.]+)\.(?<value>.*)/")
    assert named == [("k8s-node-1", "example")]
    assert apply_regex(["A", "b", "a"], "/a/i") == [("A", "A"), ("a", "a")]
    opts = [("n10", "n10"), ("n9", "n9"), ("n100", "n100")]
    assert [o[0] for o in sort_options(opts, 3)] == ["n9", "n10", "n100"]
    assert [o[0] for o in sort_options(opts, 1)] == ["n10", "n100", "n9"]
    assert [o[0] for o in sort_options(opts, 8)] == ["n100", "n10", "n9"]
    assert split_custom("1s, 15s,a\\,b, prod : production") == [
        ("1s", "1s"), ("15s", "15s"), ("a,b", "a,b"), ("prod", "production")]


def _panel(defaults, overrides=()):
    return parse_dashboard({"title": "t", "panels": [{"id": 1, "type": "stat", "fieldConfig": {
        "defaults": defaults, "overrides": list(overrides)}}]}).panels[0]


def test_mappings_thresholds_and_overrides():
    p = _panel({
        "unit": "short",
        "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                      {"color": "red", "value": 80}]},
        "color": {"mode": "thresholds"},
        "mappings": [{"type": "value", "options": {"1": {"text": "UP", "color": "blue"}}},
                     {"type": "range", "options": {"from": 10, "to": 20, "result": {"text": "mid"}}},
                     {"type": "special", "options": {"match": "null", "result": {"text": "gone"}}},
                     {"type": "regex", "options": {"pattern": "^err", "result": {"text": "E"}}}],
    }, [{"matcher": {"id": "byRegexp", "options": "/lat.*/"},
         "properties": [{"id": "unit", "value": "ms"}, {"id": "decimals", "value": 0},
                        {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}}]},
        {"matcher": {"id": "byName", "options": "latency p99"},
         "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "purple"}}]}])
    fc = p.defaults
    assert display(fc, 1.0).text == "UP" and display(fc, 1.0).color == "#5794F2"
    assert display(fc, 15.0).text == "mid"
    assert display(fc, None).text == "gone"
    assert display(fc, 95.0).color == "#F2495C" and display(fc, 5.0).color == "#73BF69"
    assert display(fc, 95.0).text == "95"
    assert map_value(fc, "error: x").text == "E"
    lat = field_config(fc, p.overrides, FieldRef("latency p99"))
    assert lat.unit == "ms" and lat.decimals == 0 and lat.custom.line_dash == (10, 10)
    assert display(lat, 1500.0).text == "2 s"
    assert lat.color.mode == "fixed" and display(lat, 3.0).color == "#B877D9"
    other = field_config(fc, p.overrides, FieldRef("errors"))
    assert other.unit == "short"


def test_percentage_thresholds():
    p = _panel({"min": 0, "max": 200, "color": {"mode": "thresholds"},
                "thresholds": {"mode": "percentage", "steps": [{"color": "green", "value": None},
                                                               {"color": "red", "value": 50}]}})
    assert display(p.defaults, 120.0).color == "#F2495C"
    assert display(p.defaults, 80.0).color == "#73BF69"
    assert display(p.defaults, 80.0).percent == pytest.approx(0.4)
