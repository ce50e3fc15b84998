"""The PromQL engine: the entry point that the HTTP API, rules and dashboards call.

It parses (``promql-parser``), prepares (``@ start()``/``end()``, step
invariance), evaluates the whole step grid at once over any ``Queryable``
(``storage.interface``: the embedded TSDB, ``MemoryStorage`` or a remote
backend), applies the limits and returns Prometheus-shaped values::

    engine = Engine(EngineOptions(lookback_delta_ms=300_000))
    res = engine.range_query(store, "sum by (job) (rate(http_requests_total[5m]))",
                             start_ms, end_ms, 60_000)
    res.result_type, res.value, res.warnings, res.infos, res.stats
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry

from storage.promql import ast
from storage.promql import limits as limits_mod
from storage.promql.annotations import Annotations
from storage.promql.errors import (
    BadQueryError,
    ConcurrencyLimitError,
    EvaluationError,
    InternalError,
    PromQLError,
)
from storage.promql.evaluator import EvalContext, Evaluator
from storage.promql.grid import (
    DUPLICATE_LABELSET,
    Grid,
    RangeSeries,
    StepScalar,
    StepString,
    StepVector,
    merge_same_labels,
    without_name,
)
from storage.promql.limits import QueryLimits
from storage.promql.metrics import EngineMetrics
from storage.promql.parser import parse
from storage.promql.preprocess import PreparedCache
from storage.promql.value import Sample, Scalar, Series, String

_TYPE_NAMES = {
    ast.VECTOR: "instant vector",
    ast.MATRIX: "range vector",
    ast.SCALAR: "scalar",
    ast.STRING: "string",
}


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """Engine settings (Prometheus's ``--query.*`` flags)::

    Engine(EngineOptions(timeout_s=30.0, max_concurrent=4))
    """

    # How far back an instant selector looks for a sample (--query.lookback-delta).
    lookback_delta_ms: int = 300_000
    # Most samples a query may hold in memory at once (--query.max-samples).
    max_samples: int = 50_000_000
    # A query running longer than this fails with a timeout (--query.timeout).
    timeout_s: float = 120.0
    # Queries run at once; more wait for a slot until their timeout (--query.max-concurrency).
    max_concurrent: int = 20
    # Most steps a range query may have (the HTTP API's 11,000-point limit).
    max_points_per_series: int = 11_000
    # Step of a subquery written without one (``x[1h:]``): the global evaluation interval.
    default_subquery_step_ms: int = 60_000
    # Prometheus 3.x's experimental delayed ``__name__`` removal
    # (--enable-feature=promql-delayed-name-removal); off, like Prometheus's default.
    delayed_name_removal: bool = False


@dataclass(slots=True)
class QueryStats:
    """Timings (seconds) and sample counts of one query, shaped like Prometheus's
    ``stats=all`` output by ``to_json``::

    engine.instant_query(store, "up", t).stats.to_json()["samples"]["peakSamples"]
    """

    queue_s: float = 0.0
    prepare_s: float = 0.0
    eval_s: float = 0.0
    result_s: float = 0.0
    total_s: float = 0.0
    samples_read: int = 0
    peak_samples: int = 0
    series_fetched: int = 0
    storage_s: float = 0.0  # part of eval_s spent reading storage

    def to_json(self) -> dict:
        return {
            "timings": {
                "evalTotalTime": self.prepare_s + self.eval_s + self.result_s,
                "resultSortTime": self.result_s,
                "queryPreparationTime": self.prepare_s,
                "innerEvalTime": self.eval_s,
                "execQueueTime": self.queue_s,
                "execTotalTime": self.total_s,
            },
            "samples": {
                "totalQueryableSamples": self.samples_read,
                "peakSamples": self.peak_samples,
            },
        }


@dataclass(slots=True)
class QueryResult:
    """What a query returns: ``value`` is a ``Scalar``, ``String``, ``list[Sample]``
    (vector) or ``list[Series]`` (matrix) as ``result_type`` says::

    res = engine.range_query(store, "up", start, end, step)
    res.result_type, res.value, res.warnings, res.infos
    """

    value: object
    result_type: str
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    stats: QueryStats = field(default_factory=QueryStats)


class Engine:
    """Evaluates PromQL over any ``Queryable``; thread-safe, one per process is enough.

    ``Engine(options, registry=None, clock=time.monotonic)``: ``registry`` gets the
    engine's own metrics (default: prometheus_client's), ``clock`` drives timeouts.
    """

    def __init__(
        self,
        options: EngineOptions | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.options = options or EngineOptions()
        self.clock = clock
        self.metrics = EngineMetrics.for_registry(registry)
        self.metrics.concurrent_max.set(self.options.max_concurrent)
        self._slots = threading.BoundedSemaphore(max(1, self.options.max_concurrent))
        self._prepared = PreparedCache()

    # --- public API ----------------------------------------------------------------
    def parse(self, expr: str) -> ast.Expr:
        """Parse and type-check; raises ``ParseError`` (with the position) when invalid."""
        return _parse_cached(expr)

    def instant_query(
        self,
        queryable,
        expr: str,
        time_ms: int,
        *,
        timeout_s: float | None = None,
        cancel: threading.Event | None = None,
        lookback_delta_ms: int | None = None,
    ) -> QueryResult:
        """Evaluate ``expr`` at ``time_ms``."""
        return self._run(
            queryable,
            expr,
            None,
            int(time_ms),
            int(time_ms),
            0,
            timeout_s,
            cancel,
            lookback_delta_ms,
        )

    def range_query(
        self,
        queryable,
        expr: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        *,
        timeout_s: float | None = None,
        cancel: threading.Event | None = None,
        lookback_delta_ms: int | None = None,
    ) -> QueryResult:
        """Evaluate ``expr`` at ``start_ms, start_ms + step_ms, ... <= end_ms``; always a matrix."""
        start_ms, end_ms, step_ms = int(start_ms), int(end_ms), int(step_ms)
        if step_ms <= 0:
            raise BadQueryError(
                "zero or negative query resolution step widths are not accepted. "
                "Try a positive integer"
            )
        if end_ms < start_ms:
            raise BadQueryError("end timestamp must not be before start time")
        if (end_ms - start_ms) // step_ms + 1 > self.options.max_points_per_series:
            raise BadQueryError(
                f"exceeded maximum resolution of {self.options.max_points_per_series:,} points per "
                "timeseries. Try decreasing the query resolution (?step=XX)"
            )
        return self._run(
            queryable, expr, None, start_ms, end_ms, step_ms, timeout_s, cancel, lookback_delta_ms
        )

    def query_tree(
        self,
        queryable,
        tree: ast.Expr,
        query_text: str,
        start_ms: int,
        end_ms: int,
        step_ms: int,
        **kw,
    ) -> QueryResult:
        """Evaluate an already parsed (possibly rewritten) tree; ``step_ms`` 0 means instant."""
        return self._run(
            queryable,
            query_text,
            tree,
            start_ms,
            end_ms,
            step_ms,
            kw.get("timeout_s"),
            kw.get("cancel"),
            kw.get("lookback_delta_ms"),
        )

    # --- machinery --------------------------------------------------------------------
    def _run(
        self,
        queryable,
        expr: str,
        tree,
        start: int,
        end: int,
        step: int,
        timeout_s,
        cancel,
        lookback,
    ) -> QueryResult:
        t0 = self.clock()
        timeout = self.options.timeout_s if timeout_s is None else timeout_s
        deadline = t0 + timeout if timeout and timeout > 0 else None
        result = "success"
        try:
            if tree is None:
                tree = _parse_cached(expr)
            kind = ast.value_type(tree)
            if step and kind not in (ast.SCALAR, ast.VECTOR):
                raise BadQueryError(
                    f'invalid expression type "{_TYPE_NAMES[kind]}" for range query, '
                    "must be Scalar or instant Vector"
                )
            wait = None if deadline is None else max(0.0, deadline - self.clock())
            if not self._slots.acquire(timeout=wait):
                raise ConcurrencyLimitError(
                    "query timed out in query queue "
                    f"({self.options.max_concurrent} queries were already running)"
                )
            try:
                self.metrics.concurrent.inc()
                return self._exec(
                    queryable, expr, tree, start, end, step, deadline, cancel, lookback, t0
                )
            finally:
                self.metrics.concurrent.dec()
                self._slots.release()
        except PromQLError as e:
            result = e.error_type
            raise
        except RecursionError:
            result = "bad_data"
            raise BadQueryError("query is nested too deeply") from None
        except MemoryError:
            result = "execution"
            raise EvaluationError("query needed more memory than available") from None
        except Exception as e:
            result = "internal"
            raise InternalError(f"internal error: {type(e).__name__}: {e}") from e
        finally:
            self.metrics.result(result).inc()

    def _exec(
        self, queryable, expr, tree, start, end, step, deadline, cancel, lookback, t0
    ) -> QueryResult:
        opts = self.options
        stats = QueryStats(queue_s=self.clock() - t0)
        limits = QueryLimits(opts.max_samples, deadline, cancel, self.clock)
        notes = Annotations(expr)
        ctx = EvalContext(
            expr,
            queryable,
            opts.lookback_delta_ms if lookback is None else lookback,
            opts.default_subquery_step_ms,
            limits,
            notes,
            opts.delayed_name_removal,
        )
        t1 = self.clock()
        prepared = self._prepared.prepare(tree, start, end, step)
        grid = Grid(start, end, step if step else 1)
        stats.prepare_s = self.clock() - t1
        t2 = self.clock()
        token = limits_mod.current.set(limits)
        try:
            value = Evaluator(ctx, grid).eval(prepared)
        finally:
            limits_mod.current.reset(token)
            ctx.close()
        stats.eval_s = self.clock() - t2
        t3 = self.clock()
        instant = step == 0
        out, kind = self._result(value, grid, instant, ast.value_type(tree))
        stats.result_s = self.clock() - t3
        stats.total_s = self.clock() - t0
        stats.samples_read = limits.samples_read
        stats.peak_samples = limits.peak
        stats.series_fetched = ctx.series_fetched
        stats.storage_s = ctx.storage_s
        m = self.metrics
        m.samples.inc(limits.samples_read)
        m.phase["queue"].observe(stats.queue_s)
        m.phase["prepare"].observe(stats.prepare_s)
        m.phase["eval"].observe(stats.eval_s)
        m.phase["result"].observe(stats.result_s)
        warnings, infos = notes.strings()
        return QueryResult(out, kind, warnings, infos, stats)

    def _result(self, value, grid: Grid, instant: bool, kind: str):
        if isinstance(value, StepString):
            return String(grid.start, value.value), "string"
        if isinstance(value, StepScalar):
            if instant:
                return Scalar(grid.start, float(value.values[0])), "scalar"
            return [Series(_empty_labels(), grid.times, value.values.astype(np.float64))], "matrix"
        if isinstance(value, RangeSeries):
            return _range_series_result(value), "matrix"
        if not isinstance(value, StepVector):
            raise EvaluationError(f"unexpected result {type(value).__name__}")
        v = _apply_name_drops(value)
        if instant:
            if len(set(v.labels)) < len(v.labels):
                raise EvaluationError(DUPLICATE_LABELSET)
            rows = np.flatnonzero(v.present[:, 0]) if len(v) else np.zeros(0, np.int64)
            vals = v.values[rows, 0].tolist()
            t = grid.start
            return [Sample(v.labels[i], t, x) for i, x in zip(rows.tolist(), vals)], "vector"
        v = merge_same_labels(v)
        order = sorted(range(len(v.labels)), key=v.labels.__getitem__)
        times = grid.times
        out = []
        for i in order:
            m = v.present[i]
            if m.any():
                out.append(Series(v.labels[i], times[m], v.values[i, m]))
        return out, "matrix"


# Dashboards and rules send the same expressions again and again; the trees are
# immutable, so parsed ones are shared (errors are not cached).
_parse_cached = functools.lru_cache(maxsize=2048)(parse)


def _empty_labels():
    from storage.labels import Labels

    return Labels.EMPTY


def _apply_name_drops(v: StepVector) -> StepVector:
    if not v.drop_name.any():
        return v
    labels = [without_name(ls) if d else ls for ls, d in zip(v.labels, v.drop_name.tolist())]
    return StepVector(labels, v.values, v.present, np.zeros(len(labels), bool), None, v.ordered)


def _range_series_result(rs: RangeSeries) -> list[Series]:
    labels = [without_name(ls) if d else ls for ls, d in zip(rs.labels, rs.drop_name.tolist())]
    by_labels: dict = {}
    for i, ls in enumerate(labels):
        a, b = int(rs.offsets[i]), int(rs.offsets[i + 1])
        by_labels.setdefault(ls, []).append((rs.timestamps[a:b], rs.values[a:b]))
    out = []
    for ls in sorted(by_labels):
        parts = by_labels[ls]
        if len(parts) == 1:
            ts, vs = parts[0]
        else:
            ts = np.concatenate([p[0] for p in parts])
            vs = np.concatenate([p[1] for p in parts])
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
            if (np.diff(ts) == 0).any():
                raise EvaluationError(DUPLICATE_LABELSET)
        out.append(Series(ls, ts, vs))
    return out
