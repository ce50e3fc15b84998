"""Data frames: what panels draw and what transformations rewrite.

A ``Frame`` is a small table of ``Field`` columns (numpy arrays: float64 for time
in ms and for numbers, NaN for null; object arrays for strings). Query results
become frames once (``series_frame``, ``table_frames``); tables and the
transformations work on frames only.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np

from dashboards.grafana.model import EMPTY

_LEGEND_RE = re.compile(r"\{\{\s*(.+?)\s*\}\}")


@dataclass(frozen=True, slots=True)
class Field:
    """One column. ``type`` is "time", "number" or "string"; ``labels`` the series labels
    of a number field that came from a time series."""

    name: str
    type: str
    values: np.ndarray
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY)

    def __len__(self) -> int:
        return len(self.values)


@dataclass(frozen=True, slots=True)
class Frame:
    """Columns of equal length; ``ref_id`` is the query it came from."""

    fields: tuple[Field, ...]
    ref_id: str = ""
    name: str = ""

    @property
    def length(self) -> int:
        return len(self.fields[0].values) if self.fields else 0

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def time_field(self) -> Field | None:
        for f in self.fields:
            if f.type == "time":
                return f
        return None

    def number_fields(self) -> list[Field]:
        return [f for f in self.fields if f.type == "number"]


def legend_name(legend_format: str, labels: Mapping[str, str], expr: str = "") -> str:
    """A series' name from ``legendFormat`` (``{{pod}}``, missing labels empty), or
    Prometheus's ``name{a="b", …}`` form when there is none (``__auto`` too)."""
    if legend_format and legend_format != "__auto":
        return _LEGEND_RE.sub(lambda m: str(labels.get(m.group(1), "")), legend_format)
    name = labels.get("__name__", "")
    rest = [f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__"]
    if not rest:
        return name or expr
    return name + "{" + ", ".join(rest) + "}"


def series_frame(labels: Mapping[str, str], timestamps_s: np.ndarray, values: np.ndarray,
                 name: str, ref_id: str) -> Frame:
    return Frame(
        (Field("Time", "time", np.asarray(timestamps_s, dtype=np.float64) * 1000.0),
         Field(name, "number", np.asarray(values, dtype=np.float64),
               MappingProxyType(dict(labels)))),
        ref_id=ref_id, name=name)


def table_frames(results: Sequence[tuple[str, Sequence[tuple[Mapping[str, str], float, float]]]],
                 ) -> list[Frame]:
    """``format: table`` instant results, one frame per query: Time, one column per
    label (sorted, ``__name__`` first), and "Value" — "Value #<refId>" when the panel
    has more than one query, as Grafana names it."""
    many = len(results) > 1
    frames = []
    for ref_id, rows in results:
        names: list[str] = []
        seen = set()
        for labels, _, _ in rows:
            for k in labels:
                if k not in seen:
                    seen.add(k)
                    names.append(k)
        names.sort(key=lambda k: (k != "__name__", k))
        n = len(rows)
        fields = [Field("Time", "time", np.array([t * 1000.0 for _, t, _ in rows], dtype=np.float64))]
        for k in names:
            fields.append(Field(k, "string", np.array([lbl.get(k, "") for lbl, _, _ in rows],
                                                      dtype=object)))
        fields.append(Field(f"Value #{ref_id}" if many else "Value", "number",
                            np.array([v for _, _, v in rows], dtype=np.float64)))
        if n == 0:
            fields = [Field(f.name, f.type, f.values[:0]) for f in fields]
        frames.append(Frame(tuple(fields), ref_id=ref_id))
    return frames


def rows(frame: Frame) -> list[list[object]]:
    cols = [f.values for f in frame.fields]
    return [[c[i] for c in cols] for i in range(frame.length)]


def with_fields(frame: Frame, fields: Iterable[Field]) -> Frame:
    return replace(frame, fields=tuple(fields))


def take(frame: Frame, index: np.ndarray) -> Frame:
    return with_fields(frame, (replace(f, values=f.values[index]) for f in frame.fields))


@dataclass(frozen=True, slots=True)
class PlotSeries:
    """A number field to draw against a time field (back from frames after transforms)."""

    name: str
    x_ms: np.ndarray
    y: np.ndarray
    labels: Mapping[str, str] = field(default_factory=lambda: EMPTY)
    ref_id: str = ""


def plot_series(frames: Sequence[Frame]) -> list[PlotSeries]:
    out = []
    for fr in frames:
        t = fr.time_field()
        if t is None:
            continue
        for f in fr.number_fields():
            out.append(PlotSeries(f.name, t.values, f.values, f.labels, fr.ref_id))
    return out
