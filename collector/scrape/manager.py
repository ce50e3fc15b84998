"""The scrape manager: scrape pools per job, target sync, reload, health.

One asyncio event loop (in its own thread) runs every target's loop; HTTP is
``httpx.AsyncClient``, one per job (its auth, TLS and proxy). A thousand
targets are a thousand sleeping coroutines, not a thousand threads. Parsing,
labeling and appending are CPU-bound and run in a small worker pool, so a huge
target never delays the scrapes of others; after enough scraped bytes a worker
hands the heap memory those scrapes freed back to the system (``heap``)::

    mgr = ScrapeManager(storage, registry=None)
    mgr.start()
    mgr.apply_config(cfg.scrape_configs, cfg.global_)
    mgr.active_targets()   # the shape of /api/v1/targets
    mgr.stop()

Staleness follows Prometheus exactly. A target that leaves discovery gets
stale markers for its series stamped with the time its next scrape would have
had, written one interval and 10% later (``ScrapeLoop.end_of_run``), unless
the target came back meanwhile. Removing a whole job, or stopping the manager,
writes none: Prometheus presumes a restart that picks up where it stopped.

Reload keeps the loops of jobs whose config did not change. A changed job gets
new loops; when the change cannot alter any series' labels (only interval,
timeout, sample_limit or HTTP client settings changed: Prometheus's
``reusableCache``), they take over the old loops' caches and staleness
tracking; otherwise the old loops end their run as above.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as _dt
import logging
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from prometheus_client import REGISTRY, CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.discovery import FileDiscovery, TargetGroup, static_groups
from collector.scrape.heap import HeapTrimmer
from collector.scrape.loop import ScrapeLoop
from collector.scrape.schedule import DEFAULT_TIMESTAMP_TOLERANCE
from collector.scrape.target import Target, populate_labels
from collector.scrape.telemetry import ScrapeTelemetry
from spyglass.configtypes import GlobalConfig, HTTPClientConfig
from storage.interface import Appendable, StorageError
from storage.labels import Labels

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TargetHealth:
    """One active target, as ``/api/v1/targets`` shows it (see ``to_api``)."""

    scrape_pool: str
    scrape_url: str
    labels: dict[str, str]
    discovered_labels: dict[str, str]
    health: str  # up, down, unknown
    last_error: str
    last_scrape: float  # unix seconds, 0 before the first scrape
    last_scrape_duration: float
    scrape_interval: str
    scrape_timeout: str

    def to_api(self) -> dict[str, Any]:
        last = (
            _dt.datetime.fromtimestamp(self.last_scrape, _dt.UTC).isoformat().replace("+00:00", "Z")
            if self.last_scrape
            else "0001-01-01T00:00:00Z"
        )
        return {
            "discoveredLabels": self.discovered_labels,
            "labels": self.labels,
            "scrapePool": self.scrape_pool,
            "scrapeUrl": self.scrape_url,
            "globalUrl": self.scrape_url,
            "lastError": self.last_error,
            "lastScrape": last,
            "lastScrapeDuration": self.last_scrape_duration,
            "health": self.health,
            "scrapeInterval": self.scrape_interval,
            "scrapeTimeout": self.scrape_timeout,
        }


@dataclass(frozen=True, slots=True)
class DroppedTarget:
    """A target relabeling dropped (or that failed label checks), for the API."""

    scrape_pool: str
    discovered_labels: dict[str, str]
    error: str = ""

    def to_api(self) -> dict[str, Any]:
        return {"discoveredLabels": self.discovered_labels, "scrapePool": self.scrape_pool}


def _target_key(t: Target) -> tuple[Labels, str]:
    return (t.labels, t.url())


# Settings that cannot change the labels of any scraped series.
_CACHE_NEUTRAL = {"scrape_interval", "scrape_timeout", "sample_limit", *HTTPClientConfig.model_fields}


def reusable_cache(old: ScrapeConfig, new: ScrapeConfig) -> bool:
    """Prometheus's ``reusableCache``: the configs differ only in settings that
    leave every series' labels as they were, so new loops may keep the caches."""
    return old.model_dump(exclude=_CACHE_NEUTRAL) == new.model_dump(exclude=_CACHE_NEUTRAL)


def _tls_share_key(cfg: ScrapeConfig) -> tuple | None:
    """Jobs whose TLS settings are equal can share one SSL context: each holds
    its own parsed copy of the CA bundle (≈0.8 MiB), which Go's clients share.
    The key has the settings that shape the context, and HTTP/2 because the
    client sets the context's ALPN protocols from it; None (no sharing) for an
    inline private key, which is better not kept around as a dict key."""
    t = cfg.tls_config
    if t.key is not None:
        return None
    return (t.ca_file, t.ca, t.cert_file, t.cert, t.key_file, t.insecure_skip_verify,
            t.min_version, t.max_version, cfg.enable_http2)


class ScrapePool:
    """The targets and loops of one job."""

    def __init__(self, cfg: ScrapeConfig, mgr: ScrapeManager, ssl_contexts: dict[tuple, ssl.SSLContext] | None = None):
        """``ssl_contexts``: contexts that pools created together share (see ``_tls_share_key``)."""
        self.cfg = cfg
        self.mgr = mgr
        kw = cfg.httpx_kwargs()
        share = _tls_share_key(cfg)
        if ssl_contexts is not None and share is not None:
            kw["verify"] = ssl_contexts.setdefault(share, kw["verify"])
        # HTTP/2 is negotiated with ALPN on TLS connections (as Go's client does);
        # plain-http targets are scraped with HTTP/1.1 either way.
        self.client = httpx.AsyncClient(timeout=None, http2=cfg.enable_http2, **kw)
        self.static = static_groups(cfg)
        self.files = [FileDiscovery(f, mgr.base_dir) for f in cfg.file_sd_configs]
        self.loops: dict[tuple[Labels, str], tuple[ScrapeLoop, asyncio.Task]] = {}
        self.dropped: list[DroppedTarget] = []
        self._watch: asyncio.Task | None = None

    def groups(self) -> list[TargetGroup]:
        out = list(self.static)
        for f in self.files:
            out.extend(f.groups())
        return out

    def targets(self) -> tuple[list[Target], list[DroppedTarget]]:
        targets: dict[tuple[Labels, str], Target] = {}
        dropped: list[DroppedTarget] = []
        for g in self.groups():
            glabels = Labels.from_pairs(g.labels)
            for t in g.targets:
                target, discovered, err = populate_labels(glabels, Labels.from_pairs(t), self.cfg)
                if target is None:
                    disc = discovered.to_dict()
                    dropped.append(DroppedTarget(self.cfg.job_name, disc, err or ""))
                    if err:
                        log.warning("job %s: dropping target %s: %s", self.cfg.job_name, disc, err)
                    continue
                targets.setdefault(_target_key(target), target)
        keep = self.cfg.keep_dropped_targets
        return list(targets.values()), (dropped[:keep] if keep else dropped)

    async def sync(self, previous: dict | None = None, reusable: bool = False) -> None:
        """Start and stop loops to match the discovered targets. ``previous``:
        the (stopped) loops of this job's former pool; with ``reusable`` the new
        loops take over their caches, else they end their run."""
        targets, self.dropped = self.targets()
        tel = self.mgr.telemetry
        tel.targets.labels(self.cfg.job_name).set(len(targets))
        tel.dropped_targets.labels(self.cfg.job_name).set(len(self.dropped))
        wanted = {_target_key(t): t for t in targets}
        for key in [k for k in self.loops if k not in wanted]:
            await self._retire(key)
        limit = self.cfg.target_limit
        forced = (
            f"target_limit exceeded (number of targets: {len(wanted)}, limit: {limit})"
            if limit and len(wanted) > limit
            else None
        )
        # A new loop continues the old one that wrote the same series (same
        # sample labels and URL; the target's `__scrape_interval__` may differ).
        previous = {(lp.target.public_labels, lp.url): lp for lp in (previous or {}).values()}
        for key, target in wanted.items():
            if key not in self.loops:
                loop = ScrapeLoop(
                    target, self.cfg, self.client, self.mgr.appendable, tel,
                    clock=self.mgr.clock, offset_seed=self.mgr.offset_seed,
                    executor=self.mgr.executor, timestamp_tolerance=self.mgr.timestamp_tolerance,
                    heap=self.mgr.heap,
                )
                if reusable:
                    old = previous.pop((target.public_labels, loop.url), None)
                    if old is not None:
                        loop.adopt(old)
                task = asyncio.create_task(loop.run(), name=f"scrape {target.url()}")
                self.loops[key] = (loop, task)
            self.loops[key][0].forced_error = forced
        for old in previous.values():
            self.mgr.end_of_run(self.cfg.job_name, old)

    async def watch(self, poll: float) -> None:
        """Poll file discovery and resync when groups change."""
        while True:
            await self.poll_files()
            await asyncio.sleep(poll)

    async def poll_files(self) -> None:
        now = self.mgr.clock()
        changed = False
        for f in self.files:
            before = dict(f.errors)
            changed |= await asyncio.get_running_loop().run_in_executor(None, f.poll, now)
            for path in f.errors.keys() - before.keys():
                self.mgr.telemetry.discovery_errors.labels(self.cfg.job_name).inc()
        if changed:
            await self.sync()

    async def _retire(self, key) -> None:
        """The target went away: stop its loop; its stale markers come later."""
        loop, task = self.loops.pop(key)
        await _halt(loop, task)
        self.mgr.end_of_run(self.cfg.job_name, loop)

    async def halt(self) -> dict:
        """Stop every loop (no stale markers) and the client; the loops, by target key."""
        if self._watch is not None:
            self._watch.cancel()
        loops = {}
        for key, (loop, task) in list(self.loops.items()):
            await _halt(loop, task)
            loops[key] = loop
        self.loops.clear()
        await self.client.aclose()
        return loops

    def health(self) -> list[TargetHealth]:
        out = []
        for loop, _ in self.loops.values():
            t = loop.target
            st = loop.state
            out.append(
                TargetHealth(
                    scrape_pool=self.cfg.job_name,
                    scrape_url=loop.url,
                    labels=t.public_labels.to_dict(),
                    discovered_labels=t.discovered.to_dict(),
                    health=st.health,
                    last_error=st.last_error,
                    last_scrape=st.last_scrape,
                    last_scrape_duration=st.last_duration,
                    scrape_interval=t.labels.get("__scrape_interval__"),
                    scrape_timeout=t.labels.get("__scrape_timeout__"),
                )
            )
        return sorted(out, key=lambda h: h.scrape_url)


async def _halt(loop: ScrapeLoop, task: asyncio.Task) -> None:
    loop.stop()
    task.cancel()
    # the loop logs its own failures; halting only waits for it to end
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    await loop.idle()  # a worker may still be appending its last scrape


class ScrapeManager:
    """Runs the scrape pools of a ``scrape_configs`` list; thread-safe public API."""

    def __init__(
        self,
        appendable: Appendable,
        *,
        registry: CollectorRegistry | None = REGISTRY,
        clock: Callable[[], float] = time.time,
        base_dir: str = ".",
        file_poll_interval: float = 1.0,
        offset_seed: int = 0,
        workers: int = 4,
        timestamp_tolerance: float = DEFAULT_TIMESTAMP_TOLERANCE,
        heap: HeapTrimmer | None = None,
    ):
        """``base_dir`` resolves relative file_sd paths (the config file's folder);
        ``offset_seed`` shifts every target's phase (Prometheus seeds it with the
        external labels so that HA pairs do not scrape in lockstep); ``workers``
        threads parse and append scrapes; ``timestamp_tolerance`` (seconds, at
        most 1% of the interval) is how late a scrape may start and still be
        stamped with its scheduled time; ``heap`` gives freed memory back to
        the system after scrapes (default: ``HeapTrimmer()``, see ``heap``)."""
        self.appendable = appendable
        self.telemetry = ScrapeTelemetry(registry)
        self.clock = clock
        self.base_dir = base_dir
        self.file_poll_interval = file_poll_interval
        self.offset_seed = offset_seed
        self.workers = workers
        self.timestamp_tolerance = timestamp_tolerance
        self.executor: concurrent.futures.ThreadPoolExecutor | None = None
        self.heap = heap if heap is not None else HeapTrimmer(on_trim=self.telemetry.heap_trims.inc)
        self.pools: dict[str, ScrapePool] = {}
        self._end_of_run: dict[str, set[asyncio.Task]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._loop = asyncio.new_event_loop()
        # discovery file reads; scrapes have their own pool
        self._loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(2, "spyglass-scrape-io"))
        self.executor = concurrent.futures.ThreadPoolExecutor(self.workers, "spyglass-scrape-worker")
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self._loop)
            self._loop.call_soon(ready.set)
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="spyglass-scrape", daemon=True)
        self._thread.start()
        ready.wait()

    def _call(self, coro, timeout: float | None = 60.0):
        if self._loop is None:
            raise RuntimeError("ScrapeManager.start() was not called")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, stale_markers: bool = False) -> None:
        """Stop every loop. Like Prometheus, write no stale markers (a restart
        continues the series); ``stale_markers=True`` writes them now for every
        series, for a collector that goes away for good."""
        if self._loop is None:
            return
        with self._lock:
            self._call(self._stop_all(stale_markers))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        if self.executor is not None:
            self.executor.shutdown(wait=True)
        self.executor = None
        self._loop = None
        self._thread = None

    async def _stop_all(self, stale: bool) -> None:
        for job in list(self._end_of_run):
            await self._cancel_end_of_run(job)
        for pool in list(self.pools.values()):
            loops = await pool.halt()
            if stale:
                ts_ms = int(self.clock() * 1000)
                for loop in loops.values():
                    batch = loop.stale_batch(ts_ms)
                    if batch is None:
                        continue
                    try:
                        await asyncio.get_running_loop().run_in_executor(self.executor, self.appendable.append, batch)
                    except StorageError as e:
                        log.warning("could not write stale markers for %s: %s", loop.url, e)
        self.pools.clear()

    # --- end of a target's run ------------------------------------------------------
    def end_of_run(self, job: str, loop: ScrapeLoop) -> None:
        """Schedule a stopped loop's delayed stale markers (event-loop thread only)."""
        public = loop.target.public_labels
        task = asyncio.create_task(
            loop.end_of_run(lambda: self._successor(job, public)), name=f"end of run {loop.url}"
        )
        tasks = self._end_of_run.setdefault(job, set())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def _successor(self, job: str, public: Labels) -> ScrapeLoop | None:
        """The running loop of ``job`` that writes series with these sample labels
        (a target that came back, or the same target under a new config)."""
        pool = self.pools.get(job)
        if pool is None:
            return None
        for loop, _ in pool.loops.values():
            if loop.target.public_labels == public:
                return loop
        return None

    async def _cancel_end_of_run(self, job: str) -> None:
        tasks = self._end_of_run.pop(job, set())
        for t in tasks:
            t.cancel()
        for t in list(tasks):
            # a cancelled end-of-run write has nothing left to report
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t

    # --- config ----------------------------------------------------------------------
    def apply_config(self, scrape_configs: Sequence[ScrapeConfig], global_config: GlobalConfig | None = None) -> None:
        """Start, keep, restart or stop pools to match ``scrape_configs``.
        Raises ``ValueError`` (Prometheus's wording) when a config is invalid."""
        g = global_config or GlobalConfig()
        resolved = [sc.with_global(g) for sc in scrape_configs]
        names = [c.job_name for c in resolved]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f'found multiple scrape configs with job name "{min(dup)}"')
        with self._lock:
            self._call(self._apply(resolved))
        self.telemetry.reloads.inc()

    async def _apply(self, configs: list[ScrapeConfig]) -> None:
        new = {c.job_name: c for c in configs}
        # Pools made by this apply share SSL contexts; the next apply makes
        # new ones, so that changed CA and certificate files are read again.
        ssl_contexts: dict[tuple, ssl.SSLContext] = {}
        for name in [n for n in self.pools if n not in new]:
            # A removed job writes no stale markers, as in Prometheus (the pool's
            # context is cancelled); its pending end-of-run markers are dropped too.
            await self._cancel_end_of_run(name)
            await self.pools.pop(name).halt()
        for name, cfg in new.items():
            old = self.pools.get(name)
            if old is not None and old.cfg == cfg:
                continue  # unchanged: its loops keep running undisturbed
            previous = await old.halt() if old is not None else None
            pool = ScrapePool(cfg, self, ssl_contexts)
            for f in pool.files:
                await asyncio.get_running_loop().run_in_executor(None, f.poll, self.clock())
            self.pools[name] = pool
            await pool.sync(previous, reusable=old is not None and reusable_cache(old.cfg, cfg))
            if pool.files:
                pool._watch = asyncio.create_task(pool.watch(self.file_poll_interval))

    def refresh_discovery(self) -> None:
        """Re-read target files now (tests and SIGHUP); normally polled."""
        with self._lock:
            self._call(self._refresh())

    async def _refresh(self) -> None:
        for pool in self.pools.values():
            await pool.poll_files()

    # --- API -------------------------------------------------------------------------
    def active_targets(self) -> list[TargetHealth]:
        if self._loop is None:
            return []
        return self._call(self._health())

    async def _health(self) -> list[TargetHealth]:
        return [h for name in sorted(self.pools) for h in self.pools[name].health()]

    def dropped_targets(self) -> list[DroppedTarget]:
        if self._loop is None:
            return []
        return self._call(self._dropped())

    async def _dropped(self) -> list[DroppedTarget]:
        return [d for name in sorted(self.pools) for d in self.pools[name].dropped]

    def targets_api(self) -> dict[str, Any]:
        """The ``data`` of ``/api/v1/targets``."""
        return {
            "activeTargets": [h.to_api() for h in self.active_targets()],
            "droppedTargets": [d.to_api() for d in self.dropped_targets()],
            "droppedTargetCounts": {
                name: len(p.dropped) for name, p in sorted(self.pools.items())
            },
        }
