"""The UI in headless Chromium against real Prometheus 2.42, node-exporter and
Alertmanager: every page opens, the time range and a variable change, a drag-zoom
moves the range, a silence is created and expired, label text stays text.
Screenshots go to test-artifacts/. One browser and one stack for the module."""

from __future__ import annotations

import json

import httpx
import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.dashboards.browser import make_driver, panels_done, screenshot, wait_until
from tests.dashboards.peers import running_stack
from tests.dashboards.test_delivery import emitted_trace_types

pytestmark = [pytest.mark.peer, pytest.mark.slow]

VAR_DASH = {
    "title": "Browser test", "uid": "browser-test", "tags": ["test"],
    "time": {"from": "now-5m", "to": "now"},
    "templating": {"list": [
        {"name": "job", "type": "query", "query": "label_values(up, job)", "current": {"value": "node"}},
        {"name": "pick", "type": "custom", "query": "alpha,beta"}]},
    "panels": [
        {"id": 1, "type": "timeseries", "title": "Up of $job ($pick)", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 8},
         "targets": [{"refId": "A", "expr": 'up{job="$job"}', "legendFormat": "{{instance}}"}]},
        {"id": 2, "type": "stat", "title": "Scrape samples", "gridPos": {"x": 12, "y": 0, "w": 6, "h": 8},
         "targets": [{"refId": "A", "expr": 'scrape_samples_scraped{job="$job"}', "instant": True}]},
        {"id": 3, "type": "timeseries", "title": "Broken", "gridPos": {"x": 18, "y": 0, "w": 6, "h": 8},
         "targets": [{"refId": "A", "expr": "rate(up[5m]"}]},
        {"id": 4, "type": "table", "title": "Alert labels", "gridPos": {"x": 0, "y": 8, "w": 24, "h": 6},
         "targets": [{"refId": "A", "expr": "ALERTS", "format": "table", "instant": True}]},
    ],
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ui-stack")
    with running_stack(tmp, scrape_interval_ms=2000) as (peers, ui):
        peers.wait_for('up{job="node"} == 1')
        peers.wait_for('ALERTS{alertname="AlwaysFiring", alertstate="firing"}')
        wait_until(lambda: httpx.get(f"{peers.am_url}/api/v2/alerts").json(), 40,
                   interval=0.5, message="alert reached the Alertmanager")
        r = httpx.post(f"{ui.url}/api/dashboards/db", json={"dashboard": VAR_DASH, "overwrite": True})
        assert r.status_code == 200, r.text
        yield peers, ui


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    d = make_driver(tmp_path_factory.mktemp("chromium-profile"))
    yield d
    d.quit()


def _open(driver, url: str, ready_css: str) -> None:
    driver.get(url)
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, ready_css), 30, message=ready_css)


def _pick(driver, dropdown_id: str, value: str) -> None:
    """Choose ``value`` in a Dash 4 dropdown (a button opening a listbox)."""
    driver.find_element(By.CSS_SELECTOR, f"[id='{dropdown_id}']").click()
    option = wait_until(lambda: [o for o in driver.find_elements(By.CSS_SELECTOR, "[role=option]")
                                 if o.find_element(By.CSS_SELECTOR, "input").get_attribute("value") == value],
                        10, message=f"option {value}")
    option[0].click()


def _no_injected_markup(driver) -> None:
    assert driver.find_elements(By.CSS_SELECTOR, "img[src='x']") == []
    with pytest.raises(NoAlertPresentException):
        _ = driver.switch_to.alert.text


def test_dashboard_time_range_variable_zoom(stack, driver):
    _peers, ui = stack
    _open(driver, f"{ui.url}/d/browser-test?from=now-5m&to=now", ".dash-grid .panel")
    wait_until(lambda: panels_done(driver), 30, message="panels drawn")
    titles = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".panel-title")]
    assert "Up of node (alpha)" in titles
    assert driver.find_elements(By.CSS_SELECTOR, ".sg-plot[data-drawn]")
    # the time series is drawn on a canvas first (assets/quickplot.js), with the line
    # in the series' colour somewhere in the plot area
    assert driver.execute_script("""
        const c = document.querySelector('.sg-plot[data-quick] canvas.sg-quick');
        if (!c) return false;
        const g = c.getContext('2d'), d = g.getImageData(0, 0, c.width, c.height).data;
        for (let i = 0; i < d.length; i += 4) {
            if (d[i + 3] > 100 && d[i + 1] > d[i] + 30 && d[i + 1] > d[i + 2] + 30) return true;  // green-ish
        }
        return false;""")
    stat = driver.find_element(By.CSS_SELECTOR, "[data-panel-type='stat'] .stat-value").text
    assert stat and stat != "No data" and float(stat.replace(" K", "e3")) > 0
    err = driver.find_element(By.CSS_SELECTOR, "[data-panel-type='timeseries'] .panel-error-text").text
    assert "parse error" in err  # a PromQL error shows inside its panel
    alerts_table = driver.find_element(By.CSS_SELECTOR, "[data-panel-type='table']").text
    assert "<img src=x onerror=alert(1)>" in alerts_table  # label value shown as text
    _no_injected_markup(driver)
    screenshot(driver, "browser-dashboard")

    # time range: relative choice → URL and state follow
    _pick(driver, "dv-range", "now-15m")
    wait_until(lambda: "from=now-15m" in driver.current_url, 15, message="URL has now-15m")
    assert driver.find_element(By.ID, "dv-from").get_attribute("value") == "now-15m"

    # a variable: the panel title and the URL change
    _pick(driver, '{"name":"pick","type":"dv-var"}', "beta")
    wait_until(lambda: "var-pick=beta" in driver.current_url, 15, message="URL has var-pick")
    wait_until(lambda: "Up of node (beta)" in [e.text for e in driver.find_elements(
        By.CSS_SELECTOR, ".panel-title")], 20, message="title follows variable")
    wait_until(lambda: panels_done(driver), 30)

    # a quick-drawn graph becomes a plotly graph when the pointer enters it
    plots = driver.find_elements(By.CSS_SELECTOR, ".sg-plot[data-quick]:not(.js-plotly-plot)")
    if plots:  # the pointer may have crossed it already
        driver.execute_script("arguments[0].dispatchEvent(new PointerEvent('pointerenter'))", plots[0])
    plot = driver.find_element(By.CSS_SELECTOR, ".sg-plot[data-quick]")
    wait_until(lambda: "js-plotly-plot" in plot.get_attribute("class"), 10, message="hydrated")
    assert not plot.find_elements(By.CSS_SELECTOR, "canvas.sg-quick")
    assert plot.find_elements(By.CSS_SELECTOR, ".scatterlayer path.js-line")

    # drag-zoom: a relayout on a graph sets an absolute range
    driver.execute_script("""
        const p = document.querySelector('.sg-plot.js-plotly-plot[data-drawn]');
        const r = p._fullLayout.xaxis.range;
        const a = new Date(r[0]).getTime(), b = new Date(r[1]).getTime();
        Plotly.relayout(p, {'xaxis.range': [a + (b - a) / 4, b - (b - a) / 4]});""")
    wait_until(lambda: driver.find_element(By.ID, "dv-from").get_attribute("value").isdigit(), 15,
               message="absolute from after zoom")
    wait_until(lambda: "from=1" in driver.current_url, 10)
    frm = int(driver.find_element(By.ID, "dv-from").get_attribute("value"))
    to = int(driver.find_element(By.ID, "dv-to").get_attribute("value"))
    assert 0 < to - frm < 15 * 60_000

    # the link is shareable: opening it again restores the view
    url = driver.current_url
    _open(driver, url, ".dash-grid .panel")
    wait_until(lambda: "Up of node (beta)" in [e.text for e in driver.find_elements(
        By.CSS_SELECTOR, ".panel-title")], 20)


def test_node_exporter_full_shows_this_machine(stack, driver):
    peers, ui = stack
    from tests.util import SHARED
    doc = json.loads((SHARED / "corpus/grafana-dashboards/rfmoz-grafana-dashboards/node-exporter-full.json").read_text())
    r = httpx.post(f"{ui.url}/api/dashboards/db", json={"dashboard": doc, "overwrite": True})
    assert r.status_code == 200 and r.json()["url"].startswith("/d/rYdddlPWk")
    _open(driver, f"{ui.url}{r.json()['url']}?from=now-5m&to=now", ".dash-grid .panel")
    wait_until(lambda: panels_done(driver), 60, message="node exporter full drawn")
    # the node is picked through node_uname_info: the instance variable holds our exporter
    inst = driver.find_element(By.CSS_SELECTOR, "[id='{\"name\":\"node\",\"type\":\"dv-var\"}']").text
    assert f"127.0.0.1:{peers.ne_port}" in inst
    cores = driver.find_element(By.XPATH, "//div[@data-panel-type='stat'][.//span[text()='CPU Cores']]")
    assert cores.find_element(By.CSS_SELECTOR, ".stat-value").text.isdigit()
    collapsed = driver.find_elements(By.CSS_SELECTOR, ".row-header.collapsed")
    assert len(collapsed) == 14
    before = len(driver.find_elements(By.CSS_SELECTOR, ".dash-grid .panel"))
    collapsed[0].click()
    wait_until(lambda: len(driver.find_elements(By.CSS_SELECTOR, ".dash-grid .panel")) > before, 20)
    screenshot(driver, "browser-node-exporter-full")


def test_explore_completion_and_query(stack, driver):
    _peers, ui = stack
    _open(driver, f"{ui.url}/explore", "#ex-query")
    box = driver.find_element(By.ID, "ex-query")
    box.send_keys("node_loa")
    sugg = wait_until(lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, ".sugg")
                               if b.text == "node_load1"], 15, message="metric completion")
    sugg[0].click()
    wait_until(lambda: box.get_attribute("value") == "node_load1", 10)
    box.send_keys("{")
    wait_until(lambda: [b for b in driver.find_elements(By.CSS_SELECTOR, ".sugg-label")
                        if b.text == "instance"], 15, message="label completion")
    box.send_keys('job="node"}')
    driver.find_element(By.ID, "ex-run").click()
    wait_until(lambda: "1 series" in driver.find_element(By.ID, "ex-inspect").text, 20)
    assert driver.find_element(By.ID, "ex-graph-box").is_displayed()
    assert "query=node_load1" in driver.current_url
    screenshot(driver, "browser-explore")


def test_alerts_silence_create_and_expire(stack, driver):
    peers, ui = stack
    _open(driver, f"{ui.url}/alerting", ".alert-card")
    wait_until(lambda: "AlwaysFiring" in driver.find_element(By.ID, "al-am-alerts").text, 30,
               message="alertmanager alert listed")
    page = driver.find_element(By.ID, "page").text
    assert "FIRING" in page and "PENDING" in page and "Always firing <b>bold?</b>" in page
    _no_injected_markup(driver)
    driver.find_element(By.CSS_SELECTOR, "#al-am-alerts .btn").click()  # "Silence" on the alert
    wait_until(lambda: 'alertname="AlwaysFiring"' in driver.find_element(By.ID, "al-matchers").get_attribute("value"), 10)
    matchers = driver.find_element(By.ID, "al-matchers")
    # select-all + delete: React sees the edit (WebElement.clear() bypasses it)
    matchers.send_keys(Keys.CONTROL, "a")
    matchers.send_keys(Keys.DELETE)
    matchers.send_keys('alertname="AlwaysFiring", severity="warning"')
    driver.find_element(By.ID, "al-created-by").send_keys("browser-test")
    driver.find_element(By.ID, "al-comment").send_keys("silenced from the UI test")
    driver.find_element(By.ID, "al-save").click()
    wait_until(lambda: "saved" in driver.find_element(By.ID, "al-form-msg").text, 15,
               message=driver.find_element(By.ID, "al-form-msg").text)
    silences = httpx.get(f"{peers.am_url}/api/v2/silences").json()
    mine = [s for s in silences if s["createdBy"] == "browser-test"]
    assert len(mine) == 1 and mine[0]["status"]["state"] == "active"
    assert {m["name"] for m in mine[0]["matchers"]} == {"alertname", "severity"}
    wait_until(lambda: "browser-test" in driver.find_element(By.ID, "al-silences").text, 15)
    screenshot(driver, "browser-alerts")
    driver.find_element(By.CSS_SELECTOR, "#al-silences .btn.danger").click()  # Expire
    wait_until(lambda: "expired" in driver.find_element(By.ID, "al-form-msg").text, 15)
    state = httpx.get(f"{peers.am_url}/api/v2/silence/{mine[0]['id']}").json()["status"]["state"]
    assert state == "expired"


def test_other_pages(stack, driver):
    peers, ui = stack
    for path, ready, expect, shot in [
        ("/", ".stat-card", "Targets up", "browser-home"),
        ("/rules", ".rule-group", "job:up:sum", "browser-rules"),
        ("/targets", ".targets", f"127.0.0.1:{peers.ne_port}", "browser-targets"),
        ("/status", ".cardinality", "Series count by metric name", "browser-status"),
        ("/dashboards", ".dash-list", "Browser test", "browser-dashboards"),
    ]:
        _open(driver, ui.url + path, ready)
        wait_until(lambda expect=expect: expect in driver.find_element(By.ID, "page").text, 15, message=path)
        screenshot(driver, shot)
    # import by pasting JSON
    _open(driver, ui.url + "/dashboard/import", "#dl-paste")
    paste = driver.find_element(By.ID, "dl-paste")
    driver.execute_script("arguments[0].scrollIntoView()", paste)
    paste.send_keys(json.dumps({"title": "Pasted", "panels": [{"id": 3, "title": "P", "type": "stat",
                                                                 "gridPos": {"w": "wide"}}]}))
    driver.find_element(By.ID, "dl-import").click()
    wait_until(lambda: 'panel 3 "P"' in driver.find_element(By.ID, "dl-import-result").text, 15)
    assert "panels[0].gridPos.w" in driver.find_element(By.ID, "dl-import-result").text


def test_partial_plotly_bundle_draws_every_trace_type_the_panels_emit(stack, driver):
    _, ui = stack
    _open(driver, f"{ui.url}/d/browser-test?from=now-5m&to=now", ".dash-grid .panel")
    wait_until(lambda: panels_done(driver), 30, message="panels drawn")
    loaded = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert [u for u in loaded if "plotly-spyglass.min.js" in u]
    assert not [u for u in loaded if u.split("?")[0].endswith("plotly.min.js")]  # no full bundle
    assert driver.execute_script("return Plotly.version") == "4.1.1"
    registered = set(driver.execute_script("return Object.keys(Plotly.PlotSchema.get().traces)"))
    types = emitted_trace_types()
    assert types <= registered
    driver.set_script_timeout(30)
    drawn_by = {"scatter": ".scatterlayer path.js-line", "bar": ".barlayer .point path",
                "heatmap": ".heatmaplayer image", "scattergl": "canvas.gl-canvas-context"}
    for t in sorted(types):
        # base64 typed arrays (what the panels send) with a NaN gap, as the panels draw them
        drawn = driver.execute_async_script("""
            const done = arguments[arguments.length - 1], type = arguments[0], sel = arguments[1];
            const f64 = a => ({dtype: 'f8', bdata: btoa(String.fromCharCode(...new Uint8Array(new Float64Array(a).buffer)))});
            const trace = type === 'heatmap'
                ? {type, x: [1, 2, 3], y: ['a', 'b'], z: [[1, 2, 3], [4, 5, 6]]}
                : {type, x: f64([1e12, 1.0001e12, NaN, 1.0002e12]), y: f64([1, 3, NaN, 2])};
            const div = document.createElement('div');
            div.style.width = '400px'; div.style.height = '200px';
            document.body.appendChild(div);
            Plotly.newPlot(div, [trace], {xaxis: {type: type === 'heatmap' ? '-' : 'date'}})
              .then(gd => done([gd._fullData[0].type, !!gd.querySelector(sel)]))
              .catch(e => done(['error', String(e)]));""", t, drawn_by[t])
        assert drawn == [t, True], (t, drawn)


def test_quick_drawing_puts_lines_areas_and_bars_where_plotly_would(stack, driver):
    _, ui = stack
    _open(driver, f"{ui.url}/d/browser-test?from=now-5m&to=now", ".dash-grid .panel")
    # plot area: x 0..100 over 400 px from left 50, y 0..10 over 200 px from top 10;
    # two stacked areas (1 then 1 more, in red then blue) and one bar in green at x=80
    pixels = driver.execute_script("""
        const f64 = a => ({dtype: 'f8', bdata: btoa(String.fromCharCode(...new Uint8Array(new Float64Array(a).buffer)))});
        const fig = {data: [
            {type: 'scatter', x: f64([0, 50, 100]), y: f64([1, 1, 1]), stackgroup: 'A', fill: 'tonexty',
             fillcolor: 'rgb(255,0,0)', line: {color: 'rgb(255,0,0)', width: 1}},
            {type: 'scatter', x: f64([0, 50, 100]), y: f64([1, 1, 1]), stackgroup: 'A', fill: 'tonexty',
             fillcolor: 'rgb(0,0,255)', line: {color: 'rgb(0,0,255)', width: 1}},
            {type: 'bar', x: [60, 80], y: [8, 8], marker: {color: 'rgb(0,255,0)'}}],
          layout: {height: 240, margin: {l: 50, r: 50, t: 10, b: 30}, barmode: 'group', bargap: 0.5,
                   xaxis: {range: [0, 100], tickvals: [0, 50], ticktext: ['a', 'b'], gridcolor: 'rgba(0,0,0,0)'},
                   yaxis: {range: [0, 10], tickvals: [0, 5], ticktext: ['0', '5'], gridcolor: 'rgba(0,0,0,0)'}}};
        const el = document.createElement('div');
        document.body.appendChild(el);
        const canvas = SpyglassQuickPlot.draw(el, fig, 500);
        const g = canvas.getContext('2d'), dpr = window.devicePixelRatio || 1;
        const at = (x, y) => Array.from(g.getImageData(Math.round(x * dpr), Math.round(y * dpr), 1, 1).data);
        // y → 10 + 200 - 20 y px: y=0.5 → 200, y=1.5 → 180, y=4 → 130; x=80 → 50 + 4 x = 370
        const out = {lower: at(150, 200), upper: at(150, 180), bar: at(370, 130), above: at(150, 120),
                     outside: at(10, 100)};
        el.remove();
        return out;""")
    red, blue, green = pixels["lower"], pixels["upper"], pixels["bar"]
    assert red[0] > 200 and red[2] < 50, pixels
    assert blue[2] > 200 and blue[0] < 50, pixels
    assert green[1] > 200 and green[0] < 50, pixels
    assert pixels["above"][3] == 0 and pixels["outside"][3] == 0, pixels  # nothing drawn there
