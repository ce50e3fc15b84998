import json
import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from collector.api import jsonfmt
from collector.api.jsonfmt import (
    format_timestamp,
    format_timestamps,
    format_value,
    format_values,
    labels_json,
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


@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True),
            st.floats(min_value=1e-4, max_value=1e16),
            st.integers(-(2**53), 2**53).map(float),
            st.sampled_from([1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, -0.0, 0.0, 5e-324]),
        ),
        max_size=200,
    )
)
def test_array_formatting_matches_scalar_formatting_across_magnitudes(vals):
    arr = np.array(vals, dtype=np.float64)
    assert format_values(arr) == [format_value(v) for v in vals]
    assert format_values(arr[::2]) == [format_value(v) for v in vals[::2]]  # a strided view


@given(st.dictionaries(st.text(), st.text(), max_size=5), st.text(alphabet=st.characters(categories=["Cs"]), min_size=1))
def test_label_sets_are_the_json_module_s_compact_utf8_output(d, surrogate):
    labels = Labels.from_dict({k: v for k, v in d.items() if k and v})
    expect = json.dumps(labels.to_dict(), ensure_ascii=False, separators=(",", ":"))
    assert labels_json(labels) == expect
    odd = Labels.from_dict({"a": "x" + surrogate})  # orjson refuses lone surrogates
    assert json.loads(labels_json(odd)) == {"a": "x" + surrogate}


@given(st.lists(st.tuples(st.integers(-(2**52), 2**52), st.floats(allow_nan=True, allow_infinity=True)), max_size=20))
def test_vector_json_matches_per_sample_formatting(samples):
    objs = [_S(Labels.from_dict({"i": str(i)}), t=t, v=v) for i, (t, v) in enumerate(samples)]
    got = json.loads(vector_json(objs))
    assert [(g["metric"], g["value"]) for g in got] == [
        ({"i": str(i)}, [float(format_timestamp(t)) if "." in format_timestamp(t) else int(format_timestamp(t)), format_value(v)])
        for i, (t, v) in enumerate(samples)
    ]


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


@given(st.lists(st.integers(min_value=-(2**52), max_value=2**52), max_size=30), st.booleans())
def test_timestamp_arrays_format_like_single_timestamps(ms, whole_seconds):
    arr = np.array(ms, dtype=np.int64)
    if whole_seconds:
        arr = arr // 1000 * 1000
    assert format_timestamps(arr) == [format_timestamp(t) for t in arr.tolist()]


class _S:
    def __init__(self, labels, timestamps=None, values=None, t=None, v=None):
        self.labels, self.timestamps, self.values, self.t, self.v = labels, timestamps, values, t, v


def test_matrix_and_vector_json_shapes():
    ls = Labels.parse('up{job="a\\"b"}')
    m = json.loads(matrix_json([_S(ls, np.array([1000, 2500]), np.array([1.0, math.nan]))]))
    assert m == [{"metric": {"__name__": "up", "job": 'a"b'}, "values": [[1, "1"], [2.5, "NaN"]]}]
    v = json.loads(vector_json([_S(ls, t=1500, v=3.0)]))
    assert v == [{"metric": {"__name__": "up", "job": 'a"b'}, "value": [1.5, "3"]}]


@given(
    st.lists(
        st.lists(st.tuples(st.integers(-(2**45), 2**45), st.floats(allow_nan=True, allow_infinity=True)), max_size=12),
        max_size=6,
    ),
    st.booleans(),
)
def test_matrix_json_is_the_point_by_point_text(rows, shared_grid):
    """Byte for byte what formatting each point on its own gives, with series
    sharing one timestamp array (a range query's grid) or not."""
    grid = sorted({t for r in rows for t, _ in r})[:12]
    series = []
    for i, r in enumerate(rows):
        ts = np.array(grid[: len(r)] if shared_grid else sorted({t for t, _ in r}), np.int64)
        vs = np.array([v for _, v in r][: len(ts)], np.float64)
        series.append(_S(Labels.from_dict({"i": str(i), "s": 'q"\\n\u00e9'}), ts, vs))
    expect = "[" + ",".join(
        '{"metric":' + json.dumps(s.labels.to_dict(), ensure_ascii=False, separators=(",", ":"))
        + ',"values":['
        + ",".join(f'[{format_timestamp(t)},"{format_value(v)}"]' for t, v in zip(s.timestamps.tolist(), s.values.tolist()))
        + "]}"
        for s in series
    ) + "]"
    assert matrix_json(series) == expect
    orig = jsonfmt.FORMAT_BATCH
    jsonfmt.FORMAT_BATCH = 3  # values formatted a few series at a time
    try:
        assert matrix_json(series) == expect
    finally:
        jsonfmt.FORMAT_BATCH = orig
