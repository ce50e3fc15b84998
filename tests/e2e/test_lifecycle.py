"""Every process: /metrics, /-/healthy, /-/ready, /-/reload and SIGHUP, structured logs."""

from __future__ import annotations

import signal

import httpx
import pytest

from tests.e2e.server import SpyglassProcess, wait_until

pytestmark = pytest.mark.slow

GOOD = """
global: {scrape_interval: 1s}
scrape_configs:
  - job_name: self
    static_configs: [{targets: ['127.0.0.1:PORT']}]
"""


def test_probes_metrics_reload_and_sighup(tmp_path):
    spy = SpyglassProcess(tmp_path / "data", config_text="global: {}\n", extra_args=["--no-host-metrics"])
    spy.start()
    try:
        assert httpx.get(spy.url + "/-/healthy").text.startswith("Spyglass is Healthy")
        assert httpx.get(spy.url + "/-/ready").status_code == 200
        m = httpx.get(spy.url + "/metrics").text
        assert "spyglass_build_info" in m and "spyglass_config_last_reload_successful 1.0" in m

        cfg = spy.data_dir.parent / f"{spy.data_dir.name}-config.yml"
        # a bad config is refused, and the old one stays
        cfg.write_text("scrape_configs:\n  - job_name: x\n    scrape_interval: nope\n")
        r = httpx.post(spy.url + "/-/reload")
        assert r.status_code == 500 and "scrape_interval" in r.text and ":3:" in r.text
        assert "spyglass_config_last_reload_successful 0.0" in httpx.get(spy.url + "/metrics").text
        assert httpx.get(spy.url + "/-/ready").status_code == 200

        # a good one is applied: Spyglass starts scraping itself
        cfg.write_text(GOOD.replace("PORT", str(spy.port)))
        assert httpx.post(spy.url + "/-/reload").status_code == 200

        def up():
            r = httpx.get(spy.url + "/api/v1/query", params={"query": 'up{job="self"}'})
            res = r.json()["data"]["result"]
            return res and res[0]["value"][1] == "1"

        wait_until(up, timeout=20, what="the self-scrape to report up=1")
        targets = httpx.get(spy.url + "/api/v1/targets").json()["data"]["activeTargets"]
        assert targets[0]["health"] == "up" and targets[0]["labels"]["job"] == "self"

        # SIGHUP reloads too
        cfg.write_text("global: {}\n")
        spy.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: not httpx.get(spy.url + "/api/v1/targets").json()["data"]["activeTargets"],
                   timeout=20, what="targets to disappear after SIGHUP")
    finally:
        spy.stop()
    log = spy.log()
    assert "level=info" in log and 'msg="configuration reloaded"' in log
    assert "level=error" in log and "keeping the previous configuration" in log


def test_bad_config_at_start_names_the_key(tmp_path):
    spy = SpyglassProcess(tmp_path / "data", config_text="storage:\n  tsdb:\n    retention_time: forever\n")
    spy.start(wait_ready=False)
    rc = spy.proc.wait(60)
    assert rc == 2
    assert "storage.tsdb.retention_time" in spy.log() and ":3:" in spy.log()


def test_a_taken_port_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        spy = SpyglassProcess(tmp_path / "data", port=s.getsockname()[1], extra_args=["--no-host-metrics"])
        spy.start(wait_ready=False)
        assert spy.proc.wait(60) == 1
    assert "cannot listen on 127.0.0.1" in spy.log() and "Address already in use" in spy.log()
