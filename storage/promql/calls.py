"""Function calls: instant-vector functions, range-vector functions, the
histogram functions on classic buckets, label and sort functions.

``eval_call(ev, call)`` evaluates a ``Call`` node for evaluator ``ev`` (all
steps at once); range functions read their windows through
``windows.evaluate_blocked``::

    value = eval_call(evaluator, parse("rate(x[5m])"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from storage.labels import METRIC_NAME, Labels
from storage.promql import annotations as notes_
from storage.promql import ast, functions, histograms, range_functions
from storage.promql.errors import EvaluationError
from storage.promql.grid import StepScalar, StepVector, merge_same_labels
from storage.promql.info import evaluate_info
from storage.promql.selectors import series_blocks
from storage.promql.windows import evaluate_blocked

if TYPE_CHECKING:
    from storage.promql.evaluator import Evaluator

SORT_FUNCTIONS = frozenset({"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"})
COUNTER_SUFFIXES = ("_total", "_sum", "_count", "_bucket")
NATIVE_HISTOGRAM_FUNCTIONS = frozenset(
    {
        "histogram_count",
        "histogram_sum",
        "histogram_avg",
        "histogram_stddev",
        "histogram_stdvar",
    }
)


def eval_call(ev: Evaluator, c: ast.Call):
    name = c.func
    args = c.args
    if name in range_functions.RANGE_FUNCTIONS:
        return range_call(ev, c)
    if name == "info":
        return evaluate_info(ev, c)
    if name == "time":
        return StepScalar(ev.grid.times / 1000.0)
    if name == "pi":
        return StepScalar(np.full(ev.T, np.pi))
    if name in ("min_of", "max_of"):
        a, b = ev.scalar(args[0]), ev.scalar(args[1])
        return StepScalar(np.minimum(a, b) if name == "min_of" else np.maximum(a, b))
    if name == "vector":
        s = ev.scalar(args[0])
        return StepVector([Labels.EMPTY], s[None, :].copy(), np.ones((1, ev.T), bool))
    if name == "scalar":
        v = ev.vector(args[0])
        count = v.present.sum(axis=0)
        vals = np.where(v.present, v.values, 0.0).sum(axis=0) if len(v) else np.zeros(ev.T)
        return StepScalar(np.where(count == 1, vals, np.nan))
    if name == "timestamp":
        return timestamp(ev, c)
    if name in ("label_replace", "label_join"):
        v = ev.vector(args[0])
        strs = [a.val for a in args[1:]]
        if name == "label_replace":
            return functions.label_replace(v, strs[0], strs[1], strs[2], strs[3])
        return functions.label_join(v, strs[0], strs[1], strs[2:])
    if name in SORT_FUNCTIONS:
        v = ev.vector(args[0])
        if not ev.grid.instant:
            ev.ctx.notes.warn(notes_.sort_in_range_query(), c.pos)
            return v
        if name in ("sort", "sort_desc"):
            return functions.sort_by_value(v, name == "sort_desc")
        return functions.sort_by_label(v, [a.val for a in args[1:]], name == "sort_by_label_desc")
    if name == "absent":
        v = ev.vector(args[0])
        arg = ast.unwrap_parens(args[0])
        labels = (
            functions.absent_labels(arg.matchers)
            if isinstance(arg, ast.VectorSelector)
            else Labels.EMPTY
        )
        present = ~v.present.any(axis=0) if len(v) else np.ones(ev.T, bool)
        return StepVector([labels], np.ones((1, ev.T)), present[None, :]).nonempty()
    if name in functions.MATH:
        v = ev.vector(args[0])
        out = StepVector(
            v.labels,
            functions.math_function(name, v.values),
            v.present,
            v.drop_name,
            None,
            v.ordered,
        )
        return ev.drop_name(out)
    if name == "round":
        v = ev.vector(args[0])
        to = ev.scalar(args[1]) if len(args) > 1 else np.ones(ev.T)
        out = StepVector(
            v.labels,
            functions.round_to(v.values, to[None, :]),
            v.present,
            v.drop_name,
            None,
            v.ordered,
        )
        return ev.drop_name(out)
    if name in ("clamp", "clamp_min", "clamp_max"):
        v = ev.vector(args[0])
        if name == "clamp":
            lo, hi = ev.scalar(args[1]), ev.scalar(args[2])
        elif name == "clamp_min":
            lo, hi = ev.scalar(args[1]), np.full(ev.T, np.inf)
        else:
            lo, hi = np.full(ev.T, -np.inf), ev.scalar(args[1])
        values, present = functions.clamp(v, lo, hi)
        out = StepVector(v.labels, values, present, v.drop_name, None, v.ordered).nonempty()
        return ev.drop_name(out)
    if name in functions.DATE_FUNCTIONS:
        if not args:
            vals = functions.date_parts(name, (ev.grid.times // 1000).astype(np.float64))
            return StepVector([Labels.EMPTY], vals[None, :], np.ones((1, ev.T), bool))
        v = ev.vector(args[0])
        out = StepVector(
            v.labels, functions.date_parts(name, v.values), v.present, v.drop_name, None, v.ordered
        )
        return ev.drop_name(out)
    if name == "histogram_quantile":
        q = ev.scalar(args[0])
        v = ev.vector(args[1])
        if np.isnan(q).any() or (q < 0).any() or (q > 1).any():
            bad = q[np.isnan(q) | (q < 0) | (q > 1)]
            for x in dict.fromkeys(bad.tolist()):
                ev.ctx.notes.warn(notes_.invalid_quantile(x), args[0].pos)
        delayed = ev.ctx.delayed_name_removal
        lay = histograms.layout(v, ev.ctx.notes, args[1].pos, delayed)
        if lay is None:
            return StepVector.empty(ev.T)
        values, present = histograms.bucket_quantile(
            q, lay, ev.grid.times, ev.ctx.notes, args[1].pos, delayed
        )
        out = StepVector(lay.labels, values, present, lay.drop_name).nonempty()
        return ev.drop_name(out)
    if name == "histogram_quantiles":
        v = ev.vector(args[0])
        label = args[1].val
        qs = [(ev.scalar(a), a.pos) for a in args[2:]]
        for q, qpos in qs:
            for x in dict.fromkeys(q[np.isnan(q) | (q < 0) | (q > 1)].tolist()):
                ev.ctx.notes.warn(notes_.invalid_quantile(x), qpos)
        delayed = ev.ctx.delayed_name_removal
        lay = histograms.layout(v, ev.ctx.notes, args[0].pos, delayed)
        if lay is None:
            return StepVector.empty(ev.T)
        parts = []
        for q, _ in qs:
            values, present = histograms.bucket_quantile(
                q, lay, ev.grid.times, ev.ctx.notes, args[0].pos, delayed
            )
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
        return ev.drop_name(merge_same_labels(out))
    if name == "histogram_fraction":
        lower, upper = ev.scalar(args[0]), ev.scalar(args[1])
        v = ev.vector(args[2])
        delayed = ev.ctx.delayed_name_removal
        lay = histograms.layout(v, ev.ctx.notes, args[2].pos, delayed)
        if lay is None:
            return StepVector.empty(ev.T)
        values, present = histograms.bucket_fraction(lower, upper, lay)
        out = StepVector(lay.labels, values, present, lay.drop_name).nonempty()
        return ev.drop_name(out)
    if name in NATIVE_HISTOGRAM_FUNCTIONS:
        # These read native histograms only; float series give no result.
        ev.vector(args[0])
        return StepVector.empty(ev.T)
    raise EvaluationError(f"function {name}() is not supported by this engine")


def timestamp(ev: Evaluator, c: ast.Call) -> StepVector:
    arg = ast.unwrap_parens(c.args[0])
    v = ev.vector(arg)
    if isinstance(arg, ast.VectorSelector) and v.sample_ts is not None:
        vals = v.sample_ts / 1000.0
    else:
        vals = np.broadcast_to(ev.grid.times / 1000.0, v.values.shape).copy()
    out = StepVector(v.labels, vals, v.present, v.drop_name, None, v.ordered)
    return ev.drop_name(out)


def range_call(ev: Evaluator, c: ast.Call) -> StepVector:
    name = c.func
    range_idx = next(
        i
        for i, a in enumerate(c.args)
        if isinstance(ast.unwrap_parens(a), (ast.MatrixSelector, ast.Subquery))
    )
    others = [ev.scalar(a) for i, a in enumerate(c.args) if i != range_idx]
    arg = ast.unwrap_parens(c.args[range_idx])
    points, refs, range_ms, drop_in, fixed = ev.range_arg(arg, name)
    starts = refs - range_ms
    # an @-fixed window is computed once and repeated; its per-step scalar
    # arguments may still vary, so then compute at every step
    varying = (
        fixed
        and ev.T != 1
        and (name == "predict_linear" or any(np.ptp(o) != 0 for o in others if len(o)))
    )
    if fixed and ev.T != 1 and varying:
        refs = np.broadcast_to(refs, (ev.T,)).copy()
        starts = np.broadcast_to(starts, (ev.T,)).copy()
    eval_times = ev.grid.times if len(refs) == ev.T else ev.grid.times[:1]
    args_now = others if len(refs) == ev.T else [o[:1] for o in others]
    if name == "absent_over_time":
        counts = np.zeros(len(refs), np.int64)
        for a, b in series_blocks(len(points), len(refs)):
            blk = points.block(a, b).without_stale()
            n = blk.search(refs, "right") - blk.search(starts, "right")
            counts += (n > 0).sum(axis=0)
        present = counts == 0
        if len(present) != ev.T:
            present = np.broadcast_to(present, (ev.T,))
        labels = (
            functions.absent_labels(arg.selector.matchers)
            if isinstance(arg, ast.MatrixSelector)
            else Labels.EMPTY
        )
        return StepVector([labels], np.ones((1, ev.T)), present[None, :].copy()).nonempty()
    if name == "quantile_over_time":
        q = args_now[0]
        bad = q[np.isnan(q) | (q < 0) | (q > 1)]
        if len(bad) and len(points.timestamps):
            for x in dict.fromkeys(bad.tolist()):
                ev.ctx.notes.warn(notes_.invalid_quantile(x), c.args[range_idx].pos)
    if len(points) == 0 and not others:
        # no series, no parameters to validate: no result (the common case of
        # rule expressions over metrics a cluster does not have)
        return StepVector.empty(ev.T)
    ev.ctx.limits.check_cells(len(points) * max(len(refs), ev.T))
    values, present = evaluate_blocked(
        range_functions.evaluate, name, points, starts, refs, eval_times, range_ms, args_now
    )
    if values.shape[1] != ev.T:
        values = np.repeat(values, ev.T, axis=1)
        present = np.repeat(present, ev.T, axis=1)
    out = StepVector(list(points.labels), values, present, drop_in.copy())
    if name in ("rate", "increase"):
        non_counter_infos(ev, out, c.args[range_idx].pos)
    out = out.nonempty()
    if name in range_functions.KEEPS_NAME:
        if not ev.ctx.delayed_name_removal and out.drop_name.any():
            return ev.drop_name(out, np.flatnonzero(out.drop_name), strict=True)
        return out
    return ev.drop_name(out, strict=True)


def non_counter_infos(ev: Evaluator, v: StepVector, pos: int) -> None:
    has = v.present.any(axis=1)
    seen: set[str] = set()
    for ls, h in zip(v.labels, has.tolist()):
        name = ls[1] if len(ls) >= 2 and ls[0] == METRIC_NAME else ls.name
        if h and name and name not in seen:
            seen.add(name)
            if not name.endswith(COUNTER_SUFFIXES):
                ev.ctx.notes.info(notes_.possible_non_counter(name), pos)
