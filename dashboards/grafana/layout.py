"""Where panels go: rows (open and collapsed), repeated panels and repeated rows.

The dashboard is cut into sections, one per row (plus the panels above the first
row); each section is laid out on its own 24-column grid so that collapsing a
row closes its gap, as in Grafana.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from dashboards.grafana.model import EMPTY, Dashboard, GridPos, Panel
from dashboards.grafana.template import VarValue


@dataclass(frozen=True, slots=True)
class PlacedPanel:
    """A panel at its grid position; ``key`` is unique in the dashboard (repeats get
    ``<id>-r<n>``) and ``scoped`` holds the value a repeat gave it."""

    key: str
    panel: Panel
    grid: GridPos
    scoped: Mapping[str, VarValue] = field(default_factory=lambda: EMPTY)


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    collapsed: bool
    panels: tuple[PlacedPanel, ...]
    is_row: bool = True
    scoped: Mapping[str, VarValue] = field(default_factory=lambda: EMPTY)
    repeat: str = ""


def _values_of(var: VarValue | None) -> list[str]:
    if var is None:
        return []
    return list(var.effective)


def _single(var: VarValue, value: str, text: str) -> VarValue:
    return VarValue((value,), (text,), multi=False, include_all=False)


def _expand_panel(p: Panel, key: str, variables: Mapping[str, VarValue],
                  scoped: Mapping[str, VarValue]) -> list[PlacedPanel]:
    var = variables.get(p.repeat) if p.repeat else None
    values = _values_of(var)
    if not p.repeat or var is None or not values:
        return [PlacedPanel(key, p, p.grid, scoped)]
    texts = list(var.texts) if not var.is_all and len(var.texts) == len(values) else values
    n = len(values)
    out = []
    if p.repeat_direction == "v":
        for i, (v, t) in enumerate(zip(values, texts)):
            g = replace(p.grid, y=p.grid.y + i * p.grid.h)
            out.append(PlacedPanel(f"{key}-r{i}", p, g,
                                   MappingProxyType({**scoped, p.repeat: _single(var, v, t)})))
        return out
    per_row = max(1, min(n, p.max_per_row))
    w = max(24 // per_row, 1)
    for i, (v, t) in enumerate(zip(values, texts)):
        col, line = i % per_row, i // per_row
        g = GridPos(x=col * w, y=p.grid.y + line * p.grid.h, w=w, h=p.grid.h)
        out.append(PlacedPanel(f"{key}-r{i}", p, g,
                               MappingProxyType({**scoped, p.repeat: _single(var, v, t)})))
    return out


def _pack(placed: list[PlacedPanel]) -> tuple[PlacedPanel, ...]:
    """Vertical compaction, as Grafana's grid does: in (y, x) order each panel rises
    until it meets one above it. This makes y relative to the section, closes the gaps
    collapsed rows leave in their children's saved positions (NEF's children sit at
    y≈200 and more), and pushes down what a grown repeat would overlap."""
    if not placed:
        return ()
    placed = sorted(placed, key=lambda pp: (pp.grid.y, pp.grid.x))
    heights = [0] * 24
    out = []
    # copies of one repeat keep their reading order: none rises above the one before
    group_floor: dict[str, int] = {}
    for pp in placed:
        g = pp.grid
        floor = max(heights[g.x:g.x + g.w] or [0])
        group = pp.key.rsplit("-r", 1)[0] if "-r" in pp.key else ""
        y = max(floor, group_floor.get(group, 0) if group else 0)
        if group:
            group_floor[group] = y
        for c in range(g.x, min(g.x + g.w, 24)):
            heights[c] = y + g.h
        out.append(replace(pp, grid=replace(g, y=y)))
    return tuple(out)


def sections(d: Dashboard, variables: Mapping[str, VarValue],
             collapsed: Mapping[str, bool] | None = None) -> list[Section]:
    """The dashboard's sections in order, with repeats expanded.

    ``collapsed`` overrides a row's saved state by section key (a click on a row).
    """
    collapsed = collapsed or {}
    raw: list[tuple[Panel | None, list[Panel]]] = []
    current: tuple[Panel | None, list[Panel]] = (None, [])
    for p in d.panels:
        if p.type == "row":
            raw.append(current)
            current = (p, list(p.panels) if p.collapsed else [])
        elif current[0] is not None and current[0].collapsed:
            # a panel after a collapsed row but outside it belongs to no row in
            # Grafana's model only when it sits above the row; keep JSON order
            current[1].append(p)
        else:
            current[1].append(p)
    raw.append(current)
    out: list[Section] = []
    for si, (row, panels) in enumerate(raw):
        if row is None and not panels:
            continue
        base_key = f"s{row.id}" if row is not None else "top"
        row_var = variables.get(row.repeat) if row is not None and row.repeat else None
        row_values = _values_of(row_var) if row_var is not None else []
        repeats: list[Mapping[str, VarValue]] = [EMPTY]
        if row is not None and row.repeat and row_var is not None and row_values:
            texts = list(row_var.texts) if not row_var.is_all and \
                len(row_var.texts) == len(row_values) else row_values
            repeats = [MappingProxyType({row.repeat: _single(row_var, v, t)})
                       for v, t in zip(row_values, texts)]
        for ri, scoped in enumerate(repeats):
            key = base_key if len(repeats) == 1 else f"{base_key}-r{ri}"
            placed: list[PlacedPanel] = []
            for p in panels:
                pkey = f"{p.id}" if len(repeats) == 1 else f"{p.id}-rr{ri}"
                placed.extend(_expand_panel(p, pkey, variables, scoped))
            is_collapsed = collapsed.get(key, row.collapsed if row is not None else False)
            out.append(Section(key=key, title=row.title if row is not None else "",
                               collapsed=is_collapsed, panels=_pack(placed),
                               is_row=row is not None, scoped=scoped,
                               repeat=row.repeat if row is not None else ""))
    return _dedupe_keys(out)


def _dedupe_keys(secs: list[Section]) -> list[Section]:
    # Hand-written JSON repeats panel ids; callback ids must be unique, so number
    # any repeated key by position.
    seen: set[str] = set()
    fixed = []
    for s in secs:
        skey = s.key
        while skey in seen:
            skey += "x"
        seen.add(skey)
        panels = []
        for pp in s.panels:
            k = pp.key
            while k in seen:
                k += "x"
            seen.add(k)
            panels.append(replace(pp, key=k) if k != pp.key else pp)
        fixed.append(replace(s, key=skey, panels=tuple(panels)))
    return fixed
