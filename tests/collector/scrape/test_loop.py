"""One target's scrape loop against a local HTTP target: success, failures, labels, limits, staleness."""

from __future__ import annotations

import asyncio
import math
import threading
import time

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from collector.scrape.cache import DROPPED
from collector.scrape.config import ScrapeConfig
from collector.scrape.loop import ScrapeLoop, accept_header
from collector.scrape.target import populate_labels
from collector.scrape.telemetry import ScrapeTelemetry
from spyglass.configtypes import GlobalConfig
from storage.interface import is_stale
from storage.labels import Labels
from storage.memstore import MemoryStorage
from tests.collector.scrape.conftest import Reply, stored


class Clock:
    def __init__(self, t=1_700_000_000.0):
        self.t = t

    def __call__(self):
        return self.t


def make_loop(fake, store, clock=None, **cfg):
    sc = ScrapeConfig.model_validate(
        {"job_name": "j", "scrape_interval": "10s", "static_configs": [{"targets": [fake.address]}], **cfg}
    ).with_global(GlobalConfig())
    target, _, err = populate_labels(Labels.EMPTY, Labels.from_dict({"__address__": fake.address}), sc)
    assert err is None
    tel = ScrapeTelemetry(CollectorRegistry())
    # no client yet: scrape() gives each of its event loops one of its own
    return ScrapeLoop(target, sc, None, store, tel, clock=clock or Clock()), tel


def scrape(loop, times=1, clock=None, step=10.0):
    async def go():
        async with httpx.AsyncClient(timeout=None, **loop.cfg.httpx_kwargs()) as client:
            loop.client = client
            for _ in range(times):
                await loop.scrape_once()
                if clock:
                    clock.t += step

    asyncio.run(go())


def scrape_reply(fake, body, clock=None, **cfg):
    """Serve ``body`` (text or a ``Reply``) at /metrics and scrape it once into a
    fresh store: ``(loop, store, telemetry)``."""
    fake.replies["/metrics"] = body if isinstance(body, Reply) else Reply(body)
    store = MemoryStorage()
    loop, tel = make_loop(fake, store, clock, **cfg)
    scrape(loop, clock=clock)
    return loop, store, tel


def value(store, lab):
    _, vs = stored(store, lab.name)[lab]
    return vs[-1]


def test_success_and_report_series(fake_target):
    loop, store, _ = scrape_reply(fake_target, "# TYPE a gauge\na 1\nb{x=\"y\"} 2\n")
    assert value(store, fake_target.series("a")) == 1.0
    assert value(store, fake_target.series("b", x="y")) == 2.0
    assert value(store, fake_target.series("up")) == 1.0
    assert value(store, fake_target.series("scrape_samples_scraped")) == 2.0
    assert value(store, fake_target.series("scrape_samples_post_metric_relabeling")) == 2.0
    assert value(store, fake_target.series("scrape_series_added")) == 2.0
    assert value(store, fake_target.series("scrape_duration_seconds")) > 0
    assert loop.state.health == "up" and loop.state.last_error == ""
    assert store.metadata("a")["a"][0].type.value == "gauge"
    _, headers = fake_target.requests[0]
    assert headers["Accept-Encoding"] == "gzip"
    assert headers["X-Prometheus-Scrape-Timeout-Seconds"] == "10"
    assert headers["Accept"].startswith("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6")


def test_accept_header_shape():
    assert accept_header(["PrometheusText0.0.4"], "underscores") == "text/plain;version=0.0.4;q=0.6,*/*;q=0.5"


def test_http_error_is_down_and_stales_previous_series(fake_target):
    clock = Clock()
    loop, store, _ = scrape_reply(fake_target, "a 1\n", clock)
    fake_target.replies["/metrics"] = Reply("oops", status=500)
    scrape(loop, clock=clock)
    assert loop.state.health == "down"
    assert loop.state.last_error == "server returned HTTP status 500 Internal Server Error"
    ts, vs = stored(store, "a")[fake_target.series("a")]
    assert vs[0] == 1.0 and is_stale(vs)[1]
    assert ts[1] - ts[0] == 10_000
    assert value(store, fake_target.series("up")) == 0.0


def test_series_disappearing_gets_stale_marker(fake_target):
    clock = Clock()
    loop, store, _ = scrape_reply(fake_target, "a 1\nb 2\n", clock)
    fake_target.replies["/metrics"] = Reply("a 3\n")
    scrape(loop, clock=clock)
    got = stored(store)
    _, vb = got[fake_target.series("b")]
    assert vb[0] == 2.0 and is_stale(vb).tolist() == [False, True]
    _, va = got[fake_target.series("a")]
    assert va.tolist() == [1.0, 3.0]


def test_timeout(fake_target):
    slow = Reply("a 1\n", delay=1.5)
    loop, _, _ = scrape_reply(fake_target, slow, scrape_interval="1s", scrape_timeout="300ms")
    assert loop.state.health == "down"
    assert "context deadline exceeded" in loop.state.last_error


@pytest.mark.parametrize(
    "body, cfg, error",
    [
        ("a 1\nb 2\nc 3\n", {"sample_limit": 2}, "sample limit exceeded"),
        ('a{x="1",y="2",z="3"} 1\n', {"label_limit": 3}, "label_limit exceeded (metric: a, number of labels: 6, limit: 3)"),
        ('a{long_label_name="1"} 1\n', {"label_name_length_limit": 8}, "label_name_length_limit exceeded"),
        ('a{x="a long value"} 1\n', {"label_value_length_limit": 4}, "label_value_length_limit exceeded"),
        ("a 1\n" * 1000, {"body_size_limit": "1KB"}, "body size limit exceeded"),
        ("a 1\nnot valid {\n", {}, "line 2"),
    ],
)
def test_limits_and_parse_errors_fail_the_scrape(fake_target, body, cfg, error):
    loop, store, _ = scrape_reply(fake_target, body, **cfg)
    assert loop.state.health == "down"
    assert error in loop.state.last_error
    names = {lab.name for lab in stored(store)}
    assert names == {"up", "scrape_duration_seconds", "scrape_samples_scraped",
                     "scrape_samples_post_metric_relabeling", "scrape_series_added"}


def test_sample_limit_counts_after_metric_relabeling(fake_target):
    loop, store, _ = scrape_reply(
        fake_target, "a 1\nb 2\nc 3\n", sample_limit=2,
        metric_relabel_configs=[{"action": "drop", "source_labels": ["__name__"], "regex": "c"}],
    )
    assert loop.state.health == "up"
    assert value(store, fake_target.series("scrape_samples_scraped")) == 3.0
    assert value(store, fake_target.series("scrape_samples_post_metric_relabeling")) == 2.0


def test_honor_labels_false_renames_with_exported_prefix(fake_target):
    _, store, _ = scrape_reply(fake_target, 'a{job="exposed",exported_job="x",instance="i"} 1\n')
    (lab,) = stored(store, "a")
    assert lab.to_dict() == {
        "__name__": "a", "job": "j", "instance": fake_target.address,
        "exported_exported_job": "exposed", "exported_job": "x", "exported_instance": "i",
    }


def test_honor_labels_true_keeps_exposed(fake_target):
    _, store, _ = scrape_reply(fake_target, 'a{job="exposed"} 1\n', honor_labels=True)
    (lab,) = stored(store, "a")
    assert lab.to_dict() == {"__name__": "a", "job": "exposed", "instance": fake_target.address}


def test_honor_timestamps_and_staleness_of_timestamped_series(fake_target):
    clock = Clock()
    loop, store, _ = scrape_reply(fake_target, "a 1 1600000000000\nb 2\n", clock)
    ts, _ = stored(store, "a")[fake_target.series("a")]
    assert ts.tolist() == [1600000000000]
    fake_target.replies["/metrics"] = Reply("")
    scrape(loop, clock=clock)
    # no stale marker for the timestamped series (track_timestamps_staleness is off)
    assert len(stored(store, "a")[fake_target.series("a")][1]) == 1
    assert is_stale(stored(store, "b")[fake_target.series("b")][1])[-1]

    store2 = MemoryStorage()
    fake_target.replies["/metrics"] = Reply("a 1 1600000000000\n")
    loop2, _ = make_loop(fake_target, store2, clock, honor_timestamps=False)
    scrape(loop2)
    ts, _ = stored(store2, "a")[fake_target.series("a")]
    assert ts.tolist() == [int(clock.t * 1000)]


def test_metric_relabeling_and_series_cache(fake_target):
    fake_target.replies["/metrics"] = Reply('go_gc 1\nkeep_me{tmp="x"} 2\n')
    store = MemoryStorage()
    loop, _ = make_loop(
        fake_target, store,
        metric_relabel_configs=[
            {"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"},
            {"action": "labeldrop", "regex": "tmp"},
        ],
    )
    scrape(loop, times=2, clock=loop.clock)
    assert {lab.name for lab in stored(store)} >= {"keep_me"}
    assert "go_gc" not in {lab.name for lab in stored(store)}
    assert loop.cache.ids["go_gc"] == DROPPED  # the drop decision is cached
    assert value(store, fake_target.series("scrape_series_added")) == 0.0  # second scrape: cached


def test_openmetrics_negotiated_and_gzip(fake_target):
    _, store, _ = scrape_reply(fake_target, Reply(
        "# TYPE c counter\nc_total 5 1700000000.123\n# EOF\n",
        content_type="application/openmetrics-text; version=1.0.0; charset=utf-8",
    ))
    ts, vs = stored(store, "c_total")[fake_target.series("c_total")]
    assert ts.tolist() == [1700000000123] and vs.tolist() == [5.0]


def test_missing_content_type_needs_fallback(fake_target):
    no_type = Reply("a 1\n", content_type=None)
    loop, _, _ = scrape_reply(fake_target, no_type)
    assert "fallback_scrape_protocol" in loop.state.last_error
    loop, _, _ = scrape_reply(fake_target, no_type, fallback_scrape_protocol="PrometheusText0.0.4")
    assert loop.state.health == "up"


def test_basic_auth_and_bearer_token(fake_target):
    import base64

    fake_target.auth = "Basic " + base64.b64encode(b"user:pw").decode()
    loop, _, _ = scrape_reply(fake_target, "a 1\n", basic_auth={"username": "user", "password": "pw"})
    assert loop.state.health == "up"
    loop, _, _ = scrape_reply(fake_target, "a 1\n", basic_auth={"username": "user", "password": "wrong"})
    assert "401" in loop.state.last_error
    fake_target.auth = "Bearer s3cret"
    loop, _, _ = scrape_reply(fake_target, "a 1\n", bearer_token="s3cret")
    assert loop.state.health == "up"


def test_params_and_metrics_path(fake_target):
    fake_target.replies["/probe"] = Reply("a 1\n")
    store = MemoryStorage()
    loop, _ = make_loop(fake_target, store, metrics_path="/probe", params={"module": ["http_2xx"], "target": ["x"]})
    scrape(loop)
    assert loop.state.health == "up"
    assert fake_target.requests[0][0] == "/probe?module=http_2xx&target=x"


def test_stale_batch_on_target_removal(fake_target):
    loop, store, _ = scrape_reply(fake_target, "a 1\n")
    batch = loop.stale_batch(int(loop.clock() * 1000) + 1000)
    store.append(batch)
    for name in ("a", "up", "scrape_duration_seconds"):
        _, vs = stored(store, name)[fake_target.series(name)]
        assert is_stale(vs)[-1] and not math.isnan(vs[0])


def test_extra_scrape_metrics(fake_target):
    _, store, _ = scrape_reply(fake_target, "a 1\n", extra_scrape_metrics=True, sample_limit=100)
    assert value(store, fake_target.series("scrape_sample_limit")) == 100
    assert value(store, fake_target.series("scrape_timeout_seconds")) == 10
    assert value(store, fake_target.series("scrape_body_size_bytes")) == 4


def test_duplicate_series_keep_first(fake_target):
    _, store, tel = scrape_reply(fake_target, 'a{x="1"} 1\na{x="1"} 2\n')
    _, vs = stored(store, "a")[fake_target.series("a", x="1")]
    assert vs.tolist() == [1.0]
    assert tel.duplicate_series.labels("j")._value.get() == 1
    assert np.all(np.isfinite(vs))


def test_metric_relabeling_that_drops_the_name_fails_the_scrape(fake_target):
    drop_name = [{"action": "labeldrop", "regex": "__name__"}]
    loop, store, _ = scrape_reply(fake_target, 'a{x="1"} 1\n', metric_relabel_configs=drop_name)
    assert loop.state.health == "down"
    assert loop.state.last_error == "missing metric name (__name__ label)"
    assert "a" not in {lab.name for lab in stored(store)}


def test_stored_label_strings_are_interned(fake_target):
    # One copy of each name and value for all series of all targets, shared
    # with the TSDB head (which interns what it stores and then keeps our set).
    import sys

    # Canonical copies, interned before the scrape: the stored sets must use these very objects.
    canon = {w: sys.intern("".join(list(w))) for w in ("pod", "p-1", "ns", "team", "x1", "job", "instance")}
    loop, _, _ = scrape_reply(
        fake_target, 'a{pod="p-1",ns="team"} 1\nb{pod="p-1"} 2\n',
        metric_relabel_configs=[
            {"source_labels": ["pod"], "regex": "p-(.*)", "target_label": "n", "replacement": "x$1"},
        ],
    )
    assert len(loop.cache.labels) == 2
    checked = 0
    for lset in loop.cache.labels:
        assert lset.get("n") == "x1"
        for s in lset:
            if s in canon:
                assert s is canon[s], s
                checked += 1
    assert checked == 12  # instance, job, pod, p-1, x1 in both sets; ns, team in the first


class _GatedStorage(MemoryStorage):
    """Holds the first append until released, to cancel a loop while its worker appends."""

    def __init__(self):
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def append(self, batch):
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(10)
        return super().append(batch)


def test_loop_cancelled_while_its_worker_appends_still_ends_its_series(fake_target):
    # The manager stops and cancels an old loop on a reload that changes labels; if
    # that lands while the loop awaits its worker, the samples are still written and
    # end_of_run must mark them stale.
    fake_target.replies["/metrics"] = Reply("a 1\n")
    store = _GatedStorage()
    loop, _ = make_loop(fake_target, store, clock=time.time, scrape_interval="200ms")

    async def go():
        async with httpx.AsyncClient(timeout=None, **loop.cfg.httpx_kwargs()) as client:
            loop.client = client
            task = asyncio.create_task(loop.run())
            while not store.entered.is_set():
                await asyncio.sleep(0.01)
            loop.stop()
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            store.release.set()
            await asyncio.wait_for(loop.end_of_run(), 10)

    asyncio.run(go())
    _, vs = stored(store, "a")[fake_target.series("a")]
    assert vs[0] == 1.0 and is_stale(vs[-1:]).all()
