"""``RemoteWriteQueue``: one ``remote_write`` entry, as an ``Appendable``.

``append`` applies external labels and ``write_relabel_configs``, writes the
batch to the on-disk queue (fsynced: acknowledged means durable) and returns.
A sender thread reads from the queue's cursor, splits what it read into
shards by series (so each series stays in order), sends the shards
concurrently in requests of at most ``max_samples_per_send``, and moves the
cursor only when every request of the chunk was acknowledged or dropped::

    q = RemoteWriteQueue(cfg, "/data/remote_write/mimir", external_labels={"cluster": "a"})
    q.start(); q.append(batch); q.flush(10); q.stop()

Retries follow the remote-write spec: 5xx and network errors are retried
with exponential back-off from ``min_backoff`` to ``max_backoff`` (a
``Retry-After`` header wins), 429 too when ``retry_on_http_429``; any other
4xx (and 429 otherwise) drops that request's samples, counted in
``spyglass_remote_write_samples_failed_total``. The shard count follows
throughput between ``min_shards`` and ``max_shards``.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry

from collector.relabel import relabel
from storage.interface import AppendResult, MetricMetadata, OverloadedError, SampleBatch
from storage.labels import Labels
from storage.remote.config import RemoteWriteConfig
from storage.remote.diskqueue import DiskQueue, QueueFull
from storage.remote.encode import (
    CONTENT_TYPE_V1,
    CONTENT_TYPE_V2,
    VERSION_V1,
    VERSION_V2,
    encode_metadata_v1,
    encode_v1,
    encode_v2,
    pack_record,
    unpack_record,
)
from storage.remote.telemetry import RemoteWriteTelemetry

log = logging.getLogger(__name__)

USER_AGENT = "Spyglass/0.1.0"
_RELABEL_CACHE_MAX = 1_000_000


def queue_name(cfg: RemoteWriteConfig) -> str:
    return cfg.name or hashlib.md5(cfg.url.encode()).hexdigest()[:6]


class _Stopped(Exception):
    pass


class RemoteWriteQueue:
    """Persistent, sharded remote-write sender for one receiver."""

    def __init__(
        self,
        cfg: RemoteWriteConfig,
        directory: str,
        *,
        external_labels: Mapping[str, str] | None = None,
        registry: CollectorRegistry | None = REGISTRY,
        clock: Callable[[], float] = time.time,
        transport: httpx.BaseTransport | None = None,
        shard_update_interval: float = 10.0,
    ):
        self.cfg = cfg
        self.name = queue_name(cfg)
        q = cfg.queue_config
        self.disk = DiskQueue(directory, max_bytes=q.max_disk_bytes, drop_oldest=q.when_full == "drop_oldest")
        self.external = dict(external_labels or {})
        self.clock = clock
        self.shard_update_interval = shard_update_interval
        tel = RemoteWriteTelemetry.for_registry(registry)
        lv = (self.name, cfg.url)
        self.m_in = tel.samples_in.labels(*lv)
        self.m_sent = tel.samples_sent.labels(*lv)
        self.m_failed = tel.samples_failed.labels(*lv)
        self.m_retried = tel.samples_retried.labels(*lv)
        self.m_dropped = {r: tel.samples_dropped.labels(*lv, r) for r in ("relabel", "queue_full", "too_old")}
        self.m_refused = tel.enqueue_refused.labels(*lv)
        self.m_pending = tel.samples_pending.labels(*lv)
        self.m_bytes = tel.queue_bytes.labels(*lv)
        self.m_shards = tel.shards.labels(*lv)
        self.m_shards_desired = tel.shards_desired.labels(*lv)
        self.m_highest = tel.highest_sent_timestamp.labels(*lv)
        self.m_meta = tel.metadata_sent.labels(*lv)
        self.m_duration = tel.request_duration.labels(*lv)
        if self.disk.repaired_bytes:
            tel.repaired_bytes.labels(*lv).inc(self.disk.repaired_bytes)
        kw = cfg.httpx_kwargs()
        if transport is not None:
            kw["transport"] = transport
        headers = kw.pop("headers", {})
        headers.update({
            "Content-Encoding": "snappy",
            "Content-Type": CONTENT_TYPE_V2 if cfg.is_v2 else CONTENT_TYPE_V1,
            "X-Prometheus-Remote-Write-Version": VERSION_V2 if cfg.is_v2 else VERSION_V1,
            "User-Agent": USER_AGENT,
        })
        self.client = httpx.Client(headers=headers, timeout=cfg.remote_timeout, **kw)
        self.shards = q.min_shards
        self.m_shards.set(self.shards)
        self._relabel_cache: dict[Labels, Labels | None] = {}
        self._metadata: dict[str, MetricMetadata] = {}
        self._meta_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(q.max_shards, thread_name_prefix=f"rw-{self.name}")
        self._rate_window_start = time.monotonic()
        self._in_window = 0
        self._sent_window = 0
        self._busy_window = 0.0  # shard-seconds spent sending
        self._last_metadata = 0.0
        self.m_pending.set(self.disk.pending_samples)

    # --- Appendable ----------------------------------------------------------------
    def append(self, batch: SampleBatch) -> AppendResult:
        """Queue a batch durably. Raises ``OverloadedError`` when the queue is full
        and ``when_full`` is ``refuse``."""
        result = AppendResult()
        if len(batch) == 0:
            return result
        series, index, ts, vs = self._relabel(batch)
        if batch.metadata:
            with self._meta_lock:
                self._metadata.update(batch.metadata)
        n = len(index)
        dropped_relabel = len(batch) - n
        if dropped_relabel:
            self.m_dropped["relabel"].inc(dropped_relabel)
        if n:
            try:
                lost = self.disk.append(pack_record(series, index, ts, vs), n)
            except QueueFull as e:
                self.m_refused.inc(n)
                raise OverloadedError(str(e)) from None
            if lost:
                self.m_dropped["queue_full"].inc(lost)
                log.warning("remote_write %s: queue full, dropped %d oldest samples", self.name, lost)
            self.m_in.inc(n)
            self._in_window += n
        self.m_pending.set(self.disk.pending_samples)
        self.m_bytes.set(self.disk.size_bytes)
        result.accepted = len(batch)
        return result

    def _relabel(self, batch: SampleBatch):
        rules = self.cfg.write_relabel_configs
        if not rules and not self.external:
            return list(batch.series), batch.series_index, batch.timestamps, batch.values
        cache = self._relabel_cache
        if len(cache) > _RELABEL_CACHE_MAX:
            cache.clear()
        out: list[Labels | None] = []
        for s in batch.series:
            r = cache.get(s, False)
            if r is False:
                lab = s
                if self.external:
                    missing = {k: v for k, v in self.external.items() if not s.has(k)}
                    if missing:
                        lab = s.updated(missing)
                r = relabel(lab, rules) if rules else lab
                if r is not None and r.num_labels() == 0:
                    r = None
                cache[s] = r
            out.append(r)
        keep_series = np.array([r is not None for r in out], dtype=bool)
        if keep_series.all():
            return out, batch.series_index, batch.timestamps, batch.values
        new_pos = np.cumsum(keep_series) - 1
        mask = keep_series[batch.series_index]
        kept = [r for r in out if r is not None]
        return kept, new_pos[batch.series_index[mask]], batch.timestamps[mask], batch.values[mask]

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"remote-write-{self.name}", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop sending; what is not yet acknowledged stays queued on disk."""
        self._stop.set()
        with self.disk.changed:
            self.disk.changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()
        self.disk.close()

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued so far is acknowledged (or dropped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.disk.pending_samples == 0:
                return True
            time.sleep(0.02)
        return self.disk.pending_samples == 0

    @property
    def pending_samples(self) -> int:
        return self.disk.pending_samples

    # --- sending -------------------------------------------------------------------
    def _run(self) -> None:
        q = self.cfg.queue_config
        pos = self.disk.cursor
        while not self._stop.is_set():
            try:
                self._maybe_send_metadata()
                if not self.disk.wait(pos, 0.5):
                    self._update_shards()
                    continue
                # Let a batch fill up to max_samples_per_send, at most batch_send_deadline.
                deadline = time.monotonic() + q.batch_send_deadline
                while (
                    self.disk.pending_samples < q.max_samples_per_send
                    and time.monotonic() < deadline
                    and not self._stop.is_set()
                ):
                    time.sleep(min(0.01, max(0.0, deadline - time.monotonic())))
                records, new_pos = self.disk.read_from(pos, q.max_samples_per_send * self.shards)
                if not records:
                    pos = new_pos
                    continue
                n = self._send_chunk(records)
                self.disk.ack(new_pos, n)
                pos = new_pos
                self.m_pending.set(self.disk.pending_samples)
                self.m_bytes.set(self.disk.size_bytes)
                self._update_shards()
            except _Stopped:
                return
            except Exception:  # keep the sender alive; the chunk is resent
                log.exception("remote_write %s: send loop error", self.name)
                self._stop.wait(1.0)

    def _send_chunk(self, records: list[tuple[bytes, int]]) -> int:
        """Send a chunk of records through the shards; returns its sample count."""
        q = self.cfg.queue_config
        parts = [unpack_record(p) for p, _ in records]
        # Merge the records into one column set with a shared series table.
        table: dict[Labels, int] = {}
        idx_parts, ts_parts, vs_parts = [], [], []
        for series, idx, ts, vs in parts:
            remap = np.fromiter((table.setdefault(s, len(table)) for s in series), dtype=np.int64, count=len(series))
            idx_parts.append(remap[idx])
            ts_parts.append(ts)
            vs_parts.append(vs)
        series = list(table)
        index = np.concatenate(idx_parts)
        ts = np.concatenate(ts_parts)
        vs = np.concatenate(vs_parts)
        total = len(index)
        if q.sample_age_limit:
            fresh = ts >= int((self.clock() - q.sample_age_limit) * 1000)
            if not fresh.all():
                self.m_dropped["too_old"].inc(int((~fresh).sum()))
                index, ts, vs = index[fresh], ts[fresh], vs[fresh]
        shards = self.shards
        hashes = np.fromiter((hash(s) for s in series), dtype=np.int64, count=len(series)) if series else np.empty(0, np.int64)
        shard_of = (hashes % shards)[index] if len(index) else np.empty(0, np.int64)
        futures = []
        t0 = time.monotonic()
        for k in range(shards):
            sel = np.flatnonzero(shard_of == k)
            if len(sel):
                futures.append(self._pool.submit(self._send_shard, series, index[sel], ts[sel], vs[sel]))
        for f in futures:
            f.result()
        if self._stop.is_set() and any(f.result() is False for f in futures):
            raise _Stopped()
        self._busy_window += (time.monotonic() - t0) * max(1, len(futures))
        self._sent_window += total
        return total

    def _send_shard(self, series, index, ts, vs) -> bool:
        """Send one shard's samples in requests of ``max_samples_per_send``, in time order."""
        per = self.cfg.queue_config.max_samples_per_send
        order = np.argsort(ts, kind="stable")
        index, ts, vs = index[order], ts[order], vs[order]
        for a in range(0, len(index), per):
            i, t, v = index[a:a + per], ts[a:a + per], vs[a:a + per]
            if self.cfg.is_v2:
                with self._meta_lock:
                    meta = dict(self._metadata)
                body, _ = encode_v2(series, i, t, v, meta)
            else:
                body = encode_v1(series, i, t, v)
            outcome = self._post(body, len(i))
            if outcome == "stopped":
                return False
            if outcome == "dropped":
                continue
            self.m_sent.inc(len(i))
            if len(t):
                self.m_highest.set(max(self.m_highest._value.get(), float(t.max()) / 1000.0))
        return True

    def _post(self, body: bytes, n: int) -> str:
        """``sent``, ``dropped`` (non-retryable refusal, counted) or ``stopped``."""
        q = self.cfg.queue_config
        backoff = q.min_backoff
        first = True
        while True:
            if not first:
                self.m_retried.inc(n)
            first = False
            t0 = time.monotonic()
            wait = backoff
            try:
                r = self.client.post(self.cfg.url, content=body)
            except httpx.HTTPError as e:
                log.warning("remote_write %s: %s; retrying in %.2fs", self.name, e, wait)
            else:
                self.m_duration.observe(time.monotonic() - t0)
                if 200 <= r.status_code < 300:
                    return "sent"
                retryable = r.status_code >= 500 or (r.status_code == 429 and q.retry_on_http_429)
                if not retryable:
                    self.m_failed.inc(n)
                    log.error(
                        "remote_write %s: receiver refused %d samples (HTTP %d: %s); dropped",
                        self.name, n, r.status_code, r.text[:200],
                    )
                    return "dropped"
                ra = _retry_after(r.headers.get("Retry-After"))
                if ra is not None:
                    wait = ra
                log.warning("remote_write %s: HTTP %d; retrying in %.2fs", self.name, r.status_code, wait)
            if self._stop.wait(wait):
                return "stopped"
            backoff = min(backoff * 2, q.max_backoff)

    def _maybe_send_metadata(self) -> None:
        mc = self.cfg.metadata_config
        if self.cfg.is_v2 or not mc.send:
            return
        now = time.monotonic()
        if now - self._last_metadata < mc.send_interval:
            return
        with self._meta_lock:
            items = list(self._metadata.items())
        if not items:
            return
        self._last_metadata = now
        for a in range(0, len(items), mc.max_samples_per_send):
            chunk = dict(items[a:a + mc.max_samples_per_send])
            if self._post(encode_metadata_v1(chunk), 0) == "sent":
                self.m_meta.inc(len(chunk))

    def _update_shards(self) -> None:
        """Prometheus-style resharding: enough shards to keep up with the incoming
        rate and drain the backlog within the window, changed only beyond ±30%."""
        now = time.monotonic()
        elapsed = now - self._rate_window_start
        if elapsed < self.shard_update_interval:
            return
        q = self.cfg.queue_config
        in_rate = self._in_window / elapsed
        busy = self._busy_window
        per_shard = self._sent_window / busy if busy > 0 else 0.0  # samples/s one shard manages
        self._rate_window_start, self._in_window, self._sent_window, self._busy_window = now, 0, 0, 0.0
        if per_shard <= 0:
            return
        backlog_rate = self.disk.pending_samples / self.shard_update_interval
        desired = math.ceil((in_rate + backlog_rate) / per_shard)
        desired = max(q.min_shards, min(q.max_shards, desired))
        self.m_shards_desired.set(desired)
        if abs(desired - self.shards) > 0.3 * self.shards or (desired != self.shards and self.shards <= 2):
            log.info("remote_write %s: resharding %d -> %d", self.name, self.shards, desired)
            self.shards = desired
            self.m_shards.set(desired)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
