"""Parser glue: ``promql-parser`` parses and type-checks; this turns its tree into ours.

``promql-parser``'s nodes have no positions, keep times as ``timedelta``/
``datetime`` and cannot represent ``@`` before 1970, so each node is paired with
the mirrored tree of ``positions.shape`` (same shape, with offsets and the
literal ``@`` text). Errors become ``ParseError`` with Prometheus's
``line:column: parse error: ...`` wording::

    parse('rate(x[5m]) @ 100')   # ParseError: @ modifier must be preceded by ...
    parse('sum(rate(x[5m]))')    # Aggregate(op='sum', expr=Call(func='rate', ...))
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

import promql_parser as pp

from storage.labels import METRIC_NAME, Matcher, MatchOp
from storage.promql import ast
from storage.promql.errors import ParseError
from storage.promql.lexer import decode_string, line_column
from storage.promql.positions import Shape, find, shape, syntax_error

_KIND = {
    "NumberLiteral": "number",
    "StringLiteral": "string",
    "ParenExpr": "paren",
    "VectorSelector": "vector",
    "MatrixSelector": "matrix",
    "SubqueryExpr": "subquery",
    "Call": "call",
    "AggregateExpr": "aggregate",
    "BinaryExpr": "binary",
    "UnaryExpr": "unary",
}
_MATCH_OPS = {
    "MatchOp.Equal": MatchOp.EQUAL,
    "MatchOp.NotEqual": MatchOp.NOT_EQUAL,
    "MatchOp.Re": MatchOp.REGEX,
    "MatchOp.NotRe": MatchOp.NOT_REGEX,
}
_VALUE_TYPES = {
    "ValueType.Vector": ast.VECTOR,
    "ValueType.Scalar": ast.SCALAR,
    "ValueType.Matrix": ast.MATRIX,
    "ValueType.String": ast.STRING,
}
_CARD = {
    "VectorMatchCardinality.OneToOne": "one-to-one",
    "VectorMatchCardinality.ManyToOne": "many-to-one",
    "VectorMatchCardinality.OneToMany": "one-to-many",
    "VectorMatchCardinality.ManyToMany": "many-to-many",
}

# Functions the parser knows but this engine deliberately does not run (see README).
UNSUPPORTED_FUNCTIONS: dict[str, str] = {
    "start_timestamp": "start_timestamp() needs start timestamps, which the storage interface "
    "does not carry",
}


def _ms(td: timedelta | None) -> int:
    if td is None:
        return 0
    return td // timedelta(milliseconds=1)


def node_pos(e: ast.Expr) -> int:
    return e.pos


def _round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


class _Converter:
    def __init__(self, query: str):
        self.query = query

    def error(self, message: str, pos: int) -> ParseError:
        line, col = line_column(self.query, pos)
        return ParseError(message, pos, line, col)

    def at(self, node, sh: Shape | None, pos: int) -> ast.AtModifier | None:
        if sh is not None and sh.at is not None:
            text = sh.at
            if text in ("start", "end"):
                return ast.AtModifier(text)
            try:
                if text.lstrip("+-").lower().startswith("0x"):
                    v = float(int(text.lstrip("+-"), 16)) * (-1 if text.startswith("-") else 1)
                elif text[-1:].isalpha():
                    v = pp.parse_duration(text.lstrip("+-")).total_seconds()
                    v = -v if text.startswith("-") else v
                else:
                    v = float(text)
            except ValueError:
                raise self.error(f"invalid @ modifier value {text!r}", pos) from None
            if not math.isfinite(v) or abs(v) >= 9.2e15:
                raise self.error(f"timestamp out of bounds for @ modifier: {v:f}", pos)
            return ast.AtModifier("at", _round_half_away(v * 1000))
        try:
            a = node.at
            if a is None:
                return None
            kind = str(a.type)
            if kind.endswith("Start"):
                return ast.AtModifier("start")
            if kind.endswith("End"):
                return ast.AtModifier("end")
            return ast.AtModifier("at", _round_half_away(a.at.timestamp() * 1000))
        except BaseException as e:  # pyo3 panics on times before 1970
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            raise self.error("cannot read the @ modifier's time", pos) from None

    def convert(self, node, sh: Shape | None, parent_pos: int = 0) -> ast.Expr:
        kind = _KIND.get(type(node).__name__)
        if kind is None:
            raise self.error(f"unsupported expression {node}", parent_pos)
        if sh is not None and sh.kind != kind:
            sh = None  # the mirror lost track; positions of this subtree fall back
        pos = sh.pos if sh is not None else parent_pos

        def child(i: int) -> Shape | None:
            if sh is None or i >= len(sh.children):
                return None
            return sh.children[i]

        if kind == "number":
            return ast.NumberLiteral(pos, float(node.val))
        if kind == "string":
            if sh is not None and sh.text:
                try:
                    return ast.StringLiteral(pos, decode_string(sh.text))
                except (ValueError, IndexError):
                    pass
            return ast.StringLiteral(pos, node.val)
        if kind == "paren":
            return ast.Paren(pos, self.convert(node.expr, child(0), pos))
        if kind == "vector":
            return self.selector(node, sh, pos)
        if kind == "matrix":
            vs = self.selector(node.vector_selector, child(0), pos)
            return ast.MatrixSelector(pos, vs, _ms(node.range))
        if kind == "subquery":
            inner = self.convert(node.expr, child(0), pos)
            return ast.Subquery(
                pos,
                inner,
                _ms(node.range),
                _ms(node.step),
                _ms(node.offset),
                self.at(node, sh, pos),
            )
        if kind == "call":
            name = node.func.name
            if name in UNSUPPORTED_FUNCTIONS:
                raise self.error(UNSUPPORTED_FUNCTIONS[name], pos)
            args = []
            for i, a in enumerate(node.args):
                if name == "info" and i == 1:
                    args.append(self.info_labels(a, child(i), pos))
                else:
                    args.append(self.convert(a, child(i), pos))
            return ast.Call(pos, name, tuple(args), _VALUE_TYPES[str(node.func.return_type)])
        if kind == "aggregate":
            op = str(node.op).lower()
            if node.param is not None:
                param = self.convert(node.param, child(0), pos)
                inner = self.convert(node.expr, child(1), pos)
            else:
                param = None
                inner = self.convert(node.expr, child(0), pos)
            mod = node.modifier
            without = mod is not None and str(mod.type).endswith("Without")
            grouping = tuple(mod.labels) if mod is not None else ()
            return ast.Aggregate(pos, op, inner, param, grouping, without)
        if kind == "binary":
            op = str(node.op).lower()
            lhs = self.convert(node.lhs, child(0), pos)
            rhs = self.convert(node.rhs, child(1), pos)
            return ast.Binary(pos, op, lhs, rhs, *self.matching(node, op, lhs, rhs))
        if kind == "unary":
            return ast.Unary(pos, "-", self.convert(node.expr, child(0), pos))
        raise self.error(f"unsupported expression {node}", pos)

    def matching(self, node, op: str, lhs: ast.Expr, rhs: ast.Expr):
        mod = node.modifier
        return_bool = bool(mod is not None and mod.return_bool)
        if ast.value_type(lhs) != ast.VECTOR or ast.value_type(rhs) != ast.VECTOR:
            return None, return_bool
        card = "many-to-many" if op in ast.SET_OPS else "one-to-one"
        on, labels, include, fill_l, fill_r = False, (), (), None, None
        if mod is not None:
            card = _CARD.get(str(mod.card), card)
            if mod.matching is not None:
                on = str(mod.matching.type).endswith("Include")
                labels = tuple(mod.matching.labels)
            include = tuple(mod.group_labels or ())
            fv = mod.fill_values
            if fv is not None:
                fill_l, fill_r = fv.lhs, fv.rhs
        return ast.VectorMatching(card, on, labels, include, fill_l, fill_r), return_bool

    def info_labels(self, node, sh: Shape | None, parent_pos: int) -> ast.VectorSelector:
        """info()'s second argument: label matchers only, which may all match empty."""
        pos = sh.pos if sh is not None else parent_pos
        if _KIND.get(type(node).__name__) != "vector":
            raise self.error("expected label selectors only", pos)
        if node.name:
            raise self.error("expected label selectors only, got vector selector instead", pos)
        return self.selector(node, sh, pos, allow_empty=True)

    def selector(
        self, node, sh: Shape | None, pos: int, allow_empty: bool = False
    ) -> ast.VectorSelector:
        if node.matchers.or_matchers:
            raise self.error("'or' between label matchers is not supported", pos)
        matchers: list[Matcher] = []
        for m in node.matchers.matchers:
            try:
                matchers.append(Matcher(_MATCH_OPS[str(m.op)], m.name, m.value))
            except ValueError as e:
                raise self.error(str(e), pos) from None
        name = node.name or ""
        if name and not any(
            m.name == METRIC_NAME and m.op is MatchOp.EQUAL and m.value == name for m in matchers
        ):
            matchers.insert(0, Matcher(MatchOp.EQUAL, METRIC_NAME, name))
        if not name:
            for m in matchers:
                if m.name == METRIC_NAME and m.op is MatchOp.EQUAL:
                    name = m.value
                    break
        if not allow_empty and not any(not m.matches_empty() for m in matchers):
            raise self.error("vector selector must contain at least one non-empty matcher", pos)
        return ast.VectorSelector(
            pos, name, tuple(matchers), _ms(node.offset), self.at(node, sh, pos)
        )

    def place_error(self, message: str) -> tuple[int, str]:
        """Where a parse error points and how it reads: the grammar's break, else
        the node the message names, else the start."""
        broken = syntax_error(self.query)
        if broken is not None:
            pos, own = broken
            return pos, own if message == "invalid promql query" else message
        return self._node_for(message), _prometheus_wording(message)

    def _node_for(self, message: str) -> int:
        try:
            tree = shape(self.query)
        except Exception:  # noqa: BLE001  best effort: must not hide the parse error
            return 0
        m = _TYPE_ERROR.match(message)
        if m:
            # point at the first argument of the type the message complains about
            got = m.group("got")
            if m.group("func"):
                node = find(tree, "call", m.group("func"))
                args = node.children if node is not None else []
            else:
                node = find(tree, "aggregate")
                args = node.children if node is not None else []
            for arg in args:
                if _SHAPE_TYPES.get(arg.kind, got) == got:
                    return arg.pos
            if node is not None:
                return node.pos
        for quote in ("'", '"'):
            if "function " + quote in message or "to " + quote in message:
                fname = message.split(quote)[1]
                hit = find(tree, "call", fname)
                if hit is not None:
                    return hit.pos
        for word, kind in (
            ("unary", "unary"),
            ("subquery", "subquery"),
            ("range", "matrix"),
            ("aggregation", "aggregate"),
            ("regex", "vector"),
            ("matcher", "vector"),
            ("operator", "binary"),
            ("binary", "binary"),
            ("bool", "binary"),
            ("vector matching", "binary"),
            ("offset", "vector"),
            ("@", "vector"),
        ):
            if word in message:
                hit = find(tree, kind)
                if hit is not None:
                    return hit.pos
        return 0


_TYPE_ERROR = re.compile(
    r"expected type (?P<want>\w+) in (?:call to function '(?P<func>[^']+)'|aggregation expression)"
    r", got (?P<got>\w+)"
)
# What a node of the mirrored tree evaluates to, where its kind alone says it.
_SHAPE_TYPES = {
    "number": "scalar",
    "string": "string",
    "matrix": "matrix",
    "subquery": "matrix",
    "vector": "vector",
    "aggregate": "vector",
}
_DOCUMENTED_TYPES = {
    "matrix": "range vector",
    "vector": "instant vector",
    "scalar": "scalar",
    "string": "string",
}


def _prometheus_wording(message: str) -> str:
    """promql-parser's type errors in Prometheus's words (``range vector``, quotes)."""
    m = _TYPE_ERROR.match(message)
    if not m:
        return message
    want = _DOCUMENTED_TYPES.get(m.group("want"), m.group("want"))
    got = _DOCUMENTED_TYPES.get(m.group("got"), m.group("got"))
    where = f'call to function "{m.group("func")}"' if m.group("func") else "aggregation expression"
    return f"expected type {want} in {where}, got {got}"


def parse(query: str) -> ast.Expr:
    """Parse and type-check ``query``; raises ``ParseError`` with its position."""
    conv = _Converter(query)
    try:
        tree = pp.parse(query)
    except BaseException as e:  # ValueError, or a pyo3 PanicException on odd input
        if isinstance(e, (KeyboardInterrupt, SystemExit)):
            raise
        pos, message = conv.place_error(str(e) or "invalid promql query")
        raise conv.error(message, pos) from None
    try:
        mirror = shape(query)
    except Exception:  # noqa: BLE001  best effort: a parsed query must still run
        mirror = None
    return conv.convert(tree, mirror)
