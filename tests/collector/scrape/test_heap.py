"""Handing freed heap back to the system after scrapes (``collector.scrape.heap``)."""

from __future__ import annotations

import asyncio
import threading

import httpx
from prometheus_client import CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.heap import HeapTrimmer
from collector.scrape.loop import ScrapeLoop
from collector.scrape.target import populate_labels
from collector.scrape.telemetry import ScrapeTelemetry
from spyglass.configtypes import GlobalConfig
from storage.labels import Labels
from storage.memstore import MemoryStorage
from tests.collector.scrape.conftest import Reply


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t


def test_trims_after_enough_bytes_and_not_more_often_than_min_interval():
    calls = []
    clock = Clock()
    on = []
    h = HeapTrimmer(every_bytes=1000, min_interval=1.0, trim=lambda pad: calls.append(pad) or 1,
                    clock=clock, on_trim=lambda: on.append(1))
    assert h.available
    assert not h.processed(600)
    assert h.processed(600)  # 1200 >= 1000
    assert calls == [0] and h.trims == 1 and on == [1]
    clock.t += 0.5
    assert not h.processed(5000)  # enough bytes, too soon
    clock.t += 0.6
    assert h.processed(0)  # the 5000 bytes still count
    assert not h.processed(-1)  # a failed scrape's -1 adds nothing
    clock.t += 5
    assert not h.processed(999)
    assert h.processed(1)
    assert h.trims == len(calls) == len(on) == 3


def test_slow_trims_are_spaced_out_to_stay_under_max_share():
    clock = Clock()

    def slow_trim(pad):
        clock.t += 0.05  # a 50 ms trim: at 1% the next waits 5 s
        return 1

    h = HeapTrimmer(every_bytes=1, min_interval=1.0, max_share=0.01, trim=slow_trim, clock=clock)
    assert h.processed(10)
    start = clock.t - 0.05
    clock.t = start + 4.9
    assert not h.processed(10)
    clock.t = start + 5.0
    assert h.processed(10)
    assert h.trims == 2


def test_concurrent_workers_trim_once_per_due_moment():
    calls = []
    clock = Clock()
    h = HeapTrimmer(every_bytes=10, min_interval=60.0, trim=lambda pad: calls.append(pad) or 1, clock=clock)
    threads = [threading.Thread(target=lambda: [h.processed(5) for _ in range(200)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [0]


def test_without_malloc_trim_it_does_nothing():
    h = HeapTrimmer(every_bytes=0, min_interval=0.0)
    h._trim = None  # a C library without malloc_trim
    assert not h.available
    assert not h.processed(1 << 30) and h.trims == 0


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_real_malloc_trim_returns_freed_heap_pages():
    # 40 MiB in 1 KiB blocks (malloc'd from the heap, not mmap'd), all freed
    # but the last, which pins the heap's top: only a trim gives the pages back.
    h = HeapTrimmer(every_bytes=0, min_interval=0.0)
    assert h.available  # glibc (Debian)
    blocks = [bytearray(1024) for _ in range(40 * 1024)]
    for b in blocks:
        b[0] = 1  # touch every block's page
    pin = blocks[-1]
    del blocks
    before = _rss_kib()
    assert h.processed(0)
    after = _rss_kib()
    assert before - after > 20 * 1024, (before, after)
    assert pin[0] == 1


def test_the_loop_reports_each_scrape_body_to_its_trimmer(fake_target):
    body = "".join(f'm{{i="{i}"}} {i}\n' for i in range(100))
    fake_target.replies["/metrics"] = Reply(body, gzip_ok=False)
    sc = ScrapeConfig.model_validate(
        {"job_name": "j", "static_configs": [{"targets": [fake_target.address]}]}
    ).with_global(GlobalConfig())
    target, _, _ = populate_labels(Labels.EMPTY, Labels.from_dict({"__address__": fake_target.address}), sc)
    seen = []

    class Recording(HeapTrimmer):
        __slots__ = ()

        def processed(self, nbytes):
            seen.append(nbytes)
            return super().processed(nbytes)

    calls = []
    heap = Recording(every_bytes=len(body) * 2, min_interval=0.0, trim=lambda pad: calls.append(pad) or 1)
    client = httpx.AsyncClient(timeout=None, **sc.httpx_kwargs())
    loop = ScrapeLoop(target, sc, client, MemoryStorage(), ScrapeTelemetry(CollectorRegistry()), heap=heap)

    async def go():
        try:
            for _ in range(3):
                await loop.scrape_once()
        finally:
            await client.aclose()

    asyncio.run(go())
    assert seen == [len(body)] * 3
    assert calls == [0]  # the second scrape reached 2 bodies
