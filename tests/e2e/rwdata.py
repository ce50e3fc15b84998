"""Remote-write requests for end-to-end tests: the same bytes go to Spyglass and to Prometheus."""

from __future__ import annotations

import math
import random

import cramjam
import httpx

from collector.protos import remote_write_v1_pb2 as pb

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def write_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]], metadata=()) -> bytes:
    req = pb.WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for k in sorted(labels):
            ts.labels.add(name=k, value=labels[k])
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    for name, mtype, help_ in metadata:
        req.metadata.add(metric_family_name=name, type=mtype, help=help_)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def demo_series(now_ms: int, minutes: int = 30, step_ms: int = 15_000, seed: int = 1):
    """A small node-exporter/HTTP-server-like data set ending near ``now_ms``.

    Timestamps sit 337 ms off the 15 s grid so that left-open (Prometheus 3)
    and left-closed (Prometheus 2) range windows select the same samples.
    """
    rnd = random.Random(seed)
    start = now_ms - minutes * 60_000
    start -= start % step_ms
    times = [start + 337 + i * step_ms for i in range(minutes * 60_000 // step_ms)]
    out = []
    for inst in ("10.0.0.1:9100", "10.0.0.2:9100", "10.0.0.3:9100"):
        for cpu in ("0", "1"):
            for mode in ("idle", "user", "system"):
                v, pts = 0.0, []
                rate = {"idle": 0.8, "user": 0.15, "system": 0.05}[mode]
                for t in times:
                    v += rate * 15 * (0.9 + 0.2 * rnd.random())
                    pts.append((t, round(v, 3)))
                out.append(({"__name__": "node_cpu_seconds_total", "job": "node", "instance": inst,
                             "cpu": cpu, "mode": mode}, pts))
        mem = [(t, float(2**30 + rnd.randrange(0, 2**26))) for t in times]
        out.append(({"__name__": "node_memory_MemAvailable_bytes", "job": "node", "instance": inst}, mem))
        load = [(t, round(1 + math.sin(i / 7) + rnd.random() / 10, 4)) for i, t in enumerate(times)]
        out.append(({"__name__": "node_load1", "job": "node", "instance": inst}, load))
    for path in ("/", "/api"):
        for code in ("200", "500"):
            v, pts = 0.0, []
            for t in times:
                v += (100 if code == "200" else 3) * rnd.random()
                pts.append((t, round(v, 2)))
            out.append(({"__name__": "http_requests_total", "job": "api", "instance": "api-0",
                         "path": path, "code": code}, pts))
    buckets = ("0.1", "0.5", "1", "+Inf")
    counts = [0.0] * len(buckets)
    series = {le: [] for le in buckets}
    for t in times:
        inc = [rnd.randrange(0, 50), rnd.randrange(0, 20), rnd.randrange(0, 5), rnd.randrange(0, 2)]
        acc = 0
        for i, le in enumerate(buckets):
            acc += inc[i]
            counts[i] += acc
            series[le].append((t, counts[i]))
    for le in buckets:
        out.append(({"__name__": "http_request_duration_seconds_bucket", "job": "api",
                     "instance": "api-0", "le": le}, series[le]))
    return out


def send(url: str, body: bytes) -> httpx.Response:
    return httpx.post(url, content=body, headers=HEADERS, timeout=30)
