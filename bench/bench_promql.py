"""PromQL latency and memory: Spyglass's engine vs Prometheus 2.42 on the same data.

Data: 10,000 series over 6 h at a 15 s scrape interval (node-exporter-like CPU,
memory, network and filesystem series for 50 nodes; kubelet/cAdvisor-like
container CPU and memory for 1,000 pods; an API-server-like request-duration
histogram), generated deterministically. Prometheus gets it through
``promtool tsdb create-blocks-from openmetrics`` and serves it from those
blocks; Spyglass gets it in its embedded TSDB (``storage.tsdb``), flushed to
blocks, and a separate worker process opens that TSDB and runs the queries, so
that its peak memory is the query process's own.

Each dashboard-style query runs as a range query over the whole 6 h at a 30 s
step (721 points per series), plus a few instant queries, ``reps`` times; the
rows are the p50 and p95 engine latencies (Prometheus: ``stats=all``
``evalTotalTime``, which excludes JSON encoding; Spyglass: the engine call,
including its storage reads) and each side's peak resident memory. The
``http:`` rows are small panel-sized queries (one node's series) timed end to
end, request to last byte, against a real ``spyglass up`` serving the same
TSDB and against Prometheus: a dashboard sends hundreds of them, so their
fixed cost (HTTP stack, parsing, JSON) is what a dashboard waits for.

    python -m bench promql [--quick]
"""

from __future__ import annotations

import http.client
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

from bench.report import Row

HOUR = 3_600_000
SCRAPE_MS = 15_000
STEP_MS = 30_000

RANGE_QUERIES = [
    ("cpu busy by node", 'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))'),
    ("cpu utilisation", '1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))'),
    ("network rx by node", "sum by (instance) (rate(node_network_receive_bytes_total[5m]))"),
    ("memory available ratio", "node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes"),
    (
        "top 5 pods by cpu",
        "topk(5, sum by (namespace, pod) (rate(container_cpu_usage_seconds_total[5m])))",
    ),
    ("memory by namespace", "sum by (namespace) (container_memory_working_set_bytes)"),
    (
        "p99 request latency",
        (
            "histogram_quantile(0.99, sum by (le, verb) "
            "(rate(apiserver_request_duration_seconds_bucket[5m])))"
        ),
    ),
    (
        "max cpu subquery",
        'max_over_time(sum by (instance) (rate(node_cpu_seconds_total{mode="user"}[1m]))[30m:1m])',
    ),
    (
        "memory 1h average",
        "avg by (namespace) (avg_over_time(container_memory_working_set_bytes[1h]))",
    ),
]
INSTANT_QUERIES = [
    ("instant: cpu busy by node", RANGE_QUERIES[0][1]),
    ("instant: top 5 pods by cpu", RANGE_QUERIES[4][1]),
    ("instant: p99 request latency", RANGE_QUERIES[6][1]),
    ("instant: series per node", "count by (instance) (node_cpu_seconds_total)"),
]
# A dashboard such as Node Exporter Full sends hundreds of queries like these,
# each for a handful of series: what counts there is each request's fixed
# cost, end to end over HTTP (one kept-alive connection, as a browser keeps
# one): (name, kind, expression); range queries span HTTP_RANGE_MS.
HTTP_QUERIES = [
    ("http: one series, instant", "instant", 'node_memory_MemTotal_bytes{instance="10.0.0.0:9100"}'),
    (
        "http: idle cpu of one node, 1 h range",
        "range",
        'rate(node_cpu_seconds_total{instance="10.0.0.0:9100",mode="idle"}[5m])',
    ),
]
HTTP_RANGE_MS = HOUR
HTTP_STEP_MS = 15_000
HTTP_WARMUP = 3


# --- data ---------------------------------------------------------------------------


def _families(nodes: int, pods: int):
    """(name, list of label dicts, kind) for every metric family."""
    modes = ["idle", "user", "system", "iowait", "irq", "softirq", "steal", "nice"]
    fam = []
    inst = [f"10.0.{i // 250}.{i % 250}:9100" for i in range(nodes)]
    fam.append(
        (
            "node_cpu_seconds_total",
            [
                {"instance": n, "job": "node", "cpu": str(c), "mode": m}
                for n in inst
                for c in range(8)
                for m in modes
            ],
            "counter",
        )
    )
    fam.append(
        (
            "node_network_receive_bytes_total",
            [
                {"instance": n, "job": "node", "device": d}
                for n in inst
                for d in ("eth0", "eth1", "lo", "docker0")
            ],
            "counter",
        )
    )
    fam.append(
        ("node_memory_MemAvailable_bytes", [{"instance": n, "job": "node"} for n in inst], "gauge")
    )
    fam.append(
        ("node_memory_MemTotal_bytes", [{"instance": n, "job": "node"} for n in inst], "const")
    )
    fam.append(("node_load1", [{"instance": n, "job": "node"} for n in inst], "gauge"))
    fam.append(
        (
            "node_filesystem_avail_bytes",
            [
                {"instance": n, "job": "node", "mountpoint": m}
                for n in inst
                for m in ("/", "/var", "/boot")
            ],
            "gauge",
        )
    )
    pod_labels = [
        {
            "namespace": f"ns-{p % 20}",
            "pod": f"app-{p}-7f9c",
            "container": c,
            "job": "kubelet",
            "node": f"node-{p % max(1, nodes)}",
        }
        for p in range(pods)
        for c in ("app", "sidecar")
    ]
    fam.append(("container_cpu_usage_seconds_total", pod_labels, "counter"))
    fam.append(("container_memory_working_set_bytes", pod_labels, "gauge"))
    les = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
    verbs = ["GET", "LIST", "WATCH", "POST"]
    hist = [
        {"instance": n, "job": "apiserver", "verb": v, "le": le}
        for n in inst[: max(1, nodes // 2)]
        for v in verbs
        for le in les
    ]
    fam.append(("apiserver_request_duration_seconds_bucket", hist, "histogram"))
    return fam


def generate(series_target: int, hours: int, seed: int = 7):
    """Yield (labels dict with __name__, timestamps int64, values float64) per series."""
    scale = series_target / 10_000
    nodes = max(2, round(50 * scale))
    pods = max(2, round(1000 * scale))
    rng = np.random.default_rng(seed)
    t0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR))
    n = hours * HOUR // SCRAPE_MS
    for name, label_sets, kind in _families(nodes, pods):
        if kind == "histogram":
            groups: dict[tuple, list[int]] = {}
            for i, ls in enumerate(label_sets):
                groups.setdefault((ls["instance"], ls["verb"]), []).append(i)
            for idx in groups.values():
                phase = int(rng.integers(0, SCRAPE_MS))
                ts = t0 + phase + np.arange(n, dtype=np.int64) * SCRAPE_MS
                per_scrape = rng.poisson(50, n)
                cum = np.zeros(n)
                bounds = [float(label_sets[i]["le"]) for i in idx]
                shares = np.array(
                    [1 - math.exp(-b / 0.2) if b != math.inf else 1.0 for b in bounds]
                )
                base = np.cumsum(per_scrape)
                for i, share in zip(idx, shares):
                    cum = np.floor(base * share)
                    yield {"__name__": name, **label_sets[i]}, ts, cum
            continue
        for ls in label_sets:
            phase = int(rng.integers(0, SCRAPE_MS))
            ts = t0 + phase + np.arange(n, dtype=np.int64) * SCRAPE_MS
            if kind == "counter":
                v = np.round(np.cumsum(rng.gamma(2.0, 0.5, n)), 3)
            elif kind == "const":
                v = np.full(n, 16e9)
            else:
                v = np.round(1e9 + np.cumsum(rng.normal(0, 1e6, n)))
            yield {"__name__": name, **ls}, ts, v


def window(hours: int) -> tuple[int, int]:
    t0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR))
    end = t0 + hours * HOUR - STEP_MS
    end -= end % STEP_MS
    start = end - (hours * HOUR - 10 * 60_000)
    start -= start % STEP_MS
    return start, end


def write_openmetrics(path: Path, series) -> int:
    count = 0
    with open(path, "w") as f:
        for labels, ts, vs in series:
            name = labels["__name__"]
            body = ",".join(f'{k}="{v}"' for k, v in labels.items() if k != "__name__")
            prefix = f"{name}{{{body}}} "
            secs = [f"{t // 1000}.{t % 1000:03d}" for t in ts.tolist()]
            f.write("".join(f"{prefix}{v!r} {s}\n" for v, s in zip(vs.tolist(), secs)))
            count += len(ts)
        f.write("# EOF\n")
    return count


def load_spyglass(path: Path, series) -> int:
    """Append in time order (the head only takes recent samples), then cut blocks."""
    from storage.interface import SampleBatch
    from storage.labels import Labels
    from storage.tsdb import TSDB, TSDBOptions

    all_series = list(series)
    labels = [Labels.from_dict(ls) for ls, _, _ in all_series]
    ts = np.stack([t for _, t, _ in all_series])
    vs = np.stack([v for _, _, v in all_series])
    db = TSDB.open(str(path), TSDBOptions(max_future_skew_ms=0, retention_ms=0))
    try:
        S, N = ts.shape
        chunk = 40
        for a in range(0, N, chunk):
            b = min(N, a + chunk)
            idx = np.repeat(np.arange(S), b - a)
            db.append(SampleBatch(labels, idx, ts[:, a:b].ravel(), vs[:, a:b].ravel()))
        db.flush_head()
    finally:
        db.close()
    return S * N


# --- the Spyglass side runs in its own process ----------------------------------------


def worker(db_path: str, spec_json: str) -> None:
    """Run the queries over the TSDB at ``db_path``; print timings and peak memory as JSON."""
    from storage.promql import Engine, EngineOptions
    from storage.tsdb import TSDB, TSDBOptions

    spec = json.loads(spec_json)
    db = TSDB.open(db_path, TSDBOptions(max_future_skew_ms=0, retention_ms=0))
    engine = Engine(EngineOptions())
    out = {}
    try:
        for name, expr, kind in spec["queries"]:
            times = []
            for _ in range(spec["reps"]):
                t = time.perf_counter()
                if kind == "range":
                    engine.range_query(db, expr, spec["start"], spec["end"], spec["step"])
                else:
                    engine.instant_query(db, expr, spec["end"])
                times.append(time.perf_counter() - t)
            out[name] = times
    finally:
        db.close()
    with open("/proc/self/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    out["__hwm__"] = int(status["VmHWM"].split()[0]) * 1024
    print(json.dumps(out))


def wait_idle(pid: int, timeout: float = 60.0) -> None:
    """Wait until process ``pid`` uses under 10 % of a core over half a
    second: `spyglass up` evaluates its rules and warms its UI after start."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = cpu()
        time.sleep(0.5)
        if cpu() - before < 0.05:
            return


def http_times(port: int, reps: int, end_ms: int) -> dict[str, list[float]]:
    """Round-trip seconds of each ``HTTP_QUERIES`` request (after
    ``HTTP_WARMUP`` unmeasured ones), over one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    out: dict[str, list[float]] = {}
    try:
        # answered once the server has started everything (scrape manager,
        # rules, UI), which `spyglass up` does after /-/ready
        conn.request("GET", "/api/v1/targets")
        conn.getresponse().read()
        for name, kind, expr in HTTP_QUERIES:
            if kind == "instant":
                path = "/api/v1/query?" + urlencode({"query": expr, "time": end_ms / 1000})
            else:
                path = "/api/v1/query_range?" + urlencode(
                    {
                        "query": expr,
                        "start": (end_ms - HTTP_RANGE_MS) / 1000,
                        "end": end_ms / 1000,
                        "step": HTTP_STEP_MS / 1000,
                    }
                )
            times = []
            for i in range(HTTP_WARMUP + reps):
                t = time.perf_counter()
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                elapsed = time.perf_counter() - t
                if resp.status != 200 or not json.loads(body)["data"]["result"]:
                    raise RuntimeError(f"{name}: {resp.status} {body[:300]!r}")
                if i >= HTTP_WARMUP:
                    times.append(elapsed)
            out[name] = times
    finally:
        conn.close()
    return out


def _percentile(xs: list[float], p: float) -> float:
    return float(np.percentile(np.array(xs), p))


def run(quick: bool) -> list[Row]:
    from bench._procs import ServerProcess

    series_target, hours, reps = (1_000, 2, 2) if quick else (10_000, 6, 7)
    http_reps = 20 if quick else 50
    start, end = window(hours)
    queries = [(n, q, "range") for n, q in RANGE_QUERIES] + [
        (n, q, "instant") for n, q in INSTANT_QUERIES
    ]
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-promql-") as tmp:
        tmp = Path(tmp)
        prom = ServerProcess.prometheus(tmp / "prometheus")
        om = tmp / "data.om"
        n_samples = write_openmetrics(om, generate(series_target, hours))
        subprocess.run(
            [
                _promtool(),
                "tsdb",
                "create-blocks-from",
                "openmetrics",
                "-q",
                str(om),
                str(prom.tsdb_dir),
            ],
            check=True,
            capture_output=True,
        )
        om.unlink()
        sg = ServerProcess.spyglass(tmp / "spyglass")
        load_spyglass(sg.tsdb_dir, generate(series_target, hours))
        # Spyglass first, while Prometheus is not running (the machine has 2 cores).
        spec = {"queries": queries, "reps": reps, "start": start, "end": end, "step": STEP_MS}
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.bench_promql",
                "--worker",
                str(sg.tsdb_dir),
                json.dumps(spec),
            ],
            check=True,
            capture_output=True,
            text=True,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parent.parent)),
        )
        ours = json.loads(proc.stdout.strip().splitlines()[-1])
        # then the same TSDB served by a real `spyglass up`
        with sg:
            wait_idle(sg.proc.pid)
            ours_http = http_times(sg.port, http_reps, end)
        with prom:
            theirs: dict[str, list[float]] = {}
            for name, expr, kind in queries:
                params = {"query": expr, "stats": "all"}
                if kind == "range":
                    params.update(start=start / 1000, end=end / 1000, step=STEP_MS / 1000)
                    path = "/api/v1/query_range?"
                else:
                    params.update(time=end / 1000)
                    path = "/api/v1/query?"
                times = []
                for _ in range(reps):
                    body = prom.get_json(path + urlencode(params))
                    times.append(float(body["data"]["stats"]["timings"]["evalTotalTime"]))
                theirs[name] = times
            prom_hwm = prom.memory().hwm
            wait_idle(prom.proc.pid)
            theirs_http = http_times(prom.port, http_reps, end)
    note = (
        f"{series_target:,} series x {hours} h @15s ({n_samples:,} samples), step 30 s, {reps} runs"
    )
    for name, _, _ in queries:
        for p in (50, 95):
            rows.append(
                Row(
                    f"{name} p{p}",
                    "ms",
                    _percentile(ours[name], p) * 1000,
                    _percentile(theirs[name], p) * 1000,
                    goal="<= 1.0",
                )
            )
    for name, _, _ in HTTP_QUERIES:
        for p in (50, 95):
            rows.append(
                Row(
                    f"{name} p{p}",
                    "ms",
                    _percentile(ours_http[name], p) * 1000,
                    _percentile(theirs_http[name], p) * 1000,
                    goal="<= 1.0",
                    note=f"round trip over HTTP, {http_reps} requests on one kept-alive connection"
                    if p == 50
                    else "",
                )
            )
    rows.append(
        Row(
            "peak memory (query process)",
            "MiB",
            ours["__hwm__"] / 2**20,
            prom_hwm / 2**20,
            goal="<= 1.0",
            note=note,
        )
    )
    return rows


def _promtool() -> str:
    from bench._procs import peer_binary

    return peer_binary("promtool")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        worker(sys.argv[2], sys.argv[3])
    else:
        from bench.report import table

        print(table("promql", run("--quick" in sys.argv)))
