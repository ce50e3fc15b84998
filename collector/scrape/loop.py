"""The scrape loop of one target: fetch, parse, label, limit, append, report.

Each scrape becomes **one** ``SampleBatch`` (the scraped samples, stale markers
for series that disappeared, and the synthetic ``up``/``scrape_*`` series),
appended atomically. The series cache (``cache.ScrapeCache``) maps the exposed
series text to its final label set, so a steady target costs one dict lookup
per sample::

    loop = ScrapeLoop(target, cfg, client, storage, telemetry, executor=pool)
    await loop.scrape_once()          # or: task = asyncio.create_task(loop.run())

Only the HTTP fetch runs on the asyncio event loop. Parsing, labeling and the
append run in a worker thread, so that a 100k-line target never holds up the
timers of the other targets; the parser works in a few bounded C calls (see
``textsplit``) so that the event loop gets the GIL back quickly. Scrape
timestamps follow the loop's fixed schedule (``schedule.align_ns``).

Semantics follow Prometheus: a failed scrape (HTTP error, timeout, parse error,
a limit exceeded) stores ``up`` = 0 and stale markers for every series of the
last good scrape; ``honor_labels`` keeps clashing exposed labels, otherwise they
are renamed ``exported_<name>``; ``honor_timestamps: false`` stamps every
sample with the scrape time; series with explicit timestamps get no stale
markers unless ``track_timestamps_staleness``. When a target goes away, its
stale markers are written by ``end_of_run``: stamped with the time of the next
would-be scrape and written one interval after that.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import httpx
import numpy as np

from collector.scrape.cache import ScrapeCache
from collector.scrape.config import SCRAPE_PROTOCOL_HEADERS, ScrapeConfig
from collector.scrape.exposition import (
    ExpositionError,
    Format,
    ParsedScrape,
    format_for_content_type,
    parse,
)
from collector.scrape.heap import HeapTrimmer
from collector.scrape.labeling import LabelError, SampleLabeler
from collector.scrape.schedule import DEFAULT_TIMESTAMP_TOLERANCE, align_ns, next_tick
from collector.scrape.target import Target
from collector.scrape.telemetry import ScrapeTelemetry
from storage.interface import (
    STALE_NAN,
    Appendable,
    MetricMetadata,
    MetricType,
    SampleBatch,
    StorageError,
)
from storage.labels import METRIC_NAME, Labels

log = logging.getLogger(__name__)

USER_AGENT = "Spyglass/0.1.0"

_PROTOCOL_FORMAT = {
    "PrometheusText0.0.4": Format.TEXT,
    "PrometheusText1.0.0": Format.TEXT,
    "OpenMetricsText0.0.1": Format.OPENMETRICS,
    "OpenMetricsText1.0.0": Format.OPENMETRICS,
}

# Metadata of the synthetic series, as Prometheus reports it.
REPORT_METADATA = {
    "up": MetricMetadata(MetricType.GAUGE, "Health of the scrape target. 1 if the target is up, 0 otherwise."),
    "scrape_duration_seconds": MetricMetadata(MetricType.GAUGE, "Duration of the scrape in seconds."),
    "scrape_samples_scraped": MetricMetadata(MetricType.GAUGE, "Number of samples the target exposed."),
    "scrape_samples_post_metric_relabeling": MetricMetadata(
        MetricType.GAUGE, "Number of samples remaining after metric relabeling was applied."
    ),
    "scrape_series_added": MetricMetadata(MetricType.GAUGE, "Number of series in the last scrape that were new."),
    "scrape_timeout_seconds": MetricMetadata(MetricType.GAUGE, "The configured scrape timeout for a target."),
    "scrape_sample_limit": MetricMetadata(MetricType.GAUGE, "The configured sample limit for a target."),
    "scrape_body_size_bytes": MetricMetadata(
        MetricType.GAUGE, "The uncompressed size of the last scrape response, if successful."
    ),
}


def accept_header(protocols: list[str], escaping: str) -> str:
    """Prometheus's Accept header: protocols in order with falling q-values, then ``*/*``."""
    vals = []
    weight = len(SCRAPE_PROTOCOL_HEADERS) + 2
    for p in protocols:
        v = SCRAPE_PROTOCOL_HEADERS[p]
        if p in ("PrometheusText1.0.0", "OpenMetricsText1.0.0"):
            v += f";escaping={escaping}"
        vals.append(f"{v};q=0.{weight}")
        weight -= 1
    vals.append(f"*/*;q=0.{weight}")
    return ",".join(vals)


class ScrapeError(Exception):
    """A scrape failed; the message is what ``lastError`` shows."""

    def __init__(self, message: str, limit: str | None = None):
        super().__init__(message)
        self.limit = limit


@dataclass(slots=True)
class ScrapeState:
    """What the targets API shows of a loop (``/api/v1/targets``)."""

    health: str = "unknown"
    last_error: str = ""
    last_scrape: float = 0.0  # unix seconds
    last_duration: float = 0.0
    last_samples: int = 0
    http_version: str = ""  # of the last response: "HTTP/1.1" or "HTTP/2"
    extra: dict[str, Any] = field(default_factory=dict)


_executor: concurrent.futures.ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _default_executor() -> concurrent.futures.ThreadPoolExecutor:
    """Workers for loops built without one (tests, tools); the manager passes its own."""
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = concurrent.futures.ThreadPoolExecutor(2, "spyglass-scrape-default")
        return _executor


class ScrapeLoop:
    """Scrapes one target every interval and appends what it finds.

        loop = ScrapeLoop(target, cfg, client, storage, telemetry, executor=pool)
        task = asyncio.create_task(loop.run()); ...; loop.stop()
        await loop.end_of_run(successor=lambda: None)   # delayed stale markers
    """

    def __init__(
        self,
        target: Target,
        cfg: ScrapeConfig,
        client: httpx.AsyncClient,
        appendable: Appendable,
        telemetry: ScrapeTelemetry,
        clock: Callable[[], float] = time.time,
        offset_seed: int = 0,
        executor: concurrent.futures.Executor | None = None,
        timestamp_tolerance: float = DEFAULT_TIMESTAMP_TOLERANCE,
        heap: HeapTrimmer | None = None,
    ):
        """``executor`` runs parse + label + append (default: a small shared pool);
        ``timestamp_tolerance`` (seconds) is how late a wake-up may be and still
        get the scheduled timestamp (clamped to 1% of the interval); ``heap``
        (shared by the manager's loops) returns freed memory after scrapes."""
        self.target = target
        self.cfg = cfg
        self.client = client
        self.appendable = appendable
        self.telemetry = telemetry
        self.clock = clock
        self.offset_seed = offset_seed
        self.executor = executor
        self.timestamp_tolerance = timestamp_tolerance
        self.heap = heap
        self.url = target.url()
        self.interval = target.interval
        self.timeout = target.timeout
        self.state = ScrapeState()
        self.forced_error: str | None = None
        self.cache = ScrapeCache()
        self.labeler = SampleLabeler(target.public_labels, cfg)
        public = target.public_labels.to_dict()
        self._report_labels = {
            name: Labels.from_dict({**public, METRIC_NAME: name}) for name in REPORT_METADATA
        }
        self._headers = {
            "Accept": accept_header(cfg.scrape_protocols or list(_PROTOCOL_FORMAT), cfg.metric_name_escaping_scheme or "underscores"),
            "Accept-Encoding": "gzip" if cfg.enable_compression else "identity",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": f"{self.timeout:g}",
        }
        self._job = cfg.job_name
        self._stopped = False
        self._scraped = False  # at least one scrape done (Prometheus's non-zero `last`)
        self._inflight: concurrent.futures.Future | None = None
        self._next_tick: float | None = None  # event-loop time of the next scheduled scrape
        self.staleness_disabled = False  # set when a successor took over the cache

    # --- taking over from a loop of the previous config --------------------------
    def adopt(self, old: ScrapeLoop) -> None:
        """Continue an old loop's cache and staleness tracking (config reload
        whose changes do not affect labels: Prometheus's ``reusableCache``).
        The old loop must be idle (``await old.idle()``)."""
        self.cache = old.cache
        self.state = old.state
        self._scraped = old._scraped
        old.staleness_disabled = True

    # --- running -------------------------------------------------------------------
    async def run(self) -> None:
        aio = asyncio.get_running_loop()
        await asyncio.sleep(self.target.offset(self.interval, self.clock(), self.offset_seed))
        tick = aio.time()
        interval_ns = max(1, round(self.interval * 1e9))
        tolerance_ns = int(self.timestamp_tolerance * 1e9)
        anchor_ns = int(self.clock() * 1e9)
        while not self._stopped:
            self._next_tick = tick + self.interval
            ts_ns, anchor_ns = align_ns(int(self.clock() * 1e9), anchor_ns, interval_ns, tolerance_ns)
            try:
                await self.scrape_once(ts_ns // 1_000_000)
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad scrape end the loop
                log.exception("scrape of %s failed unexpectedly", self.url)
            tick = next_tick(tick, self.interval, aio.time())
            self._next_tick = tick
            await asyncio.sleep(tick - aio.time())

    def stop(self) -> None:
        self._stopped = True

    async def idle(self) -> None:
        """Wait until no scrape of this loop is being processed in a worker."""
        fut = self._inflight
        if fut is not None and not fut.done():
            # only the end matters here; the scrape already logged its own failure
            with contextlib.suppress(Exception):
                await asyncio.wrap_future(fut)

    async def _fetch(self) -> tuple[bytes, str | None]:
        limit = self.cfg.body_size_limit
        async with self.client.stream("GET", self.url, headers=self._headers) as resp:
            self.state.http_version = resp.http_version
            if resp.status_code != 200:
                raise ScrapeError(f"server returned HTTP status {resp.status_code} {resp.reason_phrase}")
            chunks = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if limit and size > limit:
                    raise ScrapeError("body size limit exceeded", limit="body_size_limit")
                chunks.append(chunk)
            return b"".join(chunks), resp.headers.get("content-type")

    async def scrape_once(self, scrape_ms: int | None = None) -> None:
        """Fetch on the event loop, then parse, label and append in a worker.
        ``scrape_ms`` is the samples' timestamp (default: the clock now)."""
        t0 = time.perf_counter()  # durations from a monotonic timer, not the (injectable) wall clock
        ts_ms = int(self.clock() * 1000) if scrape_ms is None else scrape_ms
        error: ScrapeError | None = None
        body: bytes | None = None
        ctype: str | None = None
        body_size = 0
        if self.forced_error:
            error = ScrapeError(self.forced_error, limit="target_limit")
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    body, ctype = await self._fetch()
                body_size = len(body)
            except TimeoutError:
                error = ScrapeError(f'Get "{self.url}": context deadline exceeded')
            except ScrapeError as e:
                error = e
                if e.limit == "body_size_limit":
                    body_size = -1
            except httpx.HTTPError as e:
                error = ScrapeError(f'Get "{self.url}": {e or type(e).__name__}')
        # The concurrent future itself is kept: when this task is cancelled, a
        # worker that already started still finishes, and idle() must know it.
        fut = (self.executor or _default_executor()).submit(
            self._work, body, ctype, error, ts_ms, body_size, t0
        )
        self._inflight = fut
        error, n_post = await asyncio.wrap_future(fut)
        st = self.state
        st.health = "up" if error is None else "down"
        st.last_error = "" if error is None else str(error)
        st.last_scrape = ts_ms / 1000.0
        st.last_duration = time.perf_counter() - t0
        st.last_samples = n_post
        self.telemetry.scrapes.labels(self._job, "success" if error is None else "failure").inc()
        self.telemetry.duration.labels(self._job).observe(st.last_duration)

    # --- in the worker ----------------------------------------------------------------
    def _work(
        self, body: bytes | None, ctype: str | None, error: ScrapeError | None, ts_ms: int, body_size: int, t0: float
    ) -> tuple[ScrapeError | None, int]:
        out = self._process(body, ctype, error, ts_ms, body_size, t0)
        # Set here, where the batch has been appended, not after the event loop resumes:
        # a loop stopped and cancelled while awaiting this worker has still written
        # series, and end_of_run (which waits for the worker via idle()) must mark them.
        self._scraped = True
        # After _process returned, its parse buffers are free: a good moment to
        # hand freed heap back to the system (see ``heap``).
        if self.heap is not None:
            self.heap.processed(body_size)
        return out

    def _process(
        self, body: bytes | None, ctype: str | None, error: ScrapeError | None, ts_ms: int, body_size: int, t0: float
    ) -> tuple[ScrapeError | None, int]:
        """Parse, label, limit and append one scrape as one batch (worker thread)."""
        parsed: ParsedScrape | None = None
        if error is None and body is not None:
            try:
                fmt = format_for_content_type(ctype)
                if fmt is None:
                    fb = self.cfg.fallback_scrape_protocol
                    if not fb:
                        raise ScrapeError(
                            f'received unsupported Content-Type "{ctype or ""}" and no '
                            "fallback_scrape_protocol specified for target"
                        )
                    fmt = _PROTOCOL_FORMAT[fb]
                parsed = parse(body, fmt=fmt)
            except ScrapeError as e:
                error = e
            except ExpositionError as e:
                error = ScrapeError(str(e))
        n_scraped = len(parsed) if parsed is not None else 0
        sel = None
        if parsed is not None and error is None:
            try:
                sel = self._select(parsed, ts_ms)
            except ScrapeError as e:
                error = e
            except LabelError as e:
                error = ScrapeError(str(e), limit=e.limit)
            except ExpositionError as e:
                error = ScrapeError(str(e))
        if error is not None and error.limit:
            self.telemetry.exceeded_limit.labels(self._job, error.limit).inc()
        batch = self._build_batch(
            parsed if error is None else None, sel if error is None else None, ts_ms,
            time.perf_counter() - t0, n_scraped, body_size,
        )
        try:
            result = self.appendable.append(batch)
        except StorageError as e:
            self.telemetry.append_errors.labels(self._job).inc()
            error = error or ScrapeError(f"storage refused the scrape: {e}")
        else:
            self.telemetry.samples_appended.labels(self._job).inc(result.accepted)
            for reason, n in result.rejected.items():
                self.telemetry.samples_rejected.labels(self._job, getattr(reason, "value", str(reason))).inc(n)
        return error, (len(sel.ids) if sel is not None and error is None else 0)

    def _select(self, parsed: ParsedScrape, ts_ms: int) -> _Selected:
        """Which samples are stored, under which series id, with which timestamp."""
        all_ids, added = self.cache.lookup(parsed.keys, self.labeler)
        keep = None if (all_ids >= 0).all() else np.flatnonzero(all_ids >= 0)
        ids = all_ids if keep is None else all_ids[keep]
        if self.cfg.sample_limit and len(ids) > self.cfg.sample_limit:
            raise ScrapeError("sample limit exceeded", limit="sample_limit")
        values = parsed.values if keep is None else parsed.values[keep]
        has_ts = parsed.has_timestamp if keep is None else parsed.has_timestamp[keep]
        if self.cfg.honor_timestamps and has_ts.any():
            ts = parsed.timestamps if keep is None else parsed.timestamps[keep]
            timestamps = np.where(has_ts, ts, ts_ms)
        else:
            timestamps = np.full(len(ids), ts_ms, dtype=np.int64)
            has_ts = None
        if len(ids) and np.bincount(ids).max() > 1:
            # The same series twice in one scrape: keep the first, as Prometheus does.
            _, first = np.unique(ids, return_index=True)
            first.sort()
            self.telemetry.duplicate_series.labels(self._job).inc(len(ids) - len(first))
            ids, values, timestamps = ids[first], values[first], timestamps[first]
            if has_ts is not None:
                has_ts = has_ts[first]
        if has_ts is not None and not self.cfg.track_timestamps_staleness:
            tracked = ids[~has_ts]
        else:
            tracked = ids
        return _Selected(all_ids, ids, values, timestamps, tracked, added)

    def _build_batch(
        self, parsed: ParsedScrape | None, sel: _Selected | None, ts_ms: int, duration: float,
        n_scraped: int, body_size: int,
    ) -> SampleBatch:
        series: list[Labels] = []
        values: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        empty = np.zeros(0, dtype=np.int64)
        if sel is not None and parsed is not None:
            series = self.cache.series_of(sel.all_ids, sel.ids)
            values.append(np.asarray(sel.values, dtype=np.float64))
            stamps.append(np.asarray(sel.timestamps, dtype=np.int64))
            gone = self.cache.commit(parsed.keys, sel.all_ids, sel.ids, sel.tracked)
        else:
            gone = self.cache.commit((), empty, empty, empty)
        # Stale markers for what the last scrape had and this one has not.
        if len(gone):
            series.extend(self.cache.labels_of(gone))
            values.append(np.full(len(gone), STALE_NAN))
            stamps.append(np.full(len(gone), ts_ms, dtype=np.int64))
        ok = sel is not None
        n_post = len(sel.ids) if ok else 0
        report = {
            "up": 1.0 if ok else 0.0,
            "scrape_duration_seconds": duration,
            "scrape_samples_scraped": float(n_scraped),
            "scrape_samples_post_metric_relabeling": float(n_post),
            "scrape_series_added": float(sel.added if ok else 0),
        }
        if self.cfg.extra_scrape_metrics:
            report["scrape_timeout_seconds"] = self.timeout
            report["scrape_sample_limit"] = float(self.cfg.sample_limit)
            report["scrape_body_size_bytes"] = float(body_size)
        series.extend(self._report_labels[n] for n in report)
        values.append(np.fromiter(report.values(), dtype=np.float64, count=len(report)))
        stamps.append(np.full(len(report), ts_ms, dtype=np.int64))
        meta = dict(parsed.metadata) if ok and parsed is not None else {}
        for n in report:
            meta.setdefault(n, REPORT_METADATA[n])
        return SampleBatch(
            series,
            np.arange(len(series), dtype=np.int64),
            np.concatenate(stamps),
            np.concatenate(values),
            meta,
        )

    # --- staleness at the end of a target's run ---------------------------------------
    async def end_of_run(self, successor: Callable[[], ScrapeLoop | None] = lambda: None) -> None:
        """Prometheus's ``endOfRunStaleness``, for a stopped loop whose target went
        away (or whose config changed in a way that changes labels).

        Waits for when the next scrape would have been and takes that as the
        stale markers' timestamp; waits one more interval and 10% (so that a
        recreated target has scraped by then), then appends stale markers for
        the series of the last scrape and the synthetic series. Series that a
        ``successor`` loop for the same target has written since are left
        alone: in Prometheus their markers would be out of order and refused.
        Cancel the task to write nothing (manager shutdown, job removed)."""
        await self.idle()
        if not self._scraped or self.staleness_disabled or self._next_tick is None:
            return
        aio = asyncio.get_running_loop()
        now = aio.time()
        tick = self._next_tick
        if tick < now:
            tick = next_tick(tick - self.interval, self.interval, now)
        await asyncio.sleep(tick - now)
        stale_ms = int(self.clock() * 1000)
        await asyncio.sleep(tick + self.interval - aio.time())
        await asyncio.sleep(self.interval / 10)
        if self.staleness_disabled:
            return
        succ = successor()
        exclude = succ.written_labels() if succ is not None else frozenset()
        batch = self.stale_batch(stale_ms, exclude)
        if batch is None:
            return
        self.telemetry.end_of_run_stale_markers.labels(self._job).inc(len(batch))
        try:
            await asyncio.wrap_future((self.executor or _default_executor()).submit(self.appendable.append, batch))
        except StorageError as e:
            log.warning("could not write stale markers for %s: %s", self.url, e)

    def written_labels(self) -> frozenset[Labels]:
        """Every series this loop has written (its cache and, once it scraped, the synthetic ones)."""
        out = set(self.cache.labels)
        if self._scraped:
            out.update(self._report_labels[n] for n in self._reported_names())
        return frozenset(out)

    def stale_batch(self, ts_ms: int, exclude: frozenset[Labels] | set[Labels] = frozenset()) -> SampleBatch | None:
        """Stale markers at ``ts_ms`` for every series of the last scrape and the
        synthetic series, except ``exclude``; the loop then tracks nothing."""
        labels = self.cache.labels_of(self.cache.forget())
        if self._scraped:
            labels.extend(self._report_labels[n] for n in self._reported_names())
        if exclude:
            labels = [lab for lab in labels if lab not in exclude]
        if not labels:
            return None
        n = len(labels)
        return SampleBatch(
            labels, np.arange(n, dtype=np.int64), np.full(n, ts_ms, dtype=np.int64), np.full(n, STALE_NAN)
        )

    def _reported_names(self) -> list[str]:
        base = ["up", "scrape_duration_seconds", "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling", "scrape_series_added"]
        if self.cfg.extra_scrape_metrics:
            base += ["scrape_timeout_seconds", "scrape_sample_limit", "scrape_body_size_bytes"]
        return base


class _Selected(NamedTuple):
    all_ids: np.ndarray  # per parsed sample: series id or DROPPED
    ids: np.ndarray  # per stored sample
    values: np.ndarray
    timestamps: np.ndarray
    tracked: np.ndarray  # ids taking part in staleness
    added: int
