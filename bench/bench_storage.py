"""Storage: disk bytes per sample, resident memory and restart time, Spyglass vs Prometheus 2.42.

Both sides are real server processes fed the same bytes by remote-write:
``spyglass up --no-host-metrics`` (embedded TSDB behind the remote-write
receiver) and Debian's ``prometheus --web.enable-remote-write-receiver``.
The data is node-exporter + kubelet + cAdvisor-like (``bench/_scrapedata.py``:
kube-prometheus-stack label sets, values in the exporters' units, 15 s
scrapes timestamped as a Prometheus scraper records them, a few ms late now
and then), encoded once by ``bench/_remotewrite.py`` and sent in time order.
Both servers run with their defaults (2 h head blocks, 15 d retention).

1. **Disk bytes per sample after compaction** (goal ≤ 0.75×). Ten hours of
   data starting on a 6 h boundary go to both servers at once (the figure does
   not depend on timing). Both cut the head into 2 h blocks while it spans more
   than 3 h and merge the three blocks of the first 6 h, so each ends with a
   6 h block, a 2 h block and 2 h of data in the head; the wait is over when
   both show exactly that layout with every sample before the 8 h mark. The
   figure is the size of the block directories (no WAL, no head) divided by
   the samples the blocks' ``meta.json`` say they hold. Spyglass cuts blocks
   in its maintenance job, which runs every 60 s, so the wait takes up to a
   minute.
2. **Resident memory at 100,000 active series** (goal ≤ 1.0×). A fresh
   process of each in turn receives 100k cAdvisor/node-exporter series
   (8–13 labels) × a few scrapes, in requests of 2,000 series × 1 sample;
   after a settling pause VmRSS (and the peak, VmHWM) is read from
   ``/proc/<pid>/status``.
3. **Restart time with 2 million samples in the WAL** (goal ≤ 1.0×). 20k
   series × 100 scrapes (25 minutes, nothing old enough to be cut into a
   block) go to each; both are stopped with SIGTERM (neither writes its head
   to a block on shutdown, so the WAL is replayed) and restarted in turn,
   one at a time; the figure is the median time from ``exec`` to
   ``/-/ready`` = 200. After the last restart a query checks that every
   sample came back.

Run: ``python -m bench storage [--quick]`` (quick: smaller sizes, about two
minutes). Run it under ``nice`` on a shared machine: both servers inherit it.
"""

from __future__ import annotations

import math
import shutil
import statistics
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench._procs import BlockUsage, ServerProcess, block_usage
from bench._remotewrite import RequestEncoder, Sender, wait
from bench._scrapedata import INTERVAL_MS, Fleet, ScrapeStream
from bench.report import Row

HOUR_MS = 3_600_000
CONNECTIONS = 4


@dataclass(frozen=True, slots=True)
class Sizes:
    disk_series: int
    disk_hours: int
    memory_series: int
    memory_scrapes: int
    restart_series: int
    restart_scrapes: int
    restarts: int


FULL = Sizes(
    disk_series=6_000,
    disk_hours=10,
    memory_series=100_000,
    memory_scrapes=6,
    restart_series=20_000,
    restart_scrapes=100,
    restarts=3,
)
QUICK = Sizes(
    disk_series=1_000,
    disk_hours=10,
    memory_series=20_000,
    memory_scrapes=4,
    restart_series=5_000,
    restart_scrapes=100,
    restarts=1,
)


def _groups(n: int, per_request: int) -> list[np.ndarray]:
    return np.array_split(np.arange(n), max(1, math.ceil(n / per_request)))


def _send_rounds(
    servers: list[ServerProcess],
    fleet: Fleet,
    stream: ScrapeStream,
    scrapes: int,
    per_round: int,
    per_request: int,
    before: int | None = None,
) -> tuple[int, int, list[Sender]]:
    """Send ``scrapes`` scrapes of the fleet to every server, ``per_round``
    scrapes at a time in time order. Returns (samples sent, samples with a
    timestamp below ``before``, the senders, closed)."""
    groups = _groups(fleet.n_series, per_request)
    enc = RequestEncoder(fleet.labels, groups)
    senders = [Sender(s.port, CONNECTIONS) for s in servers]
    sent = below = 0
    try:
        done = 0
        while done < scrapes:
            k = min(per_round, scrapes - done)
            scr = stream.next(k)
            sts = scr.series_ts(fleet)
            bodies = [enc.encode(g, sts[idx], scr.values[idx]) for g, idx in enumerate(groups)]
            futures = [f for s in senders for f in s.submit(bodies)]
            wait(futures)
            sent += sts.size
            if before is not None:
                below += int((sts < before).sum())
            done += k
    finally:
        for s in senders:
            s.close()
    return sent, below, senders


def _errors(senders: list[Sender], servers: list[ServerProcess]) -> str:
    out = []
    for sender, server in zip(senders, servers, strict=True):
        st = sender.stats
        if st.failed:
            out.append(f"{server.name}: {st.failed} requests refused, e.g. {st.errors[:2]}")
    return "; ".join(out)


# --- 1. disk bytes per sample -----------------------------------------------------------


def _final_layout(u: BlockUsage, t0: int, samples: int) -> bool:
    return (
        u.transient == 0
        and [b.max_time for b in u.blocks] == [t0 + 6 * HOUR_MS, t0 + 8 * HOUR_MS]
        and u.samples == samples
    )


def disk_bytes_per_sample(tmp: Path, sizes: Sizes, seed: int = 11) -> Row:
    assert 9 < sizes.disk_hours <= 11, "the expected block layout below assumes 9-11 h of data"
    fleet = Fleet.build(sizes.disk_series, seed=seed)
    six = 6 * HOUR_MS
    t0 = (int(time.time() * 1000) - (sizes.disk_hours + 1) * HOUR_MS) // six * six
    stream = ScrapeStream(fleet, start_ms=t0, seed=seed)
    scrapes = sizes.disk_hours * HOUR_MS // INTERVAL_MS
    servers = [
        ServerProcess.spyglass(tmp / "disk-spyglass"),
        ServerProcess.prometheus(tmp / "disk-prometheus"),
    ]
    try:
        for s in servers:
            s.start()
        t = time.perf_counter()
        sent, in_blocks, senders = _send_rounds(
            servers, fleet, stream, scrapes, per_round=20, per_request=500, before=t0 + 8 * HOUR_MS
        )
        send_s = time.perf_counter() - t
        # Spyglass's maintenance job runs every 60 s; Prometheus compacts on the next commit or minute
        deadline = time.monotonic() + 180
        usage = [block_usage(s.tsdb_dir) for s in servers]
        while not all(_final_layout(u, t0, in_blocks) for u in usage) and time.monotonic() < deadline:
            time.sleep(1.0)
            usage = [block_usage(s.tsdb_dir) for s in servers]
    finally:
        for s in servers:
            s.stop()
    ours, theirs = usage
    note = (
        f"{fleet.n_series:,} series x {sizes.disk_hours} h at 15 s = {sent:,} samples sent "
        f"({send_s:.0f} s to both at once); {in_blocks:,} samples in blocks; "
        f"layout Spyglass [{ours.describe()}], Prometheus [{theirs.describe()}]; "
        f"block bytes {ours.bytes:,} vs {theirs.bytes:,}"
    )
    for name, u in (("Spyglass", ours), ("Prometheus", theirs)):
        if not _final_layout(u, t0, in_blocks):
            note += (
                f"; WARNING: {name} did not reach the expected layout within 180 s "
                f"({u.samples:,} samples in blocks)"
            )
    if errs := _errors(senders, servers):
        note += f"; ERRORS: {errs}"
    return Row(
        "disk bytes per sample after compaction",
        "bytes/sample",
        round(ours.bytes / ours.samples, 3) if ours.samples else float("nan"),
        round(theirs.bytes / theirs.samples, 3) if theirs.samples else None,
        goal="<= 0.75",
        note=note,
    )


# --- 2. resident memory -------------------------------------------------------------------


def _head_series(server: ServerProcess) -> int | None:
    try:
        return int(server.get_json("/api/v1/status/tsdb")["data"]["headStats"]["numSeries"])
    except (RuntimeError, KeyError, TypeError, ValueError, OSError):
        return None


def resident_memory(tmp: Path, sizes: Sizes, seed: int = 12, settle_s: float = 10.0) -> Row:
    fleet = Fleet.build(sizes.memory_series, seed=seed)
    n = sizes.memory_scrapes
    start = int(time.time() * 1000) - (n + 1) * INTERVAL_MS
    stream = ScrapeStream(fleet, start_ms=start, seed=seed)
    groups = _groups(fleet.n_series, 2_000)
    enc = RequestEncoder(fleet.labels, groups)
    rounds = []
    for _ in range(n):  # pre-encoded, so both servers get the very same bytes at full speed
        scr = stream.next(1)
        sts = scr.series_ts(fleet)
        rounds.append([enc.encode(g, sts[idx], scr.values[idx]) for g, idx in enumerate(groups)])
    del enc
    result = {}
    for server in (
        ServerProcess.spyglass(tmp / "mem-spyglass"),
        ServerProcess.prometheus(tmp / "mem-prometheus"),
    ):
        try:
            server.start()
            idle = server.memory()
            with Sender(server.port, CONNECTIONS) as sender:
                t = time.perf_counter()
                for bodies in rounds:
                    sender.post_all(bodies)
                send_s = time.perf_counter() - t
            time.sleep(settle_s)
            result[server.name] = (idle, server.memory(), _head_series(server), send_s, sender.stats)
        finally:
            server.stop()
    mb = 1 << 20
    (si, sm, sh, ss, sst), (pi, pm, ph, ps, pst) = result["spyglass"], result["prometheus"]
    note = (
        f"{fleet.n_series:,} series ({np.mean([len(x) for x in fleet.labels]):.1f} labels avg) "
        f"x {n} samples, "
        f"requests of 2,000 series x 1; RSS {settle_s:.0f} s after the last request; "
        f"peak RSS (VmHWM) {sm.hwm / mb:.0f} vs {pm.hwm / mb:.0f} MiB; "
        f"idle RSS before data {si.rss / mb:.0f} vs {pi.rss / mb:.0f} MiB; "
        f"head series {sh} vs {ph}; send time {ss:.1f} vs {ps:.1f} s"
    )
    if sm.processes > 1:
        note += f"; Spyglass RSS summed over {sm.processes} processes"
    for name, st in (("spyglass", sst), ("prometheus", pst)):
        if st.failed:
            note += f"; ERRORS {name}: {st.failed} requests refused, e.g. {st.errors[:2]}"
    return Row(
        f"resident memory at {fleet.n_series:,} active series",
        "MiB",
        round(sm.rss / mb, 1),
        round(pm.rss / mb, 1),
        goal="<= 1.0",
        note=note,
    )


# --- 3. restart time ------------------------------------------------------------------------


def _count_samples(server: ServerProcess, at_ms: int) -> int:
    """Samples in the last hour before ``at_ms``, counted one metric name at a
    time (``count_over_time`` drops the name, so one query over every metric
    would meet duplicate label sets)."""
    total = 0
    for name in server.get_json("/api/v1/label/__name__/values")["data"]:
        q = urllib.parse.urlencode(
            {"query": f"sum(count_over_time({name}[1h]))", "time": f"{at_ms / 1000:.3f}"}
        )
        res = server.get_json(f"/api/v1/query?{q}")["data"]["result"]
        total += int(float(res[0]["value"][1])) if res else 0
    return total


def restart_time(tmp: Path, sizes: Sizes, seed: int = 13) -> Row:
    fleet = Fleet.build(sizes.restart_series, seed=seed)
    n = sizes.restart_scrapes
    start = int(time.time() * 1000) - (n + 2) * INTERVAL_MS
    stream = ScrapeStream(fleet, start_ms=start, seed=seed)
    servers = [
        ServerProcess.spyglass(tmp / "restart-spyglass"),
        ServerProcess.prometheus(tmp / "restart-prometheus"),
    ]
    try:
        empty = [s.start() for s in servers]  # start-up cost without data, for the note
        sent, _, senders = _send_rounds(servers, fleet, stream, n, per_round=20, per_request=500)
    finally:
        for s in servers:
            s.stop()
    last_ts = int(stream.timestamps(n - 1, 1).max())
    times: dict[str, list[float]] = {s.name: [] for s in servers}
    counts: dict[str, int] = {}
    for i in range(sizes.restarts):
        for s in servers:  # one at a time, alternating, so neither replays while the other does
            try:
                times[s.name].append(s.start())
                if i == sizes.restarts - 1:
                    counts[s.name] = _count_samples(s, last_ts + 1)
            finally:
                s.stop()
    ours, theirs = statistics.median(times["spyglass"]), statistics.median(times["prometheus"])
    runs = (
        " / ".join(f"{t:.2f}" for t in times["spyglass"])
        + " vs "
        + " / ".join(f"{t:.2f}" for t in times["prometheus"])
    )
    note = (
        f"{fleet.n_series:,} series x {n} samples = {sent:,} samples in the WAL; stopped with SIGTERM; "
        f"median of {sizes.restarts} restart(s) from exec to /-/ready = 200 ({runs} s); "
        f"start with an empty data directory {empty[0]:.2f} vs {empty[1]:.2f} s; "
        f"samples queryable after restart {counts.get('spyglass')} vs {counts.get('prometheus')}"
    )
    for name, c in counts.items():
        if c != sent:
            note += f"; WARNING: {name} lost samples ({c:,} of {sent:,})"
    if errs := _errors(senders, servers):
        note += f"; ERRORS: {errs}"
    return Row(
        f"restart time with {sent / 1e6:g}M samples in the WAL",
        "s",
        round(ours, 3),
        round(theirs, 3),
        goal="<= 1.0",
        note=note,
    )


def run(quick: bool) -> list[Row]:
    sizes = QUICK if quick else FULL
    tmp = Path(tempfile.mkdtemp(prefix="bench-storage-"))
    try:
        return [
            disk_bytes_per_sample(tmp, sizes),
            resident_memory(tmp, sizes),
            restart_time(tmp, sizes),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
