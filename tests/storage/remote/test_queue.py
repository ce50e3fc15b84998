"""Remote-write out: disk queue, encodings, retries, and end to end against real Prometheus."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import cramjam
import httpx
import pytest
from prometheus_client import CollectorRegistry

from collector.protos import remote_write_v1_pb2 as rw1
from collector.protos import remote_write_v2_pb2 as rw2
from storage.interface import MetricMetadata, MetricType, OverloadedError, SampleBatch
from storage.labels import Labels
from storage.remote.config import RemoteWriteConfig
from storage.remote.diskqueue import DiskQueue
from storage.remote.queue import RemoteWriteQueue
from tests.util import free_port, peer_binary, wait_http

T0 = int(time.time() * 1000) - 60_000


def batch(n_series=10, n_samples=1, name="m", t0=T0, meta=None):
    samples = [
        (Labels.from_dict({"__name__": name, "i": str(i)}), t0 + j * 1000, float(i * 100 + j))
        for j in range(n_samples)
        for i in range(n_series)
    ]
    return SampleBatch.from_samples(samples, meta)


def cfg(url, **kw):
    q = {"batch_send_deadline": "50ms", "min_backoff": "20ms", "max_backoff": "100ms"}
    q.update(kw.pop("queue_config", {}))
    return RemoteWriteConfig.model_validate({"url": url, "queue_config": q, **kw})


class Receiver:
    """A MockTransport receiver: decodes requests, answers from a script of statuses."""

    def __init__(self, statuses=(), v2=False, delay=0.0, headers=None):
        self.statuses = list(statuses)
        self.v2 = v2
        self.delay = delay
        self.headers = headers or {}
        self.samples: list[tuple[Labels, int, float]] = []
        self.metadata: list = []
        self.requests = []
        self.lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.delay:
            time.sleep(self.delay)
        with self.lock:
            self.requests.append(request)
            status = self.statuses.pop(0) if self.statuses else 204
            if status >= 300:
                return httpx.Response(status, headers=self.headers, text="nope")
            raw = cramjam.snappy.decompress_raw(request.content)
            if self.v2:
                req = rw2.Request.FromString(bytes(raw))
                sym = req.symbols
                for ts in req.timeseries:
                    refs = list(ts.labels_refs)
                    lab = Labels.from_pairs((sym[refs[i]], sym[refs[i + 1]]) for i in range(0, len(refs), 2))
                    self.metadata.append((lab.name, ts.metadata.type, sym[ts.metadata.help_ref]))
                    self.samples.extend((lab, s.timestamp, s.value) for s in ts.samples)
            else:
                req = rw1.WriteRequest.FromString(bytes(raw))
                self.metadata.extend(req.metadata)
                for ts in req.timeseries:
                    lab = Labels.from_pairs((lb.name, lb.value) for lb in ts.labels)
                    self.samples.extend((lab, s.timestamp, s.value) for s in ts.samples)
            return httpx.Response(204)


def make_queue(tmp_path, receiver, registry=None, **kw):
    c = cfg("http://receiver.invalid/api/v1/write", **kw)
    return RemoteWriteQueue(
        c, str(tmp_path / "q"), registry=registry or CollectorRegistry(),
        transport=httpx.MockTransport(receiver), shard_update_interval=kw.pop("_shard_interval", 10.0),
    )


def test_v1_delivery_order_and_headers(tmp_path):
    rx = Receiver()
    q = make_queue(tmp_path, rx)
    q.start()
    q.append(batch(5, 3))
    assert q.flush(10)
    q.stop()
    assert len(rx.samples) == 15
    by_series = {}
    for lab, t, v in rx.samples:
        by_series.setdefault(lab, []).append(t)
    assert all(ts == sorted(ts) for ts in by_series.values())
    h = rx.requests[0].headers
    assert h["content-encoding"] == "snappy" and h["content-type"] == "application/x-protobuf"
    assert h["x-prometheus-remote-write-version"] == "0.1.0"


def test_v2_encoding_with_symbols_and_metadata(tmp_path):
    rx = Receiver(v2=True)
    q = make_queue(tmp_path, rx, protobuf_message="io.prometheus.write.v2.Request")
    q.start()
    q.append(batch(3, 2, name="req_total", meta={"req": MetricMetadata(MetricType.COUNTER, "Requests.")}))
    assert q.flush(10)
    q.stop()
    assert sorted((lab.get("i"), t, v) for lab, t, v in rx.samples) == sorted(
        (str(i), T0 + j * 1000, float(i * 100 + j)) for i in range(3) for j in range(2)
    )
    assert {m for m in rx.metadata} == {("req_total", rw2.Metadata.METRIC_TYPE_COUNTER, "Requests.")}
    assert rx.requests[0].headers["content-type"] == "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def test_external_labels_and_write_relabel(tmp_path):
    rx = Receiver()
    c = cfg("http://r.invalid/w", write_relabel_configs=[{"action": "drop", "source_labels": ["i"], "regex": "[0-4]"}])
    reg = CollectorRegistry()
    q = RemoteWriteQueue(c, str(tmp_path / "q"), external_labels={"cluster": "a", "i": "never"},
                         registry=reg, transport=httpx.MockTransport(rx))
    q.start()
    q.append(batch(10, 1))
    assert q.flush(10)
    q.stop()
    assert sorted(lab.get("i") for lab, _, _ in rx.samples) == ["5", "6", "7", "8", "9"]
    assert all(lab.get("cluster") == "a" for lab, _, _ in rx.samples)
    assert reg.get_sample_value("spyglass_remote_write_samples_dropped_total",
                                {"remote_name": q.name, "url": c.url, "reason": "relabel"}) == 5


def test_5xx_retried_with_retry_after_and_400_dropped(tmp_path):
    reg = CollectorRegistry()
    rx = Receiver(statuses=[503, 500], headers={"Retry-After": "0"})
    q = make_queue(tmp_path, rx, registry=reg)
    q.start()
    q.append(batch(4))
    assert q.flush(10)
    assert len(rx.samples) == 4
    lv = {"remote_name": q.name, "url": q.cfg.url}
    assert reg.get_sample_value("spyglass_remote_write_samples_retried_total", lv) == 8
    rx.statuses = [400]
    q.append(batch(3, t0=T0 + 5000))
    assert q.flush(10)
    q.stop()
    assert len(rx.samples) == 4  # the 400 batch was dropped, never resent
    assert reg.get_sample_value("spyglass_remote_write_samples_failed_total", lv) == 3
    assert reg.get_sample_value("spyglass_remote_write_samples_sent_total", lv) == 4


@pytest.mark.parametrize("retry, delivered", [(True, 2), (False, 0)])
def test_429_retried_only_when_configured(tmp_path, retry, delivered):
    rx = Receiver(statuses=[429])
    q = make_queue(tmp_path, rx, queue_config={"retry_on_http_429": retry})
    q.start()
    q.append(batch(2))
    assert q.flush(10)
    q.stop()
    assert len(rx.samples) == delivered


def test_restart_loses_nothing(tmp_path):
    rx = Receiver(statuses=[503] * 1000)  # receiver down: nothing acknowledged
    q = make_queue(tmp_path, rx)
    q.start()
    q.append(batch(20, 2))
    time.sleep(0.2)
    q.stop()
    rx2 = Receiver()
    q2 = make_queue(tmp_path, rx2)
    assert q2.pending_samples == 40
    q2.start()
    assert q2.flush(10)
    q2.stop()
    assert len(rx2.samples) == 40


def test_kill_9_after_append_loses_nothing(tmp_path):
    """A process that queued batches and died by SIGKILL: a new queue delivers them all."""
    script = textwrap.dedent(f"""
        import os, signal, httpx
        from prometheus_client import CollectorRegistry
        from storage.remote.config import RemoteWriteConfig
        from storage.remote.queue import RemoteWriteQueue
        from tests.storage.remote.test_queue import batch
        c = RemoteWriteConfig.model_validate({{"url": "http://127.0.0.1:9/w"}})
        q = RemoteWriteQueue(c, {str(tmp_path / "q")!r}, registry=CollectorRegistry(),
                             transport=httpx.MockTransport(lambda r: httpx.Response(503)))
        for k in range(5):
            q.append(batch(50, 1, t0={T0} + k * 1000))
        print("appended", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    out = subprocess.run([sys.executable, "-c", script], check=False, capture_output=True, text=True, cwd=root,
                         timeout=60)
    assert "appended" in out.stdout and out.returncode == -9, out.stderr
    rx = Receiver()
    q = make_queue(tmp_path, rx)
    q.start()
    assert q.flush(10)
    q.stop()
    assert len(rx.samples) == 250


def test_torn_tail_repaired(tmp_path):
    d = DiskQueue(str(tmp_path / "d"))
    d.append(b"x" * 100, 3)
    d.append(b"y" * 100, 4)
    d.close()
    (seg,) = [f for f in os.listdir(tmp_path / "d") if f.endswith(".seg")]
    with open(tmp_path / "d" / seg, "ab") as f:
        f.write(b"\x50\x00\x00\x00garbage")  # a torn half record
    d2 = DiskQueue(str(tmp_path / "d"))
    assert d2.repaired_bytes == 11 and d2.pending_samples == 7
    recs, pos = d2.read_from(d2.cursor, 100)
    assert [n for _, n in recs] == [3, 4]
    d2.ack(pos, 7)
    d2.close()
    assert DiskQueue(str(tmp_path / "d")).pending_samples == 0


def test_full_queue_drops_oldest_counted_or_refuses(tmp_path):
    reg = CollectorRegistry()
    rx = Receiver(statuses=[503] * 10_000)
    q = make_queue(tmp_path, rx, registry=reg, queue_config={"max_disk_bytes": 1 << 16})
    for k in range(40):
        q.append(batch(100, 1, t0=T0 + k))
    lv = {"remote_name": q.name, "url": q.cfg.url, "reason": "queue_full"}
    dropped = reg.get_sample_value("spyglass_remote_write_samples_dropped_total", lv)
    assert dropped and dropped > 0
    assert q.disk.size_bytes <= 1 << 16
    assert q.pending_samples + dropped == 4000
    q.stop()
    q2 = make_queue(tmp_path / "r", rx, queue_config={"max_disk_bytes": 1 << 16, "when_full": "refuse"})
    with pytest.raises(OverloadedError):
        for k in range(40):
            q2.append(batch(100, 1, t0=T0 + k))
    q2.stop()


def test_shards_grow_with_a_slow_receiver(tmp_path):
    rx = Receiver(delay=0.05)
    c = cfg("http://r.invalid/w", queue_config={"max_samples_per_send": 50, "max_shards": 8})
    q = RemoteWriteQueue(c, str(tmp_path / "q"), registry=CollectorRegistry(),
                         transport=httpx.MockTransport(rx), shard_update_interval=0.3)
    q.start()
    deadline = time.monotonic() + 10
    k = 0
    while q.shards == 1 and time.monotonic() < deadline:
        q.append(batch(100, 1, t0=T0 + k))
        k += 1
        time.sleep(0.02)
    assert q.shards > 1
    assert q.flush(20)
    q.stop()
    assert len(rx.samples) == 100 * k


@pytest.fixture
def prometheus_receiver(tmp_path):
    port = free_port()
    exe = peer_binary("prometheus")
    (tmp_path / "p.yml").write_text("global: {}\n")
    procs = []

    def start():
        p = subprocess.Popen(
            [exe, f"--config.file={tmp_path / 'p.yml'}", f"--storage.tsdb.path={tmp_path / 'pdata'}",
             f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        procs.append(p)
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)

    yield port, start
    for p in procs:
        p.terminate()
        p.wait(20)


def prom_count(port, query):
    r = httpx.get(f"http://127.0.0.1:{port}/api/v1/query", params={"query": query})
    res = r.json()["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


@pytest.mark.peer
@pytest.mark.slow
def test_end_to_end_real_prometheus_down_then_up(tmp_path, prometheus_receiver):
    """Receiver down at first: retried; once Prometheus is up, everything arrives once."""
    port, start = prometheus_receiver
    reg = CollectorRegistry()
    c = cfg(f"http://127.0.0.1:{port}/api/v1/write", queue_config={"max_backoff": "200ms"})
    q = RemoteWriteQueue(c, str(tmp_path / "q"), registry=reg, external_labels={"replica": "x"},
                         clock=time.time)
    q.start()
    now = int(time.time() * 1000) - 30_000
    for k in range(5):
        q.append(batch(200, 2, name="rw_test", t0=now + k * 2000))
    time.sleep(0.5)
    lv = {"remote_name": q.name, "url": c.url}
    assert reg.get_sample_value("spyglass_remote_write_samples_retried_total", lv) > 0
    start()
    assert q.flush(30)
    q.stop()
    assert prom_count(port, 'count(rw_test{replica="x"})') == 200
    assert prom_count(port, "sum(count_over_time(rw_test[5m]))") == 2000
    assert reg.get_sample_value("spyglass_remote_write_samples_sent_total", lv) == 2000
