"""The input_series expanding notation."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerting.ruletest.series import SeriesError, expand_values, parse_series
from storage.interface import is_stale_value
from storage.labels import Labels


@pytest.mark.parametrize(
    "text,want",
    [
        ("1 2 3", [1, 2, 3]),
        ("-2+4x3", [-2, 2, 6, 10]),
        ("1-2x4", [1, -1, -3, -5, -7]),
        ("1x4", [1, 1, 1, 1, 1]),
        ("1 _x3 stale", [1, None, None, None, "stale"]),
        ("0+0x2", [0, 0, 0]),
        ("_ 1e3 .5 -Inf", [None, 1000, 0.5, -math.inf]),
        ("0x2", [0, 0, 0]),  # not hexadecimal: 0 repeated
        ("1.5+0.5x2", [1.5, 2.0, 2.5]),
        ("", []),
    ],
)
def test_expansion(text, want):
    got = expand_values(text)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        if w == "stale":
            assert is_stale_value(g)
        else:
            assert g == w


def test_nan_value():
    (v,) = expand_values("NaN")
    assert math.isnan(v) and not is_stale_value(v)


@pytest.mark.parametrize("text", ["1+2", "x", "1 2 3y", "_+1x2", "stalex2", "{{schema:1 sum:3}}", "1++2x3"])
def test_bad_values(text):
    with pytest.raises(SeriesError):
        expand_values(text)


def test_series_notation():
    assert parse_series('up{job="a", instance="x"}') == Labels.from_dict({"__name__": "up", "job": "a", "instance": "x"})
    assert parse_series("test") == Labels.from_dict({"__name__": "test"})
    for bad in ('up{job="a"', "{}", "", 'up{job=~"a"}'):
        with pytest.raises(SeriesError):
            parse_series(bad)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789+-x_. stalenNfI{}e")), max_size=30))
def test_any_text_expands_or_raises_series_error(text):
    try:
        vals = expand_values(text)
    except SeriesError:
        return
    assert all(v is None or isinstance(v, float) for v in vals)
