"""Reduce a panel's frames to the values stat, gauge and bargauge show."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dashboards.grafana import calcs
from dashboards.grafana.fields import DisplayValue, FieldRef, display, field_config
from dashboards.grafana.frames import Frame
from dashboards.grafana.model import FieldConfig, Panel
from dashboards.grafana.template import interpolate


@dataclass(frozen=True, slots=True)
class ShownValue:
    name: str
    value: DisplayValue
    fc: FieldConfig
    spark_x: np.ndarray | None = None
    spark_y: np.ndarray | None = None


def _fields_of(frames: tuple[Frame, ...], fields_opt: str):
    for fr in frames:
        t = fr.time_field()
        for f in fr.fields:
            if f.type != "number":
                continue
            if fields_opt and fields_opt not in ("/.*/", "") and f.name != fields_opt:
                import re
                rx = fields_opt[1:-1] if fields_opt.startswith("/") and fields_opt.endswith("/") else None
                if rx is None or not re.search(rx, f.name):
                    continue
            yield fr, t, f


def shown_values(panel: Panel, frames: tuple[Frame, ...], scope) -> list[ShownValue]:
    ro = panel.options.reduce
    calc = ro.calcs[0] if ro.calcs else "lastNotNull"
    out: list[ShownValue] = []
    raw: list[tuple[str, float | None, FieldConfig, np.ndarray | None, np.ndarray | None]] = []
    for fr, t, f in _fields_of(frames, ro.fields):
        fc = field_config(panel.defaults, panel.overrides, FieldRef(f.name, fr.ref_id))
        name = f.name
        if fc.display_name:
            name = interpolate(fc.display_name, {**scope, "__field.name": f.name,
                                                 **{f"__field.labels.{k}": v for k, v in f.labels.items()}},
                               default_format="glob")
        if ro.values:
            for i, v in enumerate(f.values):
                raw.append((name, None if np.isnan(v) else float(v), fc, None, None))
        else:
            value = calcs.reduce(f.values, calc) if len(f.values) else None
            spark = (t.values, f.values) if t is not None and len(f.values) > 1 else (None, None)
            raw.append((name, value, fc, spark[0], spark[1]))
    if ro.limit:
        raw = raw[: ro.limit]
    finite = [v for _, v, _, _, _ in raw if v is not None]
    lo = min(finite, default=None)
    hi = max(finite, default=None)
    for i, (name, value, fc, sx, sy) in enumerate(raw):
        # bars and gauges need a scale: 0..max of the shown values when none is set
        dv = display(fc, value, i, lo=min(0.0, lo) if lo is not None else None, hi=hi)
        out.append(ShownValue(name, dv, fc, sx, sy))
    return out
