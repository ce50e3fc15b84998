"""Preparing a parsed query for one evaluation: resolve ``@ start()``/``@ end()``
and the query-context functions to numbers, and mark the sub-expressions whose
value is the same at every step (everything under ``@``), which the evaluator
computes once, as Prometheus's ``PreprocessExpr`` does::

    prepared = preprocess(parse("rate(x[5m] @ end())"), start_ms, end_ms, step_ms)
"""

from __future__ import annotations

from dataclasses import replace

from storage.promql import ast
from storage.promql.errors import EvaluationError

# Functions whose value depends on the evaluation time even when their
# arguments do not (Prometheus's AtModifierUnsafeFunctions).
AT_MODIFIER_UNSAFE = frozenset(
    {
        "days_in_month",
        "day_of_month",
        "day_of_week",
        "day_of_year",
        "hour",
        "minute",
        "month",
        "year",
        "predict_linear",
        "time",
        "timestamp",
        "start",
        "end",
        "range",
        "step",
    }
)


def _replaced(n, **fields):
    """``dataclasses.replace`` that returns ``n`` itself when every new field
    value is the very object it already holds."""
    for k, v in fields.items():
        if getattr(n, k) is not v:
            return replace(n, **fields)
    return n


def _same_tuple(old: tuple, new: tuple) -> tuple:
    """``old`` when ``new`` holds the same objects (so the parent is kept too)."""
    if len(old) == len(new) and all(a is b for a, b in zip(old, new)):
        return old
    return new


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
        # nodes are copied only where something below changed: most trees
        # come back as they are
        if isinstance(n, ast.VectorSelector):
            return _replaced(n, at=fix_at(n.at)) if n.at is not None else n
        if isinstance(n, ast.MatrixSelector):
            return _replaced(n, selector=walk(n.selector))
        if isinstance(n, ast.Subquery):
            return _replaced(n, expr=walk(n.expr), at=fix_at(n.at))
        if isinstance(n, ast.Call):
            if n.func in context and not n.args:
                return ast.NumberLiteral(n.pos, context[n.func])
            return _replaced(n, args=_same_tuple(n.args, tuple(walk(ast.unwrap_parens(a)) for a in n.args)))
        if isinstance(n, ast.Aggregate):
            return _replaced(
                n,
                expr=walk(ast.unwrap_parens(n.expr)),
                param=None if n.param is None else walk(ast.unwrap_parens(n.param)),
            )
        if isinstance(n, ast.Binary):
            return _replaced(n, lhs=walk(n.lhs), rhs=walk(n.rhs))
        if isinstance(n, (ast.Unary, ast.Paren, ast.StepInvariant)):
            return _replaced(n, expr=walk(n.expr))
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
            return _replaced(n, expr=inner), inv, inv
        if isinstance(n, ast.Binary):
            lhs, li, lw = helper(n.lhs)
            rhs, ri, rw = helper(n.rhs)
            if li and ri:
                return _replaced(n, lhs=lhs, rhs=rhs), True, True
            return (
                _replaced(n, lhs=wrap(lhs) if lw else lhs, rhs=wrap(rhs) if rw else rhs),
                False,
                False,
            )
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
                return _replaced(n, args=_same_tuple(n.args, tuple(new_args))), True, True
            return (
                _replaced(n, args=_same_tuple(n.args, tuple(wrap(a) if w else a for a, w in zip(new_args, wraps)))),
                False,
                False,
            )
        if isinstance(n, ast.MatrixSelector):
            _, inv, _ = helper(n.selector)
            return n, inv, False
        if isinstance(n, ast.Subquery):
            inner, inv, _ = helper(n.expr)
            if inv:
                inner = wrap(inner)
            return _replaced(n, expr=inner), n.at is not None, False
        if isinstance(n, (ast.Paren, ast.Unary)):
            inner, inv, w = helper(n.expr)
            return _replaced(n, expr=inner), inv, w
        if isinstance(n, (ast.NumberLiteral, ast.StringLiteral)):
            return n, True, False
        if isinstance(n, ast.StepInvariant):
            return n, True, False
        raise EvaluationError(f"unexpected node {type(n).__name__}")

    new, _, should_wrap = helper(e)
    return wrap(new) if should_wrap else new


def preprocess(e: ast.Expr, start_ms: int, end_ms: int, step_ms: int = 0) -> ast.Expr:
    return mark_step_invariant(resolve_at(e, start_ms, end_ms, step_ms))


# The query-context functions ``resolve_at`` replaces by numbers.
_CONTEXT_FUNCS = frozenset({"start", "end", "range", "step"})


def range_dependent(e: ast.Expr) -> bool:
    """Whether ``preprocess`` of ``e`` depends on the query's start/end/step:
    only ``@ start()``/``@ end()`` and the argument-less context functions do."""
    for n in ast.walk(e):
        if isinstance(n, (ast.VectorSelector, ast.Subquery)):
            if n.at is not None and n.at.kind != "at":
                return True
        elif isinstance(n, ast.Call) and n.func in _CONTEXT_FUNCS and not n.args:
            return True
    return False


class PreparedCache:
    """Preprocessed trees kept across queries: rules and dashboards run the same
    (shared, parse-cached) trees again and again, and for most of them the
    preprocessed tree does not depend on the evaluation time, so the walks and
    node copies of ``preprocess`` are done once per tree::

        cache = PreparedCache()
        prepared = cache.prepare(tree, start_ms, end_ms, step_ms)

    Entries are keyed by the tree's identity and hold the tree itself, so an id
    is never reused while its entry lives; the cache is cleared when full."""

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        # id(tree) -> (tree, prepared tree or None when range dependent)
        self._entries: dict[int, tuple[ast.Expr, ast.Expr | None]] = {}

    def prepare(self, e: ast.Expr, start_ms: int, end_ms: int, step_ms: int = 0) -> ast.Expr:
        entry = self._entries.get(id(e))
        if entry is None or entry[0] is not e:
            prepared = None if range_dependent(e) else preprocess(e, 0, 0, 0)
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            entry = (e, prepared)
            self._entries[id(e)] = entry
        if entry[1] is None:
            return preprocess(e, start_ms, end_ms, step_ms)
        return entry[1]
