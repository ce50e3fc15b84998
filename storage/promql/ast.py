"""The engine's own syntax tree: typed, immutable, with positions and times in ms.

``parser.parse`` builds it from ``promql-parser``'s tree; the evaluator only
sees these nodes. ``pos`` is the character offset of the node's first token,
which annotations and errors report as ``line:column``::

    tree = parse('sum by (job) (rate(http_requests_total[5m]))')
    tree.op, tree.grouping, tree.expr.func   # 'sum', ('job',), 'rate'
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.labels import Matcher

SCALAR, VECTOR, MATRIX, STRING = "scalar", "vector", "matrix", "string"


@dataclass(frozen=True, slots=True)
class AtModifier:
    """``@ <ms>``, ``@ start()`` or ``@ end()``; ``ms`` is filled in when the query
    runs (``resolve_at``)."""

    kind: str  # "at" | "start" | "end"
    ms: int | None = None


@dataclass(frozen=True, slots=True)
class NumberLiteral:
    pos: int
    val: float


@dataclass(frozen=True, slots=True)
class StringLiteral:
    pos: int
    val: str


@dataclass(frozen=True, slots=True)
class VectorSelector:
    pos: int
    name: str
    matchers: tuple[Matcher, ...]  # includes __name__="<name>" when a name is given
    offset_ms: int = 0
    at: AtModifier | None = None


@dataclass(frozen=True, slots=True)
class MatrixSelector:
    pos: int
    selector: VectorSelector
    range_ms: int


@dataclass(frozen=True, slots=True)
class Subquery:
    pos: int
    expr: Expr
    range_ms: int
    step_ms: int  # 0: the engine's default subquery step
    offset_ms: int = 0
    at: AtModifier | None = None


@dataclass(frozen=True, slots=True)
class Call:
    pos: int
    func: str
    args: tuple[Expr, ...]
    return_type: str


@dataclass(frozen=True, slots=True)
class Aggregate:
    pos: int
    op: str
    expr: Expr
    param: Expr | None
    grouping: tuple[str, ...]
    without: bool


@dataclass(frozen=True, slots=True)
class VectorMatching:
    """How two vectors' elements pair up: ``card`` is one-to-one, many-to-one,
    one-to-many or many-to-many (set operators); ``on`` says whether ``labels``
    is an ``on()`` list (else ``ignoring()``); ``include`` are group_x labels;
    ``fill_lhs``/``fill_rhs`` are the experimental fill values (None: no fill)."""

    card: str
    on: bool
    labels: tuple[str, ...]
    include: tuple[str, ...] = ()
    fill_lhs: float | None = None
    fill_rhs: float | None = None


@dataclass(frozen=True, slots=True)
class Binary:
    pos: int
    op: str
    lhs: Expr
    rhs: Expr
    matching: VectorMatching | None
    return_bool: bool


@dataclass(frozen=True, slots=True)
class Unary:
    pos: int
    op: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Paren:
    pos: int
    expr: Expr


@dataclass(frozen=True, slots=True)
class StepInvariant:
    """Marks a sub-expression whose value is the same at every step (its
    selectors all have ``@``): it is evaluated once and repeated."""

    pos: int
    expr: Expr


Expr = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | Subquery
    | Call
    | Aggregate
    | Binary
    | Unary
    | Paren
    | StepInvariant
)

COMPARISON_OPS = frozenset({"==", "!=", ">", "<", ">=", "<="})
SET_OPS = frozenset({"and", "or", "unless"})
# Operators whose result is no longer the metric the name says (Prometheus drops __name__).
ARITHMETIC_OPS = frozenset({"+", "-", "*", "/", "%", "^", "atan2"})


def value_type(e: Expr) -> str:
    if isinstance(e, NumberLiteral):
        return SCALAR
    if isinstance(e, StringLiteral):
        return STRING
    if isinstance(e, VectorSelector):
        return VECTOR
    if isinstance(e, (MatrixSelector, Subquery)):
        return MATRIX
    if isinstance(e, Call):
        return e.return_type
    if isinstance(e, Aggregate):
        return VECTOR
    if isinstance(e, Binary):
        if value_type(e.lhs) == SCALAR and value_type(e.rhs) == SCALAR:
            return SCALAR
        return VECTOR
    if isinstance(e, (Unary, Paren, StepInvariant)):
        return value_type(e.expr)
    raise TypeError(f"not an expression: {e!r}")


def children(e: Expr) -> tuple[Expr, ...]:
    if isinstance(e, MatrixSelector):
        return (e.selector,)
    if isinstance(e, (Subquery, Unary, Paren, StepInvariant)):
        return (e.expr,)
    if isinstance(e, Call):
        return e.args
    if isinstance(e, Aggregate):
        return (e.expr,) if e.param is None else (e.param, e.expr)
    if isinstance(e, Binary):
        return (e.lhs, e.rhs)
    return ()


def walk(e: Expr):
    """Yield every node, parents before children."""
    yield e
    for c in children(e):
        yield from walk(c)


def unwrap_parens(e: Expr) -> Expr:
    while isinstance(e, Paren):
        e = e.expr
    return e
