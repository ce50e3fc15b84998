"""InfluxDB line protocol: parser properties and the /write, /api/v2/write endpoints."""

from __future__ import annotations

import gzip
import math

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, influx
from collector.receivers.influx import InfluxReceiver, LineError, Point, parse
from storage.interface import AppendResult, OverloadedError, RejectReason, StorageFullError
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage

NOW_MS = 1_750_000_000_123


def make(store=None, **limits):
    store = store if store is not None else MemoryStorage()
    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(InfluxReceiver(store, IngestLimits(**limits), reg, clock_ms=lambda: NOW_MS).router())
    return store, reg, TestClient(app)


def dump(store):
    q = store.querier(-(2**62), 2**62)
    ss = q.select([Matcher("=~", "__name__", ".+")])
    return {str(lab): list(zip(*[a.tolist() for a in ss.series(i)])) for i, lab in enumerate(ss.labels)}


# --- parser ---------------------------------------------------------------


def test_parse_types_escapes_and_comments():
    body = (
        "# a comment\n"
        "cpu,host=a,region=us\\ west usage_idle=98.5,procs=12i,free=7u,ok=true,bad=F 1700000000000000000\n"
        "\n"
        'weather,loc=x temp=-1.5e1,desc="hot,\\"dry\\" and=spaced" 17\n'
        "m\\,x,t\\=k=v\\=w\\,z f\\ k=3\n"
        "path,dir=C:\\Windows f=1\n"
    )
    assert list(parse(body)) == [
        Point("cpu", (("host", "a"), ("region", "us west")),
              (("usage_idle", 98.5), ("procs", 12), ("free", 7), ("ok", True), ("bad", False)), 1700000000000000000),
        Point("weather", (("loc", "x"),), (("temp", -15.0), ("desc", 'hot,"dry" and=spaced')), 17),
        Point("m,x", (("t=k", "v=w,z"),), (("f k", 3.0),), None),
        Point("path", (("dir", "C:\\Windows"),), (("f", 1.0),), None),
    ]


def test_multiline_strings_and_crlf_keep_line_numbers():
    body = 'a s="one\ntwo" 1\r\nb f=oops\r\nc f=1 2\n'
    out = list(parse(body))
    assert out[0] == Point("a", (), (("s", "one\ntwo"),), 1)
    assert isinstance(out[1], LineError) and out[1].line == 3 and "oops" in out[1].message
    assert out[2] == Point("c", (), (("f", 1.0),), 2)


@pytest.mark.parametrize("line, needle", [
    ("cpu", "missing fields"),
    ("cpu,host=a", "missing fields"),
    ("cpu f=", "missing field value"),
    ("cpu f=1x", "invalid field value"),
    ("cpu f=inf", "invalid field value"),
    ("cpu f=99999999999999999999i", "out of range"),
    ("cpu f=-1u", "invalid field value"),
    ("cpu,host f=1", "invalid tag"),
    ("cpu,=a f=1", "invalid tag"),
    ("cpu f=1 notanumber", "invalid timestamp"),
    ("cpu f=1 1 2", "unexpected text"),
    ('cpu f="open', "unterminated string"),
    (",t=a f=1", "missing measurement"),
    ('cpu,t=a\\ b f', "has no value"),
])
def test_parse_errors_name_the_problem(line, needle):
    (err,) = list(parse(line))
    assert isinstance(err, LineError) and err.line == 1 and needle in err.message, err


def test_errors_do_not_stop_the_following_lines():
    out = list(parse('bad\ncpu f="x\nstill string" 5\nbad2 x\nok f=2\n'))
    assert [type(o).__name__ for o in out] == ["LineError", "Point", "LineError", "Point"]
    assert out[2].line == 4 and out[3] == Point("ok", (), (("f", 2.0),), None)


def _esc(s: str, chars: str) -> str:
    for c in chars:
        s = s.replace(c, "\\" + c)
    return s


_plain = st.text(st.characters(blacklist_characters="\\\n\r\"", blacklist_categories=("Cs",)), min_size=1, max_size=8)
_measurement = _plain.filter(lambda s: not s.startswith("#") and s.strip(" \t") == s and s[0] not in " \t")
_field_value = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-(2**63), 2**63 - 1).map(lambda i: ("i", i)),
    st.integers(0, 2**64 - 1).map(lambda i: ("u", i)),
    st.booleans(),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=10),
)
_points = st.lists(st.tuples(
    _measurement,
    st.lists(st.tuples(_plain, _plain), max_size=3),
    st.lists(st.tuples(_plain, _field_value), min_size=1, max_size=3),
    st.none() | st.integers(-(2**63), 2**63 - 1),
), max_size=5)


def _serialize(points) -> str:
    lines = []
    for m, tags, fields, ts in points:
        key = _esc(m, ", ") + "".join(f",{_esc(k, ',= ')}={_esc(v, ',= ')}" for k, v in tags)
        fs = []
        for k, v in fields:
            if isinstance(v, tuple):
                enc = f"{v[1]}{v[0]}"
            elif isinstance(v, bool):
                enc = "true" if v else "F"
            elif isinstance(v, float):
                enc = repr(v)
            else:
                enc = '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
            fs.append(f"{_esc(k, ',= ')}={enc}")
        lines.append(key + " " + ",".join(fs) + ("" if ts is None else f" {ts}"))
    return "\n".join(lines)


@settings(max_examples=300, deadline=None)
@given(_points)
def test_parse_round_trips_what_a_client_serializes(points):
    got = list(parse(_serialize(points)))
    expected = [
        Point(m, tuple(tags), tuple((k, v[1] if isinstance(v, tuple) else v) for k, v in fields), ts)
        for m, tags, fields, ts in points
    ]
    assert got == expected


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_never_raises_on_garbage(text):
    out = list(parse(text))
    for o in out:
        assert isinstance(o, (Point, LineError))


# --- HTTP -----------------------------------------------------------------


def test_v1_write_maps_fields_tags_and_precision():
    store, reg, c = make()
    body = (
        "cpu,host=web-1,cpu=cpu0 usage_idle=97.5,usage_user=2i 1700000000\n"
        "temperature,room=lab value=21.5,ok=true 1700000001\n"
        'syslog,app=x msg="hello",severity=3i 1700000002\n'
    )
    r = c.post("/write", params={"db": "telegraf", "precision": "s"}, content=body)
    assert r.status_code == 204, r.text
    assert dump(store) == {
        'cpu_usage_idle{cpu="cpu0", db="telegraf", host="web-1"}': [(1700000000000, 97.5)],
        'cpu_usage_user{cpu="cpu0", db="telegraf", host="web-1"}': [(1700000000000, 2.0)],
        'temperature{db="telegraf", room="lab"}': [(1700000001000, 21.5)],
        'temperature_ok{db="telegraf", room="lab"}': [(1700000001000, 1.0)],
        'syslog_severity{app="x", db="telegraf"}': [(1700000002000, 3.0)],
    }
    assert reg.get_sample_value("spyglass_receiver_samples_dropped_total",
                                {"protocol": "influx", "reason": "string_field"}) == 1
    assert reg.get_sample_value("spyglass_receiver_samples_received_total", {"protocol": "influx"}) == 5


@pytest.mark.parametrize("precision, ts, ms", [
    (None, 1700000000123456789, 1700000000123), ("ns", 1700000000123456789, 1700000000123),
    ("u", 1700000000123456, 1700000000123), ("us", 1700000000123456, 1700000000123),
    ("ms", 1700000000123, 1700000000123), ("s", 1700000000, 1700000000000),
    ("m", 28333333, 1699999980000), ("h", 472222, 1699999200000),
])
def test_precisions(precision, ts, ms):
    store, _, c = make()
    params = {"precision": precision} if precision else {}
    assert c.post("/write", params=params, content=f"m f=1 {ts}").status_code == 204
    assert dump(store) == {"m_f{}": [(ms, 1.0)]}


def test_missing_timestamp_uses_server_time_and_v2_bucket_is_db():
    store, _, c = make()
    r = c.post("/api/v2/write", params={"bucket": "b1", "org": "o"}, content="m value=3")
    assert r.status_code == 204
    assert dump(store) == {'m{db="b1"}': [(NOW_MS, 3.0)]}


def test_names_are_sanitized_and_reserved_tags_renamed():
    store, _, c = make()
    body = "disk.io,mount\\ point=/,__name__=x,9zone=a,db=own read-bytes=5 1\n"
    assert c.post("/write", params={"db": "ignored", "precision": "ms"}, content=body).status_code == 204
    assert dump(store) == {
        'disk_io_read_bytes{_9zone="a", db="own", mount_point="/", tag__name__="x"}': [(1, 5.0)]
    }


def test_parse_errors_are_400_with_line_numbers_and_good_lines_stored():
    store, reg, c = make()
    body = "good f=1 1\nbad line\ngood f=2 2\nalso,bad f=zz 3\n"
    for path, key in (("/write", "error"), ("/api/v2/write", "message")):
        r = c.post(path, params={"precision": "ms"}, content=body)
        assert r.status_code == 400
        msg = r.json()[key]
        assert "line 2" in msg and "line 4" in msg and "2 line(s)" in msg
        if path == "/api/v2/write":
            assert r.json()["code"] == "invalid"
    assert dump(store) == {"good_f{}": [(1, 1.0), (2, 2.0)]}
    assert reg.get_sample_value("spyglass_receiver_samples_dropped_total",
                                {"protocol": "influx", "reason": "parse_error"}) == 4


def test_gzip_and_bad_encodings():
    store, _, c = make()
    r = c.post("/write", params={"precision": "s"}, content=gzip.compress(b"m f=1 1"), headers={"Content-Encoding": "gzip"})
    assert r.status_code == 204 and dump(store) == {"m_f{}": [(1000, 1.0)]}
    assert c.post("/write", content=b"m f=1", headers={"Content-Encoding": "zstd"}).status_code == 415
    assert c.post("/write", content=b"m f=1\xff").status_code == 400
    assert c.post("/write", params={"precision": "d"}, content=b"m f=1").status_code == 400


def test_limits():
    _, _, c = make(max_body_bytes=200, max_decoded_bytes=1000, max_series_per_request=2)
    assert c.post("/write", content=b"m f=1\n" * 50).status_code == 413
    bomb = gzip.compress(b"m f=1\n" * 10_000)
    assert len(bomb) < 200
    r = c.post("/write", content=bomb, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert c.post("/write", content=b"a f=1\nb f=1\nc f=1").status_code == 413
    store, _, c = make(max_label_value_length=3)
    r = c.post("/write", params={"precision": "s"}, content="m,t=long f=1 1\nm,t=ok f=2 1")
    assert r.status_code == 400 and "limit of 3" in r.json()["error"]
    assert dump(store) == {'m_f{t="ok"}': [(1000, 2.0)]}


@pytest.mark.parametrize("exc, status, retry", [(OverloadedError("busy"), 429, "5"), (StorageFullError("full"), 503, "30")])
def test_storage_back_pressure(exc, status, retry):
    class Failing:
        def append(self, batch):
            raise exc

    _, _, c = make(Failing())
    r = c.post("/api/v2/write", content="m f=1")
    assert r.status_code == status and r.headers["Retry-After"] == retry


def test_storage_rejects_are_400():
    class Rejecting:
        def append(self, batch):
            res = AppendResult(accepted=len(batch) - 1)
            res.reject(RejectReason.OUT_OF_BOUNDS, 1, "m_f{}: sample at 1 is out of bounds")
            return res

    _, _, c = make(Rejecting())
    r = c.post("/write", content="m f=1 1\nn f=1 1")
    assert r.status_code == 400 and "out_of_bounds: 1" in r.json()["error"]


def test_module_router_shortcut():
    store = MemoryStorage()
    app = FastAPI()
    app.include_router(influx.router(store, IngestLimits(), CollectorRegistry()))
    c = TestClient(app)
    assert c.post("/write", content="m,a=b value=1 1000000").status_code == 204
    q = store.querier(0, 10)
    assert q.select([Matcher("=", "__name__", "m")]).labels == [Labels.from_dict({"__name__": "m", "a": "b"})]
    assert not math.isnan(q.select([Matcher("=", "__name__", "m")]).values[0])
