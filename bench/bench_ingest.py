"""Remote-write ingest throughput: Spyglass's receiver vs Prometheus 2.42's.

The same load generator sends the same pre-encoded requests (snappy
remote-write 1.0, node-exporter/kubelet-like label sets) to each server over
keep-alive connections, one thread per connection; each connection owns its
own groups of series so per-series timestamps always arrive in order. Two
shapes: 2,000 series x 1 sample per request, and 500 series x 10 samples.
The first round of requests (which creates the series) is a warm-up and is
not timed.

- peer: ``prometheus --web.enable-remote-write-receiver`` (Debian 2.42);
- Spyglass: a uvicorn process serving ``collector.receivers.remote_write``
  over the embedded TSDB (``storage.tsdb.TSDB.open``) when that exists,
  else over ``MemoryStorage`` (the row note says which).

Run: ``python -m bench ingest [--quick]``. The Spyglass server alone:
``python -m bench.bench_ingest serve --port 9999 --data-dir /tmp/x``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import cramjam

from bench.report import Row
from collector.protos import remote_write_v1_pb2 as rw1

CONNECTIONS = 4
GROUPS = 8  # series groups; each connection owns GROUPS / CONNECTIONS of them
HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "spyglass-bench/1",
}


# --- data -------------------------------------------------------------------

_NODE_METRICS = [
    ("node_cpu_seconds_total", lambda j: {"cpu": str(j % 16), "mode": ("idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice")[j // 16 % 8]}),
    ("node_network_receive_bytes_total", lambda j: {"device": f"veth{j:04x}"}),
    ("node_filesystem_avail_bytes", lambda j: {"device": f"/dev/mapper/vg-{j}", "fstype": "ext4", "mountpoint": f"/var/lib/kubelet/pods/{j:04x}/volumes"}),
    ("node_disk_read_bytes_total", lambda j: {"device": f"dm-{j}"}),
    ("node_hwmon_temp_celsius", lambda j: {"chip": f"platform_coretemp_{j // 8}", "sensor": f"temp{j % 8}"}),
]
_KUBELET_METRICS = [
    "container_cpu_usage_seconds_total",
    "container_memory_working_set_bytes",
    "container_network_receive_bytes_total",
    "container_fs_usage_bytes",
]


def series_labels(group: int, n: int, base: int = 0) -> list[list[tuple[str, str]]]:
    """``n`` distinct, realistic label sets for series group ``group``: half
    node-exporter series (200 per node), half cAdvisor series from the kubelet."""
    out = []
    for i in range(n):
        k = base + group * n + i
        if k % 2 == 0:
            m = k // 2
            node, j = m // 200, m % 200
            name, extra = _NODE_METRICS[j % len(_NODE_METRICS)]
            labels = {
                "__name__": name, "job": "node-exporter", "instance": f"10.1.{node // 250}.{node % 250}:9100",
                "node": f"worker-{node:04d}", "namespace": "monitoring", "pod": f"node-exporter-{node:05x}",
                "container": "node-exporter", "endpoint": "metrics", "service": "node-exporter",
                **extra(j // len(_NODE_METRICS)),
            }
        else:
            name = _KUBELET_METRICS[k % len(_KUBELET_METRICS)]
            pod = k // 8
            labels = {
                "__name__": name, "job": "kubelet", "metrics_path": "/metrics/cadvisor",
                "instance": f"10.2.{pod // 4000}.{pod // 16 % 250}:10250", "node": f"worker-{pod // 16:04d}",
                "namespace": f"team-{pod % 37}", "pod": f"app-{pod:06d}-7d9f8c6b5-x{pod % 997:03d}",
                "container": f"c{k % 3}", "image": f"registry.example.com/team/app:{pod % 13}.{k % 7}",
                "id": f"/kubepods/burstable/pod{pod:08x}/{k:012x}", "cpu": "total",
            }
        out.append(sorted(labels.items()))
    assert len({tuple(x) for x in out}) == n, "series label sets must be distinct"
    return out


def build_requests(series_per_request: int, samples_per_series: int, rounds: int,
                   t0_ms: int, base: int = 0) -> list[list[bytes]]:
    """Pre-encoded, snappy-compressed requests: ``[group][round]``."""
    rnd = random.Random(42)
    out = []
    for g in range(GROUPS):
        template = rw1.WriteRequest()
        for labels in series_labels(g, series_per_request, base):
            ts = template.timeseries.add()
            for n, v in labels:
                ts.labels.add(name=n, value=v)
        values = [rnd.random() * 1e6 for _ in range(series_per_request)]
        reqs = []
        for r in range(rounds):
            req = rw1.WriteRequest()
            req.CopyFrom(template)
            for j, ts in enumerate(req.timeseries):
                for s in range(samples_per_series):
                    values[j] += rnd.random() * 100
                    ts.samples.add(value=values[j], timestamp=t0_ms + (r * samples_per_series + s) * 1000)
            reqs.append(bytes(cramjam.snappy.compress_raw(req.SerializeToString())))
        out.append(reqs)
    return out


# --- load -------------------------------------------------------------------


@dataclass
class LoadResult:
    samples: int
    seconds: float
    errors: list[str]

    @property
    def rate(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0


def _post(conn: http.client.HTTPConnection, body: bytes) -> tuple[int, bytes]:
    conn.request("POST", "/api/v1/write", body=body, headers=HEADERS)
    resp = conn.getresponse()
    return resp.status, resp.read()


def send(port: int, requests: list[list[bytes]], samples_per_request: int) -> LoadResult:
    """Warm up with round 0 of every group, then time the other rounds."""
    errors: list[str] = []
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=120) for _ in range(CONNECTIONS)]

    def run(w: int, rounds: range) -> None:
        conn = conns[w]
        mine = [g for g in range(GROUPS) if g % CONNECTIONS == w]
        for r in rounds:
            for g in mine:
                status, text = _post(conn, requests[g][r])
                if status // 100 != 2 and len(errors) < 5:
                    errors.append(f"{status}: {text[:200]!r}")

    def phase(rounds: range) -> float:
        threads = [threading.Thread(target=run, args=(w, rounds)) for w in range(CONNECTIONS)]
        t = time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        return time.perf_counter() - t

    phase(range(0, 1))
    n_rounds = len(requests[0])
    seconds = phase(range(1, n_rounds))
    for c in conns:
        c.close()
    return LoadResult(GROUPS * (n_rounds - 1) * samples_per_request, seconds, errors)


# --- servers ----------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(port: int, path: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"server on :{port} not ready after {timeout}s")


def open_storage(data_dir: str):
    """The embedded TSDB when it exists, else MemoryStorage; and a note saying which."""
    try:
        from storage.tsdb import TSDB  # type: ignore[attr-defined]
    except ImportError:
        from storage.memstore import MemoryStorage

        return MemoryStorage(), "over MemoryStorage (storage.tsdb.TSDB not available yet)"
    return TSDB.open(data_dir), "over the embedded TSDB"


def serve(port: int, data_dir: str) -> None:
    """The Spyglass side: remote-write receiver over the embedded storage."""
    import uvicorn
    from fastapi import FastAPI
    from starlette.responses import PlainTextResponse

    from collector.receivers import IngestLimits, remote_write

    store, note = open_storage(data_dir)
    app = FastAPI()
    app.include_router(remote_write.router(store, IngestLimits()))
    app.add_api_route("/-/ready", lambda: PlainTextResponse("ready"), methods=["GET"])
    print(note, flush=True)
    try:
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    finally:
        close = getattr(store, "close", None)
        if close:
            close()


class _Server:
    def __init__(self, argv: list[str], port: int, ready_path: str, tmp: str):
        self.port, self.tmp = port, tmp
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        _wait_ready(port, ready_path, self.proc)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


def start_prometheus() -> _Server:
    tmp = tempfile.mkdtemp(prefix="bench-prom-")
    cfg = os.path.join(tmp, "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global:\n  scrape_interval: 1h\n")
    port = _free_port()
    binary = shutil.which("prometheus") or "/usr/bin/prometheus"
    return _Server([binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/data",
                    f"--web.listen-address=127.0.0.1:{port}", "--web.enable-remote-write-receiver"],
                   port, "/-/ready", tmp)


def start_spyglass() -> tuple[_Server, str]:
    tmp = tempfile.mkdtemp(prefix="bench-spyglass-")
    port = _free_port()
    s = _Server([sys.executable, "-m", "bench.bench_ingest", "serve", "--port", str(port), "--data-dir", tmp],
                port, "/-/ready", tmp)
    note = s.proc.stdout.readline().strip() if s.proc.stdout else ""
    return s, note


# --- benchmark --------------------------------------------------------------

SHAPES = [(2000, 1), (500, 10)]


def run(quick: bool) -> list[Row]:
    rounds = 6 if quick else 31
    t0 = (int(time.time()) - 3600) * 1000
    data, base = {}, 0
    for n, k in SHAPES:  # distinct series for each shape
        data[(n, k)] = build_requests(n, k, rounds, t0, base)
        base += GROUPS * n
    measured: dict[str, dict[tuple[int, int], LoadResult]] = {}
    note = ""
    for target in ("prometheus", "spyglass"):
        if target == "prometheus":
            server = start_prometheus()
        else:
            server, note = start_spyglass()
        try:
            measured[target] = {
                shape: send(server.port, data[shape], shape[0] * shape[1]) for shape in SHAPES
            }
        finally:
            server.stop()
    rows = []
    for n, k in SHAPES:
        ours, theirs = measured["spyglass"][(n, k)], measured["prometheus"][(n, k)]
        errs = ours.errors + theirs.errors
        row_note = f"Spyglass receiver {note}; {CONNECTIONS} connections"
        if errs:
            row_note += f"; ERRORS: {errs[:2]}"
        rows.append(Row(
            f"remote-write ingest, {n} series x {k} sample{'s' if k > 1 else ''} per request",
            "samples/s", round(ours.rate), round(theirs.rate), goal=">= 1.0", note=row_note,
        ))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ingest")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the Spyglass side of the benchmark")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--data-dir", required=True)
    sub.add_parser("run", help="run the benchmark and print its rows").add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "serve":
        serve(args.port, args.data_dir)
        return 0
    for row in run(args.quick):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
