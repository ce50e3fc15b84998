"""Property tests: the remote-write decoders round-trip valid requests and
answer garbage only with a 4xx, never an exception or a 500."""

from __future__ import annotations

import math

from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, remote_write
from collector.receivers.errors import IngestError
from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write import decode_v1, decode_v2
from storage.memstore import MemoryStorage
from tests.collector.receivers.rwhelpers import (
    V1_HEADERS,
    V2_HEADERS,
    V2Builder,
    snappy,
    v1_request,
)

names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,12}", fullmatch=True)
values = st.text(min_size=1, max_size=12).filter(lambda s: "\ufffd" not in s)
label_sets = st.dictionaries(names, values, max_size=5).flatmap(
    lambda d: names.map(lambda n: {**d, "__name__": n})
)
samples = st.lists(
    st.tuples(st.integers(-(2**62), 2**62), st.floats(allow_nan=True, allow_infinity=True)),
    min_size=1, max_size=4,
)
series = st.lists(st.tuples(label_sets, samples), min_size=0, max_size=8)


def _expected(series_in):
    exp = []
    for labels, smp in series_in:
        for t, v in smp:
            exp.append((tuple(sorted(labels.items())), t, v))
    return exp


def _got(batch):
    return [
        (tuple(batch.series[i].items()), t, v)
        for i, t, v in zip(batch.series_index.tolist(), batch.timestamps.tolist(), batch.values.tolist())
    ]


def _same(a, b):
    return len(a) == len(b) and all(
        x[:2] == y[:2] and (x[2] == y[2] or (math.isnan(x[2]) and math.isnan(y[2]))) for x, y in zip(a, b)
    )


@settings(max_examples=80, deadline=None)
@given(series)
def test_v1_round_trip(series_in):
    cache = LabelCache(100)
    data = v1_request(series_in).SerializeToString()
    for _ in range(2):  # second time through the label cache
        d = decode_v1(data, cache)
        assert not d.dropped
        assert _same(_got(d.batch), _expected(series_in))


@settings(max_examples=80, deadline=None)
@given(series)
def test_v2_round_trip(series_in):
    b = V2Builder()
    for labels, smp in series_in:
        b.series(labels, smp)
    cache = LabelCache(100)
    for _ in range(2):
        d = decode_v2(b.req.SerializeToString(), cache)
        assert not d.dropped
        assert _same(_got(d.batch), _expected(series_in))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_decode_or_fail_cleanly(data):
    for decode in (decode_v1, decode_v2):
        try:
            d = decode(data, LabelCache(10))
        except IngestError as e:
            assert e.status == 400
        else:
            assert len(d.batch.timestamps) == len(d.batch.values) == len(d.batch.series_index)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=200), st.booleans(), st.booleans())
def test_random_bodies_over_http_get_2xx_or_4xx(data, compress, v2):
    r = _CLIENT.post(
        "/api/v1/write", content=snappy(data) if compress else data, headers=V2_HEADERS if v2 else V1_HEADERS
    )
    assert r.status_code in (204, 400, 413), (r.status_code, r.text)


def _client():
    app = FastAPI()
    app.include_router(remote_write.router(MemoryStorage(), IngestLimits(max_decoded_bytes=1 << 16), CollectorRegistry()))
    return TestClient(app)


_CLIENT = _client()


_sample = st.tuples(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=True, allow_infinity=True))


def _encode_sample(t: int, v: float, reorder: bool) -> bytes:
    from collector.protos import remote_write_v1_pb2 as rw1

    if not reorder:
        return rw1.Sample(timestamp=t, value=v).SerializeToString()
    # the same fields, timestamp first: legal protobuf, which some encoders may emit
    parts = [rw1.Sample(timestamp=t).SerializeToString(), rw1.Sample(value=v).SerializeToString()]
    return b"".join(parts)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_sample, st.booleans()), max_size=30), st.sampled_from([0, 1_700_000_000_000]))
def test_vectorized_samples_match_protobuf(samples, base):
    import struct

    from collector.protos import remote_write_view_pb2 as view
    from collector.receivers.remote_write.samples import decode_samples

    raw = [_encode_sample(t + base if -(2**63) <= t + base < 2**63 else t, v, r) for (t, v), r in samples]
    got = decode_samples(raw)
    assert got is not None  # every layout a conforming encoder produces is understood
    ts, vs = got
    for b, t_, v_ in zip(raw, ts.tolist(), vs.tolist()):
        m = view.Sample.FromString(b)
        assert t_ == m.timestamp
        assert struct.pack("<d", v_) == struct.pack("<d", m.value)  # NaN payloads included


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=24), max_size=10))
def test_vectorized_samples_refuse_what_they_do_not_understand(raw):
    from google.protobuf.message import DecodeError

    from collector.protos import remote_write_view_pb2 as view
    from collector.receivers.remote_write.samples import decode_samples

    got = decode_samples(raw)
    if got is None:
        return
    ts, vs = got
    for b, t_, v_ in zip(raw, ts.tolist(), vs.tolist()):
        try:
            m = view.Sample.FromString(b)
        except DecodeError:
            raise AssertionError(f"accepted {b.hex()}, which protobuf refuses") from None
        assert t_ == m.timestamp and (v_ == m.value or (math.isnan(v_) and math.isnan(m.value)))
