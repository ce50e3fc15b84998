"""The typed Grafana dashboard model: what ``parse_dashboard`` turns JSON into.

Only what Spyglass renders is modelled; the original JSON is kept beside the model
(``Dashboard.source``) so an export gives back exactly what was imported.
All values are immutable so a parsed dashboard can be cached and shared by threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class GridPos:
    """Position on Grafana's 24-column grid; one ``h`` unit is 30 px."""

    x: int = 0
    y: int = 0
    w: int = 12
    h: int = 8


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float | None  # None is the base step ("-Infinity" in Grafana)
    color: str


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Steps in ascending order; ``mode`` "percentage" means values are % of min..max."""

    mode: str = "absolute"
    steps: tuple[Threshold, ...] = (Threshold(None, "green"), Threshold(80.0, "red"))


@dataclass(frozen=True, slots=True)
class MappingResult:
    text: str | None = None
    color: str | None = None
    index: int = 0


@dataclass(frozen=True, slots=True)
class ValueMapping:
    """One of Grafana's value mappings.

    ``kind`` is "value" (``values`` maps exact text to a result), "range"
    (``low``..``high``), "regex" (``pattern``) or "special" (``match`` is one of
    null, nan, null+nan, true, false, empty).
    """

    kind: str
    values: Mapping[str, MappingResult] = field(default_factory=lambda: EMPTY)
    low: float | None = None
    high: float | None = None
    pattern: str = ""
    match: str = ""
    result: MappingResult = MappingResult()


@dataclass(frozen=True, slots=True)
class DataLink:
    """A link shown on a panel or value; ``url`` may carry variables and ``${__url_time_range}``."""

    title: str
    url: str
    target_blank: bool = False
    include_vars: bool = False
    keep_time: bool = False


@dataclass(frozen=True, slots=True)
class ColorConfig:
    """Grafana's ``color`` block: mode "fixed", "thresholds", "palette-classic",
    "shades", or a continuous scheme such as "continuous-GrYlRd"."""

    mode: str = "palette-classic"
    fixed_color: str = ""
    series_by: str = "last"


@dataclass(frozen=True, slots=True)
class CustomConfig:
    """The ``fieldConfig.defaults.custom`` block of graph and table panels."""

    draw_style: str = "line"  # line | bars | points
    line_width: float = 1.0
    fill_opacity: float = 0.0
    line_interpolation: str = "linear"
    line_dash: tuple[int, ...] = ()  # empty = solid
    show_points: str = "auto"
    point_size: float = 5.0
    span_nulls: bool | float = False
    stacking_mode: str = "none"  # none | normal | percent
    stacking_group: str = "A"
    axis_placement: str = "auto"  # auto | left | right | hidden
    axis_label: str = ""
    axis_soft_min: float | None = None
    axis_soft_max: float | None = None
    scale_log: int = 0  # 0 = linear, otherwise the log base
    transform: str = ""  # "negative-Y" mirrors the series
    hide_legend: bool = False
    hide_tooltip: bool = False
    hide_viz: bool = False
    gradient_mode: str = "none"
    align: str = "auto"  # table cells
    cell_type: str = "auto"  # table cells: auto | color-text | color-background | gauge ...
    width: float | None = None  # table column width px
    hidden: bool = False  # table column hidden
    filterable: bool = False


@dataclass(frozen=True, slots=True)
class FieldConfig:
    """Display settings of a field (``fieldConfig.defaults`` or the result of overrides)."""

    unit: str = ""
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    display_name: str = ""
    no_value: str = ""
    thresholds: Thresholds = Thresholds()
    color: ColorConfig = ColorConfig()
    mappings: tuple[ValueMapping, ...] = ()
    links: tuple[DataLink, ...] = ()
    custom: CustomConfig = CustomConfig()

    def with_(self, **changes: Any) -> FieldConfig:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class FieldMatcher:
    """Which fields an override applies to: ``kind`` byName | byRegexp | byFrameRefID |
    byType | byNames | byValue; ``options`` the name, pattern, refId or names."""

    kind: str
    options: str | tuple[str, ...] = ""


@dataclass(frozen=True, slots=True)
class Override:
    """``fieldConfig.overrides[i]``: ``config`` holds only the properties it sets,
    as ``(property id, parsed value)`` pairs applied in order."""

    matcher: FieldMatcher
    properties: tuple[tuple[str, Any], ...]


@dataclass(frozen=True, slots=True)
class LegendOptions:
    show: bool = True
    display_mode: str = "list"  # list | table | hidden
    placement: str = "bottom"  # bottom | right
    calcs: tuple[str, ...] = ()
    sort_by: str = ""
    sort_desc: bool = False


@dataclass(frozen=True, slots=True)
class ReduceOptions:
    """How stat/gauge/bargauge reduce a series to one value (or show every ``values``)."""

    calcs: tuple[str, ...] = ("lastNotNull",)
    values: bool = False
    fields: str = ""
    limit: int | None = None


@dataclass(frozen=True, slots=True)
class PanelOptions:
    """The ``options`` block; fields a panel type does not use keep their defaults."""

    legend: LegendOptions = LegendOptions()
    tooltip_mode: str = "single"
    reduce: ReduceOptions = ReduceOptions()
    orientation: str = "auto"
    color_mode: str = "value"  # stat: value | background | background_solid | none
    graph_mode: str = "area"  # stat: area | none
    text_mode: str = "auto"  # stat: auto | value | value_and_name | name | none
    justify_mode: str = "auto"
    show_threshold_markers: bool = True
    show_threshold_labels: bool = False
    display_mode: str = "gradient"  # bargauge: basic | lcd | gradient
    show_unfilled: bool = True
    value_mode: str = "color"
    show_header: bool = True
    sort_by: tuple[tuple[str, bool], ...] = ()  # table: (column, descending)
    footer_calcs: tuple[str, ...] = ()
    footer_show: bool = False
    content: str = ""  # text panel
    mode: str = "markdown"  # text panel: markdown | html | code
    heatmap_scheme: str = "Oranges"
    heatmap_unit: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    """A PromQL query of a panel (``targets[i]``)."""

    ref_id: str
    expr: str
    legend_format: str = ""
    format: str = "time_series"  # time_series | table | heatmap
    instant: bool = False
    range: bool = True
    interval: str = ""  # minimum step, may hold variables
    interval_factor: int = 1
    hide: bool = False
    exemplar: bool = False


@dataclass(frozen=True, slots=True)
class Transformation:
    """A table/frame transformation; ``options`` is already validated for ``id``."""

    id: str
    options: Mapping[str, Any] = field(default_factory=lambda: EMPTY)
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    """One panel, or a row (``type == "row"``) whose ``panels`` are its collapsed children."""

    id: int
    type: str
    title: str = ""
    description: str = ""
    grid: GridPos = GridPos()
    targets: tuple[Target, ...] = ()
    defaults: FieldConfig = FieldConfig()
    overrides: tuple[Override, ...] = ()
    options: PanelOptions = PanelOptions()
    transformations: tuple[Transformation, ...] = ()
    links: tuple[DataLink, ...] = ()
    interval: str = ""  # minimum interval ("1m", "$resolution")
    max_data_points: int | None = None
    repeat: str = ""
    repeat_direction: str = "h"
    max_per_row: int = 4
    collapsed: bool = False
    panels: tuple[Panel, ...] = ()
    original_type: str = ""  # "graph" for an old graph panel mapped to timeseries

    @property
    def name(self) -> str:
        return f'panel {self.id} "{self.title}"'


@dataclass(frozen=True, slots=True)
class VariableOption:
    text: str
    value: str


@dataclass(frozen=True, slots=True)
class Variable:
    """A ``templating.list`` entry. ``query`` is the text of a query/custom/interval/
    constant/textbox/datasource variable; ``current`` the values saved with the dashboard."""

    name: str
    type: str
    label: str = ""
    hide: int = 0  # 0 shown, 1 label hidden, 2 variable hidden
    query: str = ""
    regex: str = ""
    sort: int = 0
    refresh: int = 1  # 1 on load, 2 on time range change
    multi: bool = False
    include_all: bool = False
    all_value: str | None = None
    current: tuple[str, ...] = ()
    current_text: tuple[str, ...] = ()
    options: tuple[VariableOption, ...] = ()
    auto: bool = False  # interval variables: offer "auto"
    auto_count: int = 30
    auto_min: str = "10s"
    skip_url_sync: bool = False
    description: str = ""

    @property
    def display_label(self) -> str:
        return self.label or self.name


@dataclass(frozen=True, slots=True)
class DashboardLink:
    title: str
    url: str = ""
    type: str = "link"  # link | dashboards
    tags: tuple[str, ...] = ()
    as_dropdown: bool = False
    target_blank: bool = False
    include_vars: bool = False
    keep_time: bool = False


@dataclass(frozen=True, slots=True)
class Dashboard:
    """A parsed dashboard; ``panels`` is in Grafana's order, rows included.

    Usage: ``d = parse_dashboard(json.load(f)); [p.title for p in d.panels]``.
    """

    uid: str
    title: str
    panels: tuple[Panel, ...] = ()
    variables: tuple[Variable, ...] = ()
    tags: tuple[str, ...] = ()
    time_from: str = "now-6h"
    time_to: str = "now"
    refresh: str = ""
    timezone: str = ""
    description: str = ""
    links: tuple[DashboardLink, ...] = ()
    graph_tooltip: int = 0
    schema_version: int = 0
    version: int = 0
    source: Mapping[str, Any] = field(default_factory=lambda: EMPTY, compare=False, repr=False)

    def all_panels(self) -> list[Panel]:
        """Every non-row panel, including those inside collapsed rows."""
        out: list[Panel] = []
        for p in self.panels:
            if p.type == "row":
                out.extend(p.panels)
            else:
                out.append(p)
        return out

    def variable(self, name: str) -> Variable | None:
        for v in self.variables:
            if v.name == name:
                return v
        return None
