"""Every dashboard of the shared corpus imports, and the model holds what the JSON says."""

import json
from pathlib import Path

from dashboards.grafana import load_documents, parse_dashboard
from dashboards.grafana.layout import sections
from dashboards.grafana.template import VarValue


def _corpus_dir(shared_dir) -> Path:
    return shared_dir / "corpus" / "grafana-dashboards"


def _files(shared_dir):
    d = _corpus_dir(shared_dir)
    return sorted(d.glob("*/*.json")) + sorted(d.glob("*/*.yaml"))


def _walk(panels):
    for p in panels:
        yield p
        yield from _walk(p.get("panels", []))


def test_every_corpus_dashboard_imports(shared_dir):
    files = _files(shared_dir)
    assert len(files) == 10
    count = 0
    for f in files:
        for doc in load_documents(f):
            d = parse_dashboard(doc)
            count += 1
            raw_panels = [p for p in _walk(doc["panels"])]
            non_rows = [p for p in raw_panels if p["type"] != "row"]
            assert len(d.all_panels()) == len(non_rows), f.name
            raw_targets = sum(len(p.get("targets", [])) for p in non_rows)
            assert sum(len(p.targets) for p in d.all_panels()) == raw_targets, f.name
            assert len(d.variables) == len(doc["templating"]["list"])
            assert d.title == doc["title"]
    # 1 node-exporter-full + 8 dotdc + 33 kube-prometheus (PROVENANCE.md)
    assert count == 42


def test_kube_prometheus_configmaplist_counts(shared_dir):
    f = _corpus_dir(shared_dir) / "kube-prometheus-kubernetes-mixin" / "grafana-dashboardDefinitions.yaml"
    dashboards = [parse_dashboard(doc) for doc in load_documents(f)]
    assert len(dashboards) == 33
    assert sum(len(d.all_panels()) for d in dashboards) == 340
    assert sum(len(p.targets) for d in dashboards for p in d.all_panels()) == 581
    assert sum(len(d.variables) for d in dashboards) == 104


def test_node_exporter_full_model(shared_dir):
    f = _corpus_dir(shared_dir) / "rfmoz-grafana-dashboards" / "node-exporter-full.json"
    doc = json.loads(f.read_text())
    d = parse_dashboard(doc)
    assert d.uid == "rYdddlPWk" and d.refresh == "1m"
    assert len(d.all_panels()) == 125
    rows = [p for p in d.panels if p.type == "row"]
    assert len(rows) == 16 and sum(r.collapsed for r in rows) == 14
    assert sum(len(p.targets) for p in d.all_panels()) == 286
    assert [v.type for v in d.variables] == ["datasource", "query", "query", "query"]
    node = d.variable("node")
    assert node.query == 'label_values(node_uname_info{job="$job", nodename="$nodename"}, instance)'
    pressure = next(p for p in d.all_panels() if p.id == 323)
    assert pressure.type == "bargauge"
    assert pressure.defaults.unit == "percentunit" and pressure.defaults.decimals == 1
    assert pressure.defaults.thresholds.mode == "percentage"
    assert [s.value for s in pressure.defaults.thresholds.steps] == [None, 70.0, 90.0]
    assert pressure.targets[0].instant and pressure.targets[0].legend_format == "CPU"
    assert pressure.targets[0].expr.startswith("rate(node_pressure_cpu_waiting_seconds_total")
    # layout: sections follow the rows; collapsed rows keep their panels
    secs = sections(d, {"job": VarValue(("node",)), "node": VarValue(("h:9100",))})
    assert len(secs) == 16
    assert sum(len(s.panels) for s in secs) == 125
    assert [s.collapsed for s in secs].count(True) == 14
    assert all(pp.grid.y >= 0 for s in secs for pp in s.panels)


def test_overrides_and_transformations_parsed(shared_dir):
    d_dir = _corpus_dir(shared_dir) / "dotdc-grafana-dashboards-kubernetes"
    d = parse_dashboard(json.loads((d_dir / "k8s-views-pods.json").read_text()))
    tables = [p for p in d.all_panels() if p.type == "table"]
    assert tables
    ids = {t.id for p in tables for t in p.transformations}
    assert "organize" in ids
    overrides = [o for p in d.all_panels() for o in p.overrides]
    assert any(o.matcher.kind == "byRegexp" for o in overrides) or \
        any(o.matcher.kind == "byName" for o in overrides)
