"""The benchmark's fixed-width remote-write encoder against protobuf's own parser."""

from __future__ import annotations

import http.server
import threading

import cramjam
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bench._remotewrite import TS_MAX, TS_MIN, RequestEncoder, Sender
from collector.protos import remote_write_v1_pb2 as rw1

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=40)
_labels = st.lists(st.tuples(_text, _text), min_size=0, max_size=6).map(sorted)


@settings(max_examples=60, deadline=None)
@given(
    labels=st.lists(_labels, min_size=1, max_size=5),
    k=st.integers(1, 6),
    data=st.data(),
)
def test_encoded_request_decodes_to_the_same_series(labels, k, data):
    n = len(labels)
    ts = np.array(
        data.draw(st.lists(st.integers(TS_MIN, TS_MAX - 1), min_size=n * k, max_size=n * k)), np.int64
    ).reshape(n, k)
    values = np.array(
        data.draw(st.lists(st.floats(allow_nan=True, width=64), min_size=n * k, max_size=n * k)), np.float64
    ).reshape(n, k)
    enc = RequestEncoder(labels, [np.arange(n)])
    for _ in range(2):  # the cached layout must give the same result as the first
        req = rw1.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(enc.encode(0, ts, values))))
        assert len(req.timeseries) == n
        for i, series in enumerate(req.timeseries):
            assert [(lab.name, lab.value) for lab in series.labels] == list(labels[i])
            assert [s.timestamp for s in series.samples] == ts[i].tolist()
            got = np.array([s.value for s in series.samples])
            assert got.tobytes() == values[i].tobytes()  # bit for bit, NaN payloads included


def test_timestamps_outside_the_fixed_width_range_are_refused():
    enc = RequestEncoder([[("__name__", "x")]], [np.arange(1)])
    for bad in (TS_MIN - 1, TS_MAX):
        try:
            enc.encode(0, np.array([[bad]]), np.zeros((1, 1)))
        except ValueError:
            continue
        raise AssertionError(f"timestamp {bad} was accepted")


def test_sender_counts_acknowledged_refused_and_unreachable():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(400 if body == b"bad" else 204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    port = srv.server_address[1]
    with Sender(port, connections=2) as s:
        s.post_all([b"ok"] * 5 + [b"bad"])
    srv.shutdown()
    srv.server_close()
    assert (s.stats.ok, s.stats.failed, s.stats.retried) == (5, 1, 0)
    assert s.stats.errors[0].startswith("400")
    with Sender(port, connections=2) as s:  # nothing listens any more
        s.post_all([b"ok"] * 4)
    assert s.stats.ok == 0 and s.stats.failed == 4
