import json
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from collector.api.jsonfmt import (
    format_timestamp,
    format_timestamps,
    format_value,
    format_values,
    matrix_json,
    vector_json,
)
from storage.labels import Labels


def _go_parse(s: str) -> float:
    return {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}.get(s) if s in ("NaN", "+Inf", "-Inf") else float(s)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_format_value_round_trips_and_follows_go_exponent_rule(v):
    s = format_value(v)
    back = _go_parse(s)
    if math.isnan(v):
        assert s == "NaN"
        return
    assert back == v
    a = abs(v)
    if math.isinf(v):
        assert s in ("+Inf", "-Inf")
    elif a != 0 and (a < 1e-6 or a >= 1e21):
        assert "e" in s  # Go's 'e' format
        exp = s.split("e")[1]
        assert exp[0] in "+-" and len(exp) >= 3
    else:
        assert "e" not in s
        assert not s.endswith(".0")


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50))
def test_vector_formatting_matches_scalar_formatting(vals):
    arr = np.array(vals, dtype=np.float64)
    assert format_values(arr) == [format_value(v) for v in vals]


def test_known_values():
    assert [format_value(v) for v in (1.0, 0.1, 1e-7, 1e-5, 1e21, 1e20, -0.0, 2.5)] == [
        "1", "0.1", "1e-07", "0.00001", "1e+21", "100000000000000000000", "-0", "2.5"
    ]


@given(st.integers(min_value=-(2**52), max_value=2**52))
def test_timestamps_are_seconds_with_ms(ms):
    s = format_timestamp(ms)
    assert round(float(s) * 1000) == ms
    assert format_timestamps(np.array([ms], dtype=np.int64)) == [s] or float(
        format_timestamps(np.array([ms], dtype=np.int64))[0]
    ) == float(s)


class _S:
    def __init__(self, labels, timestamps=None, values=None, t=None, v=None):
        self.labels, self.timestamps, self.values, self.t, self.v = labels, timestamps, values, t, v


def test_matrix_and_vector_json_shapes():
    ls = Labels.parse('up{job="a\\"b"}')
    m = json.loads(matrix_json([_S(ls, np.array([1000, 2500]), np.array([1.0, math.nan]))]))
    assert m == [{"metric": {"__name__": "up", "job": 'a"b'}, "values": [[1, "1"], [2.5, "NaN"]]}]
    v = json.loads(vector_json([_S(ls, t=1500, v=3.0)]))
    assert v == [{"metric": {"__name__": "up", "job": 'a"b'}, "value": [1.5, "3"]}]
