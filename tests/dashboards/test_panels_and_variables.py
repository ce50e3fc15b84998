"""Variables and panel queries against a fake Prometheus API (no network)."""

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import CollectorRegistry

from dashboards.client import PrometheusClient
from dashboards.grafana import parse_dashboard
from dashboards.grafana.template import ALL
from dashboards.grafana.timerange import TimeRange
from dashboards.htmlrender import to_html
from dashboards.panelquery import PanelRequest, run_panels
from dashboards.panels import render_panel
from dashboards.panels.common import PanelContext
from dashboards.telemetry import DashboardsTelemetry
from dashboards.variables import VariableCache, resolve_variables, scope_of
from tests.dashboards.fakeapi import FakeAPI

NOW = 1_700_000_000_000


@pytest.fixture
def fake():
    return FakeAPI()


@pytest.fixture
def api(fake):
    return PrometheusClient("http://fake", transport=fake.transport(),
                            telemetry=DashboardsTelemetry(CollectorRegistry()))


def _cache(clock=lambda: 0.0):
    return VariableCache(clock=clock, telemetry=DashboardsTelemetry(CollectorRegistry()))


DASH = {
    "title": "Chained", "uid": "ch",
    "templating": {"list": [
        {"name": "cluster", "type": "query", "query": "label_values(up, cluster)", "refresh": 2},
        {"name": "namespace", "type": "query", "multi": True, "includeAll": True,
         "query": {"query": 'label_values(up{cluster="$cluster"}, namespace)'}, "refresh": 2},
        {"name": "inst", "type": "query", "query": 'label_values(up{namespace=~"$namespace"}, instance)',
         "regex": "/([^:]+):.*/", "sort": 2},
        {"name": "res", "type": "interval", "query": "1m,5m", "auto": True, "auto_count": 10},
        {"name": "env", "type": "custom", "query": "prod : production, dev"},
        {"name": "const", "type": "constant", "query": "k8s"},
        {"name": "ds", "type": "datasource", "query": "prometheus"},
        {"name": "text", "type": "textbox", "query": "hello"},
    ]},
    "panels": [],
}


def test_chained_variables_resolve_in_order(api, fake):
    d = parse_dashboard(DASH)
    tr = TimeRange(NOW - 3600_000, NOW)
    res = {r.name: r for r in resolve_variables(d, api, tr, {}, _cache())}
    assert [o.value for o in res["cluster"].options] == ["c1", "c2"]
    assert res["cluster"].selected == ("c1",)
    assert [o.value for o in res["namespace"].options] == [ALL, "default", "kube-system"]
    assert res["namespace"].selected == (ALL,)  # first option of an include-All variable
    assert [o.value for o in res["inst"].options] == ["b", "a"]  # regex group, sorted desc
    assert res["res"].options[0].text == "auto"
    assert [o.value for o in res["env"].options] == ["production", "dev"]
    assert res["const"].selected == ("k8s",) and res["text"].selected == ("hello",)
    # chaining: the namespace query saw the selected cluster
    matches = [q["match[]"][0] for p, q in fake.requests if p == "/api/v1/label/namespace/values"]
    assert matches == ['up{cluster="c1"}']
    # the instance query saw every namespace as a regex alternation
    inst = [q["match[]"][0] for p, q in fake.requests if p == "/api/v1/label/instance/values"]
    assert inst == ['up{namespace=~"(default|kube-system)"}']
    scope = scope_of(list(res.values()), tr)
    assert scope["res"].values == ("5m",)  # auto: 1h / 10 points, made readable


def test_url_selection_and_cache(api, fake):
    d = parse_dashboard(DASH)
    tr = TimeRange(NOW - 3600_000, NOW)
    cache = _cache()
    res = {r.name: r for r in resolve_variables(
        d, api, tr, {"cluster": ["c2"], "namespace": ["prod.eu", "nope"], "text": ["x<y"]}, cache)}
    assert res["cluster"].selected == ("c2",)
    assert res["namespace"].selected == ("prod.eu",)  # unknown values dropped
    assert res["text"].selected == ("x<y",)
    n = len(fake.requests)
    resolve_variables(d, api, tr, {"cluster": ["c2"], "namespace": ["prod.eu"]}, cache)
    assert len(fake.requests) == n  # every variable query answered from the cache


PANELS = {
    "title": "P", "uid": "p",
    "panels": [
        {"id": 1, "type": "timeseries", "title": "Up $job", "gridPos": {"w": 12, "h": 8},
         "maxDataPoints": 100, "interval": "30s",
         "targets": [{"refId": "A", "expr": 'rate(up{job=~"$job"}[$__rate_interval])',
                      "legendFormat": "{{instance}}"},
                     {"refId": "B", "expr": "boom(", "hide": False}]},
        {"id": 2, "type": "stat", "title": "Count", "gridPos": {"w": 4, "h": 4},
         "fieldConfig": {"defaults": {"unit": "percentunit"}},
         "targets": [{"refId": "A", "expr": "count(up)", "instant": True}]},
        {"id": 3, "type": "table", "title": "T", "gridPos": {"w": 8, "h": 8},
         "targets": [{"refId": "A", "expr": "up", "format": "table", "instant": True},
                     {"refId": "B", "expr": "up", "format": "table", "instant": True}],
         "transformations": [{"id": "merge"}, {"id": "organize", "options": {
             "excludeByName": {"Time": True}, "renameByName": {"Value #A": "A value"}}}]},
    ],
}


def test_run_panels_interpolates_downsamples_and_reports_errors(api, fake):
    d = parse_dashboard(PANELS)
    tr = TimeRange(NOW - 6 * 3600_000, NOW)
    from dashboards.grafana.template import VarValue
    scope = {"job": VarValue(("node", "api"), multi=True)}
    reqs = [PanelRequest(str(p.id), p, scope, 800) for p in d.panels]
    with ThreadPoolExecutor(4) as ex:
        data = run_panels(api, reqs, tr, executor=ex, scrape_interval_ms=15_000)
    ts = data["1"]
    ra = next(r for r in ts.runs if r.ref_id == "A")
    # maxDataPoints 100 over 6 h → 216 s → nearest readable step 5m; rate window = step + scrape
    assert ra.kind == "range" and ra.step_s == 300
    assert ra.expr == 'rate(up{job=~"(node|api)"}[5m15s])'
    rb = next(r for r in ts.runs if r.ref_id == "B")
    assert "parse error" in rb.error and "B: " in ts.error
    names = [f.number_fields()[0].name for f in ts.frames]
    assert names == ["a:9100", "b:9100", "c:443"]
    stat = data["2"]
    assert stat.runs[0].kind == "instant"
    table = data["3"]
    assert [f.name for f in table.frames[0].fields][-2:] == ["A value", "Value #B"]


def test_rendered_panels_escape_labels(api, fake):
    fake.series.append({"__name__": "up", "job": "node", "instance": '<img src=x onerror="alert(1)">'})
    d = parse_dashboard(PANELS)
    tr = TimeRange(NOW - 3600_000, NOW)
    from dashboards.grafana.template import VarValue
    scope = {"job": VarValue(("node",))}
    data = run_panels(api, [PanelRequest("1", d.panels[0], scope, 600)], tr)
    ctx = PanelContext("1", d.panels[0], tr, 600, 300, scope)
    markup = to_html(render_panel(ctx, data["1"]))
    assert "<img src=x" not in markup and "&lt;img src=x" in markup
    assert "onerror=&quot;alert(1)&quot;" in markup or "onerror=\\&quot;" in markup
    assert 'class="panel-error-badge"' in markup  # target B's error is flagged on the panel
    fig_attr = markup.split('data-figure="', 1)[1].split('"', 1)[0]
    import html as h
    fig = json.loads(h.unescape(fig_attr))
    assert all("<img" not in t["name"] for t in fig["data"])  # plotly names escaped too


def test_panel_error_shows_inside_panel(api):
    d = parse_dashboard({"title": "E", "panels": [{"id": 5, "type": "timeseries", "title": "Bad",
                                                   "targets": [{"refId": "A", "expr": "boom("}]}]})
    tr = TimeRange(NOW - 3600_000, NOW)
    data = run_panels(api, [PanelRequest("5", d.panels[0], {}, 600)], tr)
    markup = to_html(render_panel(PanelContext("5", d.panels[0], tr, 600, 300), data["5"]))
    assert "Query error" in markup and "parse error" in markup


def _query_cache(clock_ms=lambda: NOW):
    from dashboards.querycache import QueryCache
    return QueryCache(clock_ms=clock_ms, telemetry=DashboardsTelemetry(CollectorRegistry()))


SAME = {"title": "Same", "panels": [
    {"id": 1, "type": "timeseries", "title": "A", "gridPos": {"w": 12, "h": 8},
     "targets": [{"refId": "A", "expr": 'rate(up{cluster=~"c.*"}[5m])'}]},
    {"id": 2, "type": "timeseries", "title": "B", "gridPos": {"w": 12, "h": 8},
     "targets": [{"refId": "A", "expr": 'rate(up{cluster=~"c.*"}[5m])'},
                 {"refId": "B", "expr": 'up{cluster=~"c.*"}', "instant": True}]},
    {"id": 3, "type": "stat", "title": "C", "gridPos": {"w": 12, "h": 8},
     "targets": [{"refId": "A", "expr": 'up{cluster=~"c.*"}', "instant": True}]},
]}


def test_identical_queries_of_several_panels_run_once_on_an_aligned_grid(api, fake):
    d = parse_dashboard(SAME)
    tr = TimeRange(NOW - 3600_000 + 1234, NOW + 777)
    reqs = [PanelRequest(str(p.id), p, {}, 600) for p in d.panels]
    with ThreadPoolExecutor(4) as ex:
        data = run_panels(api, reqs, tr, executor=ex, scrape_interval_ms=15_000)
    assert sorted(fake.queries()) == ['rate(up{cluster=~"c.*"}[5m])', 'up{cluster=~"c.*"}']
    assert [len(data[k].frames) for k in "123"] == [3, 6, 3]  # every panel got its answer
    _, params = next(r for r in fake.requests if r[0].endswith("query_range"))
    step = float(params["step"][0])
    for k in ("start", "end"):  # start and end on multiples of the step (Grafana's alignment)
        assert float(params[k][0]) % step == 0
    assert float(params["end"][0]) <= (NOW + 777) / 1000 < float(params["end"][0]) + step


def test_prefetched_queries_are_answered_from_the_cache(api, fake):
    d = parse_dashboard(SAME)
    tr = TimeRange(NOW - 3600_000, NOW)
    cache = _query_cache()
    first = [PanelRequest("1", d.panels[0], {}, 600)]
    later = [PanelRequest(str(p.id), p, {}, 600) for p in d.panels[1:]]
    with ThreadPoolExecutor(4) as ex:
        run_panels(api, first, tr, executor=ex, scrape_interval_ms=15_000, cache=cache, prefetch=later)
        ex.shutdown(wait=True)  # the background queries have landed
    asked = len(fake.requests)
    assert sorted(fake.queries()) == ['rate(up{cluster=~"c.*"}[5m])', 'up{cluster=~"c.*"}']
    data = run_panels(api, later, tr, scrape_interval_ms=15_000, cache=cache)
    assert len(fake.requests) == asked  # nothing asked again
    assert {r.cache for k in ("2", "3") for r in data[k].runs} == {"hit"}
    assert len(data["3"].frames) == 3
