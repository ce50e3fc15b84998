"""The scrape loop of one target: fetch, parse, label, limit, append, report.

Each scrape becomes **one** ``SampleBatch`` (the scraped samples, stale markers
for series that disappeared, and the synthetic ``up``/``scrape_*`` series),
appended atomically. A series cache maps the exposed series text to its final
label set (target labels merged, ``metric_relabel_configs`` applied, limits
checked), so a steady target costs one dict lookup per sample::

    loop = ScrapeLoop(target, cfg, client, storage, telemetry)
    await loop.scrape_once()          # or: task = asyncio.create_task(loop.run())

Semantics follow Prometheus: a failed scrape (HTTP error, timeout, parse error,
a limit exceeded) stores ``up`` = 0 and stale markers for every series of the
last good scrape; ``honor_labels`` keeps clashing exposed labels, otherwise they
are renamed ``exported_<name>``; ``honor_timestamps: false`` stamps every
sample with the scrape time; series with explicit timestamps get no stale
markers unless ``track_timestamps_staleness``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np

from collector.relabel import relabel
from collector.relabel.config import ValidationScheme
from collector.scrape.config import SCRAPE_PROTOCOL_HEADERS, ScrapeConfig
from collector.scrape.exposition import (
    ExpositionError,
    Format,
    ParsedScrape,
    format_for_content_type,
    parse,
    parse_series,
)
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
from storage.labels import METRIC_NAME, Labels, is_legacy_label_name, is_legacy_metric_name

log = logging.getLogger(__name__)

USER_AGENT = "Spyglass/0.1.0"
_MISS = object()

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
    extra: dict[str, Any] = field(default_factory=dict)


class ScrapeLoop:
    """Scrapes one target every interval and appends what it finds."""

    def __init__(
        self,
        target: Target,
        cfg: ScrapeConfig,
        client: httpx.AsyncClient,
        appendable: Appendable,
        telemetry: ScrapeTelemetry,
        clock: Callable[[], float] = time.time,
        offset_seed: int = 0,
    ):
        self.target = target
        self.cfg = cfg
        self.client = client
        self.appendable = appendable
        self.telemetry = telemetry
        self.clock = clock
        self.offset_seed = offset_seed
        self.url = target.url()
        self.interval = target.interval
        self.timeout = target.timeout
        self.state = ScrapeState()
        self.forced_error: str | None = None
        self.scheme = ValidationScheme(cfg.metric_name_validation_scheme or "utf8")
        self._public = target.public_labels
        self._public_names = set(self._public.names())
        self._cache: dict[str, Labels | None] = {}
        self._prev: dict[str, Labels] = {}  # key -> labels of the last scrape's staleness-tracked series
        self._report_labels = {
            name: Labels.from_dict({**self._public.to_dict(), METRIC_NAME: name}) for name in REPORT_METADATA
        }
        self._headers = {
            "Accept": accept_header(cfg.scrape_protocols or list(_PROTOCOL_FORMAT), cfg.metric_name_escaping_scheme or "underscores"),
            "Accept-Encoding": "gzip" if cfg.enable_compression else "identity",
            "User-Agent": USER_AGENT,
            "X-Prometheus-Scrape-Timeout-Seconds": f"{self.timeout:g}",
        }
        self._job = cfg.job_name
        self._stopped = False

    # --- taking over from a loop of the previous config --------------------------
    def adopt(self, old: ScrapeLoop) -> None:
        """Continue an old loop's staleness tracking (config reload)."""
        self._prev = old._prev
        self.state = old.state

    # --- running -------------------------------------------------------------------
    async def run(self) -> None:
        delay = self.target.offset(self.interval, self.clock(), self.offset_seed)
        await asyncio.sleep(delay)
        next_at = time.monotonic()
        while not self._stopped:
            try:
                await self.scrape_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # never let one bad scrape end the loop
                log.exception("scrape of %s failed unexpectedly", self.url)
            next_at += self.interval
            now = time.monotonic()
            if next_at < now:  # we fell behind: skip the missed ticks, keep the phase
                next_at += ((now - next_at) // self.interval + 1) * self.interval
            await asyncio.sleep(next_at - now)

    async def _fetch(self) -> tuple[bytes, str | None]:
        limit = self.cfg.body_size_limit
        async with self.client.stream("GET", self.url, headers=self._headers) as resp:
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

    async def scrape_once(self) -> None:
        start = self.clock()
        t0 = time.perf_counter()  # durations from a monotonic timer, not the (injectable) wall clock
        ts_ms = int(start * 1000)
        error: ScrapeError | None = None
        parsed: ParsedScrape | None = None
        body_size = 0
        if self.forced_error:
            error = ScrapeError(self.forced_error, limit="target_limit")
        else:
            try:
                async with asyncio.timeout(self.timeout):
                    body, ctype = await self._fetch()
                body_size = len(body)
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
            except TimeoutError:
                error = ScrapeError(f'Get "{self.url}": context deadline exceeded')
            except ScrapeError as e:
                error = e
                if e.limit == "body_size_limit":
                    body_size = -1
            except ExpositionError as e:
                error = ScrapeError(str(e))
            except httpx.HTTPError as e:
                error = ScrapeError(f'Get "{self.url}": {e or type(e).__name__}')
        batch_parts = None
        n_scraped = n_post = n_added = 0
        if parsed is not None:
            n_scraped = len(parsed)
            try:
                batch_parts, n_post, n_added = self._samples(parsed, ts_ms)
            except ScrapeError as e:
                error = e
        if error is not None and error.limit:
            self.telemetry.exceeded_limit.labels(self._job, error.limit).inc()
        duration = time.perf_counter() - t0
        batch = self._build_batch(
            batch_parts, ts_ms, error is None, duration, n_scraped, n_post, n_added, body_size,
            parsed.metadata if parsed is not None and error is None else {},
        )
        try:
            result = await asyncio.get_running_loop().run_in_executor(None, self.appendable.append, batch)
        except StorageError as e:
            self.telemetry.append_errors.labels(self._job).inc()
            error = error or ScrapeError(f"storage refused the scrape: {e}")
        else:
            self.telemetry.samples_appended.labels(self._job).inc(result.accepted)
            for reason, n in result.rejected.items():
                self.telemetry.samples_rejected.labels(self._job, getattr(reason, "value", str(reason))).inc(n)
        st = self.state
        st.health = "up" if error is None else "down"
        st.last_error = "" if error is None else str(error)
        st.last_scrape = start
        st.last_duration = time.perf_counter() - t0
        st.last_samples = n_post
        self.telemetry.scrapes.labels(self._job, "success" if error is None else "failure").inc()
        self.telemetry.duration.labels(self._job).observe(st.last_duration)

    # --- samples -------------------------------------------------------------------
    def _labels_for(self, key: str) -> Labels | None:
        """Exposed series text → final labels, or None when metric relabeling drops it."""
        exposed = parse_series(key)
        if self.cfg.honor_labels:
            extra = {n: v for n, v in self._public.items() if not exposed.has(n)}
            lset = exposed.updated(extra) if extra else exposed
        else:
            d = exposed.to_dict()
            conflicts = sorted(
                ((n, d[n]) for n in self._public_names if d.get(n)), key=lambda nv: len(nv[0])
            )
            d.update(self._public.to_dict())
            for n, v in conflicts:
                new = n
                while True:
                    new = "exported_" + new
                    if not d.get(new):
                        d[new] = v
                        break
            lset = Labels.from_dict(d)
        if self.cfg.metric_relabel_configs:
            lset = relabel(lset, self.cfg.metric_relabel_configs, self.scheme)
            if lset is None or lset.num_labels() == 0:
                return None
        if not lset.name:
            raise ScrapeError("missing metric name (__name__ label)")
        if self.scheme is ValidationScheme.LEGACY and (
            not is_legacy_metric_name(lset.name)
            or not all(is_legacy_label_name(n) for n in lset.names() if n != METRIC_NAME)
        ):
            raise ScrapeError(f"invalid metric name or label names: {lset}")
        self._check_label_limits(lset)
        return lset

    def _check_label_limits(self, lset: Labels) -> None:
        cfg = self.cfg
        metric = lset.name[:50]
        if cfg.label_limit and lset.num_labels() > cfg.label_limit:
            raise ScrapeError(
                f"label_limit exceeded (metric: {metric}, number of labels: {lset.num_labels()}, "
                f"limit: {cfg.label_limit})",
                limit="label_limit",
            )
        for n, v in lset.items():
            if cfg.label_name_length_limit and len(n) > cfg.label_name_length_limit:
                raise ScrapeError(
                    f"label_name_length_limit exceeded (metric: {metric}, label name: {n[:50]}, "
                    f"length: {len(n)}, limit: {cfg.label_name_length_limit})",
                    limit="label_name_length_limit",
                )
            if cfg.label_value_length_limit and len(v) > cfg.label_value_length_limit:
                raise ScrapeError(
                    f"label_value_length_limit exceeded (metric: {metric}, label name: {n[:50]}, "
                    f'value: "{v[:50]}", length: {len(v)}, limit: {cfg.label_value_length_limit})',
                    limit="label_value_length_limit",
                )

    def _samples(self, parsed: ParsedScrape, ts_ms: int):
        keys = parsed.keys
        cache = self._cache
        ents = [cache.get(k, _MISS) for k in keys]
        added = 0
        try:
            misses = ents.index(_MISS)
        except ValueError:
            misses = -1
        if misses >= 0:
            for i in range(misses, len(ents)):
                if ents[i] is _MISS:
                    e = self._labels_for(keys[i])  # raises ScrapeError / ExpositionError
                    cache[keys[i]] = e
                    ents[i] = e
                    if e is not None:
                        added += 1
        keep = [i for i, e in enumerate(ents) if e is not None] if None in ents else None
        series = ents if keep is None else [ents[i] for i in keep]
        if self.cfg.sample_limit and len(series) > self.cfg.sample_limit:
            raise ScrapeError("sample limit exceeded", limit="sample_limit")
        uniq = dict.fromkeys(series)
        values = parsed.values if keep is None else parsed.values[keep]
        has_ts = parsed.has_timestamp if keep is None else parsed.has_timestamp[keep]
        if self.cfg.honor_timestamps and has_ts.any():
            ts = parsed.timestamps if keep is None else parsed.timestamps[keep]
            timestamps = np.where(has_ts, ts, ts_ms)
        else:
            timestamps = np.full(len(series), ts_ms, dtype=np.int64)
            has_ts = None
        kept_keys = keys if keep is None else [keys[i] for i in keep]
        if len(uniq) != len(series):
            # The same series twice in one scrape: keep the first, as Prometheus does.
            first: dict[Labels, int] = {}
            sel = [first.setdefault(s, i) == i for i, s in enumerate(series)]
            self.telemetry.duplicate_series.labels(self._job).inc(len(series) - len(uniq))
            idx = np.flatnonzero(sel)
            series = [series[i] for i in idx]
            kept_keys = [kept_keys[i] for i in idx]
            values, timestamps = values[idx], timestamps[idx]
            if has_ts is not None:
                has_ts = has_ts[idx]
        if has_ts is not None and not self.cfg.track_timestamps_staleness:
            tracked = {k: s for k, s, t in zip(kept_keys, series, has_ts.tolist()) if not t}
        else:
            tracked = dict(zip(kept_keys, series))
        return (series, values, timestamps, tracked), len(series), added

    def _build_batch(
        self, parts, ts_ms, ok, duration, n_scraped, n_post, n_added, body_size, metadata
    ) -> SampleBatch:
        series: list[Labels] = []
        values: list[np.ndarray] = []
        stamps: list[np.ndarray] = []
        current: dict[str, Labels] = {}
        if parts is not None:
            s, v, t, current = parts
            series.extend(s)
            values.append(np.asarray(v, dtype=np.float64))
            stamps.append(np.asarray(t, dtype=np.int64))
        # Stale markers for what the last scrape had and this one has not.
        if self._prev:
            present = set(series)
            gone = [lab for k, lab in self._prev.items() if k not in current and lab not in present]
            gone = list(dict.fromkeys(gone))
            if gone:
                series.extend(gone)
                values.append(np.full(len(gone), STALE_NAN))
                stamps.append(np.full(len(gone), ts_ms, dtype=np.int64))
        self._prev = current
        if len(self._cache) > 2 * len(current) + 1000:
            self._cache = {k: self._cache[k] for k in current}
        report = {
            "up": 1.0 if ok else 0.0,
            "scrape_duration_seconds": duration,
            "scrape_samples_scraped": float(n_scraped),
            "scrape_samples_post_metric_relabeling": float(n_post),
            "scrape_series_added": float(n_added),
        }
        if self.cfg.extra_scrape_metrics:
            report["scrape_timeout_seconds"] = self.timeout
            report["scrape_sample_limit"] = float(self.cfg.sample_limit)
            report["scrape_body_size_bytes"] = float(body_size)
        series.extend(self._report_labels[n] for n in report)
        values.append(np.fromiter(report.values(), dtype=np.float64, count=len(report)))
        stamps.append(np.full(len(report), ts_ms, dtype=np.int64))
        meta = dict(metadata)
        for n in report:
            meta.setdefault(n, REPORT_METADATA[n])
        return SampleBatch(
            series,
            np.arange(len(series), dtype=np.int64),
            np.concatenate(stamps),
            np.concatenate(values),
            meta,
        )

    def stale_batch(self, now: float) -> SampleBatch | None:
        """Stale markers for every series of the last scrape and the synthetic
        series: written when the target goes away."""
        labels = list(dict.fromkeys(self._prev.values()))
        if self.state.health != "unknown":
            labels.extend(self._report_labels[n] for n in self._reported_names())
        if not labels:
            return None
        n = len(labels)
        self._prev = {}
        return SampleBatch(
            labels, np.arange(n, dtype=np.int64), np.full(n, int(now * 1000), dtype=np.int64), np.full(n, STALE_NAN)
        )

    def _reported_names(self) -> list[str]:
        base = ["up", "scrape_duration_seconds", "scrape_samples_scraped",
                "scrape_samples_post_metric_relabeling", "scrape_series_added"]
        if self.cfg.extra_scrape_metrics:
            base += ["scrape_timeout_seconds", "scrape_sample_limit", "scrape_body_size_bytes"]
        return base

    def stop(self) -> None:
        self._stopped = True
