"""Compression and CSR helpers: exact round trips, including the awkward floats."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import STALE_NAN, STALE_NAN_BITS
from storage.tsdb import codec
from storage.tsdb.codec import CorruptChunkError, ranges_index, sort_dedup_rows

SPECIAL_FLOATS = [float("nan"), STALE_NAN, float("inf"), float("-inf"), -0.0, 0.0, 5e-324, 1.7976931348623157e308]
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL_FLOATS))
int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


def bits(a):
    return np.asarray(a, np.float64).view(np.uint64)


@settings(max_examples=200, deadline=None)
@given(st.lists(floats, max_size=300))
def test_float_column_round_trip_is_bit_exact(values):
    a = np.array(values, np.float64)
    out = codec.decode(codec.encode(a), np.float64, len(a))
    assert (bits(out) == bits(a)).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(int64s, max_size=300))
def test_int_column_round_trip(values):
    a = np.array(values, np.int64)
    assert (codec.decode(codec.encode(a), np.int64, len(a)) == a).all()


def test_stale_nan_keeps_its_bits():
    a = np.array([1.0, STALE_NAN, float("nan")])
    out = codec.decode(codec.encode(a), np.float64, 3)
    assert out.view(np.uint64)[1] == STALE_NAN_BITS
    assert out.view(np.uint64)[2] != STALE_NAN_BITS


def test_corrupt_or_short_data_raises():
    data = codec.encode(np.arange(100, dtype=np.int64))
    with pytest.raises(CorruptChunkError):
        codec.decode(data[:-5], np.int64, 100)
    with pytest.raises(CorruptChunkError):
        codec.decode(data, np.int64, 101)  # fewer values than promised


@given(st.lists(st.tuples(st.integers(-50, 50), st.integers(0, 6)), max_size=30))
def test_ranges_index_matches_python(ranges):
    starts = np.array([s for s, _ in ranges], np.int64)
    counts = np.array([c for _, c in ranges], np.int64)
    expected = [s + i for s, c in ranges for i in range(c)]
    assert ranges_index(starts, counts).tolist() == expected


@given(st.lists(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 1000)), max_size=10), max_size=8))
def test_sort_dedup_rows_first_listed_wins(rows):
    counts = np.array([len(r) for r in rows], np.int64)
    ts = np.array([t for r in rows for t, _ in r], np.int64)
    vs = np.array([v for r in rows for _, v in r], np.float64)
    c, t, v = sort_dedup_rows(counts, ts, vs)
    expected = []
    for r in rows:
        first: dict[int, int] = {}
        for a, b in r:
            first.setdefault(a, b)
        expected.append(sorted(first.items()))
    assert c.tolist() == [len(e) for e in expected]
    assert t.tolist() == [a for e in expected for a, _ in e]
    assert v.tolist() == [b for e in expected for _, b in e]


decimals = st.tuples(st.integers(-(10**15), 10**15), st.integers(0, 6)).map(lambda p: p[0] / 10.0 ** p[1])
value_rows = st.lists(
    st.lists(st.one_of(decimals, floats, st.integers(-(2**60), 2**60).map(float)), min_size=1, max_size=30),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(value_rows, st.sampled_from([codec.BLOCK_CONFIG, codec.SEAL_CONFIG]))
def test_value_group_round_trip_is_bit_exact(rows, config):
    counts = np.array([len(r) for r in rows], np.int64)
    vals = np.array([v for r in rows for v in r], np.float64)
    data, row_pos = codec.encode_values(counts, vals, config)
    out = np.empty(len(vals))
    codec.decode_values(data, counts, out)
    # rows come back at the positions encode_values reported
    got = np.concatenate([out[p : p + c] for p, c in zip(row_pos.tolist(), counts.tolist())])
    assert (bits(got) == bits(vals)).all()
    assert len(set(row_pos.tolist())) == len(rows) and int((row_pos + counts).max()) == len(vals)


def test_value_classes():
    rows = [[1.0, 2.0, 3.0], [0.5, 1.25], [0.1, 0.2], [float("nan"), 1.0], [-0.0], [1e300], [0.123456789]]
    counts = np.array([len(r) for r in rows])
    vals = np.array([v for r in rows for v in r])
    assert codec.value_classes(counts, vals).tolist() == [0, 2, 1, -1, -1, -1, -1]


def classes_by_definition(rows: list[list[float]]) -> list[int]:
    """The smallest k in 0..4 for which every value of the row is exactly
    int64(n) / 10**k for an integer |n| < 2**53, as decoding rebuilds it."""
    out = []
    for r in rows:
        cls = -1
        for k in range(codec.MAX_DECIMALS + 1):
            ok = True
            for v in r:
                x = v * 10.0**k
                n = round(x) if np.isfinite(x) else None
                if n is None or abs(n) >= 2**53:
                    ok = False
                    break
                back = float(np.float64(np.int64(n)) / 10.0**k) if k else float(np.int64(n))
                if struct_bits(back) != struct_bits(v):
                    ok = False
                    break
            if ok:
                cls = k
                break
        out.append(cls)
    return out


def struct_bits(v: float) -> int:
    return int(np.array([v], np.float64).view(np.uint64)[0])


@settings(max_examples=300, deadline=None)
@given(value_rows)
def test_value_classes_follow_the_definition(rows):
    counts = np.array([len(r) for r in rows], np.int64)
    vals = np.array([v for r in rows for v in r], np.float64)
    assert codec.value_classes(counts, vals).tolist() == classes_by_definition(rows)
