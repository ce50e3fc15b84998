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

import contextlib
import time
from dataclasses import dataclass, field

import numpy as np

from storage.interface import SelectHints
from storage.promql import aggregations, ast, binops, calls
from storage.promql.annotations import Annotations
from storage.promql.errors import EvaluationError, PromQLError, StorageReadError
from storage.promql.grid import (
    DUPLICATE_LABELSET,
    Grid,
    RangeSeries,
    StepScalar,
    StepString,
    StepVector,
    broadcast_steps,
    merge_same_labels,
    without_name,
)
from storage.promql.limits import QueryLimits
from storage.promql.selectors import Points, instant_values, points_from_vector, range_series


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
    storage_s: float = 0.0  # wall time spent in Queryable.querier / Querier.select

    def querier(self, mint: int, maxt: int):
        q = self.queriers.get((mint, maxt))
        if q is None:
            t0 = time.perf_counter()
            try:
                q = self.queryable.querier(mint, maxt)
            except PromQLError:
                raise
            except Exception as e:
                raise StorageReadError(f"opening querier: {e}") from e
            finally:
                self.storage_s += time.perf_counter() - t0
            self.queriers[(mint, maxt)] = q
        return q

    def close(self) -> None:
        for q in self.queriers.values():
            # one querier failing to close must not leave the others open
            with contextlib.suppress(Exception):
                q.close()
        self.queriers.clear()


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

    def drop_name(
        self, v: StepVector, rows: np.ndarray | None = None, strict: bool = False
    ) -> StepVector:
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
        labels = [without_name(ls) if m else ls for ls, m in zip(v.labels, mask.tolist())]
        out = StepVector(labels, v.values, v.present, np.zeros(len(labels), bool), None, v.ordered)
        if strict and len(set(labels)) < len(labels):
            raise EvaluationError(DUPLICATE_LABELSET)
        return merge_same_labels(out, keep_order=True)

    def fetch(
        self, vs: ast.VectorSelector, mint: int, maxt: int, range_ms: int = 0, func: str = ""
    ) -> Points:
        self.ctx.limits.check("query preparation")
        q = self.ctx.querier(mint, maxt)
        hints = SelectHints(step_ms=self.grid.step, range_ms=range_ms, func=func)
        t0 = time.perf_counter()
        try:
            ss = q.select(list(vs.matchers), hints)
        except PromQLError:
            raise
        except Exception as e:
            raise StorageReadError(f"expanding series: {e}") from e
        finally:
            self.ctx.storage_s += time.perf_counter() - t0
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
        self.ctx.limits.check_cells(len(points) * len(refs))
        out = instant_values(points, refs, lookback)
        return self.widen(out)

    def matrix_points(self, ms: ast.MatrixSelector, refs: np.ndarray, func: str = "") -> Points:
        """The points a range selector reads, stale markers included: range
        windows skip them, which callers do a block of series at a time
        (``Points.without_stale``) rather than copying everything at once."""
        vs = ms.selector
        return self.fetch(vs, int(refs.min()) - ms.range_ms + 1, int(refs.max()), ms.range_ms, func)

    def matrix_selector(self, ms: ast.MatrixSelector) -> RangeSeries:
        ref = int(self.ref_times(ms.selector.offset_ms, ms.selector.at)[0])
        points = self.matrix_points(ms, np.array([ref])).without_stale()
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
        rs.drop_name = (
            np.array([drop[keep[ls]] for ls in rs.labels], dtype=bool)
            if len(rs)
            else np.zeros(0, bool)
        )
        return rs

    def range_arg(self, arg: ast.Expr, func: str):
        """A range argument's points, window ends at each step, range, the input
        series' pending name drops, and whether ``@`` fixes the window."""
        if isinstance(arg, ast.MatrixSelector):
            vs = arg.selector
            refs = self.ref_times(vs.offset_ms, vs.at)
            points = self.matrix_points(arg, refs, func)
            return points, refs, arg.range_ms, np.zeros(len(points), bool), vs.at is not None
        if isinstance(arg, ast.Subquery):
            points, drop_in = self.subquery_points(arg)
            refs = self.ref_times(arg.offset_ms, arg.at)
            return points, refs, arg.range_ms, drop_in, arg.at is not None
        raise EvaluationError(f"expected a range vector argument for {func}()")

    def call(self, c: ast.Call):
        return calls.eval_call(self, c)

    # --- operators ------------------------------------------------------------------
    def aggregate(self, a: ast.Aggregate) -> StepVector:
        param = None
        if a.op == "count_values":
            param = a.param.val
        elif a.param is not None:
            param = self.scalar(a.param)
        v = self.vector(a.expr)
        ppos = a.param.pos if a.param is not None else a.pos
        return aggregations.aggregate(
            a.op, v, a.grouping, a.without, param, self.ctx.notes, ppos, self.grid.instant
        )

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
