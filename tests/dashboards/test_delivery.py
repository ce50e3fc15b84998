"""How the UI reaches the browser: the vendored plotly.js partial bundle (and no
full bundle), cache headers, compression of callback answers, the viewport cookies.
(``test_browser.py`` checks in Chromium that the bundle draws every trace type
the panels emit.)"""

from __future__ import annotations

import gzip
import hashlib
import json
import re

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from dashboards.app import ASSETS_DIR, create_dash_app
from dashboards.client import QueryResult, Series
from dashboards.grafana import parse_dashboard
from dashboards.grafana.frames import plot_series
from dashboards.grafana.timerange import TimeRange
from dashboards.htmlrender import to_html
from dashboards.pages import explore
from dashboards.panelquery import PanelRequest, run_panels
from dashboards.panels import render_panel
from dashboards.panels.common import PanelContext
from dashboards.panels.timeseries import figure, fixed_margins
from dashboards.responses import IMMUTABLE
from dashboards.viewport import Viewport
from tests.dashboards.fakeapi import FakeAPI

NOW = 1_700_000_000_000
VENDOR = ASSETS_DIR / "vendor"
BUNDLE = VENDOR / "plotly-spyglass.min.js"


@pytest.fixture
def client(tmp_path):
    app = create_dash_app("http://fake", tmp_path / "store", transport=FakeAPI().transport(),
                          registry=CollectorRegistry(), clock_ms=lambda: NOW)
    return app.server.test_client()


def _scripts(client) -> list[str]:
    return re.findall(r'<script src="([^"]+)"', client.get("/").data.decode())


def test_pages_load_the_partial_bundle_and_not_the_full_one(client):
    scripts = _scripts(client)
    ours = [s for s in scripts if "plotly-spyglass.min.js" in s]
    assert len(ours) == 1 and ours[0].startswith("/assets/vendor/")
    assert not [s for s in scripts if "plotly.min.js" in s or "package_data" in s]
    # loaded before Dash's renderer: dcc.Graph then finds window.Plotly
    renderer = next(i for i, s in enumerate(scripts) if "dash_renderer" in s)
    assert scripts.index(ours[0]) < renderer


def test_vendored_bundle_matches_its_provenance_note():
    note = (VENDOR / "PROVENANCE.md").read_text()
    digest = hashlib.sha256(BUNDLE.read_bytes()).hexdigest()
    assert digest in note, "the bundle changed: rebuild it as PROVENANCE.md says and record its hash"
    version = re.search(r"plotly\.js \*\*([\d.]+)\*\*", note).group(1)
    assert BUNDLE.read_text()[:200].startswith(f"/* plotly.js v{version} (MIT)")
    pkg = json.loads((ASSETS_DIR.parent / "plotlyjs" / "package.json").read_text())
    assert pkg["devDependencies"]["plotly.js"] == version
    assert "MIT License" in (VENDOR / "plotly.js-LICENSE.txt").read_text()
    bundled = (VENDOR / "plotly-spyglass.packages.txt").read_text()
    assert f"plotly.js@{version} MIT" in bundled


def emitted_trace_types() -> set[str]:
    """Every plotly trace type the panel renderers and Explore produce."""
    doc = {"title": "T", "panels": [
        {"id": 1, "type": "timeseries", "title": "lines", "targets": [{"refId": "A", "expr": 'up{job="node"}'}]},
        {"id": 2, "type": "timeseries", "title": "bars", "targets": [{"refId": "A", "expr": 'up{job="node"}'}],
         "fieldConfig": {"defaults": {"custom": {"drawStyle": "bars"}}}},
        {"id": 3, "type": "heatmap", "title": "h", "targets": [{"refId": "A", "expr": 'up{job="node"}'}]},
    ]}
    from dashboards.client import PrometheusClient
    from dashboards.telemetry import DashboardsTelemetry
    api = PrometheusClient("http://fake", transport=FakeAPI().transport(),
                           telemetry=DashboardsTelemetry(CollectorRegistry()))
    d = parse_dashboard(doc)
    tr = TimeRange(NOW - 3600_000, NOW)
    data = run_panels(api, [PanelRequest(str(p.id), p, {}, 600) for p in d.panels], tr)
    types = set()
    for p in d.panels:
        markup = to_html(render_panel(PanelContext(str(p.id), p, tr, 600, 300), data[str(p.id)]))
        for attr in re.findall(r'data-figure="([^"]+)"', markup):
            import html as h
            types |= {t["type"] for t in json.loads(h.unescape(attr))["data"]}
    ts = plot_series(data["1"].frames)
    fig, _ = figure(PanelContext("1", d.panels[0], tr, 600, 300), ts, 200, webgl=True)
    types |= {t["type"] for t in fig["data"]}
    many = QueryResult("matrix", tuple(Series({"i": str(i)}, np.arange(3.0), np.arange(3.0))
                                       for i in range(3)))
    for webgl in (False, True):
        types |= {t["type"] for t in explore.grouped_figure(None, many, "x", tr, webgl=webgl)["data"]}
    return types


def test_renderers_emit_only_the_bundled_trace_types():
    types = emitted_trace_types()
    assert types == {"scatter", "scattergl", "bar", "heatmap"}, (
        "a renderer emits a new trace type: add it to dashboards/plotlyjs/entry.js and rebuild")
    entry = (ASSETS_DIR.parent / "plotlyjs" / "entry.js").read_text()
    for t in types - {"scatter"}:  # scatter is in plotly.js's core
        assert f"plotly.js/lib/{t}'" in entry


def test_versioned_files_are_cached_for_good_and_pages_are_not(client):
    scripts = _scripts(client)
    for src in scripts:
        if src.startswith("/assets/"):
            assert "?m=" in src
            r = client.get(src)
            assert r.status_code == 200 and r.headers["Cache-Control"] == IMMUTABLE, src
    assert client.get("/_favicon.ico?v=1").headers["Cache-Control"] == IMMUTABLE
    assert "immutable" not in client.get("/").headers.get("Cache-Control", "")
    assert "immutable" not in client.get("/assets/panels.js").headers.get("Cache-Control", "")
    assert "immutable" not in client.get("/_dash-layout").headers.get("Cache-Control", "")


def test_callback_answers_are_gzipped_fast_and_small_ones_left_alone(client):
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/d/spyglass-k8s-cluster"}],
            "state": [{"id": "url", "property": "search", "value": ""}],
            "changedPropIds": ["url.pathname"]}
    r = client.post("/_dash-update-component", json=body, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    page = json.loads(gzip.decompress(r.data))
    assert "Kubernetes" in json.dumps(page)
    assert int(r.headers["Content-Length"]) == len(r.data)
    plain = client.post("/_dash-update-component", json=body)
    assert "Content-Encoding" not in plain.headers and "Kubernetes" in json.dumps(json.loads(plain.data))
    small = client.get("/_dash-layout", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers



def test_script_files_are_compressed_once_and_kept(client):
    for src in (s for s in _scripts(client) if "plotly-spyglass" in s or "dash_renderer" in s):
        plain = client.get(src).data
        first = client.get(src, headers={"Accept-Encoding": "gzip"})
        again = client.get(src, headers={"Accept-Encoding": "gzip"})
        assert first.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in first.headers["Vary"]
        assert gzip.decompress(first.data) == plain and again.data == first.data
        assert len(first.data) < len(plain) / 2


def test_viewport_from_cookies():
    vp = Viewport.from_cookies({"spyglass_vw": "1280", "spyglass_vh": "720", "spyglass_gl": "gpu"})
    assert (vp.width, vp.height, vp.gpu_webgl) == (1280, 720, True)
    vp = Viewport.from_cookies({"spyglass_vw": "huge", "spyglass_vh": "5", "spyglass_gl": "<b>"})
    assert (vp.width, vp.height, vp.webgl, vp.gpu_webgl) == (1600, 320, "unknown", False)
    assert not Viewport.from_cookies({"spyglass_gl": "software"}).gpu_webgl


def test_route_sizes_panels_from_the_width_cookie(client):
    body = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
            "inputs": [{"id": "url", "property": "pathname", "value": "/d/spyglass-k8s-cluster"}],
            "state": [{"id": "url", "property": "search", "value": "?from=now-6h&to=now"}],
            "changedPropIds": ["url.pathname"]}
    steps = {}
    for width in (400, 3000):
        client.set_cookie("spyglass_vw", str(width))
        text = json.dumps(json.loads(client.post("/_dash-update-component", json=body).data))
        steps[width] = sorted({float(s) for s in re.findall(r'<td>([\d.]+)s</td>', text)})
    assert steps[400] and steps[3000] and min(steps[400]) > min(steps[3000])


def test_value_axis_margins_come_from_the_tick_labels():
    layout = {"margin": {"l": 48, "r": 12}, "yaxis": {"ticktext": ["0 B", "512 MiB", "1.00 GiB"]},
              "yaxis2": {"ticktext": ["0", "1"], "title": {"text": "x"}}}
    fixed_margins(layout)
    assert layout["yaxis"]["automargin"] is False and 8 * 6 < layout["margin"]["l"] < 8 * 9
    assert layout["yaxis2"]["automargin"] is False and layout["margin"]["r"] >= 24
    log_axis = {"margin": {"l": 48}, "yaxis": {"type": "log"}}
    fixed_margins(log_axis)
    assert log_axis["yaxis"]["automargin"] is True  # plotly picks those labels itself
