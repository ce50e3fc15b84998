"""Scrape timing: a huge, slow-to-process target must not delay other targets,
and scrape timestamps follow the schedule."""

from __future__ import annotations

import itertools
import time

import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.manager import ScrapeManager
from collector.scrape.schedule import align_ns, next_tick
from storage.interface import AppendResult
from storage.labels import Labels
from storage.memstore import MemoryStorage
from tests.collector.scrape.conftest import Reply

SMALL_INTERVAL = 0.1


class CountingStorage:
    """Keeps only the small job's batches: storing the huge target's samples in
    MemoryStorage (a Python loop per sample) would measure MemoryStorage."""

    def __init__(self):
        self.small = MemoryStorage()
        self.samples = 0

    def append(self, batch):
        self.samples += len(batch)
        if batch.series and batch.series[0].get("job") == "small":
            return self.small.append(batch)
        return AppendResult(accepted=len(batch))


HUGE_SERIES = 12_000
# Metric relabeling a user might well have; it runs once per new series, so the
# huge target's first scrape (12k new series) takes about a second of CPU.
RELABEL = [
    {"source_labels": ["pod"], "regex": "pod-(.*)", "target_label": "pod_id", "replacement": "$1"},
    {"action": "labelmap", "regex": "(i)", "replacement": "index_$1"},
    {"action": "labeldrop", "regex": "i"},
    {"source_labels": ["__name__", "pod_id"], "separator": ";", "regex": "(.+);(.+)", "target_label": "key"},
    {"action": "drop", "source_labels": ["pod_id"], "regex": "never"},
]


@pytest.mark.slow
def test_huge_target_does_not_delay_a_small_one(fake_target):
    fake_target.replies["/small"] = Reply("a 1\n", gzip_ok=False)
    body = "".join(f'huge_metric{{i="{i}",pod="pod-{i % 977}"}} {i}\n' for i in range(HUGE_SERIES)).encode()
    fake_target.replies["/huge"] = Reply(body, gzip_ok=False)
    store = CountingStorage()
    m = ScrapeManager(store, registry=CollectorRegistry())
    m.start()
    try:
        m.apply_config([
            ScrapeConfig.model_validate({
                "job_name": "small", "scrape_interval": f"{int(SMALL_INTERVAL * 1000)}ms", "metrics_path": "/small",
                "static_configs": [{"targets": [fake_target.address]}],
            }),
            ScrapeConfig.model_validate({
                "job_name": "huge", "scrape_interval": "2s", "scrape_timeout": "2s", "metrics_path": "/huge",
                "static_configs": [{"targets": [fake_target.address]}], "metric_relabel_configs": RELABEL,
            }),
        ])
        (huge_loop, _), = m.pools["huge"].loops.values()
        deadline = time.monotonic() + 20
        while m.telemetry.scrapes.labels("huge", "success")._value.get() < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        huge_duration = huge_loop.state.last_duration  # the first, cold scrape
        time.sleep(0.3)
    finally:
        m.stop()
    assert huge_loop.state.health == "up", huge_loop.state.last_error
    assert huge_duration > 0.5, f"the huge target must be slow to process for this test to mean anything ({huge_duration:.2f} s)"
    small = [t for p, t in fake_target.arrivals if p == "/small"]
    huge_at = next(t for p, t in fake_target.arrivals if p == "/huge")
    window = [t for t in small if huge_at + 0.05 < t < huge_at + huge_duration]
    gaps = [b - a for a, b in itertools.pairwise(window)]
    assert len(gaps) > 3
    # Had the event loop been busy processing, one gap would last the whole processing time.
    assert max(gaps) < SMALL_INTERVAL + 0.6 * huge_duration, (max(gaps), huge_duration)
    # ...and the small target kept being scraped meanwhile (timer jitter on a loaded
    # 2-core machine costs some ticks; a blocked loop would lose nearly all of them).
    assert len(window) >= 0.4 * (window[-1] - window[0]) / SMALL_INTERVAL
    ss = store.small.querier(-(2**62), 2**62).select([])
    stamps = {ss.labels[i]: ss.series(i)[0] for i in range(len(ss))}[
        Labels.from_dict({"__name__": "a", "job": "small", "instance": fake_target.address})
    ]
    # the stored timestamps tell the same: no hole while the huge target was processed
    offset_ms = (time.time() - time.monotonic()) * 1000
    inside = stamps[(stamps >= (huge_at + 0.05) * 1000 + offset_ms) & (stamps <= (huge_at + huge_duration) * 1000 + offset_ms)]
    assert len(inside) > 3
    assert (inside[1:] - inside[:-1]).max() < (SMALL_INTERVAL + 0.6 * huge_duration) * 1000


def test_align_to_schedule():
    s = 1_000_000_000  # 1 s in ns
    anchor = 1_700_000_000 * s
    # within tolerance: the scheduled time
    assert align_ns(anchor + 10 * s + 1_000_000, anchor, 10 * s, 2_000_000) == (anchor + 10 * s, anchor + 10 * s)
    # late beyond tolerance: the actual time, the schedule kept
    assert align_ns(anchor + 10 * s + 5_000_000, anchor, 10 * s, 2_000_000) == (anchor + 10 * s + 5_000_000, anchor + 10 * s)
    # the tolerance is at most 1% of the interval
    assert align_ns(anchor + s // 100 + 1, anchor, s // 10, 2_000_000)[0] == anchor + s // 100 + 1
    # skipped ticks keep the phase
    assert align_ns(anchor + 30 * s + 500_000, anchor, 10 * s, 2_000_000) == (anchor + 30 * s, anchor + 30 * s)
    # a wall clock stepping back starts a new schedule
    assert align_ns(anchor - 5 * s, anchor, 10 * s, 2_000_000) == (anchor - 5 * s, anchor - 5 * s)
    assert next_tick(100.0, 10.0, 105.0) == 110.0
    assert next_tick(100.0, 10.0, 131.0) == 140.0
