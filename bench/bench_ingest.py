"""Remote-write ingest throughput: a real ``spyglass up`` vs Prometheus 2.42.

Both servers are real processes: ``spyglass up --no-host-metrics --otlp-grpc
off --otlp-http off`` (with ``builtin_rules: false``, since the peer runs no
rules either) and ``prometheus --web.enable-remote-write-receiver``, each over
its own temporary data directory. They get the same bytes: snappy
remote-write 1.0 requests of node-exporter/kubelet-like label sets, encoded
before any is sent (``bench/_remotewrite.py``, no Python object per sample).

Two shapes, each on its own series: 2,000 series × 1 sample per request and
500 series × 10 samples. ``GROUPS`` request groups make the active series
(32,000 and 8,000); one round sends one request of every group, and each
round's samples are ``INTERVAL_MS`` after the last round's. Per shape:

- **first round** (timed alone): every series is new, so this is the
  new-series cost (label validation, series creation, WAL series records);
- warm-up rounds (not timed);
- **steady rounds** (timed): every series is known.

Each shape gets a fresh pair of servers, started one at a time and left to
finish their start-up work, in alternating order so that the load of a
shared machine drifts alike over both. The load generator is a separate, ``nice``d process (``python -m
bench.bench_ingest load``) so that its work is not the server's and its
interpreter lock is its own: ``CONNECTIONS`` threads, one keep-alive socket
each, sending pre-built HTTP requests and reading the answers with a minimal
parser; each connection owns its groups, so each series' samples arrive in
order. It also reads the server's CPU time (``/proc/<pid>/stat``) at the phase
boundaries, which gives CPU seconds per million samples — steadier than
throughput on a shared machine.

Run: ``python -m bench ingest [--quick]``; against a server already running:
``python -m bench.bench_ingest load --port P --series 500 --samples 10``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from bench.report import Row

CONNECTIONS = 4
GROUPS = 16  # request groups per shape; connection w sends the groups g with g % CONNECTIONS == w
# Between one round's samples and the next's. Short enough that a whole run
# spans well under an hour and ends a minute before it starts: `spyglass up`
# stores its own telemetry at the current time, and both servers refuse
# samples more than an hour older than the newest they hold.
INTERVAL_MS = 5_000
SHAPES = [(2000, 1), (500, 10)]
HEADERS = (
    b"Content-Type: application/x-protobuf\r\n"
    b"Content-Encoding: snappy\r\n"
    b"X-Prometheus-Remote-Write-Version: 0.1.0\r\n"
    b"User-Agent: spyglass-bench/1\r\n"
)


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


def series_labels(first: int, n: int) -> list[list[tuple[str, str]]]:
    """``n`` distinct, realistic label sets numbered from ``first``: half
    node-exporter series (200 per node), half cAdvisor series from the kubelet."""
    out = []
    for k in range(first, first + n):
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
    if len({tuple(x) for x in out}) != n:
        raise RuntimeError("series label sets must be distinct")
    return out


@dataclass(frozen=True, slots=True)
class Plan:
    """One shape's load: ``groups`` requests of ``series`` series × ``samples``
    samples per round; round 0 creates the series, rounds ``1..warmup`` are
    not timed, the ``steady`` rounds after them are."""

    series: int
    samples: int
    t0_ms: int
    first_series: int = 0  # number of the first label set (shapes use disjoint series)
    groups: int = GROUPS
    warmup: int = 2
    steady: int = 20
    connections: int = CONNECTIONS

    @property
    def rounds(self) -> int:
        return 1 + self.warmup + self.steady

    @property
    def samples_per_round(self) -> int:
        return self.groups * self.series * self.samples

    @property
    def end_ms(self) -> int:
        """Just after the newest timestamp of the plan."""
        return self.t0_ms + self.rounds * self.samples * INTERVAL_MS


def build_bodies(plan: Plan) -> list[list[bytes]]:
    """Snappy request bodies ``[round][group]``: counters that rise by random
    steps, the same bytes on every run (fixed seed)."""
    from bench._remotewrite import RequestEncoder

    n, k, g = plan.series, plan.samples, plan.groups
    labels = series_labels(plan.first_series, n * g)
    enc = RequestEncoder(labels, [np.arange(i * n, (i + 1) * n) for i in range(g)])
    rnd = np.random.default_rng(42)
    values = rnd.random(n * g) * 1e6
    out = []
    for r in range(plan.rounds):
        steps = rnd.random((n * g, k)) * 100
        vals = values[:, None] + np.cumsum(steps, axis=1)
        values = vals[:, -1].copy()
        ts = plan.t0_ms + (r * k + np.arange(k, dtype=np.int64)) * INTERVAL_MS
        ts = np.broadcast_to(ts, (n * g, k))
        out.append([enc.encode(i, ts[i * n:(i + 1) * n], vals[i * n:(i + 1) * n]) for i in range(g)])
    return out


# --- load -------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection posting pre-built requests; the
    answer is read with just enough parsing for status, Content-Length and
    chunked bodies (both servers' remote-write answers)."""

    def __init__(self, port: int, path: str = "/api/v1/write", timeout: float = 120.0):
        self.port, self.path, self.timeout = port, path, timeout
        self.sock: socket.socket | None = None
        self.buf = b""

    def request(self, body: bytes) -> tuple[bytes, bytes]:
        """The request for ``body``: its head and the body, sent with one gather write."""
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n".encode()
            + HEADERS
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
        )
        return head, body

    def _connect(self) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = s, b""
        return s

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf += chunk

    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def post(self, request: tuple[bytes, bytes]) -> tuple[int, bytes]:
        """Send one pre-built request; (status, body)."""
        s = self.sock or self._connect()
        head, body = request
        sent = s.sendmsg([head, body])
        if sent < len(head) + len(body):  # the socket buffer was full: send the rest
            rest = memoryview(head + body)[sent:]
            s.sendall(rest)
        status = int(self._line().split(b" ", 2)[1])
        length, chunked, close = None, False, False
        while line := self._line():
            name, _, value = line.partition(b":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value:
                chunked = True
            elif name == b"connection" and value == b"close":
                close = True
        if chunked:
            parts = []
            while size := int(self._line().split(b";")[0], 16):
                parts.append(self._take(size))
                self._take(2)
            while self._line():  # trailers
                pass
            body = b"".join(parts)
        else:
            body = self._take(length or 0)
        if close:
            self.close()
        return status, body

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (all its threads)."""
    if not pid:
        return 0.0
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Phase:
    """What one timed phase saw."""

    samples: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.samples / self.seconds if self.seconds else 0.0

    @property
    def cpu_per_million(self) -> float:
        return self.server_cpu / self.samples * 1e6 if self.samples else 0.0


def drive(port: int, plan: Plan, bodies: list[list[bytes]], server_pid: int = 0) -> dict[str, Phase]:
    """Send the plan's rounds: ``first`` (round 0), warm-up, ``steady``."""
    conns = [Connection(port) for _ in range(plan.connections)]
    requests = [[conns[0].request(b) for b in row] for row in bodies]  # same bytes for every connection
    lock = threading.Lock()

    def run(w: int, rounds: range, phase: Phase) -> None:
        conn = conns[w]
        mine = [g for g in range(plan.groups) if g % plan.connections == w]
        for r in rounds:
            for g in mine:
                try:
                    status, text = conn.post(requests[r][g])
                except OSError as e:
                    conn.close()
                    status, text = 0, repr(e).encode()
                if status // 100 != 2:
                    with lock:
                        phase.failed += 1
                        if len(phase.errors) < 3:
                            phase.errors.append(f"{status}: {text[:200].decode(errors='replace')}")

    def timed(rounds: range) -> Phase:
        phase = Phase(samples=len(rounds) * plan.samples_per_round)
        threads = [threading.Thread(target=run, args=(w, rounds, phase)) for w in range(plan.connections)]
        cpu0, t0 = cpu_seconds(server_pid), time.perf_counter()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        phase.seconds = time.perf_counter() - t0
        phase.server_cpu = cpu_seconds(server_pid) - cpu0
        return phase

    try:
        first = timed(range(1))
        timed(range(1, 1 + plan.warmup))
        steady = timed(range(1 + plan.warmup, plan.rounds))
    finally:
        for c in conns:
            c.close()
    return {"first": first, "steady": steady}


def load(port: int, plan: Plan, server_pid: int = 0) -> dict[str, Phase]:
    """Run one plan in a ``nice``d load-generator process; its phases."""
    argv = ["nice", "-n", "10", sys.executable, "-m", "bench.bench_ingest", "load", "--port", str(port),
            "--server-pid", str(server_pid), "--plan", json.dumps(asdict(plan))]
    out = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=1800)
    if out.returncode != 0:
        raise RuntimeError(f"load generator failed ({out.returncode}): {out.stderr[-2000:]}")
    return {k: Phase(**v) for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


# --- benchmark --------------------------------------------------------------


def plans(quick: bool, now_ms: int) -> list[Plan]:
    """One plan per shape, on disjoint series, the second's samples after the first's."""
    out, first, t0 = [], 0, 0
    for n, k in SHAPES:
        steady = 4 if quick else (30 if k == 1 else 24)
        p = Plan(n, k, t0, first_series=first, warmup=1 if quick else 2, steady=steady)
        out.append(p)
        first += GROUPS * n
        t0 = p.end_ms + INTERVAL_MS
    # then shift them all to end a minute ago
    shift = (now_ms - 60_000 - out[-1].end_ms) // INTERVAL_MS * INTERVAL_MS
    out = [replace(p, t0_ms=p.t0_ms + shift) for p in out]
    if now_ms - out[0].t0_ms > 3_600_000 // 2:
        raise RuntimeError("the plans span more than half an hour: shorten them")
    return out


def settle(pid: int, timeout: float = 30.0) -> None:
    """Wait until a freshly started server is idle (under 10 % of a core over
    half a second): both finish start-up work in the background."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        c0 = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - c0 < 0.05:
            return


def _servers(tmp: Path):
    from bench._procs import ServerProcess

    prom = ServerProcess.prometheus(tmp / "prometheus")
    sg = ServerProcess.spyglass(tmp / "spyglass")
    cfg = tmp / "spyglass" / "spyglass.yml"
    cfg.write_text("builtin_rules: false\n")  # Prometheus evaluates no rules either
    sg.argv += ["--config", str(cfg)]
    return [prom, sg]


def run(quick: bool) -> list[Row]:
    shape_plans = plans(quick, int(time.time() * 1000))
    measured: dict[str, list[dict[str, Phase]]] = {"prometheus": [], "spyglass": []}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as d:
        for i, p in enumerate(shape_plans):
            # a fresh pair of servers per shape, one running at a time (an
            # idle one still seals, compacts and scrapes itself), in
            # alternating order so that a shared machine's load drifts alike
            servers = _servers(Path(d) / f"shape{i}")
            for server in servers if i % 2 == 0 else servers[::-1]:
                server.start()
                try:
                    settle(server.proc.pid)
                    measured[server.name].append(load(server.port, p, server.proc.pid))
                finally:
                    server.stop()
    rows = []
    for i, p in enumerate(shape_plans):
        ours, theirs = measured["spyglass"][i], measured["prometheus"][i]
        shape = f"{p.series} series x {p.samples} sample{'s' if p.samples > 1 else ''}"
        for phase, what in (("steady", "known series"), ("first", "new series")):
            o, t = ours[phase], theirs[phase]
            note = f"{CONNECTIONS} connections, {p.groups * p.series} series; `spyglass up` vs `prometheus`"
            errs = [f"spyglass {e}" for e in o.errors] + [f"prometheus {e}" for e in t.errors]
            if errs:
                note += f"; {o.failed + t.failed} requests FAILED: {errs[:2]}"
            goal = ">= 1.0" if phase == "steady" else ""
            rows.append(Row(f"remote-write ingest, {shape} per request, {what}", "samples/s",
                            round(o.rate), round(t.rate), goal=goal, note=note))
        rows.append(Row(f"server CPU per 1M samples, {shape}, known series", "CPU s",
                        round(ours["steady"].cpu_per_million, 2), round(theirs["steady"].cpu_per_million, 2),
                        note="user+system time of the server process during the steady rounds"))
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.bench_ingest")
    sub = p.add_subparsers(dest="cmd", required=True)
    lp = sub.add_parser("load", help="send one plan to a running server; prints its phases as JSON")
    lp.add_argument("--port", type=int, required=True)
    lp.add_argument("--server-pid", type=int, default=0, help="to read its CPU time")
    lp.add_argument("--plan", help="a Plan as JSON (default: from --series/--samples)")
    lp.add_argument("--series", type=int, default=500)
    lp.add_argument("--samples", type=int, default=10)
    lp.add_argument("--steady", type=int, default=20)
    lp.add_argument("--warmup", type=int, default=2)
    lp.add_argument("--connections", type=int, default=CONNECTIONS)
    lp.add_argument("--first-series", type=int, default=None,
                    help="number of the first label set (default: new series on every run)")
    lp.add_argument("--t0", type=int, default=None,
                    help="first timestamp, ms (default: so that the last is a minute ago); a server "
                         "refuses samples more than 1 h older than the newest it has")
    sub.add_parser("run", help="run the benchmark and print its rows").add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    if args.cmd == "load":
        if args.plan:
            plan = Plan(**json.loads(args.plan))
        else:
            span = (1 + args.warmup + args.steady) * args.samples * INTERVAL_MS
            t0 = args.t0 if args.t0 is not None else (int(time.time() * 1000) - span - 60_000)
            t0 = t0 // INTERVAL_MS * INTERVAL_MS
            first = args.first_series
            if first is None:  # a server that saw earlier runs would call their series' samples old
                first = int(time.time()) % 1_000_000 * GROUPS * args.series
            plan = Plan(args.series, args.samples, t0, first_series=first, warmup=args.warmup,
                        steady=args.steady, connections=args.connections)
        phases = drive(args.port, plan, build_bodies(plan), args.server_pid)
        print(json.dumps({k: asdict(v) for k, v in phases.items()}))
        return 0
    for row in run(args.quick):
        print(row)
    return 0


if __name__ == "__main__":
    sys.exit(main())
