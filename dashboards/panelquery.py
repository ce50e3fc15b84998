"""Running a panel's queries: interpolate, pick instant or range, size the step to
the panel's pixel width (server-side downsampling), query in parallel, and turn
the answers into frames with transformations applied.

Range queries run on a grid aligned to absolute multiples of the step (start and
end rounded down to it, as Grafana does), so that consecutive loads ask for the
same steps and ``QueryCache`` can answer the old ones from memory. Identical
queries of several panels in one batch run once."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

from dashboards.client import APIError, PrometheusClient, QueryResult
from dashboards.grafana.frames import Frame, legend_name, series_frame, table_frames
from dashboards.grafana.model import Panel, Target
from dashboards.grafana.template import ScopeValue, builtin_scope, interpolate
from dashboards.grafana.timerange import (
    DEFAULT_SCRAPE_INTERVAL_MS,
    TimeRange,
    calculate_interval,
    interval_ms,
    rate_interval,
)
from dashboards.grafana.transforms import apply_transformations
from dashboards.querycache import QueryCache

# Panels whose instant targets are read as one value per series.
_REDUCING = frozenset({"stat", "gauge", "bargauge", "table"})


@dataclass(frozen=True, slots=True)
class TargetRun:
    """What one target did, for the query inspector."""

    ref_id: str
    expr: str
    kind: str  # "range" | "instant"
    step_s: float
    elapsed_s: float
    series: int
    samples: int
    error: str = ""
    cache: str = ""  # how the query cache answered: hit, partial, miss, uncacheable


@dataclass(frozen=True, slots=True)
class PanelData:
    frames: tuple[Frame, ...]
    runs: tuple[TargetRun, ...]
    interval_ms: int
    error: str = ""
    skipped_transformations: tuple[str, ...] = ()
    elapsed_s: float = 0.0


def max_data_points(panel: Panel, width_px: int) -> int:
    """One point per pixel of the panel, or fewer when the panel asks."""
    width = max(int(width_px), 50)
    return min(panel.max_data_points or width, width)


def _target_kind(panel: Panel, t: Target) -> str:
    if t.format == "table" or (t.instant and not t.range):
        return "instant"
    if t.instant and panel.type in _REDUCING:
        return "instant"
    return "range"


@dataclass(frozen=True, slots=True)
class PanelRequest:
    """One panel to fill: its key in the page, scope (repeat values included) and width."""

    key: str
    panel: Panel
    scope: Mapping[str, ScopeValue]
    width_px: int


@dataclass(frozen=True, slots=True)
class _Plan:
    key: str
    target: Target
    expr: str
    kind: str
    step_ms: int

    def query_key(self, tr: TimeRange) -> tuple:
        """Plans with equal keys ask the API the same question."""
        if self.kind == "instant":
            return (self.expr, "instant", tr.to_ms)
        return (self.expr, "range", self.step_ms)


def _plan(req: PanelRequest, tr: TimeRange, scrape_interval_ms: int,
          dashboard_title: str) -> tuple[list[_Plan], int]:
    panel, scope = req.panel, req.scope
    mdp = max_data_points(panel, req.width_px)
    try:
        min_panel = interval_ms(interpolate(panel.interval, scope)) if panel.interval else 0
    except ValueError:
        min_panel = 0
    plans = []
    for t in panel.targets:
        if t.hide or not t.expr.strip():
            continue
        try:
            min_t = interval_ms(interpolate(t.interval, scope)) if t.interval else 0
        except ValueError:
            min_t = 0
        # the datasource's scrape interval is the floor unless the panel sets its own
        floor = max(min_panel, min_t) or scrape_interval_ms
        iv = calculate_interval(tr.span_ms, mdp, max(floor, 1))
        builtins = builtin_scope(from_ms=tr.from_ms, to_ms=tr.to_ms, interval_ms=iv,
                                 rate_interval_ms=rate_interval(iv, scrape_interval_ms),
                                 dashboard=dashboard_title)
        expr = interpolate(t.expr, {**scope, **builtins})
        plans.append(_Plan(req.key, t, expr, _target_kind(panel, t), iv * t.interval_factor))
    panel_iv = plans[0].step_ms if plans else calculate_interval(
        tr.span_ms, mdp, max(min_panel or scrape_interval_ms, 1))
    return plans, panel_iv


def aligned_range(tr: TimeRange, step_ms: int) -> tuple[int, int]:
    """(start, end) in ms rounded down to multiples of the step."""
    step_ms = max(step_ms, 1)
    return tr.from_ms // step_ms * step_ms, tr.to_ms // step_ms * step_ms


def _execute(api: PrometheusClient, plan: _Plan, tr: TimeRange, cache: QueryCache | None,
             ) -> tuple[QueryResult | None, str, str, float]:
    """(result, error, how the cache answered, seconds) of one plan."""
    q0 = time.perf_counter()
    how = ""
    try:
        if plan.kind == "instant":
            if cache is not None:
                res, how = cache.query(api, plan.expr, tr.to_ms)
            else:
                res = api.query(plan.expr, tr.to_ms / 1000)
        else:
            start, end = aligned_range(tr, plan.step_ms)
            if cache is not None:
                res, how = cache.query_range(api, plan.expr, start, end, plan.step_ms)
            else:
                res = api.query_range(plan.expr, start / 1000, end / 1000, plan.step_ms / 1000)
    except APIError as e:
        return None, e.message, how, time.perf_counter() - q0
    return res, "", how, time.perf_counter() - q0


def run_panels(api: PrometheusClient, requests: Sequence[PanelRequest], tr: TimeRange, *,
               scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS,
               executor: Executor | None = None, dashboard_title: str = "",
               cache: QueryCache | None = None,
               prefetch: Sequence[PanelRequest] = ()) -> dict[str, PanelData]:
    """Query every visible target of every panel — all at once on ``executor``, each
    distinct query once, through ``cache`` when given — and build each panel's
    frames, transformations applied.

    ``prefetch``: panels wanted soon after (the rows below a page's first screen):
    their queries are queued on ``executor`` behind these and not waited for; their
    answers land in ``cache`` for the call that renders them."""
    t0 = time.perf_counter()
    all_plans: list[_Plan] = []
    intervals: dict[str, int] = {}
    for req in requests:
        plans, iv = _plan(req, tr, scrape_interval_ms, dashboard_title)
        all_plans.extend(plans)
        intervals[req.key] = iv
    distinct: dict[tuple, _Plan] = {}
    for p in all_plans:
        distinct.setdefault(p.query_key(tr), p)
    todo = list(distinct.items())

    def run(item: tuple[tuple, _Plan]) -> tuple[tuple, tuple[QueryResult | None, str, str, float]]:
        return item[0], _execute(api, item[1], tr, cache)

    if executor is not None and (len(todo) > 1 or prefetch):
        futures = [executor.submit(run, item) for item in todo]
        if cache is not None:
            _prefetch(api, prefetch, tr, set(distinct), scrape_interval_ms, executor,
                      dashboard_title, cache)
        done = dict(f.result() for f in futures)
    else:
        done = dict(map(run, todo))
    by_key: dict[str, list[tuple[Target, QueryResult | None, TargetRun]]] = {}
    for plan in all_plans:
        res, error, how, elapsed = done[plan.query_key(tr)]
        step_s = plan.step_ms / 1000
        run_info = TargetRun(plan.target.ref_id, plan.expr, plan.kind, step_s, elapsed,
                             len(res.series) if res else 0, res.samples if res else 0, error, how)
        by_key.setdefault(plan.key, []).append((plan.target, res, run_info))
    out = {}
    for req in requests:
        got = by_key.get(req.key, [])
        frames = _frames(req.panel, got)
        skipped: list[str] = []
        if req.panel.transformations:
            frames, skipped = apply_transformations(frames, req.panel.transformations)
        errors = [f"{r.ref_id}: {r.error}" if len(got) > 1 else r.error
                  for _, _, r in got if r.error]
        out[req.key] = PanelData(tuple(frames), tuple(r for _, _, r in got), intervals[req.key],
                                 "\n".join(errors), tuple(skipped), time.perf_counter() - t0)
    return out


def _prefetch(api: PrometheusClient, requests: Sequence[PanelRequest], tr: TimeRange,
              asked: set[tuple], scrape_interval_ms: int, executor: Executor, dashboard_title: str,
              cache: QueryCache) -> None:
    seen = set(asked)
    for req in requests:
        for plan in _plan(req, tr, scrape_interval_ms, dashboard_title)[0]:
            key = plan.query_key(tr)
            if key not in seen:
                seen.add(key)
                # the answer (or error) goes to the cache; nobody waits for it here
                executor.submit(_execute, api, plan, tr, cache)


def run_panel(api: PrometheusClient, panel: Panel, tr: TimeRange, scope: Mapping[str, ScopeValue],
              width_px: int, *, scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS,
              executor: Executor | None = None, dashboard_title: str = "",
              cache: QueryCache | None = None) -> PanelData:
    """One panel's data (see ``run_panels``)."""
    return run_panels(api, [PanelRequest("p", panel, scope, width_px)], tr,
                      scrape_interval_ms=scrape_interval_ms, executor=executor,
                      dashboard_title=dashboard_title, cache=cache)["p"]


def _frames(panel: Panel, answers: Sequence[tuple[Target, QueryResult | None, TargetRun]],
            ) -> list[Frame]:
    tables = []
    frames: list[Frame] = []
    for t, res, _ in answers:
        if res is None:
            continue
        if t.format == "table":
            rows = [(s.labels, float(s.timestamps[-1]), float(s.values[-1]))
                    for s in res.series if len(s.values)]
            tables.append((t.ref_id, rows))
            continue
        for s in res.series:
            name = legend_name(t.legend_format, s.labels, t.expr)
            frames.append(series_frame(s.labels, s.timestamps, s.values, name, t.ref_id))
    if tables:
        frames = table_frames(tables) + frames
    return frames
