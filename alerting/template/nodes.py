"""Parse-tree nodes of a template, printed back the way Go prints them.

Go's error messages quote nodes (``executing "t" at <.foo>``), so every node
knows its Go text form (``str(node)``) and its position in the source.
"""

from __future__ import annotations

from dataclasses import dataclass

from alerting.template.gofmt import go_quote


@dataclass(eq=False, slots=True)
class Tree:
    """One named template: its body and where it was parsed from."""

    name: str
    parse_name: str  # the name of the top-level template whose text this came from
    text: str
    root: ListNode | None = None

    def location(self, pos: int) -> str:
        """Go's ``name:line:col`` for a position (col counts bytes from 0)."""
        before = self.text[:pos]
        nl = before.rfind("\n")
        col_text = before if nl < 0 else before[nl + 1 :]
        col = len(col_text.encode("utf-8", "surrogatepass"))
        return f"{self.parse_name}:{before.count(chr(10)) + 1}:{col}"


class Node:
    __slots__ = ("pos", "tree")

    def __init__(self, pos: int, tree: Tree | None):
        self.pos = pos
        self.tree = tree


class ListNode(Node):
    __slots__ = ("nodes",)

    def __init__(self, pos, tree):
        super().__init__(pos, tree)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class TextNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos, tree, text: str):
        super().__init__(pos, tree)
        self.text = text

    def __str__(self) -> str:
        return self.text


class CommentNode(Node):
    __slots__ = ("text",)

    def __init__(self, pos, tree, text: str):
        super().__init__(pos, tree)
        self.text = text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class PipeNode(Node):
    __slots__ = ("cmds", "decl", "is_assign", "line")

    def __init__(self, pos, tree, line: int):
        super().__init__(pos, tree)
        self.line = line
        self.is_assign = False
        self.decl: list[VariableNode] = []
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        s = ""
        if self.decl:
            s = ", ".join(str(v) for v in self.decl) + " := "
        return s + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    __slots__ = ("line", "pipe")

    def __init__(self, pos, tree, line: int, pipe: PipeNode):
        super().__init__(pos, tree)
        self.line = line
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class CommandNode(Node):
    __slots__ = ("args",)

    def __init__(self, pos, tree):
        super().__init__(pos, tree)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class IdentifierNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos, tree, ident: str):
        super().__init__(pos, tree)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident


class VariableNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos, tree, ident: list[str]):
        super().__init__(pos, tree)
        self.ident = ident

    def __str__(self) -> str:
        return ".".join(self.ident)


class DotNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "nil"


class FieldNode(Node):
    __slots__ = ("ident",)

    def __init__(self, pos, tree, ident: list[str]):
        super().__init__(pos, tree)
        self.ident = ident

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class ChainNode(Node):
    __slots__ = ("fields", "node")

    def __init__(self, pos, tree, node: Node):
        super().__init__(pos, tree)
        self.node = node
        self.fields: list[str] = []

    def __str__(self) -> str:
        s = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return s + "".join("." + f for f in self.fields)


class BoolNode(Node):
    __slots__ = ("value",)

    def __init__(self, pos, tree, value: bool):
        super().__init__(pos, tree)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


@dataclass(eq=False, slots=True)
class NumberValue:
    """What a number literal can be used as (Go keeps all the readings)."""

    text: str
    is_int: bool = False
    is_uint: bool = False
    is_float: bool = False
    is_complex: bool = False
    int_v: int = 0
    uint_v: int = 0
    float_v: float = 0.0
    complex_v: complex = 0j


class NumberNode(Node):
    __slots__ = ("num",)

    def __init__(self, pos, tree, num: NumberValue):
        super().__init__(pos, tree)
        self.num = num

    @property
    def text(self) -> str:
        return self.num.text

    def __str__(self) -> str:
        return self.num.text


class StringNode(Node):
    __slots__ = ("quoted", "value")

    def __init__(self, pos, tree, quoted: str, value: str):
        super().__init__(pos, tree)
        self.quoted = quoted
        self.value = value

    def __str__(self) -> str:
        return self.quoted


class BranchNode(Node):
    """if / range / with."""

    __slots__ = ("else_list", "line", "list", "pipe")
    keyword = ""

    def __init__(self, pos, tree, line, pipe, lst, else_list):
        super().__init__(pos, tree)
        self.line = line
        self.pipe: PipeNode = pipe
        self.list: ListNode = lst
        self.else_list: ListNode | None = else_list

    def __str__(self) -> str:
        s = "{{" + self.keyword + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            s += "{{else}}" + str(self.else_list)
        return s + "{{end}}"


class IfNode(BranchNode):
    __slots__ = ()
    keyword = "if"


class RangeNode(BranchNode):
    __slots__ = ()
    keyword = "range"


class WithNode(BranchNode):
    __slots__ = ()
    keyword = "with"


class BreakNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos, tree, line):
        super().__init__(pos, tree)
        self.line = line

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos, tree, line):
        super().__init__(pos, tree)
        self.line = line

    def __str__(self) -> str:
        return "{{continue}}"


class TemplateNode(Node):
    __slots__ = ("line", "name", "pipe")

    def __init__(self, pos, tree, line, name: str, pipe: PipeNode | None):
        super().__init__(pos, tree)
        self.line = line
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        if self.pipe is None:
            return "{{template " + go_quote(self.name) + "}}"
        return "{{template " + go_quote(self.name) + " " + str(self.pipe) + "}}"


# Internal markers the parser returns from itemList; never part of a tree.
class EndNode(Node):
    __slots__ = ()

    def __str__(self) -> str:
        return "{{end}}"


class ElseNode(Node):
    __slots__ = ("line",)

    def __init__(self, pos, tree, line):
        super().__init__(pos, tree)
        self.line = line

    def __str__(self) -> str:
        return "{{else}}"


def is_empty_tree(n: Node | None) -> bool:
    """Go's IsEmptyTree: only space and comments."""
    if n is None or isinstance(n, CommentNode):
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, TextNode):
        return n.text.strip() == ""
    return False
