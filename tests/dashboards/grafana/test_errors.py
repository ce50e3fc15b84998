"""A broken dashboard is rejected with the panel and the field named."""

import pytest

from dashboards.grafana import DashboardError, documents_from_text, parse_dashboard


def _dash(**panel):
    base = {"id": 7, "title": "CPU Busy", "type": "stat", "gridPos": {"x": 0, "y": 0, "w": 6, "h": 4},
            "targets": [{"refId": "A", "expr": "up"}]}
    base.update(panel)
    return {"title": "Broken", "uid": "b", "panels": [{"type": "row", "id": 1, "title": "r",
                                                       "panels": []}, base]}


@pytest.mark.parametrize("panel,field,reason", [
    ({"gridPos": {"x": "left"}}, "panels[1].gridPos.x", "expected a number"),
    ({"targets": [{"refId": "A", "expr": 5}]}, "panels[1].targets[0].expr", "must be a string"),
    ({"targets": "up"}, "panels[1].targets", "expected a list"),
    ({"fieldConfig": {"defaults": {"unit": ["bytes"]}}}, "panels[1].fieldConfig.defaults.unit",
     "expected a string"),
    ({"fieldConfig": {"defaults": {"thresholds": {"steps": [{"color": "red", "value": "high"}]}}}},
     "panels[1].fieldConfig.defaults.thresholds.steps[0].value", "expected a number"),
    ({"fieldConfig": {"defaults": {}, "overrides": [{"matcher": {"id": "byRegexp", "options": "(("},
                                                     "properties": []}]}},
     "panels[1].fieldConfig.overrides[0].matcher.options", "invalid regular expression"),
    ({"fieldConfig": {"defaults": {"mappings": [{"type": "regex", "options": {"pattern": "((",
                                                                            "result": {"text": "x"}}}]}}},
     "panels[1].fieldConfig.defaults.mappings[0].options.pattern", "invalid regular expression"),
    ({"transformations": [{"id": "filterFieldsByName", "options": {"exclude": {"pattern": "[a"}}}]},
     "panels[1].transformations[0].options.exclude.pattern", "invalid regular expression"),
    ({"type": ""}, "panels[1].type", "needs a type"),
    ({"transformations": [{"id": "calculateField", "options": {"mode": "binary",
                                                                 "binary": {"operator": "**"}}}]},
     "panels[1].transformations[0].options.binary.operator", "unknown operator"),
    ({"targets": [{"refId": "A", "expr": "up", "format": "csv"}]}, "panels[1].targets[0].format",
     "unknown format"),
])
def test_broken_panel_named(panel, field, reason):
    with pytest.raises(DashboardError) as e:
        parse_dashboard(_dash(**panel))
    err = e.value
    assert err.path == field
    assert reason in err.reason
    if field.startswith("panels[1]"):
        assert 'panel 7 "CPU Busy"' in str(err) or "panel 7" in err.panel
    assert field in str(err)


def test_broken_panel_inside_collapsed_row_named():
    doc = {"title": "x", "panels": [{"type": "row", "id": 3, "title": "Disk", "collapsed": True,
                                     "panels": [{"id": 44, "title": "IO", "type": "timeseries",
                                                 "gridPos": {"h": "tall"}}]}]}
    with pytest.raises(DashboardError) as e:
        parse_dashboard(doc)
    assert e.value.path == "panels[0].panels[0].gridPos.h"
    assert e.value.panel == 'panel 44 "IO"'


def test_dashboard_level_errors():
    with pytest.raises(DashboardError, match="title"):
        parse_dashboard({"panels": []})
    with pytest.raises(DashboardError, match="JSON object"):
        parse_dashboard([1, 2])
    with pytest.raises(DashboardError) as e:
        parse_dashboard({"title": "t", "templating": {"list": [{"name": "x", "type": "magic"}]}})
    assert e.value.path == "templating.list[0].type" and 'variable "x"' in str(e.value)
    with pytest.raises(DashboardError) as e:
        parse_dashboard({"title": "t", "templating": {"list": [{"name": "a b"}]}})
    assert e.value.path == "templating.list[0].name"
    with pytest.raises(DashboardError) as e:
        parse_dashboard({"title": "t", "templating": {"list": [{"name": "v", "regex": "/(/"}]}})
    assert "invalid regular expression" in str(e.value)


def test_bad_text_is_named():
    with pytest.raises(DashboardError, match="not valid JSON: .* line 1"):
        documents_from_text('{"title": ', "paste")


def test_envelope_and_configmap_accepted():
    env = {"dashboard": {"title": "Env", "panels": []}, "overwrite": True}
    assert parse_dashboard(env).title == "Env"
    cm = "kind: ConfigMap\napiVersion: v1\ndata:\n  a.json: '{\"title\": \"A\"}'\n  readme.txt: hi\n"
    docs = documents_from_text(cm, "cm.yaml")
    assert [parse_dashboard(d).title for d in docs] == ["A"]


def test_old_rows_and_graph_panels_migrate():
    doc = {"title": "old", "schemaVersion": 14, "rows": [
        {"title": "R1", "height": "300px", "showTitle": True, "panels": [
            {"id": 1, "type": "graph", "span": 6, "title": "g", "stack": True,
             "yaxes": [{"format": "bytes", "min": 0}, {"format": "short"}],
             "legend": {"show": True, "alignAsTable": True, "rightSide": True, "max": True,
                        "avg": True, "current": True},
             "targets": [{"expr": "up", "refId": "A"}]},
            {"id": 2, "type": "singlestat", "span": 6, "title": "s", "format": "percent",
             "valueName": "current", "thresholds": "50,80", "colors": ["green", "orange", "red"]},
        ]},
        {"title": "R2", "collapse": True, "panels": [{"id": 3, "type": "text", "span": 12,
                                                       "content": "# hi", "mode": "markdown"}]},
    ]}
    d = parse_dashboard(doc)
    assert [p.type for p in d.panels] == ["row", "timeseries", "stat", "row"]
    g = d.panels[1]
    assert g.original_type == "graph" and g.defaults.unit == "bytes" and g.defaults.min == 0
    assert g.defaults.custom.stacking_mode == "normal"
    assert g.options.legend.display_mode == "table" and g.options.legend.placement == "right"
    assert g.options.legend.calcs == ("max", "mean", "lastNotNull")
    assert g.grid.w == 12 and g.grid.h == 10
    s = d.panels[2]
    assert s.options.reduce.calcs == ("lastNotNull",)
    assert [t.value for t in s.defaults.thresholds.steps] == [None, 50.0, 80.0]
    assert d.panels[3].collapsed and d.panels[3].panels[0].options.content == "# hi"
