"""WAL record encoding: property-based round trips and frame checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import STALE_NAN, MetricMetadata, MetricType
from storage.labels import Labels
from storage.tsdb import walrecords as rec

label_text = st.text(min_size=1, max_size=12)  # any unicode, including NUL and newlines
label_sets = st.dictionaries(label_text, label_text, min_size=1, max_size=5).map(Labels.from_dict)
floats = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([STALE_NAN, -0.0]))
int64s = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@settings(max_examples=150, deadline=None)
@given(st.lists(label_sets, max_size=20), st.integers(0, 2**40))
def test_series_record_round_trip(labels, first_sid):
    sids = np.arange(first_sid, first_sid + len(labels), dtype=np.int64)
    data = rec.frame(rec.RecordType.SERIES, rec.encode_series(sids, labels))
    rtype, length = rec.check_frame(data, 0)
    assert rtype == rec.RecordType.SERIES and length == len(data) - rec.HEADER_SIZE
    got_sids, got_labels = rec.decode_series(memoryview(data)[rec.HEADER_SIZE :])
    assert got_sids.tolist() == sids.tolist()
    assert got_labels == labels


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 2**40), int64s, floats), max_size=200),
    st.booleans(),
)
def test_samples_record_round_trip(samples, compress):
    sids = np.array([s for s, _, _ in samples], np.int64)
    ts = np.array([t for _, t, _ in samples], np.int64)
    vs = np.array([v for _, _, v in samples], np.float64)
    payload = rec.encode_samples(sids, ts, vs, compress=compress)
    a, b, c = rec.decode_samples(payload)
    assert (a == sids).all() and (b == ts).all()
    assert (c.view(np.uint64) == vs.view(np.uint64)).all()


@given(st.dictionaries(label_text, st.tuples(st.sampled_from(list(MetricType)), st.text(), st.text()), max_size=5))
def test_metadata_record_round_trip(items):
    meta = {k: MetricMetadata(t, h, u) for k, (t, h, u) in items.items()}
    assert rec.decode_metadata(rec.encode_metadata(meta)) == meta


@given(st.binary(min_size=0, max_size=64), st.integers(0, 200))
def test_any_damage_to_a_frame_is_detected(payload, flip):
    data = bytearray(rec.frame(rec.RecordType.METADATA, payload))
    assert rec.check_frame(bytes(data), 0) is not None
    pos = flip % len(data)
    data[pos] ^= 0x10
    assert rec.check_frame(bytes(data), 0) is None
    # and every truncation
    good = rec.frame(rec.RecordType.METADATA, payload)
    for cut in range(len(good)):
        assert rec.check_frame(good[:cut], 0) is None


def _node_like(n: int):
    sids = np.repeat(np.arange(1000, 1000 + n // 10, dtype=np.int64), 10)
    ts = np.tile(np.arange(10, dtype=np.int64) * 15_000 + 1_700_000_000_000, n // 10)
    vs = np.round(np.cumsum(np.random.default_rng(1).random(n) * 100), 2)
    return sids, ts, vs


def test_compressed_samples_are_shuffled_snappy_and_smaller():
    sids, ts, vs = _node_like(5000)
    payload = rec.encode_samples(sids, ts, vs, compress=True)
    assert payload[4] == 2  # the shuffled snappy encoding
    assert len(payload) < 0.5 * len(rec.encode_samples(sids, ts, vs, compress=False))
    a, b, c = rec.decode_samples(payload)
    assert (a == sids).all() and (b == ts).all() and (c == vs).all()


def test_pcodec_records_of_earlier_versions_are_still_read():
    import struct

    from storage.tsdb import codec

    sids, ts, vs = _node_like(100)
    blobs = [codec.encode(sids), codec.encode(ts), codec.encode(vs)]
    payload = struct.pack("<IBIII", len(ts), 1, *map(len, blobs)) + b"".join(blobs)
    a, b, c = rec.decode_samples(payload)
    assert (a == sids).all() and (b == ts).all() and (c == vs).all()


@pytest.mark.parametrize("damage", ["declared", "garbage", "short"])
def test_damaged_shuffled_records_are_refused(damage):
    import struct

    sids, ts, vs = _node_like(100)
    payload = bytearray(rec.encode_samples(sids, ts, vs, compress=True))
    if damage == "declared":  # claims another sample count than its block holds
        payload[0:4] = struct.pack("<I", 101)
    elif damage == "garbage":
        payload[5:] = b"\xff" * (len(payload) - 5)
    else:
        del payload[-10:]
    with pytest.raises(rec.CorruptRecordError):
        rec.decode_samples(bytes(payload))
