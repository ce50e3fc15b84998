"""The scrape manager: discovery, reload, targets API, and parity with real Prometheus."""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.config import ScrapeConfig
from collector.scrape.manager import ScrapeManager
from spyglass.configtypes import GlobalConfig
from storage.interface import is_stale
from storage.labels import Labels, Matcher
from storage.memstore import MemoryStorage
from tests.collector.scrape.conftest import Reply, running_manager, stored, wait_for
from tests.util import free_port, peer_binary, wait_http


@pytest.fixture
def manager():
    store = MemoryStorage()
    with running_manager(store, file_poll_interval=0.1) as m:
        yield m, store


def sc(**kw):
    return ScrapeConfig.model_validate({"job_name": "j", "scrape_interval": "200ms", **kw})


def test_file_sd_targets_come_and_go_with_stale_markers(manager, fake_target, tmp_path):
    m, store = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    f = tmp_path / "targets.json"
    f.write_text(json.dumps([{"targets": [fake_target.address], "labels": {"env": "test"}}]))
    m.apply_config([sc(file_sd_configs=[{"files": [str(tmp_path / "*.json")]}])])
    lab = fake_target.series("a", env="test")
    wait_for(lambda: lab in stored(store, "a"))
    (t,) = m.active_targets()
    assert t.discovered_labels["__meta_filepath"] == str(f)
    assert "__meta_filepath" not in t.labels
    f.write_text("[]")
    wait_for(lambda: not m.active_targets())
    # written one interval after the next would-be scrape (see test_staleness)
    wait_for(lambda: is_stale(stored(store, "a")[lab][1])[-1], timeout=5)
    up = fake_target.series("up", env="test")
    assert is_stale(stored(store, "up")[up][1])[-1]


def test_bad_target_file_keeps_last_good_groups(manager, fake_target, tmp_path):
    m, _ = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    f = tmp_path / "t.yml"
    f.write_text(f"- targets: ['{fake_target.address}']\n")
    m.apply_config([sc(file_sd_configs=[{"files": [str(f)]}])])
    assert len(m.active_targets()) == 1
    tmp = tmp_path / "t.tmp"
    tmp.write_text("- targets: [unclosed\n")
    os.replace(tmp, f)  # atomically: a half-written file would be a valid empty list
    m.refresh_discovery()
    assert len(m.active_targets()) == 1
    assert m.telemetry.discovery_errors.labels("j")._value.get() >= 1


def test_reload_keeps_unchanged_jobs_and_restarts_changed(manager, fake_target):
    m, _ = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    a = sc(job_name="a", static_configs=[{"targets": [fake_target.address]}])
    b = sc(job_name="b", static_configs=[{"targets": [fake_target.address]}])
    m.apply_config([a, b])
    pool_a, pool_b = m.pools["a"], m.pools["b"]
    loops_a = {k: v[1] for k, v in pool_a.loops.items()}
    b2 = sc(job_name="b", scrape_interval="300ms", static_configs=[{"targets": [fake_target.address]}])
    m.apply_config([ScrapeConfig.model_validate(a.model_dump(by_alias=True, exclude_unset=True)), b2])
    assert m.pools["a"] is pool_a
    assert {k: v[1] for k, v in m.pools["a"].loops.items()} == loops_a
    assert m.pools["b"] is not pool_b
    assert m.active_targets()[1].scrape_interval == "300ms"
    m.apply_config([b2])
    assert set(m.pools) == {"b"}


def test_relabeling_drops_and_targets_api(manager, fake_target):
    m, _ = manager
    fake_target.replies["/metrics"] = Reply("a 1\n")
    m.apply_config([
        sc(
            static_configs=[{"targets": [fake_target.address, "drop.me:1"]}],
            relabel_configs=[
                {"action": "drop", "source_labels": ["__address__"], "regex": "drop.*"},
                {"source_labels": ["__address__"], "regex": "(.*):.*", "target_label": "host"},
            ],
        )
    ])
    wait_for(lambda: m.active_targets()[0].health == "up")
    api = m.targets_api()
    (t,) = api["activeTargets"]
    assert t["labels"] == {"host": "127.0.0.1", "instance": fake_target.address, "job": "j"}
    assert t["scrapeUrl"] == f"http://{fake_target.address}/metrics"
    assert t["lastError"] == "" and t["lastScrape"].endswith("Z")
    assert api["droppedTargets"] == [{
        "discoveredLabels": {"__address__": "drop.me:1", "__metrics_path__": "/metrics", "__scheme__": "http",
                             "__scrape_interval__": "200ms", "__scrape_timeout__": "200ms", "job": "j"},
        "scrapePool": "j",
    }]


def test_target_limit_fails_all_scrapes(manager, fake_target):
    m, _ = manager
    fake_target.replies["*"] = Reply("a 1\n")
    m.apply_config([sc(target_limit=1, static_configs=[{"targets": [fake_target.address, f"localhost:{fake_target.port}"]}])])
    wait_for(lambda: all(t.health == "down" for t in m.active_targets()))
    assert "target_limit exceeded (number of targets: 2, limit: 1)" in m.active_targets()[0].last_error


def test_duplicate_jobs_rejected(manager):
    m, _ = manager
    with pytest.raises(ValueError, match='found multiple scrape configs with job name "j"'):
        m.apply_config([sc(), sc()], GlobalConfig())


@pytest.mark.peer
@pytest.mark.slow
def test_same_series_as_real_prometheus_from_node_exporter(tmp_path, manager):
    """Spyglass and Prometheus scrape the same node-exporter: the same series set."""
    m, store = manager
    ne_port, prom_port = free_port(), free_port()
    collectors = ["--collector.disable-defaults", "--collector.cpu", "--collector.meminfo",
                  "--collector.loadavg", "--collector.filesystem", "--collector.netdev", "--collector.uname"]
    ne = subprocess.Popen([peer_binary("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{ne_port}", *collectors],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cfg = {
        "job_name": "node",
        "scrape_interval": "1s",
        "static_configs": [{"targets": [f"127.0.0.1:{ne_port}"], "labels": {"env": "t"}}],
        "metric_relabel_configs": [{"action": "drop", "source_labels": ["__name__"], "regex": "go_gc_duration.*"}],
    }
    import yaml

    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump({"scrape_configs": [cfg]}))
    prom = subprocess.Popen(
        [peer_binary("prometheus"), f"--config.file={tmp_path / 'prometheus.yml'}",
         f"--storage.tsdb.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{prom_port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{ne_port}/metrics")
        m.apply_config([ScrapeConfig.model_validate(cfg)])
        wait_http(f"http://127.0.0.1:{prom_port}/-/ready", timeout=60)

        def prom_series():
            r = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/series", params={"match[]": '{job="node"}'})
            return {Labels.from_dict(s) for s in r.json()["data"]}

        wait_for(lambda: len(prom_series()) > 100, timeout=30)
        time.sleep(2.5)  # a few scrapes on both sides
        theirs = prom_series()
        ss = store.querier(-(2**62), 2**62).select([Matcher("=", "job", "node")])
        ours = set(ss.labels)
        # series whose existence depends on timing (a scrape error of one collector) aside
        assert ours == theirs, (sorted(map(str, ours - theirs))[:10], sorted(map(str, theirs - ours))[:10])
        r = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query", params={"query": "node_memory_MemTotal_bytes"})
        their_total = float(r.json()["data"]["result"][0]["value"][1])
        (our,) = stored(store, "node_memory_MemTotal_bytes").values()
        assert our[1][-1] == their_total
    finally:
        prom.terminate()
        ne.terminate()
        prom.wait(20)
        ne.wait(10)


def test_scrapes_trim_the_heap_and_count_it(fake_target):
    fake_target.replies["/metrics"] = Reply("a 1\nb 2\n")
    reg = CollectorRegistry()
    m = ScrapeManager(MemoryStorage(), registry=reg)
    m.heap.every_bytes = 1  # every scrape's body is enough...
    m.heap.min_interval = 0.0  # ...and no wait between trims
    m.start()
    try:
        m.apply_config([sc(static_configs=[{"targets": [fake_target.address]}])])
        wait_for(lambda: (reg.get_sample_value("spyglass_scrape_heap_trims_total") or 0) >= 2)
    finally:
        m.stop()
    assert m.heap.available
    assert reg.get_sample_value("spyglass_scrape_heap_trims_total") == m.heap.trims


def _ssl_context(pool):
    return pool.client._transport._pool._ssl_context  # httpx → httpcore's connection pool


def test_jobs_with_the_same_tls_settings_share_one_ssl_context():
    with running_manager(MemoryStorage()) as m:
        jobs = [sc(job_name="a"), sc(job_name="b"), sc(job_name="c", tls_config={"insecure_skip_verify": True}),
                sc(job_name="d", enable_http2=False)]
        m.apply_config(jobs)
        ctx = {name: _ssl_context(p) for name, p in m.pools.items()}
        assert ctx["a"] is ctx["b"]
        assert len({id(ctx["a"]), id(ctx["c"]), id(ctx["d"])}) == 3
        assert ctx["c"].verify_mode.name == "CERT_NONE" and ctx["a"].verify_mode.name == "CERT_REQUIRED"
        # a later apply reads the TLS files again: new contexts for the pools it makes
        m.apply_config([jobs[0], sc(job_name="b", scrape_interval="1s"), *jobs[2:]])
        assert _ssl_context(m.pools["a"]) is ctx["a"]  # unchanged job, untouched
        assert _ssl_context(m.pools["b"]) is not ctx["a"]
