"""Grafana's data transformations over frames: merge, joinByField/seriesToColumns,
organize, groupBy, calculateField, labelsToFields, sortBy, filterFieldsByName,
reduce, filterByRefId. ``apply_transformations`` runs a panel's list in order."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from dashboards.grafana import calcs
from dashboards.grafana.frames import Field, Frame, with_fields
from dashboards.grafana.model import Transformation


def _empty_like(f: Field, n: int) -> np.ndarray:
    if f.type == "string":
        out = np.empty(n, dtype=object)
        out[:] = None
        return out
    return np.full(n, np.nan)


def _key(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def _unique_name(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    i = 2
    while f"{name} {i}" in taken:
        i += 1
    return f"{name} {i}"


# ------------------------------------------------------------------------ join
def join_by_field(frames: Sequence[Frame], by: str = "", mode: str = "outer") -> list[Frame]:
    """One frame with a row per distinct value of ``by`` (the time field when empty)."""
    frames = [f for f in frames if f.fields]
    if not frames:
        return []
    def key_field(fr: Frame) -> Field | None:
        return fr.field(by) if by else fr.time_field()
    usable = [fr for fr in frames if key_field(fr) is not None]
    if not usable:
        return list(frames)
    first_key = key_field(usable[0])
    assert first_key is not None
    # key values in first-seen order
    keys: list[Any] = []
    index: dict[Any, int] = {}
    per_frame_sets = []
    for fr in usable:
        kf = key_field(fr)
        s = set()
        for v in kf.values:
            k = _key(v)
            s.add(k)
            if k not in index:
                index[k] = len(keys)
                keys.append(k)
        per_frame_sets.append(s)
    if mode == "inner":
        common = set.intersection(*per_frame_sets)
        keys = [k for k in keys if k in common]
        index = {k: i for i, k in enumerate(keys)}
    if first_key.type == "time":
        keys_sorted = sorted(keys, key=lambda k: (k is None, k if k is not None else 0))
        keys = keys_sorted
        index = {k: i for i, k in enumerate(keys)}
    n = len(keys)
    key_values = np.array(keys, dtype=np.float64 if first_key.type != "string" else object)
    out_fields = [Field(first_key.name, first_key.type, key_values)]
    taken = {first_key.name}
    for fr in usable:
        kf = key_field(fr)
        rows = np.array([index.get(_key(v), -1) for v in kf.values], dtype=np.int64)
        keep = rows >= 0
        for f in fr.fields:
            if f is kf:
                continue
            col = _empty_like(f, n)
            col[rows[keep]] = f.values[keep]
            out_fields.append(Field(_unique_name(f.name, taken), f.type, col, f.labels))
            taken.add(out_fields[-1].name)
    return [Frame(tuple(out_fields), ref_id=usable[0].ref_id)]


def merge(frames: Sequence[Frame]) -> list[Frame]:
    """One table; rows of different queries with equal values in their shared
    non-number columns become one row."""
    frames = [f for f in frames if f.fields]
    if not frames:
        return []
    names: list[str] = []
    types: dict[str, str] = {}
    for fr in frames:
        for f in fr.fields:
            if f.name not in types:
                names.append(f.name)
                types[f.name] = f.type
    key_names = [n for n in names if types[n] != "number"]
    rows: list[dict[str, Any]] = []
    where: dict[tuple, int] = {}
    for fr in frames:
        cols = {f.name: f.values for f in fr.fields}
        for i in range(fr.length):
            key = tuple(_key(cols[k][i]) if k in cols else None for k in key_names)
            values = {n: cols[n][i] for n in cols}
            j = where.get(key)
            if j is not None and not any(n in rows[j] and types[n] == "number" for n in values
                                         if types[n] == "number"):
                rows[j].update(values)
            else:
                where[key] = len(rows)
                rows.append(values)
    out = []
    for n in names:
        t = types[n]
        if t == "string":
            arr = np.empty(len(rows), dtype=object)
            arr[:] = [r.get(n) for r in rows]
        else:
            arr = np.array([r.get(n, np.nan) if r.get(n) is not None else np.nan for r in rows],
                           dtype=np.float64)
        out.append(Field(n, t, arr))
    return [Frame(tuple(out), ref_id=frames[0].ref_id)]


# -------------------------------------------------------------------- organize
def organize(frames: Sequence[Frame], exclude: dict[str, bool], order: dict[str, int],
             rename: dict[str, str]) -> list[Frame]:
    out = []
    for fr in frames:
        kept = [f for f in fr.fields if not exclude.get(f.name)]
        if order:
            pos = {f.name: i for i, f in enumerate(kept)}
            kept.sort(key=lambda f: (order.get(f.name, len(order) + pos[f.name]), pos[f.name]))
        kept = [replace(f, name=rename[f.name]) if rename.get(f.name) else f for f in kept]
        out.append(with_fields(fr, kept))
    return out


# --------------------------------------------------------------------- groupBy
def group_by(frames: Sequence[Frame], spec: dict[str, tuple[str, tuple[str, ...]]]) -> list[Frame]:
    out = []
    for fr in frames:
        group_fields = [f for f in fr.fields if spec.get(f.name, ("",))[0] == "groupby"]
        agg_fields = [f for f in fr.fields if spec.get(f.name, ("",))[0] == "aggregate"]
        if not group_fields:
            out.append(fr)
            continue
        groups: dict[tuple, list[int]] = {}
        for i in range(fr.length):
            groups.setdefault(tuple(_key(f.values[i]) for f in group_fields), []).append(i)
        fields = []
        for gi, f in enumerate(group_fields):
            vals = [k[gi] for k in groups]
            fields.append(Field(f.name, f.type, np.array(vals, dtype=object if f.type == "string"
                                                          else np.float64)))
        for f in agg_fields:
            for calc in spec[f.name][1]:
                vals = []
                for idx in groups.values():
                    col = f.values[idx]
                    if f.type == "number":
                        vals.append(calcs.reduce(col, calc))
                    else:
                        vals.append(_reduce_any(col, calc))
                is_num = f.type == "number" or calc in ("count", "distinctCount")
                arr = np.array([np.nan if v is None else v for v in vals],
                               dtype=np.float64 if is_num else object)
                fields.append(Field(f"{f.name} ({calc})", "number" if is_num else f.type, arr))
        out.append(with_fields(fr, fields))
    return out


def _reduce_any(col: np.ndarray, calc: str) -> Any:
    vals = [v for v in col if v is not None]
    if calc in ("last", "lastNotNull"):
        return vals[-1] if vals else None
    if calc in ("first", "firstNotNull"):
        return vals[0] if vals else None
    if calc == "count":
        return len(col)
    if calc == "distinctCount":
        return len(set(vals))
    return None


# -------------------------------------------------------------- calculateField
_OPS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "+": np.add, "-": np.subtract, "*": np.multiply,
    "/": lambda a, b: np.divide(a, b, out=np.full(np.broadcast(a, b).shape, np.nan), where=b != 0),
    "%": np.fmod, "^": np.power,
}


def calculate_field(frames: Sequence[Frame], opts: dict[str, Any]) -> list[Frame]:
    # Grafana joins several series by time before calculating across them.
    if len(frames) > 1 and all(fr.time_field() is not None for fr in frames):
        frames = join_by_field(frames)
    out = []
    for fr in frames:
        nums = fr.number_fields()
        if opts["mode"] == "binary":
            a, b = _operand(fr, opts["left"]), _operand(fr, opts["right"])
            if a is None or b is None:
                out.append(fr)
                continue
            with np.errstate(all="ignore"):
                vals = _OPS[opts["operator"]](a, b)
            alias = opts["alias"] or f'{opts["left"]} {opts["operator"]} {opts["right"]}'
        else:
            include = set(opts.get("include") or ())
            cols = [f.values for f in nums if not include or f.name in include]
            if not cols:
                out.append(fr)
                continue
            matrix = np.vstack(cols)
            vals = np.array([_nan(calcs.reduce(matrix[:, i], opts["reducer"]))
                             for i in range(matrix.shape[1])], dtype=np.float64)
            alias = opts["alias"] or calcs.label(opts["reducer"])
        new = Field(alias, "number", np.asarray(vals, dtype=np.float64))
        if opts["replaceFields"]:
            keep = [f for f in fr.fields if f.type == "time"]
            out.append(with_fields(fr, keep + [new]))
        else:
            out.append(with_fields(fr, list(fr.fields) + [new]))
    return out


def _operand(fr: Frame, name: str) -> np.ndarray | None:
    """A binary calculation's side: the number field ``name``, else ``name`` read as
    a constant, else None."""
    f = fr.field(name)
    if f is not None and f.type == "number":
        return f.values
    try:
        return np.full(fr.length, float(name))
    except ValueError:
        return None


def _nan(v: float | None) -> float:
    return np.nan if v is None else v


# ------------------------------------------------------------- labelsToFields
def labels_to_fields(frames: Sequence[Frame], mode: str, value_label: str,
                     keep: tuple[str, ...]) -> list[Frame]:
    out = []
    for fr in frames:
        n = fr.length
        if mode == "rows":
            # one (label, value) row per label of each number field
            names, values = [], []
            for f in fr.number_fields():
                for k, v in f.labels.items():
                    if not keep or k in keep:
                        names.append(k)
                        values.append(v)
            out.append(Frame((Field("label", "string", np.array(names, dtype=object)),
                              Field("value", "string", np.array(values, dtype=object))),
                             ref_id=fr.ref_id))
            continue
        fields: list[Field] = []
        label_cols: dict[str, Field] = {}
        for f in fr.fields:
            if f.type != "number" or not f.labels:
                fields.append(f)
                continue
            for k, v in f.labels.items():
                if k == "__name__" or (keep and k not in keep) or k == value_label:
                    continue
                if k not in label_cols:
                    col = np.empty(n, dtype=object)
                    col[:] = v
                    label_cols[k] = Field(k, "string", col)
            name = f.labels.get(value_label, "Value") if value_label else "Value"
            fields.append(Field(name, "number", f.values))
        time_idx = next((i for i, f in enumerate(fields) if f.type == "time"), -1)
        fields[time_idx + 1:time_idx + 1] = list(label_cols.values())
        out.append(with_fields(fr, fields))
    return out


# ----------------------------------------------------------------- sort/filter
def sort_by(frames: Sequence[Frame], sort: tuple[tuple[str, bool], ...]) -> list[Frame]:
    out = []
    for fr in frames:
        if not sort or fr.field(sort[0][0]) is None:
            out.append(fr)
            continue
        name, desc = sort[0]
        f = fr.field(name)
        assert f is not None
        if f.type == "string":
            order = sorted(range(fr.length), key=lambda i: (f.values[i] is None, str(f.values[i])),
                           reverse=desc)
            idx = np.array(order, dtype=np.int64)
        else:
            vals = np.where(np.isnan(f.values), np.inf if not desc else -np.inf, f.values)
            idx = np.argsort(-vals if desc else vals, kind="stable")
        out.append(with_fields(fr, (replace(x, values=x.values[idx]) for x in fr.fields)))
    return out


def filter_fields_by_name(frames: Sequence[Frame], opts: dict[str, Any]) -> list[Frame]:
    inc, inc_rx = set(opts.get("include") or ()), opts.get("includePattern") or ""
    exc, exc_rx = set(opts.get("exclude") or ()), opts.get("excludePattern") or ""
    out = []
    for fr in frames:
        kept = []
        for f in fr.fields:
            included = (not inc and not inc_rx) or f.name in inc or \
                (inc_rx and re.search(inc_rx, f.name))
            excluded = f.name in exc or (exc_rx and re.search(exc_rx, f.name))
            if included and not excluded:
                kept.append(f)
        out.append(with_fields(fr, kept))
    return out


def reduce_rows(frames: Sequence[Frame], reducers: tuple[str, ...]) -> list[Frame]:
    names, cols = [], {r: [] for r in reducers}
    for fr in frames:
        for f in fr.number_fields():
            names.append(f.name)
            for r in reducers:
                cols[r].append(_nan(calcs.reduce(f.values, r)))
    fields = [Field("Field", "string", np.array(names, dtype=object))]
    fields += [Field(calcs.label(r), "number", np.array(cols[r], dtype=np.float64)) for r in reducers]
    return [Frame(tuple(fields))]


def filter_by_ref_id(frames: Sequence[Frame], include: str) -> list[Frame]:
    if not include:
        return list(frames)
    wanted = set(include.split("|"))
    return [fr for fr in frames if fr.ref_id in wanted]


def apply_transformations(frames: Sequence[Frame], transformations: Sequence[Transformation],
                          ) -> tuple[list[Frame], list[str]]:
    """Run the panel's transformations; returns the frames and the ids it skipped
    (ones Spyglass does not implement), which the panel inspector lists."""
    out = list(frames)
    skipped = []
    for t in transformations:
        if t.disabled:
            continue
        o = dict(t.options)
        if t.id == "merge":
            out = merge(out)
        elif t.id in ("joinByField", "seriesToColumns"):
            out = join_by_field(out, o.get("byField", ""), o.get("mode", "outer"))
        elif t.id == "organize":
            out = organize(out, o["excludeByName"], o["indexByName"], o["renameByName"])
        elif t.id == "groupBy":
            out = group_by(out, o["fields"])
        elif t.id == "calculateField":
            out = calculate_field(out, o)
        elif t.id == "labelsToFields":
            out = labels_to_fields(out, o["mode"], o["valueLabel"], o["keepLabels"])
        elif t.id == "sortBy":
            out = sort_by(out, o["sort"])
        elif t.id == "filterFieldsByName":
            out = filter_fields_by_name(out, o)
        elif t.id == "reduce":
            out = reduce_rows(out, o["reducers"])
        elif t.id == "filterByRefId":
            out = filter_by_ref_id(out, o["include"])
        else:
            skipped.append(t.id)
    return out, skipped


