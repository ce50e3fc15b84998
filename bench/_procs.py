"""The two servers of the storage benchmark as real processes, and what we read off them.

- ``ServerProcess``: one server (``spyglass up`` or Debian's ``prometheus``)
  on a free port over its own data directory; ``start()`` returns the seconds
  from ``exec`` to ``/-/ready`` answering 200 (polled every 20 ms), which is
  the restart time a user waits for;
- ``wait_ready()``: poll a URL until it answers 200, failing early when the
  process behind it exits; ``process_cpu_seconds()``: a process's CPU time;
- ``memory()``: VmRSS and VmHWM from ``/proc/<pid>/status``, summed over the
  process and its descendants (``spyglass up`` is one process today, but a
  supervised tree must count whole);
- ``block_usage()``: the persisted blocks of a data directory. Both TSDBs
  write ``<ULID>/meta.json`` with ``minTime``, ``maxTime``,
  ``stats.numSamples`` and ``compaction.parents``, so one reader serves both;
  the WAL, the head's chunk files and half-written or half-deleted blocks are
  not counted::

    with ServerProcess.spyglass(tmp / "sg") as sg:
        ...
        print(sg.memory(), block_usage(sg.tsdb_dir))
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from tests.util import find_peer, free_port, stop_process

__all__ = [
    "BlockInfo",
    "BlockUsage",
    "Memory",
    "ServerProcess",
    "block_usage",
    "free_port",
    "peer_binary",
    "process_cpu_seconds",
    "process_memory",
    "wait_ready",
]

_ULID = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")


def peer_binary(name: str) -> str:
    path = find_peer(name)
    if not path:
        raise RuntimeError(f"{name} is not installed (make bench installs the Debian peers)")
    return path


def _get_status(url: str, timeout: float) -> int:
    parts = urlsplit(url)
    c = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        c.request("GET", parts.path or "/")
        return c.getresponse().status
    finally:
        c.close()


def wait_ready(url: str, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> float:
    """Poll ``url`` (every 20 ms) until it answers 200; returns the seconds it
    took. Raises ``RuntimeError`` when ``proc`` exits first or time runs out."""
    t0 = time.perf_counter()
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            if _get_status(url, 5) == 200:
                return time.perf_counter() - t0
        except OSError:
            pass
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{url} not ready after {timeout}s")
        time.sleep(0.02)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its children not counted)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 of the line (11 and 12 after the comm)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Memory:
    rss: int  # bytes
    hwm: int  # bytes, peak RSS
    processes: int


def _children(pid: int) -> list[int]:
    kids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == pid:
            kids.append(int(name))
    return kids


def process_memory(pid: int) -> Memory:
    rss = hwm = n = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                fields = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        rss += int(fields["VmRSS"].split()[0]) * 1024
        hwm += int(fields["VmHWM"].split()[0]) * 1024
        n += 1
        todo += _children(p)
    return Memory(rss, hwm, n)


class ServerProcess:
    """A server process with a data directory and a log file next to it."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path, tsdb_dir: Path):
        self.name, self.argv, self.port = name, argv, port
        self.workdir, self.tsdb_dir = workdir, tsdb_dir
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / f"{name}.log"

    @classmethod
    def spyglass(cls, workdir: Path) -> ServerProcess:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        data = workdir / "data"
        # like the Prometheus beside it, which does not scrape itself: no series of
        # our own written at the current time (they would also move the head's
        # window ahead of backfilled data)
        cfg = workdir / "spyglass.yml"
        cfg.write_text("self_metrics: {enabled: false}\n")
        argv = [
            sys.executable,
            "-m",
            "spyglass.cli",
            "up",
            "--config",
            str(cfg),
            "--data-dir",
            str(data),
            "--http",
            f"127.0.0.1:{port}",
            "--otlp-grpc",
            "off",
            "--otlp-http",
            "off",
            "--no-host-metrics",
        ]
        return cls("spyglass", argv, port, workdir, data / "tsdb")

    @classmethod
    def prometheus(cls, workdir: Path) -> ServerProcess:
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        cfg = workdir / "prometheus.yml"
        cfg.write_text("global:\n  scrape_interval: 1h\n")  # no scrape jobs: it only receives
        data = workdir / "data"
        argv = [
            peer_binary("prometheus"),
            f"--config.file={cfg}",
            f"--storage.tsdb.path={data}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--web.enable-remote-write-receiver",
        ]
        return cls("prometheus", argv, port, workdir, data)

    def start(self, timeout: float = 300.0) -> float:
        """Start the process and wait for ``/-/ready``; returns the seconds it took."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        with open(self.log_path, "ab") as log:
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            wait_ready(f"http://127.0.0.1:{self.port}/-/ready", self.proc, timeout)
        except RuntimeError as e:
            self.stop(signal.SIGKILL)
            raise RuntimeError(f"{self.name}: {e}; log:\n{self.log_tail()}") from None
        return time.perf_counter() - t0

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 120.0) -> None:
        if self.proc is None:
            return
        stop_process(self.proc, sig, timeout)
        self.proc = None

    def memory(self) -> Memory:
        assert self.proc is not None
        return process_memory(self.proc.pid)

    def get_json(self, path: str) -> dict:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            c.request("GET", path)
            resp = c.getresponse()
            body = resp.read()
        finally:
            c.close()
        if resp.status != 200:
            raise RuntimeError(f"{self.name} {path}: {resp.status} {body[:300]!r}")
        return json.loads(body)

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class BlockInfo:
    ulid: str
    min_time: int
    max_time: int
    samples: int
    series: int
    level: int
    bytes: int


@dataclass(frozen=True, slots=True)
class BlockUsage:
    blocks: tuple[BlockInfo, ...]
    transient: int  # block directories being written or deleted

    @property
    def bytes(self) -> int:
        return sum(b.bytes for b in self.blocks)

    @property
    def samples(self) -> int:
        return sum(b.samples for b in self.blocks)

    def describe(self) -> str:
        h = 3_600_000
        return ", ".join(f"L{b.level} {(b.max_time - b.min_time) / h:.1f}h" for b in self.blocks)


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            with contextlib.suppress(OSError):  # a file deleted while we walk
                total += os.path.getsize(os.path.join(root, f))
    return total


def block_usage(tsdb_dir: Path) -> BlockUsage:
    """The finished blocks in ``tsdb_dir``; a block already merged into
    another (its ULID among another's parents) is left out."""
    infos, transient = [], 0
    try:
        names = os.listdir(tsdb_dir)
    except FileNotFoundError:
        return BlockUsage((), 0)
    for name in names:
        path = os.path.join(tsdb_dir, name)
        if not os.path.isdir(path):
            continue
        if len(name) != 26 or not set(name) <= _ULID:
            if name[:26] and set(name[:26]) <= _ULID and len(name) > 26:
                transient += 1  # <ulid>.tmp-for-creation / .tmp-for-deletion / .tmp
            continue
        try:
            with open(os.path.join(path, "meta.json")) as f:
                meta = json.load(f)
        except (OSError, ValueError):
            transient += 1
            continue
        stats = meta.get("stats", {})
        comp = meta.get("compaction", {})
        infos.append(
            (
                BlockInfo(
                    name,
                    int(meta["minTime"]),
                    int(meta["maxTime"]),
                    int(stats.get("numSamples", 0)),
                    int(stats.get("numSeries", 0)),
                    int(comp.get("level", 1)),
                    _dir_bytes(path),
                ),
                # Prometheus lists parents as {"ulid": ...} objects, Spyglass as ULID strings
                {p["ulid"] if isinstance(p, dict) else p for p in comp.get("parents") or ()},
            )
        )
    merged = set().union(*(p for _, p in infos)) if infos else set()
    blocks = sorted((b for b, _ in infos if b.ulid not in merged), key=lambda b: (b.min_time, b.ulid))
    return BlockUsage(tuple(blocks), transient)
