"""Grafana dashboard JSON → typed ``Dashboard``, at the edge, with errors that name the
panel and field. Old models (``rows`` of schema < 16, ``graph`` and ``singlestat``
panels) are mapped onto the current ones, as Grafana's own migration does."""

from __future__ import annotations

import math
import re
from types import MappingProxyType
from typing import Any

from dashboards.grafana._reader import Reader
from dashboards.grafana.errors import DashboardError
from dashboards.grafana.model import (
    ColorConfig,
    CustomConfig,
    Dashboard,
    DashboardLink,
    DataLink,
    FieldConfig,
    FieldMatcher,
    GridPos,
    LegendOptions,
    MappingResult,
    Override,
    Panel,
    PanelOptions,
    ReduceOptions,
    Target,
    Threshold,
    Thresholds,
    Transformation,
    ValueMapping,
    Variable,
    VariableOption,
)

# Panel types with a renderer; others import fine and render as a notice naming the type.
KNOWN_PANEL_TYPES = frozenset(
    {"timeseries", "stat", "gauge", "bargauge", "table", "heatmap", "text", "row"}
)
_MIGRATED_TYPES = {"graph": "timeseries", "singlestat": "stat", "table-old": "table"}
VARIABLE_TYPES = frozenset(
    {"query", "custom", "constant", "interval", "textbox", "datasource", "adhoc"}
)
TRANSFORMATIONS = frozenset(
    {"merge", "joinByField", "seriesToColumns", "organize", "groupBy", "calculateField",
     "labelsToFields", "sortBy", "filterFieldsByName", "reduce", "filterByRefId"}
)


def parse_dashboard(doc: Any) -> Dashboard:
    """Parse one dashboard (or Grafana's ``{"dashboard": …}`` envelope).

    Raises ``DashboardError`` naming the panel and field of the first fault.
    """
    if isinstance(doc, dict) and isinstance(doc.get("dashboard"), dict) and "panels" not in doc:
        doc = doc["dashboard"]
    if not isinstance(doc, dict):
        raise DashboardError("a dashboard must be a JSON object")
    r = Reader(doc)
    title = r.str("title")
    if not title.strip():
        raise r.error("a dashboard needs a title", "title")
    if "rows" in doc and not doc.get("panels"):
        raw_panels = _rows_to_panels(r)
    else:
        raw_panels = list(r.objects("panels"))
    panels = tuple(_parse_panel(p) for p in raw_panels)
    time = r.obj_at("time")
    return Dashboard(
        uid=r.str("uid"),
        title=title,
        panels=panels,
        variables=tuple(_parse_variable(v) for v in r.obj_at("templating").objects("list")),
        tags=r.str_list("tags"),
        time_from=time.str("from", "now-6h") or "now-6h",
        time_to=time.str("to", "now") or "now",
        refresh=r.str("refresh") if not isinstance(doc.get("refresh"), bool) else "",
        timezone=r.str("timezone"),
        description=r.str("description"),
        links=tuple(_parse_dashboard_link(l) for l in r.objects("links")),
        graph_tooltip=r.int("graphTooltip", 0) or 0,
        schema_version=r.int("schemaVersion", 0) or 0,
        version=r.int("version", 0) or 0,
        source=MappingProxyType(doc),
    )


# ---------------------------------------------------------------------- panels
def _panel_name(obj: dict, index: int) -> str:
    pid = obj.get("id")
    title = obj.get("title")
    label = f"panel {pid}" if isinstance(pid, (int, str)) and pid != "" else f"panel #{index}"
    return f'{label} "{title}"' if isinstance(title, str) and title else label


def _parse_panel(r: Reader, index: int | None = None) -> Panel:
    idx = int(r.path.rsplit("[", 1)[1].rstrip("]")) if index is None else index
    r = Reader(r.obj, r.path, _panel_name(r.obj, idx))
    ptype = r.str("type")
    if not ptype:
        raise r.error("a panel needs a type", "type")
    original = ""
    if ptype in _MIGRATED_TYPES:
        original, ptype = ptype, _MIGRATED_TYPES[ptype]
    pid = r.int("id", idx + 1)
    g = r.obj_at("gridPos")
    grid = GridPos(
        x=_clamp(g.int("x", 0), 0, 23),
        y=max(g.int("y", 0) or 0, 0),
        w=_clamp(g.int("w", 24 if ptype == "row" else 12), 1, 24),
        h=max(g.int("h", 1 if ptype == "row" else 8) or 1, 1),
    )
    children: tuple[Panel, ...] = ()
    if ptype == "row":
        children = tuple(_parse_panel(c) for c in r.objects("panels"))
    targets = tuple(_parse_target(t, i) for i, t in enumerate(r.objects("targets")))
    fc = r.obj_at("fieldConfig")
    defaults = parse_field_config(fc.obj_at("defaults"))
    options = r.obj_at("options")
    if original == "graph":
        defaults, popts = _migrate_graph(r, defaults)
    elif original == "singlestat":
        defaults, popts = _migrate_singlestat(r, defaults)
    else:
        popts = _parse_options(options, ptype)
    if ptype == "text" and not popts.content:
        popts = PanelOptions(content=r.str("content"), mode=r.str("mode", "markdown"))
    links = tuple(_parse_link(l) for l in r.objects("links"))
    mdp = r.int("maxDataPoints")
    return Panel(
        id=pid if pid is not None else idx + 1,
        type=ptype,
        title=r.str("title"),
        description=r.str("description"),
        grid=grid,
        targets=targets,
        defaults=defaults,
        overrides=tuple(_parse_override(o) for o in fc.objects("overrides")),
        options=popts,
        transformations=tuple(_parse_transformation(t) for t in r.objects("transformations")),
        links=links,
        interval=r.str("interval"),
        max_data_points=mdp if mdp and mdp > 0 else None,
        repeat=r.str("repeat"),
        repeat_direction=r.str("repeatDirection", "h") or "h",
        max_per_row=max(r.int("maxPerRow", 4) or 4, 1),
        collapsed=r.bool("collapsed"),
        panels=children,
        original_type=original,
    )


def _clamp(v: int | None, lo: int, hi: int) -> int:
    return min(max(v or 0, lo), hi)


def _parse_target(r: Reader, i: int) -> Target:
    expr = r.raw("expr", "")
    if not isinstance(expr, str):
        raise r.error("a PromQL expression must be a string", "expr")
    fmt = r.str("format", "time_series") or "time_series"
    if fmt not in ("time_series", "table", "heatmap"):
        raise r.error(f'unknown format "{fmt}" (time_series, table or heatmap)', "format")
    instant = r.bool("instant")
    rng = r.bool("range", not instant)
    return Target(
        ref_id=r.str("refId") or chr(ord("A") + i % 26),
        expr=expr,
        legend_format=r.str("legendFormat"),
        format=fmt,
        instant=instant,
        range=rng,
        interval=r.str("interval"),
        interval_factor=max(r.int("intervalFactor", 1) or 1, 1),
        hide=r.bool("hide"),
        exemplar=r.bool("exemplar"),
    )


# ----------------------------------------------------------------- field config
def parse_field_config(r: Reader) -> FieldConfig:
    decimals = r.int("decimals")
    return FieldConfig(
        unit=r.str("unit"),
        decimals=_clamp(decimals, 0, 20) if decimals is not None else None,
        min=r.float("min"),
        max=r.float("max"),
        display_name=r.str("displayName"),
        no_value=r.str("noValue"),
        thresholds=_parse_thresholds(r.obj_at("thresholds")) if r.has("thresholds") else Thresholds(),
        color=_parse_color(r.obj_at("color")) if r.has("color") else ColorConfig(),
        mappings=_parse_mappings(r, "mappings"),
        links=tuple(_parse_link(l) for l in r.objects("links")),
        custom=_parse_custom(r.obj_at("custom"), CustomConfig()),
    )


def _parse_thresholds(r: Reader) -> Thresholds:
    mode = r.str("mode", "absolute") or "absolute"
    if mode not in ("absolute", "percentage"):
        raise r.error(f'unknown thresholds mode "{mode}"', "mode")
    steps = []
    for s in r.objects("steps"):
        v = s.raw("value")
        val = None if v is None or v == "" or (isinstance(v, float) and math.isinf(v) and v < 0) \
            else s.to_float(v, "value")
        steps.append(Threshold(val, s.str("color", "green") or "green"))
    # Grafana sorts steps; the base (None) step always comes first.
    steps.sort(key=lambda t: -math.inf if t.value is None else t.value)
    if not steps or steps[0].value is not None:
        steps.insert(0, Threshold(None, "green"))
    return Thresholds(mode, tuple(steps))


def _parse_color(r: Reader) -> ColorConfig:
    return ColorConfig(
        mode=r.str("mode", "palette-classic") or "palette-classic",
        fixed_color=r.str("fixedColor"),
        series_by=r.str("seriesBy", "last") or "last",
    )


def _parse_result(r: Reader) -> MappingResult:
    return MappingResult(
        text=r.str("text") if r.has("text") else None,
        color=r.str("color") or None,
        index=r.int("index", 0) or 0,
    )


def _parse_mappings(r: Reader, key: str) -> tuple[ValueMapping, ...]:
    out: list[ValueMapping] = []
    for m in r.objects(key):
        kind = m.str("type")
        opts = m.obj_at("options")
        if kind == "value":
            values = {}
            for k, v in opts.obj.items():
                if not isinstance(v, dict):
                    raise opts.error("expected an object", k)
                values[k] = _parse_result(Reader(v, f"{opts.path}.{k}", r.panel))
            out.append(ValueMapping("value", values=MappingProxyType(values)))
        elif kind == "range":
            out.append(ValueMapping("range", low=opts.float("from"), high=opts.float("to"),
                                    result=_parse_result(opts.obj_at("result"))))
        elif kind == "regex":
            out.append(ValueMapping("regex", pattern=opts.regex("pattern"),
                                    result=_parse_result(opts.obj_at("result"))))
        elif kind == "special":
            match = opts.str("match")
            if match not in ("null", "nan", "null+nan", "true", "false", "empty"):
                raise opts.error(f'unknown special value "{match}"', "match")
            out.append(ValueMapping("special", match=match,
                                    result=_parse_result(opts.obj_at("result"))))
        elif kind == "" and m.has("value"):
            # pre-7 mapping: {"type": 1, "value": "1", "text": "Up"} (type may be numeric)
            out.append(ValueMapping("value", values=MappingProxyType(
                {m.str("value"): MappingResult(text=m.str("text"))})))
        elif isinstance(m.raw("type"), (int, float)):
            if m.raw("type") == 1:
                out.append(ValueMapping("value", values=MappingProxyType(
                    {m.str("value"): MappingResult(text=m.str("text"))})))
            else:
                out.append(ValueMapping("range", low=m.float("from"), high=m.float("to"),
                                        result=MappingResult(text=m.str("text"))))
        else:
            raise m.error(f'unknown value mapping type "{kind}"', "type")
    return tuple(out)


_DASHES = {"solid": (), "dash": (10, 10), "dot": (0, 10)}


def _parse_custom(r: Reader, base: CustomConfig) -> CustomConfig:
    changes: dict[str, Any] = {}
    for key in r.obj:
        _custom_property(r, key, r.obj[key], changes)
    return _replace(base, changes)


def _replace(base: CustomConfig, changes: dict[str, Any]) -> CustomConfig:
    from dataclasses import replace
    return replace(base, **changes) if changes else base


def _custom_property(r: Reader, key: str, value: Any, out: dict[str, Any]) -> None:
    """One ``custom.<key>`` value into CustomConfig field(s); unknown keys are ignored
    as Grafana ignores options a panel plugin does not declare."""
    if value is None:
        return
    sub = Reader({key: value}, r.path, r.panel)
    if key == "drawStyle":
        out["draw_style"] = sub.str(key, "line")
    elif key == "lineWidth":
        out["line_width"] = sub.float(key, 1.0)
    elif key == "fillOpacity":
        out["fill_opacity"] = _clampf(sub.float(key, 0.0), 0, 100)
    elif key == "lineInterpolation":
        out["line_interpolation"] = sub.str(key, "linear")
    elif key == "lineStyle":
        ls = sub.obj_at(key)
        fill = ls.str("fill", "solid")
        dash = ls.list_at("dash")
        out["line_dash"] = () if fill == "solid" else tuple(
            int(ls.to_float(d, f"dash[{i}]")) for i, d in enumerate(dash)) or _DASHES.get(fill, ())
    elif key == "showPoints":
        out["show_points"] = sub.str(key, "auto")
    elif key == "pointSize":
        out["point_size"] = sub.float(key, 5.0)
    elif key == "spanNulls":
        v = value
        out["span_nulls"] = v if isinstance(v, bool) else sub.float(key, 0.0)
    elif key == "stacking":
        st = sub.obj_at(key)
        out["stacking_mode"] = st.str("mode", "none") or "none"
        group = st.raw("group")  # some exports write `false` here; Grafana ignores it
        out["stacking_group"] = group if isinstance(group, str) and group else "A"
    elif key == "axisPlacement":
        out["axis_placement"] = sub.str(key, "auto")
    elif key == "axisLabel":
        out["axis_label"] = sub.str(key)
    elif key == "axisSoftMin":
        out["axis_soft_min"] = sub.float(key)
    elif key == "axisSoftMax":
        out["axis_soft_max"] = sub.float(key)
    elif key == "scaleDistribution":
        sd = sub.obj_at(key)
        out["scale_log"] = (sd.int("log", 2) or 2) if sd.str("type") == "log" else 0
    elif key == "transform":
        out["transform"] = sub.str(key)
    elif key == "hideFrom":
        hf = sub.obj_at(key)
        out["hide_legend"] = hf.bool("legend")
        out["hide_tooltip"] = hf.bool("tooltip")
        out["hide_viz"] = hf.bool("viz")
    elif key == "gradientMode":
        out["gradient_mode"] = sub.str(key, "none")
    elif key == "align":
        out["align"] = sub.str(key, "auto") or "auto"
    elif key == "cellOptions":
        out["cell_type"] = sub.obj_at(key).str("type", "auto") or "auto"
    elif key == "displayMode":
        # table cells before Grafana 10 ("color-background", "gradient-gauge", ...)
        out["cell_type"] = sub.str(key, "auto") or "auto"
    elif key == "width":
        out["width"] = sub.float(key)
    elif key == "hidden":
        out["hidden"] = sub.bool(key)
    elif key == "filterable":
        out["filterable"] = sub.bool(key)


def _clampf(v: float | None, lo: float, hi: float) -> float:
    return min(max(v or 0.0, lo), hi)


def _parse_link(r: Reader) -> DataLink:
    return DataLink(
        title=r.str("title"),
        url=r.str("url"),
        target_blank=r.bool("targetBlank"),
        include_vars=r.bool("includeVars"),
        keep_time=r.bool("keepTime"),
    )


def _parse_override(r: Reader) -> Override:
    m = r.obj_at("matcher")
    kind = m.str("id")
    if not kind:
        raise m.error("an override needs a matcher id", "id")
    raw = m.raw("options", "")
    if kind == "byNames" or isinstance(raw, dict):
        names = Reader(raw if isinstance(raw, dict) else {}, f"{m.path}.options", r.panel)
        opts: str | tuple[str, ...] = names.str_list("names")
    elif kind == "byRegexp":
        opts = m.regex("options")
    else:
        opts = m.str("options")
    props = []
    for p in r.objects("properties"):
        pid = p.str("id")
        if not pid:
            raise p.error("an override property needs an id", "id")
        props.append((pid, parse_property(p, pid)))
    return Override(FieldMatcher(kind, opts), tuple(props))


def parse_property(r: Reader, pid: str) -> Any:
    """An override property's ``value``, parsed by its id; ``apply_property`` uses it."""
    if pid in ("unit", "displayName", "noValue", "displayName-from-dashboard"):
        return r.str("value")
    if pid == "decimals":
        return r.int("value")
    if pid in ("min", "max"):
        return r.float("value")
    if pid == "thresholds":
        return _parse_thresholds(r.obj_at("value"))
    if pid == "color":
        if isinstance(r.raw("value"), str):  # older overrides give a bare colour
            return ColorConfig("fixed", fixed_color=r.str("value"))
        return _parse_color(r.obj_at("value"))
    if pid == "mappings":
        return _parse_mappings(r, "value")
    if pid == "links":
        return tuple(_parse_link(l) for l in r.objects("value"))
    if pid.startswith("custom."):
        out: dict[str, Any] = {}
        _custom_property(Reader(r.obj, f"{r.path}.value", r.panel), pid[7:], r.raw("value"), out)
        return MappingProxyType(out)
    return r.raw("value")


# --------------------------------------------------------------------- options
def _parse_options(r: Reader, ptype: str) -> PanelOptions:
    lg = r.obj_at("legend")
    legend = LegendOptions(
        show=lg.bool("showLegend", True) and lg.str("displayMode", "list") != "hidden",
        display_mode=lg.str("displayMode", "list") or "list",
        placement=lg.str("placement", "bottom") or "bottom",
        calcs=lg.str_list("calcs"),
        sort_by=lg.str("sortBy"),
        sort_desc=lg.bool("sortDesc"),
    )
    ro = r.obj_at("reduceOptions")
    limit = ro.int("limit")
    reduce = ReduceOptions(
        calcs=ro.str_list("calcs") or ("lastNotNull",),
        values=ro.bool("values"),
        fields=ro.str("fields"),
        limit=limit if limit and limit > 0 else None,
    )
    sort_by = tuple((s.str("displayName"), s.bool("desc")) for s in r.objects("sortBy"))
    footer = r.obj_at("footer")
    hm_color = r.obj_at("color")
    hm_y = r.obj_at("yAxis")
    return PanelOptions(
        legend=legend,
        tooltip_mode=r.obj_at("tooltip").str("mode", "single") or "single",
        reduce=reduce,
        orientation=r.str("orientation", "auto") or "auto",
        color_mode=r.str("colorMode", "value") or "value",
        graph_mode=r.str("graphMode", "area") or "area",
        text_mode=r.str("textMode", "auto") or "auto",
        justify_mode=r.str("justifyMode", "auto") or "auto",
        show_threshold_markers=r.bool("showThresholdMarkers", True),
        show_threshold_labels=r.bool("showThresholdLabels"),
        display_mode=r.str("displayMode", "gradient") or "gradient",
        show_unfilled=r.bool("showUnfilled", True),
        value_mode=r.str("valueMode", "color") or "color",
        show_header=r.bool("showHeader", True),
        sort_by=sort_by,
        footer_calcs=footer.str_list("reducer"),
        footer_show=footer.bool("show"),
        content=r.str("content"),
        mode=r.str("mode", "markdown") or "markdown",
        heatmap_scheme=hm_color.str("scheme", "Oranges") or "Oranges",
        heatmap_unit=hm_y.str("unit"),
    )


_LEGEND_CALCS = (("min", "min"), ("max", "max"), ("avg", "mean"), ("current", "lastNotNull"),
                 ("total", "sum"))


def _migrate_graph(r: Reader, defaults: FieldConfig) -> tuple[FieldConfig, PanelOptions]:
    """An old ``graph`` panel: its y-axis format, legend table and stacking."""
    yaxes = r.list_at("yaxes")
    y0 = Reader(yaxes[0], f"{r.path}.yaxes[0]", r.panel) if yaxes and isinstance(yaxes[0], dict) \
        else Reader({}, "", r.panel)
    lg = r.obj_at("legend")
    calcs = tuple(name for key, name in _LEGEND_CALCS if lg.bool(key))
    fill = r.float("fill", 1.0) or 0.0
    custom = CustomConfig(
        draw_style="bars" if r.bool("bars") and not r.bool("lines", True) else "line",
        line_width=r.float("linewidth", 1.0) or 1.0,
        fill_opacity=min(fill * 10, 100),
        stacking_mode=("percent" if r.bool("percentage") else "normal") if r.bool("stack") else "none",
    )
    fc = defaults.with_(
        unit=defaults.unit or y0.str("format"),
        decimals=defaults.decimals if defaults.decimals is not None else r.int("decimals"),
        min=defaults.min if defaults.min is not None else y0.float("min"),
        max=defaults.max if defaults.max is not None else y0.float("max"),
        custom=custom,
    )
    legend = LegendOptions(
        show=lg.bool("show", True),
        display_mode="table" if lg.bool("alignAsTable") else "list",
        placement="right" if lg.bool("rightSide") else "bottom",
        calcs=calcs,
    )
    return fc, PanelOptions(legend=legend)


def _migrate_singlestat(r: Reader, defaults: FieldConfig) -> tuple[FieldConfig, PanelOptions]:
    calc = {"current": "lastNotNull", "avg": "mean", "total": "sum"}.get(
        r.str("valueName", "avg"), r.str("valueName", "mean"))
    steps: list[Threshold] = []
    colors = r.str_list("colors")
    ths = [t for t in r.str("thresholds").split(",") if t.strip()]
    if colors:
        steps.append(Threshold(None, colors[0]))
        for i, t in enumerate(ths):
            steps.append(Threshold(r.to_float(t, "thresholds"), colors[min(i + 1, len(colors) - 1)]))
    fc = defaults.with_(
        unit=defaults.unit or r.str("format"),
        decimals=defaults.decimals if defaults.decimals is not None else r.int("decimals"),
        thresholds=Thresholds("absolute", tuple(steps)) if steps else defaults.thresholds,
        color=ColorConfig("thresholds") if steps else defaults.color,
    )
    return fc, PanelOptions(reduce=ReduceOptions(calcs=(calc,)),
                            color_mode="background" if r.bool("colorBackground") else "value",
                            graph_mode="area" if r.obj_at("sparkline").bool("show") else "none")


# ------------------------------------------------------------- transformations
def _parse_transformation(r: Reader) -> Transformation:
    tid = r.str("id")
    if not tid:
        raise r.error("a transformation needs an id", "id")
    o = r.obj_at("options")
    opts: dict[str, Any]
    if tid in ("merge",):
        opts = {}
    elif tid in ("joinByField", "seriesToColumns"):
        opts = {"byField": o.str("byField"), "mode": o.str("mode", "outer") or "outer"}
    elif tid == "organize":
        ex = o.obj_at("excludeByName")
        ix = o.obj_at("indexByName")
        rn = o.obj_at("renameByName")
        opts = {
            "excludeByName": {k: ex.bool(k) for k in ex.obj},
            "indexByName": {k: ix.int(k, 0) for k in ix.obj},
            "renameByName": {k: rn.str(k) for k in rn.obj},
        }
    elif tid == "groupBy":
        fields = {}
        fo = o.obj_at("fields")
        for name in fo.obj:
            f = fo.obj_at(name)
            op = f.str("operation")
            if op not in ("groupby", "aggregate", ""):
                raise f.error(f'unknown groupBy operation "{op}"', "operation")
            fields[name] = (op, f.str_list("aggregations"))
        opts = {"fields": fields}
    elif tid == "calculateField":
        mode = o.str("mode", "reduceRow") or "reduceRow"
        red = o.obj_at("reduce")
        bi = o.obj_at("binary")
        opts = {
            "mode": mode,
            "alias": o.str("alias"),
            "replaceFields": o.bool("replaceFields"),
            "reducer": red.str("reducer", "sum") or "sum",
            "include": red.str_list("include"),
            "left": bi.str("left"),
            "operator": bi.str("operator", "+") or "+",
            "right": bi.str("right"),
        }
        if mode == "binary" and opts["operator"] not in ("+", "-", "*", "/", "%", "^"):
            raise bi.error(f'unknown operator "{opts["operator"]}"', "operator")
    elif tid == "labelsToFields":
        opts = {"mode": o.str("mode", "columns") or "columns", "valueLabel": o.str("valueLabel"),
                "keepLabels": o.str_list("keepLabels")}
    elif tid == "sortBy":
        opts = {"sort": tuple((s.str("field"), s.bool("desc")) for s in o.objects("sort"))}
    elif tid == "filterFieldsByName":
        inc = o.obj_at("include")
        exc = o.obj_at("exclude")
        inc_pattern, exc_pattern = inc.regex("pattern"), exc.regex("pattern")
        opts = {"include": inc.str_list("names"), "includePattern": inc_pattern,
                "exclude": exc.str_list("names"), "excludePattern": exc_pattern}
    elif tid == "reduce":
        opts = {"reducers": o.str_list("reducers") or ("lastNotNull",)}
    elif tid == "filterByRefId":
        opts = {"include": o.str("include")}
    else:
        # Grafana applies the transformations it knows; we do the same and list the
        # skipped one in the panel's inspector (see frames.apply_transformations).
        opts = dict(o.obj)
    return Transformation(tid, MappingProxyType(opts), r.bool("disabled"))


# ------------------------------------------------------------------- variables
def _query_text(r: Reader) -> str:
    q = r.raw("query", "")
    if isinstance(q, dict):
        qr = Reader(q, f"{r.path}.query", r.panel)
        text = qr.str("query")
        if text:
            return text
        # The structured editor without a classic query: rebuild it.
        qtype = qr.int("qryType", 0)
        label, metric = qr.str("label"), qr.str("metric")
        if qtype == 0:
            return f"label_names({metric})" if metric else "label_names()"
        if qtype == 1:
            return f"label_values({metric}, {label})" if metric else f"label_values({label})"
        if qtype == 2:
            return f"metrics({metric})"
        return ""
    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return r.str("query")
    if not isinstance(q, str):
        raise r.error("expected a string or an object", "query")
    return q


def _current(r: Reader) -> tuple[tuple[str, ...], tuple[str, ...]]:
    cur = r.obj_at("current")
    def vals(key: str) -> tuple[str, ...]:
        v = cur.raw(key)
        if v is None:
            return ()
        if isinstance(v, list):
            return cur.str_list(key)
        return (cur.str(key),)
    return vals("value"), vals("text")


def _parse_variable(r: Reader) -> Variable:
    name = r.str("name")
    if not name or not re.fullmatch(r"\w+", name):
        raise r.error(f"a variable needs a name of letters, digits and _ (got {name!r})", "name")
    r = Reader(r.obj, r.path, f'variable "{name}"')
    vtype = r.str("type", "query") or "query"
    if vtype not in VARIABLE_TYPES:
        raise r.error(f'unknown variable type "{vtype}"', "type")
    from dashboards.grafana.varquery import compile_js_regex
    regex = r.regex("regex", compile_js_regex)
    current, current_text = _current(r)
    options = tuple(VariableOption(o.str("text"), o.str("value")) for o in r.objects("options"))
    all_value = r.raw("allValue")
    return Variable(
        name=name,
        type=vtype,
        label=r.str("label"),
        hide=r.int("hide", 0) or 0,
        query=_query_text(r),
        regex=regex,
        sort=r.int("sort", 0) or 0,
        refresh=r.int("refresh", 1) or 0,
        multi=r.bool("multi"),
        include_all=r.bool("includeAll"),
        all_value=r.str("allValue") if all_value not in (None, "") else None,
        current=current,
        current_text=current_text,
        options=options,
        auto=r.bool("auto"),
        auto_count=r.int("auto_count", 30) or 30,
        auto_min=r.str("auto_min", "10s") or "10s",
        skip_url_sync=r.bool("skipUrlSync"),
        description=r.str("description"),
    )


def _parse_dashboard_link(r: Reader) -> DashboardLink:
    return DashboardLink(
        title=r.str("title"),
        url=r.str("url"),
        type=r.str("type", "link") or "link",
        tags=r.str_list("tags"),
        as_dropdown=r.bool("asDropdown"),
        target_blank=r.bool("targetBlank"),
        include_vars=r.bool("includeVars"),
        keep_time=r.bool("keepTime"),
    )


# ---------------------------------------------------------------- old row model
def _rows_to_panels(r: Reader) -> list[Reader]:
    """Schema < 16: ``rows[].panels[]`` with ``span`` (of 12) and pixel heights."""
    out: list[Reader] = []
    y = 0
    next_id = 1000
    rows = list(r.objects("rows"))
    for ri, row in enumerate(rows):
        height = _px_to_units(row.raw("height", "250px"))
        show_title = row.bool("showTitle") or len(rows) > 1
        children = []
        if show_title:
            next_id += 1
            out_row = {"type": "row", "id": next_id, "title": row.str("title"),
                       "collapsed": row.bool("collapse"), "gridPos": {"x": 0, "y": y, "w": 24, "h": 1},
                       "panels": []}
            y += 1
        x = 0
        for pi, p in enumerate(row.objects("panels")):
            span = p.float("span", 12) or 12
            w = max(1, min(24, round(span * 2)))
            if x + w > 24:
                x, y = 0, y + height
            obj = dict(p.obj)
            obj["gridPos"] = {"x": x, "y": y, "w": w, "h": _px_to_units(p.raw("height")) or height}
            children.append(obj)
            x += w
        y += height
        if show_title:
            if out_row["collapsed"]:
                out_row["panels"] = children
                out.append(Reader(out_row, f"rows[{ri}]"))
            else:
                out.append(Reader(out_row, f"rows[{ri}]"))
                out.extend(Reader(c, f"rows[{ri}].panels[{i}]") for i, c in enumerate(children))
        else:
            out.extend(Reader(c, f"rows[{ri}].panels[{i}]") for i, c in enumerate(children))
    return out


def _px_to_units(v: Any) -> int:
    if v is None:
        return 0
    if isinstance(v, (int, float)):
        px = float(v)
    else:
        m = re.match(r"\s*(\d+(?:\.\d+)?)", str(v))
        px = float(m.group(1)) if m else 250.0
    return max(1, math.ceil(px / 30))
