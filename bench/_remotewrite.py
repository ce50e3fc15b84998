"""A remote-write 1.0 load generator that is never the bottleneck.

Encoding: a request for a fixed group of series with ``k`` samples each has
the same bytes every time except the samples, and with millisecond
timestamps between 2^35 and 2^42 (years 1971–2109) every encoded ``Sample``
has the same size — tag, length, 8-byte double, tag, 6-byte varint: 18 bytes.
So ``RequestEncoder`` lays out the request once per (group, k) and fills the
values and timestamps with numpy fancy indexing, then snappy-compresses it
(cramjam): no Python object per sample, no protobuf message building.

Sending: ``Sender`` posts a list of bodies over a few keep-alive connections,
one thread each, and waits for all of them, so callers can send "rounds" in
time order (every series' samples of round r before any of round r+1 — the
head of Prometheus refuses samples more than half a block behind its newest).
Retryable refusals (429, 5xx) are retried after a short back-off; other
statuses are recorded as errors::

    enc = RequestEncoder(fleet.labels, groups=[np.arange(0, 500), np.arange(500, 1000)])
    body = enc.encode(0, ts, values)          # ts, values: [500, k]
    with Sender(port, connections=4) as s:
        s.post_all([body, ...])
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Self

import cramjam
import numpy as np

HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
    "User-Agent": "spyglass-bench/1",
}
SAMPLE_BYTES = 18
TS_MIN, TS_MAX = 1 << 35, 1 << 42  # a 6-byte varint holds exactly these


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + _varint(len(payload)) + payload


def encode_labels(labels: Sequence[tuple[str, str]]) -> bytes:
    """The ``labels`` fields of one TimeSeries (field 1, each a Label{name=1, value=2})."""
    return b"".join(_field(0x0A, _field(0x0A, n.encode()) + _field(0x12, v.encode())) for n, v in labels)


@dataclass(frozen=True, slots=True)
class _Layout:
    template: np.ndarray  # uint8: the request with zeroed sample payloads
    value_at: np.ndarray  # int64[n, k, 8]: byte positions of each sample's double
    ts_at: np.ndarray  # int64[n, k, 6]: byte positions of each sample's timestamp varint


class RequestEncoder:
    """Remote-write 1.0 request bodies (snappy) for fixed groups of series."""

    def __init__(self, labels: Sequence[Sequence[tuple[str, str]]], groups: Sequence[np.ndarray]):
        self.groups = [np.asarray(g, np.int64) for g in groups]
        self._labels = [[encode_labels(labels[i]) for i in g.tolist()] for g in self.groups]
        self._layouts: dict[tuple[int, int], _Layout] = {}

    def _layout(self, group: int, k: int) -> _Layout:
        key = (group, k)
        lay = self._layouts.get(key)
        if lay is not None:
            return lay
        sample = bytes((0x12, 0x10, 0x09)) + bytes(8) + b"\x10" + bytes(6)
        assert len(sample) == SAMPLE_BYTES
        parts, starts, pos = [], [], 0
        for lb in self._labels[group]:
            body_len = len(lb) + k * SAMPLE_BYTES
            head = b"\x0a" + _varint(body_len) + lb
            parts.append(head + sample * k)
            starts.append(pos + len(head))
            pos += len(head) + k * SAMPLE_BYTES
        template = np.frombuffer(b"".join(parts), np.uint8).copy()
        first = np.asarray(starts, np.int64)[:, None] + np.arange(k, dtype=np.int64)[None, :] * SAMPLE_BYTES
        lay = _Layout(
            template,
            first[:, :, None] + 3 + np.arange(8, dtype=np.int64),
            first[:, :, None] + 12 + np.arange(6, dtype=np.int64),
        )
        self._layouts[key] = lay
        return lay

    def encode(self, group: int, ts: np.ndarray, values: np.ndarray) -> bytes:
        """One snappy-compressed WriteRequest: ``ts`` (int64 ms) and ``values``
        (float64) are ``[len(groups[group]), k]``, each row in time order."""
        ts = np.ascontiguousarray(ts, np.int64)
        n, k = ts.shape
        if n != len(self.groups[group]) or values.shape != ts.shape:
            raise ValueError(
                f"group {group} has {len(self.groups[group])} series; got {ts.shape} / {values.shape}"
            )
        if n and (ts.min() < TS_MIN or ts.max() >= TS_MAX):
            raise ValueError("timestamps must lie in [2^35, 2^42) ms for the fixed-width encoding")
        lay = self._layout(group, k)
        buf = lay.template.copy()
        buf[lay.value_at] = np.ascontiguousarray(values, "<f8").view(np.uint8).reshape(n, k, 8)
        shifts = np.arange(0, 42, 7, dtype=np.int64)
        vb = (ts[:, :, None] >> shifts) & 0x7F
        vb[:, :, :5] |= 0x80
        buf[lay.ts_at] = vb.astype(np.uint8)
        return bytes(cramjam.snappy.compress_raw(buf.tobytes()))


@dataclass
class SendStats:
    """What a ``Sender`` saw: requests acknowledged, retried and refused."""

    ok: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)  # the first few refusals, for the report
    seconds: float = 0.0


class Sender:
    """Posts remote-write bodies to ``127.0.0.1:port`` over ``connections`` keep-alive connections."""

    def __init__(self, port: int, connections: int = 4, path: str = "/api/v1/write", timeout: float = 120.0):
        self.port, self.path, self.timeout = port, path, timeout
        self.stats = SendStats()
        self._local = threading.local()
        self._conns: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._unreachable = False
        self._pool = ThreadPoolExecutor(connections, thread_name_prefix=f"rw-{port}")

    def _conn(self) -> http.client.HTTPConnection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = self._local.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            with self._lock:
                self._conns.append(c)
        return c

    def _post(self, body: bytes) -> None:
        status, text = 0, b"server unreachable"
        # a server that stopped answering fails the rest at once instead of
        # making every remaining request sit through its back-off
        attempts = 0 if self._unreachable else 30
        for attempt in range(attempts):
            c = self._conn()
            try:
                c.request("POST", self.path, body=body, headers=HEADERS)
                resp = c.getresponse()
                text = resp.read()
                status = resp.status
            except (OSError, http.client.HTTPException) as e:
                c.close()
                status, text = 0, repr(e).encode()
                if attempt >= 5:
                    self._unreachable = True
                    break
            if 200 <= status < 300:
                with self._lock:
                    self.stats.ok += 1
                return
            if status in (0, 429) or status >= 500:
                with self._lock:
                    self.stats.retried += 1
                time.sleep(min(0.05 * 2**attempt, 2.0))
                continue
            break
        with self._lock:
            self.stats.failed += 1
            if len(self.stats.errors) < 5:
                self.stats.errors.append(f"{status}: {text[:200].decode(errors='replace')}")

    def submit(self, bodies: Sequence[bytes]) -> list:
        """Start posting ``bodies``; returns futures (see ``wait``)."""
        return [self._pool.submit(self._post, b) for b in bodies]

    def post_all(self, bodies: Sequence[bytes]) -> None:
        t = time.perf_counter()
        wait(self.submit(bodies))
        self.stats.seconds += time.perf_counter() - t

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for c in self._conns:
            c.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def wait(futures: list) -> None:
    for f in futures:
        f.result()
