"""Spyglass's own telemetry stored as job="spyglass" (spyglass/selfmetrics.py)."""

from __future__ import annotations

import time

import httpx
import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from spyglass.selfmetrics import registry_batch
from storage.interface import MetricType
from tests.e2e.server import SpyglassProcess


def test_registry_batch_is_what_a_scrape_of_metrics_would_store():
    reg = CollectorRegistry()
    Counter("jobs", "Jobs done.", ["kind"], registry=reg).labels("a").inc(3)
    Gauge("depth", "Queue depth.", registry=reg).set(7)
    Histogram("lat_seconds", "Latency.", buckets=(0.1, 1.0), registry=reg).observe(0.5)
    batch = registry_batch(reg, {"job": "spyglass", "instance": "h:9700"}, 1_000)
    got = {str(batch.series[batch.series_index[i]]): float(batch.values[i]) for i in range(len(batch))}
    assert got['jobs_total{instance="h:9700", job="spyglass", kind="a"}'] == 3.0
    assert got['depth{instance="h:9700", job="spyglass"}'] == 7.0
    assert got['lat_seconds_bucket{instance="h:9700", job="spyglass", le="1.0"}'] == 1.0
    assert got['lat_seconds_count{instance="h:9700", job="spyglass"}'] == 1.0
    assert not [k for k in got if "_created" in k]
    assert np.all(batch.timestamps == 1_000)
    assert batch.metadata["jobs_total"].type == MetricType.COUNTER
    assert batch.metadata["lat_seconds"].type == MetricType.HISTOGRAM


def _spyglass_series(url: str) -> int:
    r = httpx.get(url + "/api/v1/query", params={"query": 'count({job="spyglass"})'})
    result = r.json()["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


@pytest.mark.slow
def test_stored_on_schedule_and_can_be_turned_off(tmp_path):
    on = SpyglassProcess(tmp_path / "on", config_text="self_metrics: {interval: 1s}\n",
                         extra_args=["--no-host-metrics"])
    off = SpyglassProcess(tmp_path / "off", config_text="self_metrics: {enabled: false, interval: 1s}\n",
                          extra_args=["--no-host-metrics"])
    with on, off:
        deadline = time.monotonic() + 30
        while _spyglass_series(on.url) == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert _spyglass_series(on.url) > 10
        time.sleep(2)  # two intervals of the disabled process
        assert _spyglass_series(off.url) == 0
