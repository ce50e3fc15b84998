"""The UI and the Grafana dashboard API on the same port as everything else."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.server import SpyglassProcess, wait_until
from tests.util import SHARED

pytestmark = pytest.mark.slow

NODE_FULL = SHARED / "corpus" / "grafana-dashboards" / "rfmoz-grafana-dashboards" / "node-exporter-full.json"


def test_ui_dashboards_api_and_alert_links(tmp_path):
    provision = tmp_path / "provision"
    provision.mkdir()
    (provision / "node.json").write_text(NODE_FULL.read_text())
    with SpyglassProcess(tmp_path / "data", extra_args=["--dashboards", str(provision)]) as spy:
        page = wait_until(lambda: (r := httpx.get(spy.url + "/")).status_code == 200 and r, timeout=30,
                          what="the UI to come up")
        assert "Spyglass" in page.text and "_dash-config" in page.text
        assert httpx.get(spy.url + "/d/spyglass-host").status_code == 200
        assert httpx.get(spy.url + "/_dash-layout").status_code == 200

        hits = httpx.get(spy.url + "/api/search").json()
        titles = {h["title"] for h in hits}
        assert {"Host", "Node Exporter Full"} <= titles

        # Grafana's provisioning API
        doc = {"dashboard": {"title": "E2E", "uid": "e2e-1", "panels": [
            {"id": 1, "type": "timeseries", "title": "load", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
             "targets": [{"expr": "node_load1", "refId": "A"}]}]}, "overwrite": True}
        r = httpx.post(spy.url + "/api/dashboards/db", json=doc)
        assert r.status_code == 200 and r.json()["uid"] == "e2e-1" and r.json()["url"].startswith("/d/e2e-1")
        got = httpx.get(spy.url + "/api/dashboards/uid/e2e-1").json()
        assert got["dashboard"]["title"] == "E2E"
        bad = httpx.post(spy.url + "/api/dashboards/db", json={"dashboard": {"title": "x", "panels": [
            {"id": 3, "type": "stat", "title": "broken", "fieldConfig": {"defaults": {"decimals": "many"}}}]}})
        assert bad.status_code == 400 and "decimals" in bad.text
        assert httpx.delete(spy.url + "/api/dashboards/uid/e2e-1").status_code == 200

        # Prometheus-style generator URLs in alerts open Explore
        r = httpx.get(spy.url + "/graph", params={"g0.expr": "up == 0"}, follow_redirects=False)
        assert r.status_code == 302 and r.headers["location"] == "/explore?query=up+%3D%3D+0&mode=range"

        # the big asset is compressed
        js = httpx.get(spy.url + "/_dash-component-suites/plotly/package_data/plotly.min.js",
                       headers={"Accept-Encoding": "gzip"})
        assert js.status_code == 200 and js.headers.get("content-encoding") == "gzip"
        assert json.loads(httpx.get(spy.url + "/api/v1/query", params={"query": "1"}).text)["status"] == "success"
