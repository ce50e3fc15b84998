"""The vectorized remote-write 1.0 decoder against protobuf's own parser.

Every request must decode to what ``prometheus.WriteRequest`` parsed by
protobuf says — the same samples, label sets, drops and exemplar counts —
whether the vectorized path takes it or hands it back to the
message-by-message decoder; and layouts the vectorized path does not verify
must be handed back, never misread.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from collector.protos import remote_write_v1_pb2 as rw1
from collector.protos import remote_write_view_pb2 as view
from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write import decode_v1
from collector.receivers.remote_write.columnar import decode_columns
from collector.receivers.remote_write.framing import (
    frame_series,
    probe_samples,
    read_varints,
    uniform_samples,
)
from collector.receivers.remote_write.labelfields import Normalised, checked, label_sets
from storage.labels import InvalidLabels, LabelLimits, Labels

T0 = 1_700_000_000_000
LIMITS = LabelLimits()


def reference(data: bytes, limits: LabelLimits = LIMITS):
    """(samples as (labels, t, value bits), samples dropped, exemplars) per protobuf."""
    req = rw1.WriteRequest.FromString(data)
    out, dropped, exemplars = [], 0, 0
    for ts in req.timeseries:
        exemplars += len(ts.exemplars)
        labels = checked([(lab.name, lab.value) for lab in ts.labels], limits)
        if isinstance(labels, InvalidLabels):
            dropped += len(ts.samples)
            continue
        out += [(tuple(labels), s.timestamp, _bits(s.value)) for s in ts.samples]
    return out, dropped, exemplars


def decoded(d):
    b = d.batch
    got = [
        (tuple(b.series[i]), t, _bits(v))
        for i, t, v in zip(b.series_index.tolist(), b.timestamps.tolist(), b.values.tolist())
    ]
    return got, sum(d.dropped.values()), d.exemplars


def _bits(v: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", v))[0]


def series_bytes(data: bytes) -> list[bytes]:
    return list(view.SeriesBytesV1.FromString(data).timeseries)


def request(series) -> bytes:
    """``series``: (label pairs in wire order, [(t, v), ...], exemplars)."""
    req = rw1.WriteRequest()
    for pairs, samples, exemplars in series:
        ts = req.timeseries.add()
        for n, v in pairs:
            ts.labels.add(name=n, value=v)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
        for _ in range(exemplars):
            ts.exemplars.add(value=1.0, timestamp=T0).labels.add(name="trace_id", value="abc")
    return req.SerializeToString()


# --- against protobuf -----------------------------------------------------------

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
long_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=120, max_size=200)
label_pair = st.tuples(st.one_of(text, st.just("__name__"), st.just("job")), st.one_of(text, long_text))
timestamps = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.integers(1 << 35, (1 << 42) - 1), st.just(0), st.integers(1, 200)
)
values = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0), st.floats(1, 1e6))
one_series = st.tuples(
    st.lists(label_pair, max_size=5),
    st.lists(st.tuples(timestamps, values), max_size=4),
    st.sampled_from([0, 0, 0, 1]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(one_series, max_size=8), st.booleans())
def test_any_request_decodes_as_protobuf_says(series, sort_labels):
    if sort_labels:  # what real senders do: the vectorized path's usual input
        series = [(sorted(dict(p).items()), s, e) for p, s, e in series]
    data = request(series)
    expected = reference(data)
    cache = LabelCache(100)
    for _ in range(2):  # the second time through the label cache
        got = decoded(decode_v1(data, cache))
        assert got == expected


samples_uniform = st.lists(
    st.tuples(st.integers(1 << 35, (1 << 42) - 1), st.floats(1, 1e9)), min_size=1, max_size=5
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.dictionaries(text.filter(bool), text.filter(bool), max_size=4), samples_uniform),
                min_size=1, max_size=6))
def test_requests_of_real_senders_take_the_vectorized_path(series):
    data = request([(sorted({**d, "__name__": "m"}.items()), s, 0) for d, s in series])
    cols = decode_columns(data, series_bytes(data), LabelCache(100), LIMITS)
    assert cols is not None
    got = [
        (tuple(cols.series[i]), t, _bits(v))
        for i, t, v in zip(cols.series_index.tolist(), cols.timestamps.tolist(), cols.values.tolist())
    ]
    assert got == reference(data)[0]


# --- layouts the vectorized path must hand back ---------------------------------


def test_exemplars_are_handed_back_and_counted():
    data = request([([("__name__", "up")], [(T0, 1.0)], 2)])
    assert decode_columns(data, series_bytes(data), LabelCache(10), LIMITS) is None
    d = decode_v1(data)
    assert d.exemplars == 2 and decoded(d) == reference(data)


def test_samples_before_labels_are_handed_back():
    sample = rw1.Sample(timestamp=T0, value=2.5).SerializeToString()
    label = rw1.Label(name="__name__", value="up").SerializeToString()
    body = bytes([0x12, len(sample)]) + sample + bytes([0x0A, len(label)]) + label
    data = bytes([0x0A, len(body)]) + body
    assert decode_columns(data, series_bytes(data), LabelCache(10), LIMITS) is None
    assert decoded(decode_v1(data)) == ([(("__name__", "up"), T0, _bits(2.5))], 0, 0)


def test_unknown_fields_in_a_series_are_handed_back():
    good = request([([("__name__", "up")], [(T0, 1.0)], 0)])
    body = series_bytes(good)[0] + bytes([0x38, 0x01])  # field 7, varint
    data = bytes([0x0A, len(body)]) + body
    assert decode_columns(data, series_bytes(data), LabelCache(10), LIMITS) is None
    assert decoded(decode_v1(data)) == decoded(decode_v1(good))


def test_zero_values_and_timestamps_use_the_probe_not_the_fixed_layout():
    data = request([([("__name__", "a")], [(T0, 0.0), (0, 5.0), (-3, 1.5)], 0),
                    ([("__name__", "b")], [(T0, 7.0)], 0)])
    frames = frame_series(series_bytes(data))
    assert uniform_samples(frames) is None
    raw = list(view.ProbeV1.FromString(data).timeseries.samples)
    counts, ts, vs = probe_samples(frames, raw)
    assert counts.tolist() == [3, 1] and ts.tolist() == [T0, 0, -3, T0] and vs.tolist() == [0.0, 5.0, 1.5, 7.0]
    assert decode_columns(data, series_bytes(data), LabelCache(10), LIMITS) is not None


@pytest.mark.parametrize("width", range(1, 8))
def test_fixed_layout_reads_every_timestamp_width(width):
    lo, hi = (1 << 7 * (width - 1)) if width > 1 else 1, (1 << 7 * width) - 1
    ts = [lo, hi, (lo + hi) // 2]
    data = request([([("__name__", "a")], [(t, 1.5 + i) for i, t in enumerate(ts)], 0)])
    counts, got_ts, got_vs = uniform_samples(frame_series(series_bytes(data)))
    assert counts.tolist() == [3] and got_ts.tolist() == ts and got_vs.tolist() == [1.5, 2.5, 3.5]


def test_malformed_label_fields_refuse_the_frame():
    assert frame_series([bytes([0x0A, 0x05, 0x0A])]) is None  # length past the end
    assert frame_series([bytes([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])]) is None  # overlong varint
    value, size = read_varints(np.frombuffer(bytes([0xAC, 0x02, 0x05]) + bytes(16), np.uint8), np.array([0, 2]))
    assert value.tolist() == [300, 5] and size.tolist() == [2, 1]


# --- label sets of new series ---------------------------------------------------


def test_long_and_non_ascii_labels_are_decoded_on_the_vectorized_path():
    pairs = [("__name__", "m"), ("id", "/kubepods/" + "x" * 300), ("zone", "zürich-ü")]
    data = request([(pairs, [(T0, 1.0)], 0)])
    cols = decode_columns(data, series_bytes(data), LabelCache(10), LIMITS)
    assert cols is not None and cols.series == [Labels.from_pairs(pairs)]


def test_invalid_utf8_drops_that_series_only():
    good = rw1.Label(name="__name__", value="ok").SerializeToString()
    bad = bytes([0x0A, 0x08]) + b"__name__" + bytes([0x12, 0x02, 0xC3, 0x28])
    keys = [bytes([0x0A, len(good)]) + good, bytes([0x0A, len(bad)]) + bad]
    sets = label_sets(keys, LIMITS)
    assert sets[0] == Labels.from_pairs([("__name__", "ok")])
    assert isinstance(sets[1], InvalidLabels) and "UTF-8" in str(sets[1])


def test_unsorted_labels_and_empty_values_are_normalised_and_marked():
    key = b"".join(
        bytes([0x0A, len(m)]) + m
        for m in (rw1.Label(name=n, value=v).SerializeToString() for n, v in [("z", "1"), ("__name__", "m"), ("e", "")])
    )
    (got,) = label_sets([key], LIMITS)
    assert type(got) is Normalised and got.labels == Labels.from_pairs([("__name__", "m"), ("z", "1")])


def test_equal_label_sets_from_two_encodings_are_one_series_of_the_batch():
    a = [("__name__", "m"), ("a", "1")]
    data = request([(a, [(T0, 1.0)], 0), (list(reversed(a)), [(T0 + 1, 2.0)], 0)])
    cache = LabelCache(10)
    for _ in range(2):
        d = decode_v1(data, cache)
        assert d.batch.series == [Labels.from_pairs(a)] and d.batch.series_index.tolist() == [0, 0]


def test_keys_of_the_two_decoders_never_meet_in_the_cache():
    # Series X's label *names* are the bytes of Y's label messages, so the
    # message decoder's key for X (the labels' fields merged) equals the
    # vectorized decoder's key for Y. X comes with an exemplar, so it goes
    # through the message decoder and is invalid; Y must not inherit that.
    y = [("__name__", "up"), ("job", "a")]
    y_messages = [rw1.Label(name=n, value=v).SerializeToString() for n, v in y]
    x = rw1.TimeSeries()
    for m in y_messages:
        x.labels.add(name=m.decode())
    x.samples.add(timestamp=T0, value=1.0)
    x.exemplars.add(value=1.0, timestamp=T0)
    first = rw1.WriteRequest()
    first.timeseries.append(x)
    cache = LabelCache(10)
    assert decode_v1(first.SerializeToString(), cache).dropped == {"invalid_labels": 1}
    second = request([(y, [(T0, 2.0)], 0)])
    d = decode_v1(second, cache)
    assert not d.dropped and d.batch.series == [Labels.from_pairs(y)]


def test_label_cache_looks_up_many_keys_and_promotes_old_hits():
    a, b = (Labels.from_pairs([("__name__", n)]) for n in "ab")
    cache = LabelCache(1)
    cache.put(b"a", a)
    cache.put(b"b", b)  # "a" moves to the old generation
    assert cache.get_many([b"a", b"b", b"c"]) == [a, b, None]
    assert cache.get_many([b"a"]) == [a]


def test_a_malformed_label_message_drops_its_series_only():
    good = request([([("__name__", "ok")], [(T0, 1.0)], 0)])
    broken_label = bytes([0x0A, 0x09]) + b"__na"  # name says 9 bytes, holds 4
    sample = rw1.Sample(timestamp=T0, value=2.0).SerializeToString()
    body = bytes([0x0A, len(broken_label)]) + broken_label + bytes([0x12, len(sample)]) + sample
    data = good + bytes([0x0A, len(body)]) + body
    d = decode_v1(data, LabelCache(10))
    assert d.batch.series == [Labels.from_pairs([("__name__", "ok")])]
    assert d.dropped == {"invalid_labels": 1} and "not valid protobuf" in d.errors[0]
