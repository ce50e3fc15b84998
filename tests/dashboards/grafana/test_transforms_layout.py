"""Table transformations and panel layout (rows, repeats)."""

import numpy as np

from dashboards.grafana.frames import legend_name, rows, series_frame, table_frames
from dashboards.grafana.layout import sections
from dashboards.grafana.model import Transformation
from dashboards.grafana.parse import parse_dashboard
from dashboards.grafana.template import VarValue
from dashboards.grafana.transforms import apply_transformations


def _tables():
    a = [({"namespace": "default", "pod": "p1"}, 100.0, 1.0),
         ({"namespace": "kube", "pod": "p2"}, 100.0, 2.0)]
    b = [({"namespace": "default", "pod": "p1"}, 100.0, 10.0),
         ({"namespace": "other", "pod": "p3"}, 100.0, 30.0)]
    return table_frames([("A", a), ("B", b)])


def _t(tid, **opts):
    from dashboards.grafana._reader import Reader
    from dashboards.grafana.parse import _parse_transformation
    return _parse_transformation(Reader({"id": tid, "options": opts}, "t"))


def test_table_frames_name_values_by_ref_id():
    fa, fb = _tables()
    assert [f.name for f in fa.fields] == ["Time", "namespace", "pod", "Value #A"]
    assert fb.field("Value #B").values.tolist() == [10.0, 30.0]


def test_merge_joins_rows_with_equal_labels():
    out, skipped = apply_transformations(_tables(), [_t("merge")])
    assert not skipped and len(out) == 1
    got = {(r[1], r[2]): (r[3], r[4]) for r in rows(out[0])}
    assert got[("default", "p1")] == (1.0, 10.0)
    assert got[("kube", "p2")][0] == 2.0 and np.isnan(got[("kube", "p2")][1])
    assert np.isnan(got[("other", "p3")][0]) and got[("other", "p3")][1] == 30.0


def test_join_by_field_outer_and_inner():
    out, _ = apply_transformations(_tables(), [_t("joinByField", byField="pod", mode="outer")])
    f = out[0]
    assert f.field("pod").values.tolist() == ["p1", "p2", "p3"]
    assert f.field("Value #B").values[0] == 10.0
    assert [x.name for x in f.fields][:2] == ["pod", "Time"]
    assert "namespace 2" in [x.name for x in f.fields]  # duplicate names are numbered
    inner, _ = apply_transformations(_tables(), [_t("seriesToColumns", byField="pod", mode="inner")])
    assert inner[0].field("pod").values.tolist() == ["p1"]


def test_organize_group_by_sort_filter():
    merged, _ = apply_transformations(_tables(), [_t("merge")])
    out, _ = apply_transformations(merged, [
        _t("organize", excludeByName={"Time": True}, indexByName={"pod": 0, "namespace": 1},
           renameByName={"Value #A": "CPU"}),
        _t("sortBy", sort=[{"field": "CPU", "desc": True}]),
    ])
    f = out[0]
    assert [x.name for x in f.fields] == ["pod", "namespace", "CPU", "Value #B"]
    assert f.field("pod").values.tolist()[:2] == ["p2", "p1"]  # NaN sorts last
    grouped, _ = apply_transformations(merged, [_t("groupBy", fields={
        "namespace": {"operation": "groupby"},
        "Value #B": {"operation": "aggregate", "aggregations": ["sum", "count"]}})])
    g = grouped[0]
    assert [x.name for x in g.fields] == ["namespace", "Value #B (sum)", "Value #B (count)"]
    assert dict(zip(g.field("namespace").values, g.field("Value #B (sum)").values))["other"] == 30.0
    filt, _ = apply_transformations(merged, [_t("filterFieldsByName", include={"names": ["pod"]})])
    assert [x.name for x in filt[0].fields] == ["pod"]


def test_calculate_field_and_labels_to_fields():
    t = np.array([1.0, 2.0, 3.0])
    s1 = series_frame({"cpu": "0", "mode": "user"}, t, np.array([1.0, 2.0, 3.0]), "cpu0", "A")
    s2 = series_frame({"cpu": "1", "mode": "user"}, t, np.array([3.0, 4.0, 5.0]), "cpu1", "A")
    out, _ = apply_transformations([s1, s2], [_t("calculateField", mode="reduceRow",
                                                  reduce={"reducer": "mean"}, alias="avg",
                                                  replaceFields=True)])
    assert [f.name for f in out[0].fields] == ["Time", "avg"]
    assert out[0].field("avg").values.tolist() == [2.0, 3.0, 4.0]
    out, _ = apply_transformations([s1], [_t("calculateField", mode="binary",
                                             binary={"left": "cpu0", "operator": "*", "right": "2"})])
    assert out[0].field("cpu0 * 2").values.tolist() == [2.0, 4.0, 6.0]
    out, _ = apply_transformations([s1], [_t("labelsToFields", keepLabels=["cpu"])])
    assert [f.name for f in out[0].fields] == ["Time", "cpu", "Value"]
    assert out[0].field("cpu").values.tolist() == ["0", "0", "0"]
    out, skipped = apply_transformations([s1], [Transformation("prepareTimeSeries")])
    assert skipped == ["prepareTimeSeries"]


def test_legend_format():
    labels = {"__name__": "up", "job": "node", "instance": "h:9100"}
    assert legend_name("{{job}} @ {{ instance }}", labels) == "node @ h:9100"
    assert legend_name("{{missing}}x", labels) == "x"
    assert legend_name("", labels) == 'up{instance="h:9100", job="node"}'
    assert legend_name("__auto", {}, "sum(up)") == "sum(up)"


def test_repeated_panels_and_rows():
    d = parse_dashboard({"title": "r", "panels": [
        {"type": "row", "id": 1, "title": "Row $ns", "repeat": "ns", "gridPos": {"y": 0}},
        {"type": "stat", "id": 2, "title": "pods in $ns", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 4}},
        {"type": "timeseries", "id": 3, "repeat": "pod", "maxPerRow": 2,
         "gridPos": {"x": 12, "y": 1, "w": 12, "h": 4}},
        {"type": "row", "id": 9, "title": "closed", "collapsed": True, "gridPos": {"y": 9},
         "panels": [{"type": "text", "id": 10, "gridPos": {"x": 0, "y": 10, "w": 24, "h": 3}}]},
    ]})
    ns = VarValue(("a", "b"), multi=True)
    pods = VarValue(("p1", "p2", "p3"), multi=True, include_all=True, is_all=True,
                    all_values=("p1", "p2", "p3"))
    secs = sections(d, {"ns": ns, "pod": pods})
    assert [s.key for s in secs] == ["s1-r0", "s1-r1", "s9"]
    assert secs[0].scoped["ns"].values == ("a",) and secs[1].scoped["ns"].values == ("b",)
    first = secs[0]
    repeated = [pp for pp in first.panels if pp.panel.id == 3]
    assert [pp.scoped["pod"].values for pp in repeated] == [("p1",), ("p2",), ("p3",)]
    # maxPerRow 2: two per line, each half the width; the third starts a new line
    assert [(pp.grid.x, pp.grid.w) for pp in repeated] == [(0, 12), (12, 12), (0, 12)]
    assert repeated[0].grid.y == repeated[1].grid.y
    assert repeated[2].grid.y >= repeated[0].grid.y + 4
    # the stat panel and the repeats never overlap
    cells = set()
    for pp in first.panels:
        for x in range(pp.grid.x, pp.grid.x + pp.grid.w):
            for y in range(pp.grid.y, pp.grid.y + pp.grid.h):
                assert (x, y) not in cells
                cells.add((x, y))
    assert len({pp.key for s in secs for pp in s.panels}) == sum(len(s.panels) for s in secs)
    assert secs[2].collapsed and [pp.panel.id for pp in secs[2].panels] == [10]
    assert sections(d, {"ns": ns, "pod": pods}, {"s9": False})[2].collapsed is False


def test_sections_compact_vertically():
    """Collapsed rows keep their children's old y (≈200 in Node Exporter Full); on
    screen they sit right under the row, gaps closed, order kept."""
    d = parse_dashboard({"title": "c", "panels": [
        {"type": "row", "id": 1, "title": "r", "collapsed": True, "gridPos": {"y": 0}, "panels": [
            {"type": "stat", "id": 2, "gridPos": {"x": 0, "y": 201, "w": 12, "h": 4}},
            {"type": "stat", "id": 3, "gridPos": {"x": 12, "y": 201, "w": 12, "h": 6}},
            {"type": "stat", "id": 4, "gridPos": {"x": 0, "y": 240, "w": 24, "h": 3}}]}]})
    (sec,) = sections(d, {})
    pos = {pp.panel.id: (pp.grid.x, pp.grid.y) for pp in sec.panels}
    assert pos == {2: (0, 0), 3: (12, 0), 4: (0, 6)}
