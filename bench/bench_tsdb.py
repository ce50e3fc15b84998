"""TSDB micro benchmarks: the embedded store alone, in this process.

Where the peer can run the same thing on the same data, it does:

1. **Block bytes per sample** (goal ≤ 0.75×): two hours of node-exporter-like
   data (``storage.tsdb.synth``, 15 s scrapes with jitter) written as one
   Spyglass block and, from the same samples in OpenMetrics text, as one
   Prometheus block by ``promtool tsdb create-blocks-from openmetrics``.
   The figure is the block directory's size over its sample count.
2. **Reading a whole block** (goal ≤ 1.0×, seconds): every sample of that
   block — Spyglass ``select`` of all series vs Prometheus 2.42 serving
   ``count_over_time({job="node"}[2h])`` from the promtool block (its query
   path, mostly decoding, plus a small JSON answer). Best of three.

Figures without a peer (the peer has no in-process API; the end-to-end
comparisons are ``bench_storage`` and ``bench_ingest``):

3. append throughput for batches of 2,000 series × 1 sample and of 500
   series × 10 samples, series already known, WAL written as in production;
4. WAL replay of 2 million samples (20,000 series × 100 scrapes): ``TSDB.open``;
5. ``select`` of 10,000 series × 6 h (≈14 M samples) over blocks and head
   (full run only).

Reads shaped like queries (goal ≤ 1.0×, milliseconds), on the data of
``bench_promql`` (10,000 series × 6 h at 15 s; quick: 1,000 × 2 h) in
blocks: Spyglass ``select`` (in process, best of 7) vs Prometheus 2.42
evaluating ``last_over_time(<selector>[<window>])`` at the end of the data
over the same series from promtool-written blocks (``stats=all``
``evalTotalTime``: its engine, which reads every sample of the window — its
``totalQueryableSamples`` — and keeps the metric names, so series of
different metrics stay apart; no HTTP or JSON), best of 7:

6. instant-query shapes: every series × 5 min; ``node_cpu_seconds_total``
   without ``mode="idle"`` × 5 min;
7. a subquery shape: one CPU mode × 31 min; a panel: 1,000 container series
   × 1 h; and every series over the whole range;
   each twice: as a repeated read (best of 7, so later reads find decoded
   groups in the TSDB's group cache, as repeated rule, subquery and
   dashboard reads do) and with the cache emptied before every read;
8. the same series appended to the head like a live server (one scrape per
   15 s, maintenance every minute) and read from there (no peer), also
   right after each of the last appends (the open log's order is extended
   then).

Run: ``python -m bench tsdb [--quick]``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import numpy as np
from prometheus_client import CollectorRegistry

from bench._procs import free_port, peer_binary
from bench.report import Row
from storage.labels import Matcher
from storage.tsdb import TSDB, TSDBOptions
from storage.tsdb.synth import NodeLikeWorkload

HOUR_MS = 3_600_000
BLOCK_START = (1_700_000_000_000 // (2 * HOUR_MS)) * 2 * HOUR_MS


def _open(path: str, now_ms: int) -> TSDB:
    return TSDB.open(path, TSDBOptions(), registry=CollectorRegistry(), clock=lambda: now_ms / 1000)


def _dir_size(path: str) -> int:
    return sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(path) for f in fs)


def _write_openmetrics(w: NodeLikeWorkload, scrapes: int, path: str) -> int:
    """The workload as OpenMetrics text (series grouped, time-ordered); returns samples."""
    rounds = list(w.scrapes(scrapes))
    ts = np.stack([r[0] for r in rounds], 1)
    vs = np.stack([r[1] for r in rounds], 1)
    labels = w.series()
    order = sorted(range(len(labels)), key=labels.__getitem__)
    n = 0
    with open(path, "w") as f:
        for i in order:
            lbl = labels[i]
            inner = ",".join(f'{k}="{v}"' for k, v in lbl.items() if k != "__name__")
            prefix = f"{lbl.name}{{{inner}}} "
            f.write(
                "".join(f"{prefix}{v!r} {t // 1000}.{t % 1000:03d}\n" for t, v in zip(ts[i].tolist(), vs[i].tolist()))
            )
            n += len(ts[i])
        f.write("# EOF\n")
    return n


def _prometheus_query_seconds(block_root: str, query: str, at_s: float) -> float:
    port = free_port()
    cfg = os.path.join(block_root, "..", "prometheus.yml")
    with open(cfg, "w") as f:
        f.write("global: {}\n")
    proc = subprocess.Popen(
        [
            peer_binary("prometheus"),
            f"--config.file={cfg}",
            f"--storage.tsdb.path={block_root}",
            "--storage.tsdb.retention.time=100y",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("prometheus did not become ready")
            time.sleep(0.1)
        url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{at_s:.3f}"})
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with urllib.request.urlopen(url, timeout=300) as r:
                body = r.read()
            best = min(best, time.perf_counter() - t0)
        if b'"status":"success"' not in body:
            raise RuntimeError(f"prometheus query failed: {body[:200]!r}")
        return best
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _block_rows(tmp: str, quick: bool) -> list[Row]:
    targets = 4 if quick else 10
    scrapes = 470  # inside one 2 h block
    w = NodeLikeWorkload(targets=targets, series_per_target=500, seed=7, start_ms=BLOCK_START)
    now = BLOCK_START + 4 * HOUR_MS
    sg_dir = os.path.join(tmp, "spyglass")
    db = _open(sg_dir, now)
    for b in w.batches(scrapes=scrapes, samples_per_series=10, series_per_batch=500):
        db.append(b)
    block_dir = db.flush_head()[0]
    samples = db.blocks[0].meta.num_samples
    sg_bps = _dir_size(block_dir) / samples
    mint, maxt = BLOCK_START, BLOCK_START + 2 * HOUR_MS - 1
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ss = db.querier(mint, maxt).select([Matcher("=", "job", "node")])
        counts = np.diff(ss.offsets)
        best = min(best, time.perf_counter() - t0)
    assert int(counts.sum()) == samples
    db.close()

    om = os.path.join(tmp, "data.om")
    n = _write_openmetrics(w, scrapes, om)
    prom_root = os.path.join(tmp, "prometheus")
    os.makedirs(prom_root)
    subprocess.run(
        [peer_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", om, prom_root],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    os.remove(om)
    blocks = [d for d in os.listdir(prom_root) if os.path.isfile(os.path.join(prom_root, d, "meta.json"))]
    prom_bps = sum(_dir_size(os.path.join(prom_root, d)) for d in blocks) / n
    prom_s = _prometheus_query_seconds(prom_root, 'count_over_time({job="node"}[2h])', maxt / 1000)
    note = f"{samples:,} samples, {targets * 500:,} series"
    return [
        Row("TSDB block bytes per sample (2 h block)", "B/sample", sg_bps, prom_bps, goal="<= 0.75", note=note),
        Row("read every sample of the 2 h block", "s", best, prom_s, goal="<= 1.0", note=note),
    ]


def _append_rows(tmp: str, quick: bool) -> list[Row]:
    targets = 40 if quick else 200  # 20k / 100k series
    w = NodeLikeWorkload(targets=targets, series_per_target=500, seed=3)
    now = w.start_ms + 24 * HOUR_MS
    db = _open(os.path.join(tmp, "append"), now)
    rows = []
    for warm in w.batches(scrapes=1, series_per_batch=2000):  # create the series first
        db.append(warm)
    first = 1
    for spb, k, scrapes in ((2000, 1, 10 if quick else 20), (500, 10, 10 if quick else 20)):
        batches = list(w.batches(scrapes=scrapes, first=first, samples_per_series=k, series_per_batch=spb))
        first += scrapes
        n = 0
        t0 = time.perf_counter()
        for b in batches:
            n += db.append(b).accepted
        el = time.perf_counter() - t0
        rows.append(
            Row(
                f"TSDB append, {spb:,} series x {k} sample{'s' if k > 1 else ''} per batch",
                "samples/s",
                n / el,
                None,
                note=f"{targets * 500:,} known series; in-process (end to end: bench_ingest)",
            )
        )
    db.close()
    return rows


def _replay_row(tmp: str, quick: bool) -> Row:
    series_targets, scrapes = (40, 100) if not quick else (20, 50)
    w = NodeLikeWorkload(targets=series_targets, series_per_target=500, seed=5)
    now = w.start_ms + 24 * HOUR_MS
    path = os.path.join(tmp, "replay")
    db = _open(path, now)
    n = 0
    for b in w.batches(scrapes=scrapes, series_per_batch=2000):
        n += db.append(b).accepted
    db.close()
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        db = _open(path, now)
        times.append(time.perf_counter() - t0)
        assert db.head.num_samples == n
        db.close()
    return Row(
        f"WAL replay of {n / 1e6:.1f} M samples ({series_targets * 500:,} series)",
        "s",
        sorted(times)[1],
        None,
        note="TSDB.open, median of 3 (end to end restart: bench_storage)",
    )


def _wide_select_row(tmp: str) -> Row:
    w = NodeLikeWorkload(targets=20, series_per_target=500, seed=9)
    now = w.start_ms + 7 * HOUR_MS
    db = _open(os.path.join(tmp, "wide"), now)
    for start in range(0, 1440, 120):
        for b in w.batches(scrapes=120, first=start, samples_per_series=10, series_per_batch=500):
            db.append(b)
        db.maintenance()
    q = db.querier(w.start_ms, w.start_ms + 6 * HOUR_MS)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        ss = q.select([Matcher("=", "job", "node")])
        best = min(best, time.perf_counter() - t0)
    n = ss.num_samples
    db.close()
    return Row(
        "select 10,000 series x 6 h (blocks + head)",
        "M samples/s",
        n / best / 1e6,
        None,
        note=f"{n / 1e6:.1f} M samples in {best:.2f} s",
    )


# (figure, PromQL selector for the peer, matchers for Spyglass, window in ms; None: the whole range)
_READ_SHAPES = [
    ("every series x 5 min", '{__name__=~".+"}', [Matcher("=~", "__name__", ".+")], 5 * 60_000),
    (
        "node CPU (not idle) x 5 min",
        'node_cpu_seconds_total{mode!="idle"}',
        [Matcher("=", "__name__", "node_cpu_seconds_total"), Matcher("!=", "mode", "idle")],
        5 * 60_000,
    ),
    (
        "one CPU mode x 31 min (subquery)",
        'node_cpu_seconds_total{mode="user"}',
        [Matcher("=", "__name__", "node_cpu_seconds_total"), Matcher("=", "mode", "user")],
        31 * 60_000,
    ),
    (
        "container CPU x 1 h",
        'container_cpu_usage_seconds_total{container="app"}',
        [Matcher("=", "__name__", "container_cpu_usage_seconds_total"), Matcher("=", "container", "app")],
        HOUR_MS,
    ),
    ("every series x whole range", '{__name__=~".+"}', [Matcher("=~", "__name__", ".+")], None),
]


_LIVE_SCRAPES = 20


def _best_select_ms(
    db: TSDB, matchers, mint: int, maxt: int, reps: int = 7, cold: bool = False
) -> tuple[float, int, int]:
    """Best of ``reps`` selects; ``cold``: the decoded-group cache emptied
    before each, so every one decodes what it reads."""
    best = float("inf")
    for _ in range(reps):
        if cold and db.group_cache is not None:
            db.group_cache.clear()
        t0 = time.perf_counter()
        ss = db.querier(mint, maxt).select(matchers)
        best = min(best, time.perf_counter() - t0)
    return best * 1000, len(ss), ss.num_samples


def _read_rows(tmp: str, quick: bool) -> list[Row]:
    from pathlib import Path

    from bench._procs import ServerProcess
    from bench.bench_promql import SCRAPE_MS, generate, load_spyglass, write_openmetrics
    from storage.interface import SampleBatch
    from storage.labels import Labels

    series_target, hours = (1_000, 2) if quick else (10_000, 6)
    sg_dir = os.path.join(tmp, "reads")
    load_spyglass(Path(sg_dir), generate(series_target, hours))
    db = TSDB.open(sg_dir, TSDBOptions(max_future_skew_ms=0, retention_ms=0), registry=CollectorRegistry())
    try:
        end = max(b.max_time for b in db.blocks) - 1
        first = min(b.min_time for b in db.blocks)
        ours = [
            _best_select_ms(db, ms, first if window is None else end - window, end)
            for _, _, ms, window in _READ_SHAPES
        ]
        ours_cold = [
            _best_select_ms(db, ms, first if window is None else end - window, end, cold=True)
            for _, _, ms, window in _READ_SHAPES
        ]
    finally:
        db.close()
    shutil.rmtree(sg_dir, ignore_errors=True)

    prom = ServerProcess.prometheus(Path(tmp) / "prometheus-reads")
    om = os.path.join(tmp, "reads.om")
    write_openmetrics(Path(om), generate(series_target, hours))
    subprocess.run(
        [peer_binary("promtool"), "tsdb", "create-blocks-from", "openmetrics", "-q", om, str(prom.tsdb_dir)],
        check=True,
        capture_output=True,
    )
    os.remove(om)
    theirs = []
    with prom:
        for _, selector, _, window in _READ_SHAPES:
            span = (end - first) if window is None else window
            query = f"last_over_time({selector}[{span // 1000}s])"
            best = float("inf")
            for _ in range(7):
                body = prom.get_json(
                    "/api/v1/query?" + urllib.parse.urlencode({"query": query, "time": f"{end / 1000:.3f}", "stats": "all"})
                )
                best = min(best, float(body["data"]["stats"]["timings"]["evalTotalTime"]))
            theirs.append(best * 1000)
    rows = [
        Row(
            f"select {name} (blocks)", "ms", ms, peer, goal="<= 1.0",
            note=f"{n:,} series, {k:,} samples; repeated reads reuse decoded groups (group cache)",
        )
        for (name, _, _, _), (ms, n, k), peer in zip(_READ_SHAPES, ours, theirs)
    ]
    rows += [
        Row(
            f"select {name} (blocks, nothing cached)", "ms", ms, peer, goal="<= 1.0",
            note=f"{n:,} series, {k:,} samples; group cache emptied before each read",
        )
        for (name, _, _, _), (ms, n, k), peer in zip(_READ_SHAPES, ours_cold, theirs)
    ]

    # the head: the same series appended as a live server would, never cut
    series = list(generate(series_target, hours))
    labels = [Labels.from_dict(ls) for ls, _, _ in series]
    ts = np.stack([t for _, t, _ in series])
    vs = np.stack([v for _, _, v in series])
    scrapes = min(ts.shape[1], int(2.5 * HOUR_MS // SCRAPE_MS))
    clock = [0.0]
    db = TSDB.open(
        os.path.join(tmp, "head-reads"),
        TSDBOptions(max_future_skew_ms=0, retention_ms=0),
        registry=CollectorRegistry(),
        clock=lambda: clock[0],
    )
    try:
        idx = np.arange(len(labels))
        live: list[float] = []
        for k in range(scrapes):
            clock[0] = int(ts[:, k].max()) / 1000
            db.append(SampleBatch(labels, idx, ts[:, k].copy(), vs[:, k].copy()))
            if k % 4 == 3:
                db.maintenance()
            if k >= scrapes - _LIVE_SCRAPES:  # a query right after each of the last appends
                now = int(ts[:, k].max())
                t0 = time.perf_counter()
                db.querier(now - 5 * 60_000, now).select(_READ_SHAPES[0][2])
                live.append((time.perf_counter() - t0) * 1000)
        assert not db.blocks
        head_end = int(ts[:, scrapes - 1].max())
        rows.append(
            Row(
                f"select {_READ_SHAPES[0][0]} (head, right after an append)",
                "ms",
                float(np.median(live)),
                None,
                note=f"median over the last {_LIVE_SCRAPES} scrapes, each followed by one select",
            )
        )
        for name, _, ms, window in _READ_SHAPES[:3]:
            t, n, k = _best_select_ms(db, ms, head_end - window, head_end)
            rows.append(Row(f"select {name} (head)", "ms", t, None, note=f"{n:,} series, {k:,} samples"))
    finally:
        db.close()
    return rows


def run(quick: bool) -> list[Row]:
    tmp = tempfile.mkdtemp(prefix="bench-tsdb-")
    try:
        rows = _block_rows(tmp, quick)
        rows += _append_rows(tmp, quick)
        rows.append(_replay_row(tmp, quick))
        rows += _read_rows(tmp, quick)
        if not quick:
            rows.append(_wide_select_row(tmp))
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
