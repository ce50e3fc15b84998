"""The ingest benchmark's request bodies, plans and minimal keep-alive client."""

from __future__ import annotations

import socket
import threading
import time

import cramjam

from bench.bench_ingest import INTERVAL_MS, Connection, Plan, build_bodies, plans
from collector.protos import remote_write_v1_pb2 as rw1


def test_bodies_hold_each_groups_series_with_rising_samples():
    plan = Plan(series=3, samples=2, t0_ms=1 << 40, groups=2, warmup=1, steady=1)
    bodies = build_bodies(plan)
    assert len(bodies) == plan.rounds and all(len(row) == 2 for row in bodies)
    seen = {}
    for r, row in enumerate(bodies):
        for body in row:
            req = rw1.WriteRequest.FromString(bytes(cramjam.snappy.decompress_raw(body)))
            assert len(req.timeseries) == 3
            for ts in req.timeseries:
                key = tuple((lab.name, lab.value) for lab in ts.labels)
                assert list(key) == sorted(key)
                t = [s.timestamp for s in ts.samples]
                assert t == [plan.t0_ms + (r * 2 + k) * INTERVAL_MS for k in range(2)]
                v = [s.value for s in ts.samples]
                assert seen.get(key, -1.0) < v[0] < v[1]  # counters
                seen[key] = v[1]
    assert len(seen) == 6
    assert build_bodies(plan) == bodies  # the same bytes for both servers


def test_plans_use_disjoint_series_and_stay_in_the_past():
    now = int(time.time() * 1000)
    a, b = plans(quick=False, now_ms=now)
    assert a.first_series + a.groups * a.series <= b.first_series
    assert a.end_ms < b.t0_ms and b.end_ms <= now


def _server(answers: list[bytes]):
    """A TCP server answering each request (head + Content-Length body) with the next answer."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got: list[bytes] = []

    def run():
        conn = None
        for answer in answers:
            if conn is None:
                conn, _ = srv.accept()
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[1])
            while len(body) < length:
                body += conn.recv(65536)
            got.append(body)
            conn.sendall(answer)
            if b"close" in answer.lower():
                conn.close()
                conn = None
        srv.close()

    threading.Thread(target=run, daemon=True).start()
    return srv.getsockname()[1], got


def test_connection_reads_length_chunked_and_closing_answers():
    port, got = _server([
        b"HTTP/1.1 204 No Content\r\ndate: x\r\n\r\n",
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nnope\n",
        b"HTTP/1.1 503 Busy\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
        b"HTTP/1.1 204 No Content\r\n\r\n",  # on a new connection
    ])
    c = Connection(port)
    answers = [c.post(c.request(b"body%d" % i)) for i in range(5)]
    c.close()
    assert answers == [(204, b""), (400, b"nope\n"), (503, b"abcde"), (200, b"ok"), (204, b"")]
    assert got == [b"body%d" % i for i in range(5)]
