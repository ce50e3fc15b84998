"""Where each sub-expression starts, found by walking the tokens with PromQL's grammar.

This is not a second parser of record: ``promql-parser`` decides what a query
means and whether it is valid. ``shape`` mirrors the tree ``promql-parser``
builds (same node kinds, same folding of ``-1`` into a number, same dropping of
unary ``+``) and records each node's first character and the literal text of
``@`` modifiers, which ``promql-parser`` loses for negative times. When a query
does not parse, ``syntax_error_position`` says where the grammar breaks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.promql.lexer import LexError, Token, tokenize

AGGREGATORS = frozenset(
    {
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    }
)
PARAM_AGGREGATORS = frozenset(
    {"count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)

# Binary operator precedence, lowest first; ^ is right-associative.
_PREC = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    "<": 3,
    ">=": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "</": 5,
    ">/": 5,
    "^": 6,
}
_WORD_OPS = frozenset({"and", "or", "unless", "atan2"})
_MODIFIER_WORDS = frozenset(
    {"bool", "on", "ignoring", "group_left", "group_right", "fill", "fill_left", "fill_right"}
)


@dataclass(slots=True)
class Shape:
    """A node of the mirrored tree: its kind, first character and children."""

    kind: str  # number string paren vector matrix subquery call aggregate binary unary
    pos: int
    children: list[Shape] = field(default_factory=list)
    name: str = ""  # function / aggregator / operator name
    at: str | None = None  # literal text after "@" ("-10", "start", "end", "1.5")
    text: str = ""  # a string literal's source text, quotes included
    has_param: bool = False


class SyntaxProblem(ValueError):
    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.pos = pos


class _Walker:
    def __init__(self, tokens: list[Token]):
        self.toks = tokens
        self.i = 0

    # --- token helpers ---------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def expect(self, kind: str) -> Token:
        t = self.peek()
        if t.kind != kind:
            what = "end of input" if t.kind == "EOF" else repr(t.text)
            raise SyntaxProblem(f"unexpected {what}, expected {kind!r}", t.pos)
        return self.next()

    def word(self, k: int = 0) -> str:
        t = self.peek(k)
        return t.text.lower() if t.kind == "IDENT" else ""

    def skip_group(self, open_: str, close: str) -> None:
        self.expect(open_)
        depth = 1
        while depth:
            t = self.next()
            if t.kind == "EOF":
                raise SyntaxProblem(f"unclosed {open_!r}", t.pos)
            if t.kind == open_:
                depth += 1
            elif t.kind == close:
                depth -= 1

    # --- grammar ---------------------------------------------------------------
    def binop(self) -> str | None:
        t = self.peek()
        if t.kind == "IDENT" and t.text.lower() in _WORD_OPS:
            return t.text.lower()
        if t.kind in _PREC:
            return t.kind
        return None

    def expr(self, min_prec: int = 0) -> Shape:
        lhs = self.unary()
        while True:
            op = self.binop()
            if op is None or _PREC[op] < min_prec:
                return lhs
            self.next()
            while self.word() in _MODIFIER_WORDS:
                w = self.next().text.lower()
                if w != "bool" and self.peek().kind == "(":
                    self.skip_group("(", ")")
            rhs = self.expr(_PREC[op] if op == "^" else _PREC[op] + 1)
            lhs = Shape("binary", lhs.pos, [lhs, rhs], name=op)

    def unary(self) -> Shape:
        t = self.peek()
        if t.kind in ("+", "-"):
            self.next()
            operand = self.expr(_PREC["^"])
            if operand.kind == "number":
                operand.pos = t.pos
                return operand
            if t.kind == "+":
                return operand
            return Shape("unary", t.pos, [operand], name="-")
        return self.postfix(self.atom())

    def postfix(self, node: Shape) -> Shape:
        while True:
            t = self.peek()
            if t.kind == "[":
                start = self.next()
                self.duration()
                if self.peek().kind == ":":
                    self.next()
                    if self.peek().kind != "]":
                        self.duration()
                    self.expect("]")
                    node = Shape("subquery", node.pos, [node])
                else:
                    self.expect("]")
                    if node.kind != "vector":
                        raise SyntaxProblem("ranges only allowed for vector selectors", start.pos)
                    node = Shape("matrix", node.pos, [node])
            elif self.word() == "offset":
                self.next()
                if self.peek().kind in ("+", "-"):
                    self.next()
                self.duration()
            elif t.kind == "@":
                self.next()
                sign = ""
                if self.peek().kind in ("+", "-"):
                    sign = self.next().text
                v = self.peek()
                if v.kind == "IDENT" and v.text.lower() in ("start", "end"):
                    self.next()
                    self.expect("(")
                    self.expect(")")
                    text = v.text.lower()
                elif v.kind in ("NUMBER", "DURATION"):
                    self.next()
                    text = sign + v.text
                else:
                    raise SyntaxProblem("unexpected token after @", v.pos)
                target = node.children[0] if node.kind == "matrix" else node
                target.at = text
            else:
                return node

    def duration(self) -> None:
        t = self.peek()
        if t.kind not in ("DURATION", "NUMBER"):
            raise SyntaxProblem("expected a duration", t.pos)
        self.next()

    def atom(self) -> Shape:
        t = self.peek()
        if t.kind in ("NUMBER", "DURATION"):
            self.next()
            return Shape("number", t.pos)
        if t.kind == "STRING":
            self.next()
            return Shape("string", t.pos, text=t.text)
        if t.kind == "(":
            self.next()
            inner = self.expr()
            self.expect(")")
            return Shape("paren", t.pos, [inner])
        if t.kind == "{":
            self.skip_group("{", "}")
            return Shape("vector", t.pos)
        if t.kind == "IDENT":
            w = t.text.lower()
            nxt = self.peek(1)
            if w in ("inf", "nan"):
                self.next()
                return Shape("number", t.pos)
            if w in AGGREGATORS and (nxt.kind == "(" or self.word(1) in ("by", "without")):
                return self.aggregate()
            if nxt.kind == "(":
                return self.call()
            self.next()
            if self.peek().kind == "{":
                self.skip_group("{", "}")
            return Shape("vector", t.pos, name=t.text)
        what = "end of input" if t.kind == "EOF" else repr(t.text)
        raise SyntaxProblem(f"unexpected {what}", t.pos)

    def aggregate(self) -> Shape:
        t = self.next()
        op = t.text.lower()
        if self.word() in ("by", "without"):
            self.next()
            self.skip_group("(", ")")
        self.expect("(")
        first = self.expr()
        children = [first]
        has_param = False
        if self.peek().kind == ",":
            self.next()
            children.append(self.expr())
            has_param = True
        self.expect(")")
        if self.word() in ("by", "without"):
            self.next()
            self.skip_group("(", ")")
        return Shape("aggregate", t.pos, children, name=op, has_param=has_param)

    def call(self) -> Shape:
        t = self.next()
        self.expect("(")
        args: list[Shape] = []
        if self.peek().kind != ")":
            args.append(self.expr())
            while self.peek().kind == ",":
                self.next()
                args.append(self.expr())
        self.expect(")")
        return Shape("call", t.pos, args, name=t.text)


def shape(query: str) -> Shape:
    """The mirrored tree of a query that ``promql-parser`` accepted."""
    w = _Walker(tokenize(query))
    node = w.expr()
    if w.peek().kind != "EOF":
        raise SyntaxProblem(f"unexpected {w.peek().text!r}", w.peek().pos)
    return node


def syntax_error(query: str) -> tuple[int, str] | None:
    """Offset and wording of where the grammar breaks, or None when the tokens form
    a valid tree (then the problem is one of types or values, not syntax)."""
    try:
        shape(query)
    except (LexError, SyntaxProblem) as e:
        return e.pos, str(e)
    except RecursionError:
        return 0, "expression nested too deeply"
    return None


def find(node: Shape, kind: str, name: str | None = None) -> Shape | None:
    """First node (pre-order) of a kind (and name), to place a type error."""
    if node.kind == kind and (name is None or node.name == name):
        return node
    for c in node.children:
        hit = find(c, kind, name)
        if hit is not None:
            return hit
    return None
