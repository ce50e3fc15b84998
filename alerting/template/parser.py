"""The parser of Go's text/template: tokens in, named trees out.

It mirrors Go's recursive-descent parser (``text/template/parse``), including
its scoping of variables, the ``else if``/``else with`` rewriting, ``define``,
``block`` and ``break``/``continue`` inside ``range``, and its error messages
(``template: NAME:LINE: MESSAGE``).
"""

from __future__ import annotations

from collections.abc import Container

from alerting.template import lexer as L
from alerting.template.literals import SyntaxErr, parse_number, unquote
from alerting.template.nodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    ContinueNode,
    DotNode,
    ElseNode,
    EndNode,
    FieldNode,
    IdentifierNode,
    IfNode,
    ListNode,
    NilNode,
    Node,
    NumberNode,
    PipeNode,
    RangeNode,
    StringNode,
    TemplateNode,
    TextNode,
    Tree,
    VariableNode,
    WithNode,
    is_empty_tree,
)


class ParseError(Exception):
    """Raised with Go's message text; ``Template.parse`` wraps it in TemplateError."""


_OPERAND_START = {
    L.BOOL,
    L.CHAR_CONSTANT,
    L.COMPLEX,
    L.DOT,
    L.FIELD,
    L.IDENTIFIER,
    L.NUMBER,
    L.NIL,
    L.RAW_STRING,
    L.STRING,
    L.VARIABLE,
    L.LEFT_PAREN,
}


class _Stream:
    """The token list with Go's look-ahead; remembers the furthest token read,
    whose line Go's errors report."""

    def __init__(self, tokens: list[L.Token]):
        self.tokens = tokens
        self.i = 0
        self.furthest = 0

    def next(self) -> L.Token:
        tok = self.tokens[min(self.i, len(self.tokens) - 1)]
        self.i += 1
        self.furthest = max(self.furthest, self.i - 1)
        return tok

    def backup(self, n: int = 1) -> None:
        self.i -= n

    def peek(self) -> L.Token:
        tok = self.next()
        self.backup()
        return tok

    def next_non_space(self) -> L.Token:
        while True:
            tok = self.next()
            if tok.typ != L.SPACE:
                return tok

    def peek_non_space(self) -> L.Token:
        tok = self.next_non_space()
        self.backup()
        return tok

    @property
    def line(self) -> int:
        return self.tokens[min(self.furthest, len(self.tokens) - 1)].line


class _TreeParser:
    """Parses one tree (the top level or one define/block body) from a shared stream."""

    def __init__(
        self,
        name: str,
        parse_name: str,
        text: str,
        funcs: Container[str],
        stream: _Stream,
        tree_set: dict[str, Tree],
    ):
        self.tree = Tree(name, parse_name, text)
        self.funcs = funcs
        self.s = stream
        self.tree_set = tree_set
        self.vars = ["$"]
        self.range_depth = 0
        self.action_line = 0

    # --- errors --------------------------------------------------------------
    def errorf(self, msg: str):
        raise ParseError(f"template: {self.tree.parse_name}:{self.s.line}: {msg}")

    def unexpected(self, tok: L.Token, context: str):
        if tok.typ == L.ERROR:
            extra = ""
            if self.action_line != 0 and self.action_line != tok.line:
                extra = f" in action started at {self.tree.parse_name}:{self.action_line}"
                if tok.val.endswith(" action"):
                    extra = extra[len(" in action") :]
            self.errorf(f"{tok.val}{extra}")
        self.errorf(f"unexpected {tok.describe()} in {context}")

    def expect(self, typ: str, context: str) -> L.Token:
        tok = self.s.next_non_space()
        if tok.typ != typ:
            self.unexpected(tok, context)
        return tok

    # --- tree management -----------------------------------------------------
    def add(self) -> None:
        t = self.tree
        old = self.tree_set.get(t.name)
        if old is None or is_empty_tree(old.root):
            self.tree_set[t.name] = t
            return
        if not is_empty_tree(t.root):
            self.errorf(f"template: multiple definition of template {_q(t.name)}")

    def _sub(self, name: str) -> _TreeParser:
        p = _TreeParser(name, self.tree.parse_name, self.tree.text, self.funcs, self.s, self.tree_set)
        return p

    # --- top level -----------------------------------------------------------
    def parse(self) -> None:
        s = self.s
        self.tree.root = ListNode(s.peek().pos, self.tree)
        while s.peek().typ != L.EOF:
            if s.peek().typ == L.LEFT_DELIM:
                s.next()
                if s.next_non_space().typ == "define":
                    sub = self._sub("definition")
                    sub.parse_definition()
                    continue
                # back up to the delimiter (skipping back over any spaces we read)
                while s.tokens[s.i - 1].typ != L.LEFT_DELIM:
                    s.backup()
                s.backup()
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                self.errorf(f"unexpected {n}")
            self.tree.root.nodes.append(n)

    def parse_definition(self) -> None:
        context = "define clause"
        tok = self.s.next_non_space()
        if tok.typ not in (L.STRING, L.RAW_STRING):
            self.unexpected(tok, context)
        try:
            self.tree.name = unquote(tok.val)
        except SyntaxErr as e:
            self.errorf(str(e))
        self.expect(L.RIGHT_DELIM, context)
        self.tree.root, end = self.item_list()
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        self.add()

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self.s.peek_non_space().pos, self.tree)
        while self.s.peek_non_space().typ != L.EOF:
            n = self.text_or_action()
            if isinstance(n, (EndNode, ElseNode)):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")
        raise AssertionError("unreachable")

    def text_or_action(self) -> Node:
        tok = self.s.next_non_space()
        if tok.typ == L.TEXT:
            return TextNode(tok.pos, self.tree, tok.val)
        if tok.typ == L.LEFT_DELIM:
            self.action_line = tok.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        self.unexpected(tok, "input")
        raise AssertionError("unreachable")

    # --- actions -------------------------------------------------------------
    def action(self) -> Node:
        tok = self.s.next_non_space()
        t = tok.typ
        if t == "block":
            return self.block_control()
        if t == "break":
            return self.break_control(tok, "break")
        if t == "continue":
            return self.break_control(tok, "continue")
        if t == "else":
            return self.else_control()
        if t == "end":
            return self.end_control()
        if t == "if":
            return self.if_control()
        if t == "range":
            return self.range_control()
        if t == "template":
            return self.template_control()
        if t == "with":
            return self.with_control()
        self.s.backup()
        tok = self.s.peek()
        return ActionNode(tok.pos, self.tree, tok.line, self.pipeline("command", L.RIGHT_DELIM))

    def break_control(self, tok: L.Token, word: str) -> Node:
        nxt = self.s.next_non_space()
        if nxt.typ != L.RIGHT_DELIM:
            self.unexpected(nxt, "{{" + word + "}}")
        if self.range_depth == 0:
            self.errorf("{{" + word + "}} outside {{range}}")
        cls = BreakNode if word == "break" else ContinueNode
        return cls(tok.pos, self.tree, tok.line)

    def pipeline(self, context: str, end: str) -> PipeNode:
        s = self.s
        tok = s.peek_non_space()
        pipe = PipeNode(tok.pos, self.tree, tok.line)
        while True:  # declarations
            v = s.peek_non_space()
            if v.typ != L.VARIABLE:
                break
            s.next_non_space()
            after = s.peek()
            nxt = s.peek_non_space()
            if nxt.typ in (L.ASSIGN, L.DECLARE):
                pipe.is_assign = nxt.typ == L.ASSIGN
                s.next_non_space()
                pipe.decl.append(VariableNode(v.pos, self.tree, [v.val]))
                self.vars.append(v.val)
            elif nxt.typ == L.CHAR and nxt.val == ",":
                s.next_non_space()
                pipe.decl.append(VariableNode(v.pos, self.tree, [v.val]))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if s.peek_non_space().typ in (L.VARIABLE, L.RIGHT_DELIM, L.RIGHT_PAREN):
                        continue  # the second variable of a range
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            else:
                # not a declaration: put the variable (and what we peeked) back
                while s.tokens[s.i - 1] is not v:
                    s.backup()
                s.backup()
                _ = after
            break
        while True:
            tok = s.next_non_space()
            if tok.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if tok.typ in _OPERAND_START:
                s.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(tok, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if isinstance(c.args[0], (BoolNode, DotNode, NilNode, NumberNode, StringNode)):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, context: str):
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, L.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if isinstance(nxt, ElseNode):
                peek = self.s.peek()
                if context == "if" and peek.typ == "if":
                    self.s.next()
                    else_list = ListNode(nxt.pos, self.tree)
                    else_list.nodes.append(self.if_control())
                elif context == "with" and peek.typ == "with":
                    self.s.next()
                    else_list = ListNode(nxt.pos, self.tree)
                    else_list.nodes.append(self.with_control())
                else:
                    else_list, nxt = self.item_list()
                    if not isinstance(nxt, EndNode):
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def if_control(self) -> Node:
        pos, line, pipe, lst, el = self.parse_control("if")
        return IfNode(pos, self.tree, line, pipe, lst, el)

    def range_control(self) -> Node:
        pos, line, pipe, lst, el = self.parse_control("range")
        return RangeNode(pos, self.tree, line, pipe, lst, el)

    def with_control(self) -> Node:
        pos, line, pipe, lst, el = self.parse_control("with")
        return WithNode(pos, self.tree, line, pipe, lst, el)

    def end_control(self) -> Node:
        tok = self.expect(L.RIGHT_DELIM, "end")
        return EndNode(tok.pos, self.tree)

    def else_control(self) -> Node:
        peek = self.s.peek_non_space()
        if peek.typ in ("if", "with"):
            # "{{else if ...": leave the keyword for parse_control
            while self.s.tokens[self.s.i].typ == L.SPACE:
                self.s.next()
            return ElseNode(peek.pos, self.tree, peek.line)
        tok = self.expect(L.RIGHT_DELIM, "else")
        return ElseNode(tok.pos, self.tree, tok.line)

    def template_control(self) -> Node:
        context = "template clause"
        tok = self.s.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe = None
        if self.s.next_non_space().typ != L.RIGHT_DELIM:
            self.s.backup()
            pipe = self.pipeline(context, L.RIGHT_DELIM)
        return TemplateNode(tok.pos, self.tree, tok.line, name, pipe)

    def parse_template_name(self, tok: L.Token, context: str) -> str:
        if tok.typ in (L.STRING, L.RAW_STRING):
            try:
                return unquote(tok.val)
            except SyntaxErr as e:
                self.errorf(str(e))
        self.unexpected(tok, context)
        raise AssertionError("unreachable")

    def block_control(self) -> Node:
        context = "block clause"
        tok = self.s.next_non_space()
        name = self.parse_template_name(tok, context)
        pipe = self.pipeline(context, L.RIGHT_DELIM)
        sub = self._sub(name)
        sub.tree.root, end = sub.item_list()
        if not isinstance(end, EndNode):
            self.errorf(f"unexpected {end} in {context}")
        sub.add()
        return TemplateNode(tok.pos, self.tree, tok.line, name, pipe)

    # --- commands and operands -----------------------------------------------
    def command(self) -> CommandNode:
        s = self.s
        cmd = CommandNode(s.peek_non_space().pos, self.tree)
        while True:
            s.peek_non_space()
            op = self.operand()
            if op is not None:
                cmd.args.append(op)
            tok = s.next()
            if tok.typ == L.SPACE:
                continue
            if tok.typ in (L.RIGHT_DELIM, L.RIGHT_PAREN):
                s.backup()
            elif tok.typ == L.PIPE:
                pass
            else:
                self.unexpected(tok, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.s.peek().typ == L.FIELD:
            chain = ChainNode(self.s.peek().pos, self.tree, node)
            while self.s.peek().typ == L.FIELD:
                chain.fields.append(self.s.next().val[1:])
            if isinstance(node, FieldNode):
                return FieldNode(chain.pos, self.tree, node.ident + chain.fields)
            if isinstance(node, VariableNode):
                return VariableNode(chain.pos, self.tree, node.ident + chain.fields)
            if isinstance(node, (BoolNode, StringNode, NumberNode, NilNode, DotNode)):
                self.errorf(f"unexpected . after term {_q(str(node))}")
            return chain
        return node

    def term(self) -> Node | None:
        tok = self.s.next_non_space()
        t = tok.typ
        if t == L.IDENTIFIER:
            if tok.val not in self.funcs:
                self.errorf(f"function {_q(tok.val)} not defined")
            return IdentifierNode(tok.pos, self.tree, tok.val)
        if t == L.DOT:
            return DotNode(tok.pos, self.tree)
        if t == L.NIL:
            return NilNode(tok.pos, self.tree)
        if t == L.VARIABLE:
            return self.use_var(tok)
        if t == L.FIELD:
            return FieldNode(tok.pos, self.tree, [tok.val[1:]])
        if t == L.BOOL:
            return BoolNode(tok.pos, self.tree, tok.val == "true")
        if t in (L.CHAR_CONSTANT, L.COMPLEX, L.NUMBER):
            try:
                return NumberNode(tok.pos, self.tree, parse_number(tok.val, t))
            except SyntaxErr as e:
                self.errorf(str(e))
        if t == L.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", L.RIGHT_PAREN)
        if t in (L.STRING, L.RAW_STRING):
            try:
                return StringNode(tok.pos, self.tree, tok.val, unquote(tok.val))
            except SyntaxErr as e:
                self.errorf(str(e))
        self.s.backup()
        return None

    def use_var(self, tok: L.Token) -> VariableNode:
        v = VariableNode(tok.pos, self.tree, [tok.val])
        if tok.val in self.vars:
            return v
        self.errorf(f"undefined variable {_q(tok.val)}")
        raise AssertionError("unreachable")


def _q(s: str) -> str:
    from alerting.template.gofmt import go_quote

    return go_quote(s)


def parse(name: str, text: str, funcs: Container[str]) -> dict[str, Tree]:
    """Parse ``text`` as the template ``name``; returns every tree it defines
    (the top level under ``name``), or raises ParseError."""
    break_ok = "break" not in funcs
    continue_ok = "continue" not in funcs
    tokens = L.lex(text, break_ok, continue_ok)
    stream = _Stream(tokens)
    tree_set: dict[str, Tree] = {}
    top = _TreeParser(name, name, text, funcs, stream, tree_set)
    top.parse()
    top.add()
    return tree_set
