"""Pages and their callbacks as plain functions, against the fake API."""

import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from dashboards.app import create_dash_app, route
from dashboards.asgi import mount_ui
from dashboards.components import zoom_out, zoom_range
from dashboards.grafana.timerange import TimeRange
from dashboards.pages import alerts, dashboard, dashboards_list, explore, home
from dashboards.promql_complete import complete
from dashboards.urlstate import ViewState, parse_query
from tests.dashboards.fakeapi import FakeAPI

NOW = 1_700_000_000_000


def text_of(node) -> str:
    """All text in a component tree (and in panels' HTML strings)."""
    out = []

    def walk(n):
        if n is None:
            return
        if isinstance(n, (list, tuple)):
            for x in n:
                walk(x)
            return
        if isinstance(n, (str, int, float)):
            out.append(str(n))
            return
        props = n.to_plotly_json()["props"] if hasattr(n, "to_plotly_json") else {}
        if "data-html" in props:
            out.append(props["data-html"])
        for key in ("children", "value", "placeholder"):
            v = props.get(key)
            if isinstance(v, (str, list, tuple)) or hasattr(v, "to_plotly_json"):
                walk(v)

    walk(node)
    return " ".join(out)


DASH = {
    "title": "Fake nodes", "uid": "fake1", "tags": ["node"],
    "templating": {"list": [
        {"name": "job", "type": "query", "query": "label_values(up, job)", "multi": True,
         "includeAll": True},
        {"name": "instance", "type": "query", "query": 'label_values(up{job=~"$job"}, instance)'}]},
    "panels": [
        {"type": "row", "id": 1, "title": "Main $job", "gridPos": {"y": 0}},
        {"id": 2, "type": "timeseries", "title": "Up of $instance", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
         "targets": [{"refId": "A", "expr": 'up{instance="$instance"}', "legendFormat": "{{job}}"}]},
        {"id": 3, "type": "gauge", "title": "G", "gridPos": {"x": 12, "y": 1, "w": 6, "h": 8},
         "targets": [{"refId": "A", "expr": "up", "instant": True}]},
        {"type": "row", "id": 4, "title": "More", "collapsed": True, "gridPos": {"y": 9},
         "panels": [{"id": 5, "type": "bargauge", "title": "B", "gridPos": {"y": 10, "w": 24, "h": 5},
                     "targets": [{"refId": "A", "expr": "up", "instant": True}]},
                    {"id": 6, "type": "text", "title": "Notes", "gridPos": {"y": 15, "w": 24, "h": 3},
                     "options": {"content": "Host is **$instance** <script>x()</script>"}}]},
    ],
}


@pytest.fixture
def fake():
    return FakeAPI()


@pytest.fixture
def app(fake, tmp_path):
    a = create_dash_app("http://fake", tmp_path / "store", transport=fake.transport(),
                        registry=CollectorRegistry(), clock_ms=lambda: NOW)
    a.spyglass.store.save(DASH)
    return a


@pytest.fixture
def ctx(app):
    return app.spyglass


def test_builtin_dashboards_are_provisioned(ctx):
    uids = {d.uid for d in ctx.store.search() if d.source == "builtin"}
    assert {"spyglass-host", "spyglass-k8s-cluster", "spyglass-k8s-nodes", "spyglass-k8s-namespaces",
            "spyglass-k8s-workloads", "spyglass-k8s-pods", "spyglass-health"} <= uids


def test_every_page_routes(ctx):
    for path, expect in [("/", "Overview"), ("/dashboards", "Fake nodes"), ("/explore", "Explore"),
                         ("/alerting", "HighLoad"), ("/rules", "job:up:sum"),
                         ("/targets", "connection refused"), ("/status", "fake-1.0"),
                         ("/d/fake1", "Fake nodes"), ("/d/fake1/fake-nodes", "Fake nodes"),
                         ("/d/nope", "Dashboard not found"), ("/nowhere", "Page not found")]:
        assert expect in text_of(route(ctx, path, "")), path


def test_dashboard_view_state_and_sections(ctx, fake):
    page = dashboard.layout(ctx, "fake1", parse_query("?from=now-1h&to=now&var-job=api"))
    txt = text_of(page)
    assert "Main api" in txt  # row titles interpolate the selection
    stored = ctx.store.get("fake1")
    state = ViewState("now-1h", "now", "", {"job": ("api",), "instance": ("c:443",)})
    html_top = text_of(dashboard.render_section(ctx, stored, state, "s1", False, 1600))
    assert "Up of c:443" in html_top and 'data-panel-type="gauge"' in html_top
    assert 'up{instance="c:443"}' in fake.queries()
    assert dashboard.render_section(ctx, stored, state, "s4", True, 1600) == []  # collapsed: no query
    more = text_of(dashboard.render_section(ctx, stored, state, "s4", False, 1600))
    assert 'data-panel-type="bargauge"' in more
    assert "Notes" in more  # text panel kept as live Markdown, with the variable filled in
    md = [c for c in dashboard.render_section(ctx, stored, state, "s4", False, 1600)
          if "Markdown" in repr(c)]
    assert md and "c:443" in repr(md[0]) and "dangerously_allow_html=False" in repr(md[0])


def test_controls_time_zoom_and_variables(ctx):
    stored = ctx.store.get("fake1")
    state = ViewState("now-6h", "now", "", {"job": ("$__all",), "instance": ("a:9100",)})
    new, _, rebuild = dashboard.on_controls(ctx, "dv-range", stored, state, "now-15m", "", "",
                                                   "30s", {}, [])
    assert (new.raw_from, new.raw_to, new.refresh) == ("now-15m", "now", "30s") and not rebuild
    assert new.to_search() == "?from=now-15m&to=now&var-job=%24__all&var-instance=a%3A9100&refresh=30s"
    z = {"xaxis.range[0]": "2023-11-14 22:00:00", "xaxis.range[1]": "2023-11-14 22:10:00.5"}
    new, _, _ = dashboard.on_controls(ctx, "dv-graph", stored, state, None, "", "", "", {}, [z])
    assert (int(new.raw_from), int(new.raw_to)) == (1699999200000, 1699999800500)
    new, _resolved, rebuild = dashboard.on_controls(ctx, "dv-var", stored, state, None, "", "", "",
                                                   {"job": ["$__all", "node"]}, [])
    assert rebuild and new.variables["job"] == ("node",)  # picking a value drops "All"
    assert new.variables["instance"] == ("a:9100",)
    new, _, _ = dashboard.on_controls(ctx, "dv-var", stored, state, None, "", "", "",
                                      {"job": ["api"]}, [])
    assert new.variables["instance"] == ("c:443",)  # chained: the old instance is gone
    from dashboards.grafana.timerange import TimeRangeError
    with pytest.raises(TimeRangeError):
        dashboard.on_controls(ctx, "dv-apply", stored, state, None, "tomorrow", "now", "", {}, [])
    assert dashboard.export_json(stored)["filename"] == "fake-nodes-fake1.json"
    assert json.loads(dashboard.export_json(stored)["content"])["title"] == "Fake nodes"


def test_zoom_helpers():
    assert zoom_range({"autosize": True}) is None
    assert zoom_range({"xaxis.range": ["2023-11-14 22:13:20", "2023-11-14 22:30:00"]}) == \
        ("1700000000000", "1700001000000")
    tr = TimeRange.parse("now-1h", "now", now_ms=NOW)
    assert zoom_out(tr, NOW) == ("now-7200s", "now")
    tr = TimeRange(NOW - 7200_000, NOW - 3600_000, str(NOW - 7200_000), str(NOW - 3600_000))
    assert zoom_out(tr, NOW) == (str(NOW - 9000_000), str(NOW - 1800_000))  # twice the span, same centre


def test_explore_query_graph_table_and_inspector(ctx):
    tr = TimeRange.parse("now-1h", "now", now_ms=NOW)
    res, err, step, elapsed = explore.run_query(ctx, 'up{job="node"}', "range", tr, 1200)
    assert not err and step == 15.0 and len(res.series) == 2
    fig, under, table, insp = explore.result_views(ctx, 'up{job="node"}', "range", tr, res, err, step, elapsed)
    assert len(fig["data"]) == 2 and fig["data"][0]["type"] == "scatter"
    assert "2 series" in text_of(insp) and "a:9100" in text_of(table)
    res, err, *_ = explore.run_query(ctx, "boom(", "instant", tr, 1200)
    fig, under, _, _ = explore.result_views(ctx, "boom(", "instant", tr, res, err, 1, 0.01)
    assert fig is None and "parse error" in text_of(under)


def test_explore_uses_webgl_for_many_series_only_on_a_gpu(ctx, fake):
    fake.series = [{"__name__": "m", "i": str(i)} for i in range(150)]
    tr = TimeRange.parse("now-1h", "now", now_ms=NOW)
    res, err, step, el = explore.run_query(ctx, 'm{i=~".*"}', "range", tr, 1200)
    fig, *_ = explore.result_views(ctx, "m", "range", tr, res, err, step, el, webgl=True)
    assert {t["type"] for t in fig["data"]} == {"scattergl"}
    assert len(fig["data"]) == explore.GROUPS  # 150 series in colour groups
    # a software rasteriser (or not knowing yet): the same groups in SVG
    fig, *_ = explore.result_views(ctx, "m", "range", tr, res, err, step, el)
    assert {t["type"] for t in fig["data"]} == {"scatter"} and len(fig["data"]) == explore.GROUPS


def test_promql_completion():
    metrics = lambda: ["node_cpu_seconds_total", "node_load1", "up"]
    labels = lambda m: ["__name__", "cpu", "mode"] if m == "node_cpu_seconds_total" else ["job"]
    values = lambda l, m: ["idle", "user"] if l == "mode" else []
    c = complete("rate(node_c", None, metrics=metrics, labels=labels, values=values)
    assert c.kind == "metric" and c.items == ("node_cpu_seconds_total",) and c.start == 5
    c = complete("rat", None, metrics=metrics, labels=labels, values=values)
    assert "rate" in c.items
    c = complete("node_cpu_seconds_total{mo", None, metrics=metrics, labels=labels, values=values)
    assert c.kind == "label" and c.items == ("mode",)
    c = complete('node_cpu_seconds_total{mode="i', None, metrics=metrics, labels=labels, values=values)
    assert c.kind == "value" and c.items == ("idle",)
    c = complete("sum by (j", None, metrics=metrics, labels=labels, values=values)
    assert c.kind == "label" and c.items == ("job",)
    assert complete('up{job="x"}[5', None, metrics=metrics, labels=labels, values=values).items == ()


def test_alerts_page_and_silences(ctx, fake):
    page = text_of(alerts.layout(ctx))
    assert "HighLoad" in page and "<script>alert(1)</script>" in page  # shown as text, not markup
    ok, msg = alerts.save_silence(ctx, 'alertname="HighLoad"', "1h", "me", "deploy", "")
    assert ok and "s1" in msg
    body = fake.silences[0]
    assert body["matchers"] == [{"name": "alertname", "value": "HighLoad", "isRegex": False, "isEqual": True}]
    assert body["endsAt"] > body["startsAt"] and body["createdBy"] == "me"
    ok, msg = alerts.save_silence(ctx, 'alertname="HighLoad", severity=~"crit.*"', "2h", "me",
                                  "longer", "s1")
    assert ok and len(fake.silences) == 1 and len(fake.silences[0]["matchers"]) == 2
    ok, msg = alerts.save_silence(ctx, 'alertname=~".*"', "1h", "me", "all", "")
    assert not ok and "every alert" in msg
    ok, msg = alerts.save_silence(ctx, 'alertname="x"', "soon", "me", "c", "")
    assert not ok and "duration" in msg
    assert "HighLoad" in text_of(alerts.silences_list(ctx))
    ctx.alertmanager.expire_silence("s1")
    assert fake.silences[0]["status"]["state"] == "expired"


def test_import_from_text(ctx):
    ok, msgs = dashboards_list.import_text(ctx, json.dumps({"title": "New one", "panels": []}), False)
    assert ok and "Imported" in text_of(msgs)
    ok, msgs = dashboards_list.import_text(ctx, json.dumps({"title": "New one", "panels": []}), False)
    assert not ok and "Overwrite" in text_of(msgs)
    bad = {"title": "Bad", "panels": [{"id": 9, "title": "CPU", "type": "stat",
                                       "fieldConfig": {"defaults": {"decimals": "many"}}}]}
    ok, msgs = dashboards_list.import_text(ctx, json.dumps(bad), False)
    assert not ok
    assert 'panel 9 "CPU"' in text_of(msgs) and "panels[0].fieldConfig.defaults.decimals" in text_of(msgs)
    ok, msgs = dashboards_list.import_text(ctx, "{nope", False)
    assert not ok and "not valid JSON" in text_of(msgs)
    assert "New one" in text_of(dashboards_list.list_rows(ctx, "new", None))
    assert "No dashboards match" in text_of(dashboards_list.list_rows(ctx, "zzz", None))


def test_home_overview(ctx):
    txt = text_of(home.layout(ctx))
    assert "Targets up" in txt and "HighLoad" in txt and "Host" in txt


def test_served_under_fastapi_with_api_routes(app):
    client = TestClient(mount_ui(FastAPI(), app))
    assert client.get("/api/search").status_code == 200
    assert "fake1" in client.get("/api/search").text
    for path in ("/", "/d/fake1", "/explore", "/_dash-layout", "/_dash-dependencies",
                 "/assets/spyglass.css", "/assets/panels.js"):
        assert client.get(path).status_code == 200, path
    deps = client.get("/_dash-dependencies").json()
    route_cb = next(d for d in deps if d["output"] == "page.children")
    r = client.post("/_dash-update-component", json={
        "output": "page.children", "outputs": {"id": "page", "property": "children"},
        "inputs": [{"id": "url", "property": "pathname", "value": "/d/fake1"}],
        "state": [{"id": "url", "property": "search", "value": "?from=now-5m"}],
        "changedPropIds": ["url.pathname"]})
    assert r.status_code == 200 and "Fake nodes" in r.text
    assert route_cb["inputs"][0]["id"] == "url"


def test_explore_step_shrinks_points_for_many_series(ctx, fake):
    from dashboards.pages.explore import points_per_series
    assert points_per_series(1500, 10) == 1500
    assert points_per_series(1500, 2000) == 125
    assert points_per_series(1500, 100_000) == 60
    fake.series = [{"__name__": "m", "i": str(i)} for i in range(2000)]
    tr = TimeRange.parse("now-6h", "now", now_ms=NOW)
    _res, err, step, _ = explore.run_query(ctx, 'm{i=~".*"}', "range", tr, 1500)
    assert not err and step == 120.0  # 6 h over 125 points = 172.8 s → nearest readable: 2 m
    assert any(q.startswith("count((") for q in fake.queries())


def _tall_panels():
    panels = []
    for r in range(5):
        row = {"type": "row", "id": 100 + r, "title": f"Row {r}", "gridPos": {"y": r * 20},
               "collapsed": r == 4, "panels": []}
        children = [{"id": r * 10 + i, "type": "timeseries", "title": f"P{r}.{i}",
                     "gridPos": {"x": 12 * i, "y": r * 20 + 1, "w": 12, "h": 10},
                     "targets": [{"refId": "A", "expr": f'metric_{r}_{i}{{job="node"}}'}]}
                    for i in range(2)]
        if r == 4:
            row["panels"] = [{"id": 900, "type": "stat", "title": "Hidden",
                              "gridPos": {"y": 81, "w": 24, "h": 4},
                              "targets": [{"refId": "A", "expr": 'hidden_metric{job="node"}'}]}]
            children = []
        panels += [row] + children
    return panels


# four open rows of two 10-high panels (420 px each with the header), a collapsed fifth
TALL = {"title": "Tall", "uid": "tall", "panels": _tall_panels()}


def _components(n):
    """(component, props) of every Dash component in a rendered tree, parents first."""
    if isinstance(n, (list, tuple)):
        for x in n:
            yield from _components(x)
        return
    if not hasattr(n, "to_plotly_json"):
        return
    props = n.to_plotly_json()["props"]
    yield n, props
    yield from _components(props.get("children"))


def _metas(page):
    """{section key: meta store data} of a rendered dashboard page."""
    out = {}
    for _, props in _components(page):
        i = props.get("id")
        if isinstance(i, dict) and i.get("type") == "dv-sec-meta":
            out[i["key"]] = props["data"]
    return out


def test_page_brings_its_first_screen_and_the_rest_in_one_more_request(ctx, fake):
    from concurrent.futures import ThreadPoolExecutor

    from dashboards.viewport import Viewport
    ctx.store.save(TALL)
    stored = ctx.store.get("tall")
    model_keys = [s.key for s in dashboard.sections(stored.model, {})]
    vp = Viewport(1600, "unknown", 700)
    assert dashboard.first_screen(stored.model, {}, False, vp) == model_keys[:2]
    page = dashboard.layout(ctx, "tall", parse_query("?from=now-1h&to=now"))
    metas = _metas(page)
    # default viewport (1000 px high): rows 0 to 2 start on it and come with data, row 3
    # is loading, the collapsed row 4 is complete as it is
    loading = [k for k, m in metas.items() if m["state"] is None]
    assert loading == model_keys[3:4] and metas[model_keys[4]]["collapsed"] is True
    txt = text_of(page)
    assert "P0.0" in txt and "P2.1" in txt and 'data-panel-type="timeseries"' in txt
    assert repr(page).count("'panel-body loading'") == 2  # the two panels of row 3
    # the rows below the first screen were asked for already, in the background
    ctx.executor.shutdown(wait=True)
    ctx.executor = ThreadPoolExecutor(4)
    assert {'metric_3_0{job="node"}', 'metric_3_1{job="node"}'} <= set(fake.queries())
    assert 'hidden_metric{job="node"}' not in fake.queries()  # collapsed rows query nothing
    asked = len(fake.requests)
    state_json = next(n for n in _stores(page) if n.get("uid") == "tall")
    keys = list(metas)
    out = dashboard.on_sections(ctx, stored, state_json, keys, [0] * len(keys),
                                [metas[k] for k in keys], set(), refresh=False, viewport=vp)
    assert sorted(out) == model_keys[3:4]  # only what was loading
    assert "P3.0" in text_of(out[model_keys[3]].children)
    assert len(fake.requests) == asked  # answered from what the page started
    assert all(u.meta["state"] == dashboard.state_stamp(state_json) for u in out.values())
    # nothing left to do: the same trigger again changes nothing
    metas.update({k: u.meta for k, u in out.items()})
    assert dashboard.on_sections(ctx, stored, state_json, keys, [0] * len(keys),
                                 [metas[k] for k in keys], set(), refresh=False, viewport=vp) == {}
    # opening the collapsed row renders it alone; a refresh renders every open row
    clicks = [1 if k == model_keys[4] else 0 for k in keys]
    out = dashboard.on_sections(ctx, stored, state_json, keys, clicks, [metas[k] for k in keys],
                                {model_keys[4]}, refresh=False, viewport=vp)
    assert list(out) == [model_keys[4]] and not out[model_keys[4]].collapsed
    assert 'hidden_metric{job="node"}' in fake.queries()
    out = dashboard.on_sections(ctx, stored, state_json, keys, clicks, [metas[k] for k in keys],
                                set(), refresh=True, viewport=vp)
    assert sorted(out) == sorted(keys)


def _stores(page):
    return [props["data"] for n, props in _components(page)
            if n.__class__.__name__ == "Store" and isinstance(props.get("data"), dict)]


def test_section_panels_travel_as_one_element():
    from dash import dcc, html
    items = [html.Div(html.Span("a <b>"), className="grid-item"),
             html.Div(dcc.Markdown("**x**"), className="grid-item"),
             html.Div(html.Span("c"), className="grid-item")]
    out = dashboard.section_children(items)
    assert len(out) == 2  # one HTML host for the plain items, the Markdown kept live
    host = out[0].to_plotly_json()["props"]
    assert host["className"] == "sg-html sg-contents"
    assert host["data-html"].count('class="grid-item"') == 2 and "a &lt;b&gt;" in host["data-html"]
