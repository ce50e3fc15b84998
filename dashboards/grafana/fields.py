"""Field display: overrides applied to a field, value mappings, thresholds and
colours, and the display text of one value.

A "field" is one series of a panel (or one column of a table); it is identified
by its display name, its query's refId and its type for override matching.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from dashboards.grafana import colors
from dashboards.grafana.model import (
    ColorConfig,
    FieldConfig,
    MappingResult,
    Override,
    Thresholds,
)
from dashboards.grafana.units import format_value


@dataclass(frozen=True, slots=True)
class FieldRef:
    """What an override matcher can look at."""

    name: str
    ref_id: str = ""
    type: str = "number"  # number | time | string


@lru_cache(maxsize=4096)
def _rx(pattern: str) -> re.Pattern[str] | None:
    m = re.match(r"^/(.*)/([a-z]*)$", pattern, re.DOTALL)
    try:
        if m:
            return re.compile(m.group(1), re.IGNORECASE if "i" in m.group(2) else 0)
        return re.compile(pattern)
    except re.error:
        return None


def matches(override: Override, field: FieldRef) -> bool:
    kind, opt = override.matcher.kind, override.matcher.options
    if kind == "byName":
        return field.name == opt
    if kind == "byNames":
        return field.name in opt
    if kind == "byRegexp":
        rx = _rx(str(opt))
        return bool(rx and rx.fullmatch(field.name))
    if kind == "byFrameRefID":
        return field.ref_id == opt
    if kind == "byType":
        return field.type == opt
    return False


def apply_property(fc: FieldConfig, pid: str, value: Any) -> FieldConfig:
    if pid == "unit":
        return replace(fc, unit=value or "")
    if pid == "decimals":
        return replace(fc, decimals=value)
    if pid == "min":
        return replace(fc, min=value)
    if pid == "max":
        return replace(fc, max=value)
    if pid == "displayName":
        return replace(fc, display_name=value or "")
    if pid == "noValue":
        return replace(fc, no_value=value or "")
    if pid == "thresholds" and isinstance(value, Thresholds):
        return replace(fc, thresholds=value)
    if pid == "color" and isinstance(value, ColorConfig):
        return replace(fc, color=value)
    if pid == "mappings":
        return replace(fc, mappings=tuple(value or ()))
    if pid == "links":
        return replace(fc, links=tuple(value or ()))
    if pid.startswith("custom.") and value:
        return replace(fc, custom=replace(fc.custom, **dict(value)))
    return fc


def field_config(defaults: FieldConfig, overrides: tuple[Override, ...], field: FieldRef) -> FieldConfig:
    """``defaults`` with every matching override applied in order."""
    fc = defaults
    for o in overrides:
        if matches(o, field):
            for pid, value in o.properties:
                fc = apply_property(fc, pid, value)
    return fc


# ------------------------------------------------------------------- display
@dataclass(frozen=True, slots=True)
class DisplayValue:
    """A value as shown: ``text`` (with unit), its colour, and 0..1 position in min..max."""

    numeric: float | None
    text: str
    color: str
    percent: float = 0.0


def map_value(fc: FieldConfig, value: Any) -> MappingResult | None:
    """The first value mapping that matches (Grafana checks them in order)."""
    for m in fc.mappings:
        if m.kind == "value":
            key = _key_text(value)
            if key in m.values:
                return m.values[key]
        elif m.kind == "range":
            if isinstance(value, (int, float)) and not _isnan(value):
                lo = -math.inf if m.low is None else m.low
                hi = math.inf if m.high is None else m.high
                if lo <= value <= hi:
                    return m.result
        elif m.kind == "regex":
            rx = _rx(m.pattern)
            if rx and value is not None and rx.search(_key_text(value)):
                return m.result
        elif m.kind == "special" and _special(m.match, value):
            return m.result
    return None


def _isnan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _special(match: str, value: Any) -> bool:
    if match == "null":
        return value is None
    if match == "nan":
        return _isnan(value)
    if match == "null+nan":
        return value is None or _isnan(value)
    if match == "true":
        return value is True or value == 1 or value == "true"
    if match == "false":
        return value is False or value == 0 or value == "false"
    if match == "empty":
        return value == ""
    return False


def _key_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def threshold_color(th: Thresholds, value: float, lo: float | None, hi: float | None) -> str:
    v = value
    if th.mode == "percentage":
        lo = 0.0 if lo is None else lo
        hi = 100.0 if hi is None else hi
        v = (value - lo) / (hi - lo) * 100 if hi != lo else 0.0
    color = th.steps[0].color if th.steps else "green"
    for step in th.steps:
        if step.value is None or v >= step.value:
            color = step.color
        else:
            break
    return colors.resolve(color)


def value_color(fc: FieldConfig, value: float | None, series_index: int = 0,
                lo: float | None = None, hi: float | None = None) -> str:
    """The colour of a value under the field's colour mode."""
    mode = fc.color.mode
    if mode == "fixed" or mode == "shades":
        return colors.resolve(fc.color.fixed_color or "green")
    if mode == "thresholds":
        if value is None or _isnan(value):
            return colors.resolve(fc.thresholds.steps[0].color if fc.thresholds.steps else "green")
        return threshold_color(fc.thresholds, value, fc.min if fc.min is not None else lo,
                               fc.max if fc.max is not None else hi)
    stops = colors.scheme(mode)
    if stops and value is not None and not _isnan(value):
        a = fc.min if fc.min is not None else (lo if lo is not None else 0.0)
        b = fc.max if fc.max is not None else (hi if hi is not None else 100.0)
        t = (value - a) / (b - a) if b != a else 0.0
        return colors.interpolate(stops, t)
    return colors.palette(series_index)


def display(fc: FieldConfig, value: Any, series_index: int = 0,
            lo: float | None = None, hi: float | None = None) -> DisplayValue:
    """How one value reads: mapping text or unit-formatted number, and its colour."""
    num = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    mapped = map_value(fc, value)
    if num is not None and _isnan(num) and mapped is None:
        num = None
    if mapped is not None and mapped.text is not None:
        text = mapped.text
    elif num is None:
        text = fc.no_value or ("No data" if value is None or _isnan(value) else str(value))
    else:
        text = format_value(num, fc.unit, fc.decimals)
    color = colors.resolve(mapped.color) if mapped is not None and mapped.color else \
        value_color(fc, num, series_index, lo, hi)
    a = fc.min if fc.min is not None else (lo if lo is not None else 0.0)
    b = fc.max if fc.max is not None else (hi if hi is not None else 100.0)
    pct = 0.0 if num is None or b == a else min(max((num - a) / (b - a), 0.0), 1.0)
    return DisplayValue(num, text, color, pct)
