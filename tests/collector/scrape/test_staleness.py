"""Stale markers when targets and jobs go away, with Prometheus's timing.

Prometheus (scrape/scrape.go, ``endOfRunStaleness``): a target that leaves
discovery gets stale markers stamped with the time its next scrape would have
had, written after one more interval and 10%; none if it came back meanwhile;
none when the whole job is removed or the server stops.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.manager import ScrapeManager, reusable_cache
from storage.interface import SampleBatch, is_stale
from storage.labels import Labels
from storage.memstore import MemoryStorage
from tests.collector.scrape.conftest import Reply, running_manager, wait_for

INTERVAL = 0.3


class RecordingStorage(MemoryStorage):
    """MemoryStorage that remembers when each batch arrived."""

    def __init__(self):
        super().__init__()
        self.log: list[tuple[float, SampleBatch]] = []
        self._log_lock = threading.Lock()

    def append(self, batch):
        with self._log_lock:
            self.log.append((time.time(), batch))
        return super().append(batch)

    def samples(self, labels: Labels) -> list[tuple[float, int, float]]:
        """(written at, timestamp ms, value) of every sample of ``labels``, in write order."""
        out = []
        with self._log_lock:
            entries = list(self.log)
        for at, b in entries:
            for i, t, v in zip(b.series_index.tolist(), b.timestamps.tolist(), b.values.tolist()):
                if b.series[i] == labels:
                    out.append((at, t, v))
        return out


def stale_of(samples):
    import numpy as np

    return [s for s in samples if is_stale(np.array([s[2]]))[0]]


@pytest.fixture
def manager():
    store = RecordingStorage()
    with running_manager(store, file_poll_interval=0.05) as m:
        yield m, store


def file_sd_job(tmp_path, fake_target, **kw):
    f = tmp_path / "targets.json"
    f.write_text(json.dumps([{"targets": [fake_target.address]}]))
    cfg = ScrapeConfig.model_validate({
        "job_name": "j", "scrape_interval": f"{int(INTERVAL * 1000)}ms",
        "file_sd_configs": [{"files": [str(f)]}], **kw,
    })
    return f, cfg


def test_vanished_target_stale_at_next_would_be_scrape(manager, fake_target, tmp_path):
    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    f, cfg = file_sd_job(tmp_path, fake_target)
    m.apply_config([cfg])
    a, up = fake_target.series("a"), fake_target.series("up")
    wait_for(lambda: len(store.samples(a)) >= 2)
    f.write_text("[]")
    wait_for(lambda: not m.active_targets())
    removed_at = time.time()
    time.sleep(0.05)  # a scrape that was being appended when the target went
    last_ts = store.samples(a)[-1][1]
    assert not stale_of(store.samples(a)), "stale markers must not be written at once"
    wait_for(lambda: stale_of(store.samples(a)), timeout=5)
    (written_at, stale_ts, _), = stale_of(store.samples(a))
    # stamped when the next scrape would have been ...
    assert INTERVAL * 1000 - 60 <= stale_ts - last_ts <= INTERVAL * 1000 + 100, stale_ts - last_ts
    # ... and written one interval (+10%) after that
    assert written_at * 1000 >= stale_ts + 1.1 * INTERVAL * 1000 - 100
    assert written_at >= removed_at
    (_, up_ts, _), = stale_of(store.samples(up))
    assert up_ts == stale_ts
    assert m.telemetry.end_of_run_stale_markers.labels("j")._value.get() >= 2


def test_target_back_before_markers_gets_none_for_its_series(manager, fake_target, tmp_path):
    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\nb 2\n")
    f, cfg = file_sd_job(tmp_path, fake_target)
    m.apply_config([cfg])
    a, b = fake_target.series("a"), fake_target.series("b")
    wait_for(lambda: len(store.samples(a)) >= 1)
    fake_target.replies["/metrics"] = Reply("a 1\n")  # the recreated target no longer has b
    f.write_text("[]")
    wait_for(lambda: not m.active_targets())
    f.write_text(json.dumps([{"targets": [fake_target.address]}]))
    wait_for(lambda: m.active_targets())
    time.sleep(INTERVAL * 3.5)  # past the old loop's end of run
    assert not stale_of(store.samples(a))  # the new loop writes it: its markers would be out of order
    assert stale_of(store.samples(b))  # nobody writes b any more
    assert not stale_of(store.samples(fake_target.series("up")))


def test_removed_job_and_shutdown_write_no_markers(fake_target, tmp_path):
    fake_target.replies["/metrics"] = Reply("a 1\n")
    store = RecordingStorage()
    with running_manager(store, file_poll_interval=0.05) as m:
        f, cfg = file_sd_job(tmp_path, fake_target)
        other = ScrapeConfig.model_validate({
            "job_name": "other", "scrape_interval": "300ms", "static_configs": [{"targets": [fake_target.address]}],
        })
        m.apply_config([cfg, other])
        a = fake_target.series("a")
        wait_for(lambda: len(store.samples(a)) >= 1)
        f.write_text("[]")  # an end-of-run is pending for job j ...
        wait_for(lambda: len(m.active_targets()) == 1)
        m.apply_config([other])  # ... and the job goes: the pending markers are dropped
        time.sleep(INTERVAL * 3)
        assert not stale_of(store.samples(a))
    a_other = fake_target.series("a", job="other")
    assert store.samples(a_other) and not stale_of(store.samples(a_other))

    store2 = RecordingStorage()
    m2 = ScrapeManager(store2, registry=CollectorRegistry())
    m2.start()
    m2.apply_config([other])
    wait_for(lambda: store2.samples(a_other))
    m2.stop(stale_markers=True)  # the explicit opt-in writes them at once
    assert stale_of(store2.samples(a_other))


def test_reload_that_keeps_labels_continues_the_cache(manager, fake_target):
    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\nb 2\n")
    base = {"job_name": "j", "static_configs": [{"targets": [fake_target.address]}]}
    m.apply_config([ScrapeConfig.model_validate({**base, "scrape_interval": "300ms"})])
    a, b = fake_target.series("a"), fake_target.series("b")
    wait_for(lambda: store.samples(b))
    old_loop = next(iter(m.pools["j"].loops.values()))[0]
    fake_target.replies["/metrics"] = Reply("a 1\n")
    m.apply_config([ScrapeConfig.model_validate({**base, "scrape_interval": "250ms", "sample_limit": 10})])
    new_loop = next(iter(m.pools["j"].loops.values()))[0]
    assert new_loop.cache is old_loop.cache and old_loop.staleness_disabled
    wait_for(lambda: stale_of(store.samples(b)))
    # the new loop wrote b's marker at its own scrape, in the batch with a's sample
    (at, ts, _), = stale_of(store.samples(b))
    assert any(t == ts and at2 == at for at2, t, _ in store.samples(a))
    time.sleep(INTERVAL * 3)
    assert len(stale_of(store.samples(b))) == 1 and not stale_of(store.samples(a))


def test_reload_that_changes_labels_ends_the_old_run(manager, fake_target):
    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    base = {"job_name": "j", "scrape_interval": "300ms", "static_configs": [{"targets": [fake_target.address]}]}
    m.apply_config([ScrapeConfig.model_validate(base)])
    a = fake_target.series("a")
    wait_for(lambda: store.samples(a))
    relabeled = {**base, "metric_relabel_configs": [{"target_label": "env", "replacement": "prod"}]}
    assert not reusable_cache(ScrapeConfig.model_validate(base), ScrapeConfig.model_validate(relabeled))
    m.apply_config([ScrapeConfig.model_validate(relabeled)])
    a_env = Labels.from_dict({**a.to_dict(), "env": "prod"})
    wait_for(lambda: stale_of(store.samples(a)), timeout=5)
    last_value_ts = [t for _, t, v in store.samples(a) if v == 1.0][-1]
    (_, stale_ts, _), = stale_of(store.samples(a))
    assert stale_ts > last_value_ts
    assert store.samples(a_env) and not stale_of(store.samples(a_env))
    # the synthetic series keep their labels: the new loop writes them, so no markers
    assert not stale_of(store.samples(fake_target.series("up")))


def test_reusable_cache_rules():
    base = ScrapeConfig.model_validate({"job_name": "j", "static_configs": [{"targets": ["h:1"]}]})
    same_labels = ScrapeConfig.model_validate({
        "job_name": "j", "static_configs": [{"targets": ["h:1"]}], "scrape_interval": "5s",
        "scrape_timeout": "2s", "sample_limit": 5, "bearer_token": "x", "follow_redirects": False,
    })
    assert reusable_cache(base, same_labels)
    for change in ({"honor_labels": True}, {"label_limit": 3}, {"metrics_path": "/m"},
                   {"metric_relabel_configs": [{"action": "labeldrop", "regex": "x"}]}):
        other = ScrapeConfig.model_validate({"job_name": "j", "static_configs": [{"targets": ["h:1"]}], **change})
        assert not reusable_cache(base, other), change


@pytest.mark.peer
@pytest.mark.slow
def test_same_stale_timing_as_real_prometheus(manager, fake_target, tmp_path):
    """Prometheus 2.42 and Spyglass scrape the same file_sd target every second;
    when it leaves the file, both stamp the markers one interval after the last
    sample and write them one interval (+10%) after that."""
    import subprocess

    import httpx
    import yaml

    from tests.util import free_port, peer_binary, wait_http

    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    sd = tmp_path / "sd.json"
    sd.write_text(json.dumps([{"targets": [fake_target.address]}]))
    job = {"job_name": "j", "scrape_interval": "1s", "file_sd_configs": [{"files": [str(sd)]}]}
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [job]}))
    port = free_port()
    prom = subprocess.Popen(
        [peer_binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}/api/v1/query"

    def prom_value(at: float) -> bool:
        r = httpx.get(api, params={"query": "a", "time": f"{at:.3f}"}).json()
        return bool(r["data"]["result"])

    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)
        m.apply_config([ScrapeConfig.model_validate(job)])
        a = fake_target.series("a")
        wait_for(lambda: len(store.samples(a)) >= 2 and prom_value(time.time()), timeout=30)
        time.sleep(1.0)
        sd.write_text("[]")
        # Poll Prometheus for when its marker becomes visible (the write time).
        prom_written = None
        deadline = time.time() + 6
        while time.time() < deadline:
            if not prom_value(time.time()):
                prom_written = time.time()
                break
            time.sleep(0.05)
        assert prom_written is not None, "Prometheus wrote no stale marker"
        raw = httpx.get(api, params={"query": "a[1m]", "time": f"{prom_written:.3f}"}).json()
        prom_last = float(raw["data"]["result"][0]["values"][-1][0])
        lo, hi = prom_last, prom_written  # the stale marker's time, to the millisecond
        while hi - lo > 0.001:
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if prom_value(mid) else (lo, mid)
        prom_stale = hi
        wait_for(lambda: stale_of(store.samples(a)), timeout=5)
    finally:
        prom.terminate()
        prom.wait(20)
    (ours_written, ours_stale_ms, _), = stale_of(store.samples(a))
    ours_last_ms = max(t for _, t, v in store.samples(a) if v == 1.0)
    prom_gap = prom_stale - prom_last
    ours_gap = (ours_stale_ms - ours_last_ms) / 1000
    assert 0.9 <= prom_gap <= 1.15, prom_gap  # what we read in Prometheus's code ...
    assert 0.9 <= ours_gap <= 1.15, ours_gap  # ... and what we do
    prom_delay = prom_written - prom_stale
    ours_delay = ours_written - ours_stale_ms / 1000
    assert 1.0 <= prom_delay <= 1.6, prom_delay
    assert 1.0 <= ours_delay <= 1.6, ours_delay
