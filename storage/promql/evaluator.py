"""The evaluator: walks the syntax tree once, each node computing all steps at once.

``Evaluator(ctx, grid).eval(node)`` returns a ``StepVector``, ``StepScalar``,
``StepString`` or (for range-vector expressions) ``RangeSeries``. Subqueries
evaluate their inner expression on their own grid with a child evaluator;
step-invariant sub-expressions (everything under ``@``) are evaluated once on a
one-step grid and repeated, as Prometheus does::

    ev = Evaluator(ctx, Grid(start, end, step))
    value = ev.eval(preprocess(tree, start, end))
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from storage.interface import SelectHints
from storage.labels import METRIC_NAME, Labels
from storage.promql import aggregations, ast, binops, functions, histograms, range_functions
from storage.promql import annotations as notes_
from storage.promql.annotations import Annotations
from storage.promql.errors import EvaluationError, PromQLError, StorageReadError
from storage.promql.grid import (
    DUPLICATE_LABELSET, Grid, RangeSeries, StepScalar, StepString, StepVector, broadcast_steps,
    merge_same_labels,
)
from storage.promql.limits import QueryLimits
from storage.promql.range_functions import Windows
from storage.promql.selectors import Points, instant_values, points_from_vector, range_series

# Functions whose value depends on the evaluation time even when their
# arguments do not (Prometheus's AtModifierUnsafeFunctions).
AT_MODIFIER_UNSAFE = frozenset({
    "days_in_month", "day_of_month", "day_of_week", "day_of_year", "hour", "minute", "month",
    "year", "predict_linear", "time", "timestamp", "start", "end", "range", "step",
})
SORT_FUNCTIONS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")
NATIVE_HISTOGRAM_FUNCTIONS = frozenset({
    "histogram_count", "histogram_sum", "histogram_avg", "histogram_stddev", "histogram_stdvar",
})


@dataclass
class EvalContext:
    """What every evaluator of one query shares."""

    query: str
    queryable: object
    lookback_ms: int
    subquery_step_ms: int
    limits: QueryLimits
    notes: Annotations
    delayed_name_removal: bool = True
    queriers: dict = field(default_factory=dict)
    series_fetched: int = 0

    def querier(self, mint: int, maxt: int):
        q = self.queriers.get((mint, maxt))
        if q is None:
            try:
                q = self.queryable.querier(mint, maxt)
            except PromQLError:
                raise
            except Exception as e:
                raise StorageReadError(f"opening querier: {e}") from e
            self.queriers[(mint, maxt)] = q
        return q

    def close(self) -> None:
        for q in self.queriers.values():
            try:
                q.close()
            except Exception:
                pass
        self.queriers.clear()


# --- preprocessing ---------------------------------------------------------------

def resolve_at(e: ast.Expr, start_ms: int, end_ms: int, step_ms: int = 0) -> ast.Expr:
    """Turn ``@ start()``/``@ end()`` into times and the query-context functions
    ``start()``, ``end()``, ``range()``, ``step()`` into numbers, and unwrap
    parentheses around function arguments and aggregation operands (Prometheus
    does too: it makes ``timestamp((x))`` see the selector)."""
    context = {
        "start": start_ms / 1000.0,
        "end": end_ms / 1000.0,
        "range": (end_ms - start_ms) / 1000.0,
        "step": step_ms / 1000.0 if start_ms != end_ms else 0.0,
    }

    def fix_at(at: ast.AtModifier | None) -> ast.AtModifier | None:
        if at is None or at.kind == "at":
            return at
        return ast.AtModifier("at", start_ms if at.kind == "start" else end_ms)

    def walk(n: ast.Expr) -> ast.Expr:
        if isinstance(n, ast.VectorSelector):
            return replace(n, at=fix_at(n.at)) if n.at is not None else n
        if isinstance(n, ast.MatrixSelector):
            return replace(n, selector=walk(n.selector))
        if isinstance(n, ast.Subquery):
            return replace(n, expr=walk(n.expr), at=fix_at(n.at))
        if isinstance(n, ast.Call):
            if n.func in context and not n.args:
                return ast.NumberLiteral(n.pos, context[n.func])
            return replace(n, args=tuple(walk(ast.unwrap_parens(a)) for a in n.args))
        if isinstance(n, ast.Aggregate):
            return replace(n, expr=walk(ast.unwrap_parens(n.expr)),
                           param=None if n.param is None else walk(ast.unwrap_parens(n.param)))
        if isinstance(n, ast.Binary):
            return replace(n, lhs=walk(n.lhs), rhs=walk(n.rhs))
        if isinstance(n, (ast.Unary, ast.Paren, ast.StepInvariant)):
            return replace(n, expr=walk(n.expr))
        return n

    return walk(e)


def mark_step_invariant(e: ast.Expr) -> ast.Expr:
    """Wrap sub-expressions whose value does not change from step to step."""

    def wrap(n: ast.Expr) -> ast.Expr:
        return ast.StepInvariant(n.pos, n)

    def helper(n: ast.Expr) -> tuple[ast.Expr, bool, bool]:
        # returns (new node, is step invariant, should be wrapped)
        if isinstance(n, ast.VectorSelector):
            inv = n.at is not None
            return n, inv, inv
        if isinstance(n, ast.Aggregate):
            inner, inv, _ = helper(n.expr)
            return replace(n, expr=inner), inv, inv
        if isinstance(n, ast.Binary):
            lhs, li, lw = helper(n.lhs)
            rhs, ri, rw = helper(n.rhs)
            if li and ri:
                return replace(n, lhs=lhs, rhs=rhs), True, True
            return replace(n, lhs=wrap(lhs) if lw else lhs, rhs=wrap(rhs) if rw else rhs), False, False
        if isinstance(n, ast.Call):
            inv = n.func not in AT_MODIFIER_UNSAFE
            ts_safe = n.func == "timestamp"
            new_args, wraps = [], []
            for a in n.args:
                na, ai, aw = helper(a)
                new_args.append(na)
                wraps.append(aw)
                inv = inv and ai
                if not ai or not isinstance(na, ast.VectorSelector):
                    ts_safe = False
            if inv or ts_safe:
                return replace(n, args=tuple(new_args)), True, True
            return replace(n, args=tuple(wrap(a) if w else a for a, w in zip(new_args, wraps))), False, False
        if isinstance(n, ast.MatrixSelector):
            _, inv, _ = helper(n.selector)
            return n, inv, False
        if isinstance(n, ast.Subquery):
            inner, inv, _ = helper(n.expr)
            if inv:
                inner = wrap(inner)
            return replace(n, expr=inner), n.at is not None, False
        if isinstance(n, (ast.Paren, ast.Unary)):
            inner, inv, w = helper(n.expr)
            return replace(n, expr=inner), inv, w
        if isinstance(n, (ast.NumberLiteral, ast.StringLiteral)):
            return n, True, False
        if isinstance(n, ast.StepInvariant):
            return n, True, False
        raise EvaluationError(f"unexpected node {type(n).__name__}")

    new, _, should_wrap = helper(e)
    return wrap(new) if should_wrap else new


def preprocess(e: ast.Expr, start_ms: int, end_ms: int, step_ms: int = 0) -> ast.Expr:
    return mark_step_invariant(resolve_at(e, start_ms, end_ms, step_ms))


# --- evaluation ------------------------------------------------------------------

def _num_points(v) -> int:
    if isinstance(v, StepVector):
        return v.points()
    if isinstance(v, StepScalar):
        return len(v.values)
    if isinstance(v, RangeSeries):
        return v.points()
    return 0


class Evaluator:
    def __init__(self, ctx: EvalContext, grid: Grid):
        self.ctx = ctx
        self.grid = grid
        self.T = grid.num_steps

    # --- helpers ----------------------------------------------------------------
    def eval(self, e: ast.Expr):
        limits = self.ctx.limits
        limits.check()
        before = limits.current
        out = self._eval(e)
        n = _num_points(out)
        limits.charge(n)
        limits.current = before + n
        return out

    def scalar(self, e: ast.Expr) -> np.ndarray:
        v = self.eval(e)
        if not isinstance(v, StepScalar):
            raise EvaluationError(f"expected a scalar, got {type(v).__name__}")
        return v.values

    def vector(self, e: ast.Expr) -> StepVector:
        v = self.eval(e)
        if not isinstance(v, StepVector):
            raise EvaluationError(f"expected an instant vector, got {type(v).__name__}")
        return v

    def drop_name(self, v: StepVector, rows: np.ndarray | None = None, strict: bool = False) -> StepVector:
        """Mark the series' metric names for removal (Prometheus 3.x delayed removal)
        or remove them now, merging series that become equal."""
        if self.ctx.delayed_name_removal:
            drop = v.drop_name.copy() if rows is not None else np.ones(len(v), bool)
            if rows is not None:
                drop[rows] = True
            v.drop_name = drop
            return v
        mask = np.ones(len(v), bool) if rows is None else np.zeros(len(v), bool)
        if rows is not None:
            mask[rows] = True
        labels = [ls.without(METRIC_NAME) if m else ls for ls, m in zip(v.labels, mask.tolist())]
        out = StepVector(labels, v.values, v.present, np.zeros(len(labels), bool), None, v.ordered)
        if strict and len(set(labels)) < len(labels):
            raise EvaluationError(DUPLICATE_LABELSET)
        return merge_same_labels(out, keep_order=True)

    def fetch(self, vs: ast.VectorSelector, mint: int, maxt: int, range_ms: int = 0,
              func: str = "") -> Points:
        self.ctx.limits.check("query preparation")
        q = self.ctx.querier(mint, maxt)
        hints = SelectHints(step_ms=self.grid.step, range_ms=range_ms, func=func)
        try:
            ss = q.select(list(vs.matchers), hints)
        except PromQLError:
            raise
        except Exception as e:
            raise StorageReadError(f"expanding series: {e}") from e
        self.ctx.limits.read(ss.num_samples)
        self.ctx.limits.charge(ss.num_samples)
        self.ctx.series_fetched += len(ss)
        return Points.from_series_set(ss)

    def ref_times(self, offset_ms: int, at: ast.AtModifier | None) -> np.ndarray:
        if at is not None:
            return np.array([at.ms - offset_ms], dtype=np.int64)
        return self.grid.times - offset_ms

    def widen(self, v: StepVector) -> StepVector:
        return broadcast_steps(v, self.T) if v.num_steps != self.T else v

    # --- dispatch ---------------------------------------------------------------
    def _eval(self, e: ast.Expr):
        if isinstance(e, ast.NumberLiteral):
            return StepScalar(np.full(self.T, e.val))
        if isinstance(e, ast.StringLiteral):
            return StepString(e.val)
        if isinstance(e, ast.Paren):
            return self.eval(e.expr)
        if isinstance(e, ast.StepInvariant):
            return self.step_invariant(e)
        if isinstance(e, ast.VectorSelector):
            return self.vector_selector(e)
        if isinstance(e, ast.MatrixSelector):
            return self.matrix_selector(e)
        if isinstance(e, ast.Subquery):
            return self.subquery_value(e)
        if isinstance(e, ast.Call):
            return self.call(e)
        if isinstance(e, ast.Aggregate):
            return self.aggregate(e)
        if isinstance(e, ast.Binary):
            return self.binary(e)
        if isinstance(e, ast.Unary):
            return self.unary(e)
        raise EvaluationError(f"unhandled expression {type(e).__name__}")

    def step_invariant(self, e: ast.StepInvariant):
        inner = ast.unwrap_parens(e.expr)
        if self.T <= 1 or isinstance(inner, (ast.MatrixSelector, ast.Subquery)):
            return Evaluator(self.ctx, self.grid.single()).eval(e.expr)
        v = Evaluator(self.ctx, self.grid.single()).eval(e.expr)
        if isinstance(v, StepVector):
            return broadcast_steps(v, self.T)
        if isinstance(v, StepScalar):
            return StepScalar(np.repeat(v.values, self.T))
        return v

    # --- selectors ----------------------------------------------------------------
    def vector_selector(self, vs: ast.VectorSelector) -> StepVector:
        refs = self.ref_times(vs.offset_ms, vs.at)
        lookback = self.ctx.lookback_ms
        points = self.fetch(vs, int(refs.min()) - lookback + 1, int(refs.max()))
        out = instant_values(points, refs, lookback)
        return self.widen(out)

    def matrix_points(self, ms: ast.MatrixSelector, refs: np.ndarray, func: str = "") -> Points:
        vs = ms.selector
        points = self.fetch(vs, int(refs.min()) - ms.range_ms + 1, int(refs.max()), ms.range_ms, func)
        return points.without_stale()

    def matrix_selector(self, ms: ast.MatrixSelector) -> RangeSeries:
        ref = int(self.ref_times(ms.selector.offset_ms, ms.selector.at)[0])
        points = self.matrix_points(ms, np.array([ref]))
        return range_series(points, ref - ms.range_ms, ref)

    def subquery_grid(self, sq: ast.Subquery) -> Grid:
        step = sq.step_ms or self.ctx.subquery_step_ms
        if sq.at is not None:
            lo_edge = sq.at.ms - sq.offset_ms - sq.range_ms
            end = sq.at.ms - sq.offset_ms
        else:
            lo_edge = self.grid.start - sq.offset_ms - sq.range_ms
            last = self.grid.start + (self.T - 1) * self.grid.step if self.T else self.grid.start
            end = last - sq.offset_ms
        start = (lo_edge // step + 1) * step
        return Grid(start, end, step)

    def subquery_points(self, sq: ast.Subquery) -> tuple[Points, np.ndarray]:
        grid = self.subquery_grid(sq)
        inner = Evaluator(self.ctx, grid)
        v = inner.vector(sq.expr) if grid.num_steps > 0 else StepVector.empty(0)
        points = points_from_vector(v, grid.times)
        return points, v.drop_name

    def subquery_value(self, sq: ast.Subquery) -> RangeSeries:
        points, drop = self.subquery_points(sq)
        ref = int(sq.at.ms - sq.offset_ms) if sq.at is not None else self.grid.start - sq.offset_ms
        rs = range_series(points, ref - sq.range_ms, ref)
        keep = {ls: i for i, ls in enumerate(points.labels)}
        rs.drop_name = np.array([drop[keep[ls]] for ls in rs.labels], dtype=bool) if len(rs) else \
            np.zeros(0, bool)
        return rs

    def windows(self, arg: ast.Expr, func: str) -> tuple[Windows, np.ndarray, bool]:
        """The windows of a range argument at every step; also the input series'
        pending name drops and whether the windows are fixed by ``@``."""
        if isinstance(arg, ast.MatrixSelector):
            vs = arg.selector
            refs = self.ref_times(vs.offset_ms, vs.at)
            points = self.matrix_points(arg, refs, func)
            drop_in = np.zeros(len(points), bool)
            range_ms = arg.range_ms
            fixed = vs.at is not None
        elif isinstance(arg, ast.Subquery):
            points, drop_in = self.subquery_points(arg)
            refs = self.ref_times(arg.offset_ms, arg.at)
            range_ms = arg.range_ms
            fixed = arg.at is not None
        else:
            raise EvaluationError(f"expected a range vector argument for {func}()")
        starts = refs - range_ms
        lo, hi = (points.search(starts, "right"), points.search(refs, "right"))
        if fixed and self.T != 1:
            lo = np.broadcast_to(lo, (len(points), self.T))
            hi = np.broadcast_to(hi, (len(points), self.T))
            starts = np.broadcast_to(starts, (self.T,))
            refs = np.broadcast_to(refs, (self.T,))
        w = Windows(points, lo, hi, starts, refs, self.grid.times, range_ms)
        return w, drop_in, fixed

    # --- functions ----------------------------------------------------------------
    def call(self, c: ast.Call):
        name = c.func
        args = c.args
        if name in range_functions.RANGE_FUNCTIONS:
            return self.range_call(c)
        if name == "time":
            return StepScalar(self.grid.times / 1000.0)
        if name == "pi":
            return StepScalar(np.full(self.T, np.pi))
        if name in ("min_of", "max_of"):
            a, b = self.scalar(args[0]), self.scalar(args[1])
            return StepScalar(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))
        if name == "vector":
            s = self.scalar(args[0])
            return StepVector([Labels.EMPTY], s[None, :].copy(), np.ones((1, self.T), bool))
        if name == "scalar":
            v = self.vector(args[0])
            count = v.present.sum(axis=0)
            vals = np.where(v.present, v.values, 0.0).sum(axis=0) if len(v) else np.zeros(self.T)
            return StepScalar(np.where(count == 1, vals, np.nan))
        if name == "timestamp":
            return self.timestamp(c)
        if name in ("label_replace", "label_join"):
            v = self.vector(args[0])
            strs = [a.val for a in args[1:]]
            if name == "label_replace":
                return functions.label_replace(v, strs[0], strs[1], strs[2], strs[3])
            return functions.label_join(v, strs[0], strs[1], strs[2:])
        if name in SORT_FUNCTIONS:
            v = self.vector(args[0])
            if not self.grid.instant:
                self.ctx.notes.warn(notes_.sort_in_range_query(), c.pos)
                return v
            if name in ("sort", "sort_desc"):
                return functions.sort_by_value(v, name == "sort_desc")
            return functions.sort_by_label(v, [a.val for a in args[1:]], name == "sort_by_label_desc")
        if name == "absent":
            v = self.vector(args[0])
            arg = ast.unwrap_parens(args[0])
            labels = functions.absent_labels(arg.matchers) if isinstance(arg, ast.VectorSelector) \
                else Labels.EMPTY
            present = ~v.present.any(axis=0) if len(v) else np.ones(self.T, bool)
            return StepVector([labels], np.ones((1, self.T)), present[None, :]).nonempty()
        if name in functions.MATH:
            v = self.vector(args[0])
            out = StepVector(v.labels, functions.math_function(name, v.values), v.present,
                             v.drop_name, None, v.ordered)
            return self.drop_name(out)
        if name == "round":
            v = self.vector(args[0])
            to = self.scalar(args[1]) if len(args) > 1 else np.ones(self.T)
            out = StepVector(v.labels, functions.round_to(v.values, to[None, :]), v.present,
                             v.drop_name, None, v.ordered)
            return self.drop_name(out)
        if name in ("clamp", "clamp_min", "clamp_max"):
            v = self.vector(args[0])
            if name == "clamp":
                lo, hi = self.scalar(args[1]), self.scalar(args[2])
            elif name == "clamp_min":
                lo, hi = self.scalar(args[1]), np.full(self.T, np.inf)
            else:
                lo, hi = np.full(self.T, -np.inf), self.scalar(args[1])
            values, present = functions.clamp(v, lo, hi)
            out = StepVector(v.labels, values, present, v.drop_name, None, v.ordered).nonempty()
            return self.drop_name(out)
        if name in functions.DATE_FUNCTIONS:
            if not args:
                vals = functions.date_parts(name, (self.grid.times // 1000).astype(np.float64))
                return StepVector([Labels.EMPTY], vals[None, :], np.ones((1, self.T), bool))
            v = self.vector(args[0])
            out = StepVector(v.labels, functions.date_parts(name, v.values), v.present,
                             v.drop_name, None, v.ordered)
            return self.drop_name(out)
        if name == "histogram_quantile":
            q = self.scalar(args[0])
            v = self.vector(args[1])
            if np.isnan(q).any() or (q < 0).any() or (q > 1).any():
                bad = q[np.isnan(q) | (q < 0) | (q > 1)]
                for x in dict.fromkeys(bad.tolist()):
                    self.ctx.notes.warn(notes_.invalid_quantile(x), args[0].pos)
            delayed = self.ctx.delayed_name_removal
            lay = histograms.layout(v, self.ctx.notes, args[1].pos, delayed)
            if lay is None:
                return StepVector.empty(self.T)
            values, present = histograms.bucket_quantile(q, lay, self.grid.times, self.ctx.notes,
                                                         args[1].pos, delayed)
            out = StepVector(lay.labels, values, present, lay.drop_name).nonempty()
            return self.drop_name(out)
        if name == "histogram_quantiles":
            v = self.vector(args[0])
            label = args[1].val
            qs = [(self.scalar(a), a.pos) for a in args[2:]]
            for q, qpos in qs:
                for x in dict.fromkeys(q[np.isnan(q) | (q < 0) | (q > 1)].tolist()):
                    self.ctx.notes.warn(notes_.invalid_quantile(x), qpos)
            delayed = self.ctx.delayed_name_removal
            lay = histograms.layout(v, self.ctx.notes, args[0].pos, delayed)
            if lay is None:
                return StepVector.empty(self.T)
            parts = []
            for q, _ in qs:
                values, present = histograms.bucket_quantile(q, lay, self.grid.times, self.ctx.notes,
                                                             args[0].pos, delayed)
                # the label shows the quantile asked for at each step; a varying
                # quantile makes one series per value
                texts = [notes_.format_openmetrics_float(x) for x in q.tolist()]
                for text in dict.fromkeys(texts):
                    cols = np.array([t == text for t in texts])
                    labels = [ls.updated({label: text}) for ls in lay.labels]
                    parts.append(StepVector(labels, values, present & cols[None, :], lay.drop_name))
            out = StepVector(
                [ls for p in parts for ls in p.labels],
                np.concatenate([p.values for p in parts]),
                np.concatenate([p.present for p in parts]),
                np.concatenate([p.drop_name for p in parts]),
            ).nonempty()
            return self.drop_name(merge_same_labels(out))
        if name == "histogram_fraction":
            lower, upper = self.scalar(args[0]), self.scalar(args[1])
            v = self.vector(args[2])
            delayed = self.ctx.delayed_name_removal
            lay = histograms.layout(v, self.ctx.notes, args[2].pos, delayed)
            if lay is None:
                return StepVector.empty(self.T)
            values, present = histograms.bucket_fraction(lower, upper, lay)
            out = StepVector(lay.labels, values, present, lay.drop_name).nonempty()
            return self.drop_name(out)
        if name in NATIVE_HISTOGRAM_FUNCTIONS:
            # These read native histograms only; float series give no result.
            self.vector(args[0])
            return StepVector.empty(self.T)
        raise EvaluationError(f"function {name}() is not supported by this engine")

    def timestamp(self, c: ast.Call) -> StepVector:
        arg = ast.unwrap_parens(c.args[0])
        v = self.vector(arg)
        if isinstance(arg, ast.VectorSelector) and v.sample_ts is not None:
            vals = v.sample_ts / 1000.0
        else:
            vals = np.broadcast_to(self.grid.times / 1000.0, v.values.shape).copy()
        out = StepVector(v.labels, vals, v.present, v.drop_name, None, v.ordered)
        return self.drop_name(out)

    def range_call(self, c: ast.Call) -> StepVector:
        name = c.func
        range_idx = next(i for i, a in enumerate(c.args)
                         if isinstance(ast.unwrap_parens(a), (ast.MatrixSelector, ast.Subquery)))
        others = [self.scalar(a) for i, a in enumerate(c.args) if i != range_idx]
        arg = ast.unwrap_parens(c.args[range_idx])
        w, drop_in, _ = self.windows(arg, name)
        if name == "absent_over_time":
            present = (w.counts > 0).any(axis=0) if len(w.points) else np.zeros(w.lo.shape[1], bool)
            labels = functions.absent_labels(arg.selector.matchers) \
                if isinstance(arg, ast.MatrixSelector) else Labels.EMPTY
            present = np.broadcast_to(~present, (self.T,)) if present.shape[0] != self.T else ~present
            return StepVector([labels], np.ones((1, self.T)), present[None, :].copy()).nonempty()
        if name == "quantile_over_time":
            q = others[0]
            bad = q[np.isnan(q) | (q < 0) | (q > 1)]
            if len(bad) and (w.counts > 0).any():
                for x in dict.fromkeys(bad.tolist()):
                    self.ctx.notes.warn(notes_.invalid_quantile(x), c.args[range_idx].pos)
        values, present = range_functions.evaluate(name, w, others)
        values = np.ascontiguousarray(values)
        present = np.ascontiguousarray(present)
        out = StepVector(list(w.points.labels), values, present, drop_in.copy())
        if name in ("rate", "increase"):
            self.non_counter_infos(out, c.args[range_idx].pos)
        out = out.nonempty()
        if name in range_functions.KEEPS_NAME:
            if not self.ctx.delayed_name_removal and out.drop_name.any():
                return self.drop_name(out, np.flatnonzero(out.drop_name), strict=True)
            return out
        return self.drop_name(out, strict=True)

    def non_counter_infos(self, v: StepVector, pos: int) -> None:
        has = v.present.any(axis=1)
        for ls, h in zip(v.labels, has.tolist()):
            name = ls.name
            if h and name and not name.endswith(COUNTER_SUFFIXES):
                self.ctx.notes.info(notes_.possible_non_counter(name), pos)

    # --- operators ------------------------------------------------------------------
    def aggregate(self, a: ast.Aggregate) -> StepVector:
        param = None
        if a.op == "count_values":
            param = a.param.val
        elif a.param is not None:
            param = self.scalar(a.param)
        v = self.vector(a.expr)
        ppos = a.param.pos if a.param is not None else a.pos
        return aggregations.aggregate(a.op, v, a.grouping, a.without, param, self.ctx.notes, ppos,
                                      self.grid.instant)

    def binary(self, b: ast.Binary):
        lt, rt = ast.value_type(b.lhs), ast.value_type(b.rhs)
        if lt == ast.SCALAR and rt == ast.SCALAR:
            return StepScalar(binops.scalar_binop(b.op, self.scalar(b.lhs), self.scalar(b.rhs)))
        if lt == ast.VECTOR and rt == ast.SCALAR:
            v, s = self.vector(b.lhs), self.scalar(b.rhs)
            return self._vector_scalar(b, v, s, False)
        if lt == ast.SCALAR and rt == ast.VECTOR:
            s, v = self.scalar(b.lhs), self.vector(b.rhs)
            return self._vector_scalar(b, v, s, True)
        lhs, rhs = self.vector(b.lhs), self.vector(b.rhs)
        if b.op in ast.SET_OPS:
            return binops.set_binop(b.op, lhs, rhs, b.matching)
        out = binops.vector_binop(b.op, lhs, rhs, b.matching, b.return_bool)
        if not self.ctx.delayed_name_removal and out.drop_name.any():
            out = self.drop_name(out, np.flatnonzero(out.drop_name))
        return out

    def _vector_scalar(self, b: ast.Binary, v: StepVector, s: np.ndarray, scalar_left: bool):
        out = binops.vector_scalar_binop(b.op, v, s, scalar_left, b.return_bool)
        if b.op in ast.ARITHMETIC_OPS or b.return_bool:
            out.drop_name = v.drop_name.copy()
            return self.drop_name(out)
        return out

    def unary(self, u: ast.Unary):
        v = self.eval(u.expr)
        if isinstance(v, StepScalar):
            return StepScalar(-v.values)
        out = StepVector(v.labels, -v.values, v.present, v.drop_name, None, v.ordered)
        return self.drop_name(out)
