"""Template variables at run time: options from the API (cached), the selection
from the URL or the saved dashboard, and the scope panels interpolate with.

Variables resolve in dashboard order, each with the values of those before it,
which is what makes chained variables (cluster → namespace → pod) work.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from dashboards.client import APIError, PrometheusClient
from dashboards.grafana.errors import DashboardError
from dashboards.grafana.frames import legend_name
from dashboards.grafana.model import Dashboard, Variable, VariableOption
from dashboards.grafana.template import ALL, ScopeValue, VarValue, interpolate
from dashboards.grafana.timerange import (
    TimeRange,
    calculate_interval,
)
from dashboards.grafana.timerange import (
    interval_ms as parse_interval,
)
from dashboards.grafana.varquery import (
    apply_regex,
    parse_variable_query,
    sort_options,
    split_custom,
)
from dashboards.telemetry import DashboardsTelemetry
from spyglass.configtypes import format_duration_ms

DATASOURCE_NAME = "Spyglass"


@dataclass(frozen=True, slots=True)
class ResolvedVariable:
    """A variable with its options and current selection (``ALL`` for "All")."""

    variable: Variable
    options: tuple[VariableOption, ...]
    selected: tuple[str, ...]
    error: str = ""

    @property
    def name(self) -> str:
        return self.variable.name

    def value(self) -> VarValue:
        v = self.variable
        real = [o.value for o in self.options if o.value != ALL]
        is_all = ALL in self.selected
        texts = tuple(next((o.text for o in self.options if o.value == s), s) for s in self.selected)
        return VarValue(
            values=tuple(real) if is_all else self.selected,
            texts=texts,
            multi=v.multi,
            include_all=v.include_all,
            is_all=is_all,
            all_value=v.all_value,
            all_values=tuple(real),
        )


class VariableCache:
    """Answers of variable queries for ``ttl_s`` seconds (dashboards re-ask the same
    ``label_values(…)`` on every load and time change)."""

    def __init__(self, ttl_s: float = 30.0, clock: Callable[[], float] = time.monotonic,
                 telemetry: DashboardsTelemetry | None = None, max_entries: int = 2048):
        self.ttl_s = ttl_s
        self._clock = clock
        self._t = telemetry or DashboardsTelemetry.for_registry()
        self._max = max_entries
        self._data: dict[tuple, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple, load: Callable[[], list[str]]) -> list[str]:
        now = self._clock()
        with self._lock:
            hit = self._data.get(key)
            if hit and now - hit[0] < self.ttl_s:
                self._t.variable_cache.labels("hit").inc()
                return hit[1]
        self._t.variable_cache.labels("miss").inc()
        values = load()
        with self._lock:
            if len(self._data) >= self._max:
                # drop the oldest half; cheap and enough for a UI cache
                for k in sorted(self._data, key=lambda k: self._data[k][0])[: self._max // 2]:
                    del self._data[k]
            self._data[key] = (now, values)
        return values


def query_values(api: PrometheusClient, text: str, tr: TimeRange, cache: VariableCache,
                 refresh: int) -> list[str]:
    """The raw option values of a query variable's (already interpolated) query."""
    q = parse_variable_query(text)
    start, end = tr.from_ms / 1000, tr.to_ms / 1000
    # Round the range so the cache key survives "now" moving on.
    bucket = 60.0
    key_range = (round(start / bucket), round(end / bucket)) if refresh == 2 else ()
    key = (q.kind, q.match, q.label) + key_range

    def load() -> list[str]:
        if q.kind == "label_values":
            return api.label_values(q.label, q.match or None, start, end)
        if q.kind == "label_names":
            return api.labels(q.match or None, start, end)
        if q.kind == "metrics":
            names = api.label_values("__name__", None, start, end)
            if not q.match:
                return names
            import re
            try:
                rx = re.compile(q.match)
            except re.error as e:
                raise DashboardError(f"metrics(): invalid regex: {e}") from None
            return [n for n in names if rx.search(n)]
        result = api.query(q.match, end)
        out = []
        for s in result.series:
            name = legend_name("", s.labels)
            ts_ms = int(s.timestamps[-1] * 1000) if len(s.timestamps) else 0
            out.append(f"{name} {s.values[-1]:g} {ts_ms}")
        return out

    return cache.get(key, load)


def _options(var: Variable, api: PrometheusClient, scope: Mapping[str, ScopeValue],
             tr: TimeRange, cache: VariableCache) -> list[tuple[str, str]]:
    if var.type == "query":
        text = interpolate(var.query, scope)
        if not text.strip():
            return []
        values = query_values(api, text, tr, cache, var.refresh)
        return sort_options(apply_regex(values, var.regex), var.sort)
    if var.type == "custom":
        return split_custom(var.query)
    if var.type == "interval":
        opts = [(x, x) for x in (p.strip() for p in var.query.split(",")) if x]
        if var.auto:
            opts.insert(0, ("auto", f"$__auto_interval_{var.name}"))
        return opts
    if var.type == "constant":
        return [(var.query, var.query)]
    if var.type == "textbox":
        return [(var.query, var.query)] if var.query else []
    if var.type == "datasource":
        return [(DATASOURCE_NAME, "default")]
    return []  # adhoc: filters are not applied by Spyglass (documented)


def _choose(var: Variable, options: list[VariableOption], requested: Sequence[str] | None,
            ) -> tuple[str, ...]:
    values = {o.value for o in options}
    texts = {o.text: o.value for o in options}

    def valid(sel: Sequence[str]) -> tuple[str, ...]:
        out = []
        for s in sel:
            if s in values:
                out.append(s)
            elif s in ("All", ALL) and var.include_all:
                out.append(ALL)
            elif s in texts:
                out.append(texts[s])
        return tuple(out if var.multi else out[:1])

    if var.type == "textbox" and requested:
        return (requested[0],)
    if requested:
        sel = valid(requested)
        if sel:
            return sel
        if var.type in ("query", "custom") and not options:
            return tuple(requested[:1])
    if var.current:
        sel = valid(var.current) or valid(var.current_text)
        if sel:
            return sel
    if var.type == "textbox":
        return (var.query,)
    if not options:
        return ()
    return (options[0].value,)


def resolve_variables(d: Dashboard, api: PrometheusClient, tr: TimeRange,
                      requested: Mapping[str, Sequence[str]], cache: VariableCache,
                      ) -> list[ResolvedVariable]:
    """Every variable of ``d`` with options and selection, in order."""
    scope: dict[str, ScopeValue] = {
        "__range": f"{tr.span_ms // 1000}s", "__range_s": str(tr.span_ms // 1000),
        "__range_ms": str(tr.span_ms), "__from": str(tr.from_ms), "__to": str(tr.to_ms),
        "__dashboard": d.title,
    }
    out = []
    for var in d.variables:
        error = ""
        try:
            raw = _options(var, api, scope, tr, cache)
        except (APIError, DashboardError) as e:
            raw, error = [], str(e)
        options = [VariableOption(t, v) for t, v in raw]
        if var.include_all and var.type in ("query", "custom", "interval"):
            options.insert(0, VariableOption("All", ALL))
        selected = _choose(var, options, requested.get(var.name))
        rv = ResolvedVariable(var, tuple(options), selected, error)
        out.append(rv)
        value = rv.value()
        if var.type == "interval" and value.values and value.values[0].startswith("$__auto_interval"):
            auto = calculate_interval(tr.span_ms, var.auto_count, parse_interval(var.auto_min))
            value = VarValue((format_duration_ms(auto),), ("auto",))
            scope[f"__auto_interval_{var.name}"] = format_duration_ms(auto)
        scope[var.name] = value
    return out


def scope_of(resolved: Sequence[ResolvedVariable], tr: TimeRange) -> dict[str, ScopeValue]:
    """Variable values for panel interpolation (built-ins are added per panel)."""
    scope: dict[str, ScopeValue] = {}
    for rv in resolved:
        value = rv.value()
        if rv.variable.type == "interval" and value.values and \
                value.values[0].startswith("$__auto_interval"):
            auto = calculate_interval(tr.span_ms, rv.variable.auto_count,
                                      parse_interval(rv.variable.auto_min))
            value = VarValue((format_duration_ms(auto),), ("auto",))
        scope[rv.name] = value
    return scope
