"""Real Prometheus 2.42 as the remote-write sender into our receiver."""

from __future__ import annotations

import math
import subprocess
import time

import httpx
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from collector.receivers import IngestLimits, remote_write
from storage.interface import MetricType
from storage.labels import Matcher
from storage.memstore import MemoryStorage
from tests.collector.receivers.server import serving
from tests.util import free_port, peer_binary, wait_http


def _wait(cond, timeout=60.0, what=""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.peer
@pytest.mark.slow
def test_prometheus_remote_writes_its_own_scrapes(tmp_path):
    prom = peer_binary("prometheus")
    store = MemoryStorage()
    reg = CollectorRegistry()
    app = FastAPI()
    app.include_router(remote_write.router(store, IngestLimits(), reg))
    prom_port = free_port()
    with serving(app) as url:
        cfg = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{prom_port}"]}]}
            ],
            "remote_write": [
                {
                    "url": f"{url}/api/v1/write",
                    "queue_config": {"batch_send_deadline": "500ms", "min_backoff": "50ms"},
                    "metadata_config": {"send_interval": "1s"},
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(cfg))
        proc = subprocess.Popen(
            [prom, f"--config.file={tmp_path / 'prometheus.yml'}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{prom_port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            wait_http(f"http://127.0.0.1:{prom_port}/-/ready")
            up = [Matcher("=", "__name__", "up"), Matcher("=", "job", "prometheus")]

            def have_up_and_metadata():
                ss = store.querier(0, 2**62).select(up)
                return ss.num_samples >= 3 and "prometheus_build_info" in store.metadata()

            _wait(have_up_and_metadata, what="up samples and metadata from prometheus")
            q = store.querier(0, 2**62)
            ss = q.select(up)
            assert [lab.to_dict() for lab in ss.labels] == [
                {"__name__": "up", "instance": f"127.0.0.1:{prom_port}", "job": "prometheus"}
            ]
            assert set(ss.series(0)[1].tolist()) == {1.0}
            assert "prometheus_http_requests_total" in q.label_values("__name__")
            assert store.metadata("prometheus_build_info")["prometheus_build_info"][0].type == MetricType.GAUGE
            assert store.metadata("prometheus_http_requests_total")["prometheus_http_requests_total"][0].type == MetricType.COUNTER

            # every sample we stored is exactly what Prometheus itself stored
            names = ["up", "prometheus_tsdb_head_series", "go_goroutines", "scrape_samples_scraped",
                     "prometheus_build_info"]
            compared = 0
            for name in names:
                ours = q.select([Matcher("=", "__name__", name), Matcher("=", "job", "prometheus")])
                for i, labels in enumerate(ours.labels):
                    ts, vs = ours.series(i)
                    selector = "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
                    t_end = int(ts[-1]) / 1000
                    r = httpx.get(f"http://127.0.0.1:{prom_port}/api/v1/query",
                                  params={"query": f"{selector}[10m]", "time": t_end}, timeout=10).json()
                    (res,) = r["data"]["result"]
                    assert res["metric"] == labels.to_dict()
                    theirs = {round(float(t) * 1000): float(v) for t, v in res["values"]}
                    for t, v in zip(ts.tolist(), vs.tolist()):
                        assert t in theirs, (selector, t)
                        assert theirs[t] == v or (math.isnan(v) and math.isnan(theirs[t]))
                        compared += 1
            assert compared >= 10
            assert (reg.get_sample_value("spyglass_receiver_requests_total",
                                         {"protocol": "remote_write", "code": "204"}) or 0) > 0
            assert not reg.get_sample_value("spyglass_receiver_requests_total",
                                            {"protocol": "remote_write", "code": "400"})
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
