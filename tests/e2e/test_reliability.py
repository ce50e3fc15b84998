"""Issue 2 §6 against a real `spyglass up` process: acknowledged means durable, bad input
harms nothing, a full disk is refused with a retryable error and recovered from."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import cramjam
import httpx
import pytest

from collector.protos import remote_write_v1_pb2 as pb
from tests.e2e.rwdata import HEADERS, send, write_request
from tests.e2e.server import SpyglassProcess, wait_until

pytestmark = pytest.mark.slow

T0 = (int(time.time() * 1000) // 1000) * 1000 - 600_000


def _request(i: int, samples: int = 10) -> bytes:
    labels = {"__name__": "rw_durable", "req": str(i), "job": "kill9"}
    return write_request([(labels, [(T0 + j * 1000, float(i * 100 + j)) for j in range(samples)])])


def _counts(url: str) -> dict[str, int]:
    r = httpx.get(url + "/api/v1/query", params={"query": "count_over_time(rw_durable[1h])",
                                                  "time": str((T0 + 60_000) / 1000)}, timeout=60)
    assert r.status_code == 200, r.text
    return {s["metric"]["req"]: int(float(s["value"][1])) for s in r.json()["data"]["result"]}


def test_kill9_during_remote_write_load_loses_no_acknowledged_sample(tmp_path):
    spy = SpyglassProcess(tmp_path / "data", extra_args=["--no-host-metrics"]).start()
    acked: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def sender(worker: int):
        client = httpx.Client(timeout=10)
        i = worker
        while not stop.is_set():
            try:
                r = client.post(spy.url + "/api/v1/write", content=_request(i), headers=HEADERS)
            except httpx.HTTPError:
                return  # the server died under us: this request was never acknowledged
            if r.status_code in (200, 204):
                with lock:
                    acked.append(i)
            i += 4

    with ThreadPoolExecutor(4) as pool:
        for w in range(4):
            pool.submit(sender, w)
        wait_until(lambda: len(acked) >= 200, timeout=60, what="200 acknowledged writes")
        spy.kill9()
        stop.set()
    assert len(acked) >= 200
    spy.start()
    try:
        counts = _counts(spy.url)
        missing = [i for i in acked if counts.get(str(i)) != 10]
        assert not missing, f"{len(missing)} acknowledged requests lost or partial, e.g. {missing[:5]}"
    finally:
        spy.stop()


def test_bad_input_gets_a_reason_and_harms_nothing(tmp_path):
    with SpyglassProcess(tmp_path / "data", extra_args=["--no-host-metrics"]) as spy:
        assert send(spy.url + "/api/v1/write", _request(1)).status_code == 204
        url = spy.url + "/api/v1/write"
        # malformed protobuf
        r = httpx.post(url, content=bytes(cramjam.snappy.compress_raw(b"\xff\xff\xff\x01garbage")), headers=HEADERS)
        assert r.status_code == 400 and r.text.strip()
        # not snappy at all
        r = httpx.post(url, content=b"definitely not snappy", headers=HEADERS)
        assert r.status_code == 400
        # a snappy bomb: a tiny body whose preamble claims 4 GiB
        bomb = bytes([0x80, 0x80, 0x80, 0x80, 0x10]) + b"\x00" * 16
        r = httpx.post(url, content=bomb, headers=HEADERS)
        assert r.status_code in (400, 413), r.text
        # an oversized body is refused before it is read
        r = httpx.post(url, content=b"\x00" * (33 << 20), headers=HEADERS)
        assert r.status_code == 413
        # unsupported content type
        r = httpx.post(url, content=b"x", headers={**HEADERS, "Content-Type": "application/json"})
        assert r.status_code == 415
        # invalid labels
        req = pb.WriteRequest()
        ts = req.timeseries.add()
        ts.labels.add(name="__name__", value="")
        ts.labels.add(name="a", value="b")
        ts.samples.add(timestamp=T0, value=1)
        r = httpx.post(url, content=bytes(cramjam.snappy.compress_raw(req.SerializeToString())), headers=HEADERS)
        assert r.status_code == 400 and "name" in r.text.lower()
        # samples far too old for the head (the head already holds newer data)
        newer = write_request([({"__name__": "rw_old", "job": "x"}, [(int(time.time() * 1000), 1.0)])])
        assert send(url, newer).status_code == 204
        old = write_request([({"__name__": "rw_old", "job": "x"}, [(int(time.time() * 1000) - 40 * 86400_000, 1.0)])])
        r = send(url, old)
        assert r.status_code == 400 and r.text.strip()
        # still serving, and the first write is intact
        assert httpx.get(spy.url + "/-/ready").status_code == 200
        assert _counts(spy.url) == {"1": 10}


def _mount_tmpfs(path, size: str) -> None:
    assert os.geteuid() == 0, "the disk-full test mounts a small tmpfs and needs root (CI runs as root)"
    path.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], check=True)


def test_disk_full_is_refused_with_a_retryable_error_and_recovered(tmp_path):
    mnt = tmp_path / "small"
    _mount_tmpfs(mnt, "96m")
    try:
        spy = SpyglassProcess(mnt / "data", extra_args=["--no-host-metrics"]).start()
        try:
            assert send(spy.url + "/api/v1/write", _request(1)).status_code == 204
            filler = mnt / "filler"
            with open(filler, "wb") as f:  # fill the disk
                try:
                    while True:
                        f.write(b"\x00" * (1 << 20))
                        f.flush()
                except OSError:
                    pass
            refused = None
            for i in range(2, 400):  # the WAL may still have a little room; keep writing until refused
                r = send(spy.url + "/api/v1/write", _request(i, samples=200))
                if r.status_code != 204:
                    refused = r
                    break
            assert refused is not None, "writes kept succeeding on a full disk"
            assert refused.status_code == 503 and refused.headers.get("Retry-After"), refused.text
            assert httpx.get(spy.url + "/-/healthy").status_code == 200
            filler.unlink()
            r = send(spy.url + "/api/v1/write", _request(1000))
            assert r.status_code == 204, r.text
        finally:
            spy.stop()
        spy.start()
        try:
            counts = _counts(spy.url)
            assert counts.get("1") == 10 and counts.get("1000") == 10
        finally:
            spy.stop()
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_sigterm_is_graceful_and_data_survives(tmp_path):
    spy = SpyglassProcess(tmp_path / "data", extra_args=["--no-host-metrics"]).start()
    assert send(spy.url + "/api/v1/write", _request(7)).status_code == 204
    assert spy.stop() == 0
    assert "stopped" in spy.log()
    spy.start()
    try:
        assert _counts(spy.url) == {"7": 10}
    finally:
        spy.stop()
