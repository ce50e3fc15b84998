"""Remote-write into the embedded TSDB: acknowledged means durable across
``kill -9``, and storage rejects reach the sender as 400s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, remote_write
from storage.labels import Matcher
from storage.tsdb import TSDB
from tests.collector.receivers.rwhelpers import V1_HEADERS, snappy, v1_request
from tests.util import free_port, wait_http

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.slow
def test_killed_server_keeps_every_acknowledged_sample(tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "tests.collector.receivers.rwserver", str(port), str(tmp_path)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready")
        t0 = int(time.time() * 1000) - 60_000
        acked: list[int] = []  # request numbers answered 204
        stop = threading.Event()

        def body(r: int) -> bytes:
            series = [({"__name__": "crash_test", "shard": str(w), "req": str(r % 7)}, [(t0 + r, float(r * 10 + w))])
                      for w in range(100)]
            return snappy(v1_request(series).SerializeToString())

        def load():
            with httpx.Client(timeout=10) as c:
                r = 0
                while not stop.is_set():
                    try:
                        resp = c.post(f"http://127.0.0.1:{port}/api/v1/write", content=body(r), headers=V1_HEADERS)
                    except httpx.HTTPError:
                        return  # the server died under us: this request is not acknowledged
                    if resp.status_code == 204:
                        acked.append(r)
                    r += 1

        t = threading.Thread(target=load)
        t.start()
        deadline = time.monotonic() + 30
        while len(acked) < 40 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        stop.set()
        t.join(15)
        assert len(acked) >= 40
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    db = TSDB.open(str(tmp_path), registry=CollectorRegistry())
    try:
        ss = db.querier(0, 2**62).select([Matcher("=", "__name__", "crash_test")])
        stored = set()
        for i, labels in enumerate(ss.labels):
            w = int(labels.get("shard"))
            ts, vs = ss.series(i)
            for t_, v in zip(ts.tolist(), vs.tolist()):
                assert v == float((t_ - t0) * 10 + w)
                stored.add((w, t_ - t0))
        missing = [(w, r) for r in acked for w in range(100) if (w, r) not in stored]
        assert not missing, f"{len(missing)} acknowledged samples lost, e.g. {missing[:5]}"
    finally:
        db.close()


def test_tsdb_rejects_reach_the_sender_as_400_and_the_rest_is_stored(tmp_path):
    db = TSDB.open(str(tmp_path), registry=CollectorRegistry())
    try:
        app = FastAPI()
        app.include_router(remote_write.router(db, IngestLimits(), CollectorRegistry()))
        c = TestClient(app)
        now = int(time.time() * 1000)
        first = v1_request([({"__name__": "m", "k": "a"}, [(now, 1.0)])])
        assert c.post("/api/v1/write", content=snappy(first.SerializeToString()), headers=V1_HEADERS).status_code == 204
        late = v1_request([({"__name__": "m", "k": "a"}, [(now - 3_600_000, 2.0)]),
                           ({"__name__": "m", "k": "b"}, [(now, 3.0)])])
        r = c.post("/api/v1/write", content=snappy(late.SerializeToString()), headers=V1_HEADERS)
        assert r.status_code == 400 and "1 samples not stored" in r.text, r.text
        ss = db.querier(0, 2**62).select([Matcher("=", "__name__", "m")])
        assert {str(lab): ss.series(i)[1].tolist() for i, lab in enumerate(ss.labels)} == {
            'm{k="a"}': [1.0], 'm{k="b"}': [3.0]}
    finally:
        db.close()
