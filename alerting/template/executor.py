"""Executes parsed templates over Python data with Go's text/template semantics.

Mirrors Go's ``exec.go``: the dot, the variable stack and its scoping, field
chains through maps, methods and attributes, pipelines passing their value as
the last argument, typed function parameters, ``missingkey``, and error
messages of the form ``template: NAME:LINE:COL: executing "NAME" at <NODE>: ...``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from alerting.template import builtins as B
from alerting.template import values as V
from alerting.template.gofmt import go_quote, go_type_name, sprint
from alerting.template.nodes import (
    ActionNode,
    BoolNode,
    BreakNode,
    ChainNode,
    CommandNode,
    CommentNode,
    ContinueNode,
    DotNode,
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
)

# Go allows 100000 nested {{template}} calls; Python's stack allows far fewer,
# and a template that recurses this deep is a bug in the template.
MAX_EXEC_DEPTH = 100


class ExecError(Exception):
    """An execution failure with Go's message."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()  # "no final value" (Go's missingVal)


class _Iface:
    """A value read from an ``interface {}`` slot (an element of a plain list or
    dict). Go reports such values by their static type (``interface {}``) and
    distinguishes a nil stored in the slot from a missing one; pipelines unwrap
    them, so they never leave the executor."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


def _dig(v):
    return v.v if isinstance(v, _Iface) else v


def _iface_map(m: Mapping) -> bool:
    return not hasattr(type(m), "go_zero")


def _iface_seq(v) -> bool:
    return isinstance(v, (list, tuple)) and not V.is_struct(v)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# missingkey modes
MISSING_INVALID = "invalid"
MISSING_ZERO = "zero"
MISSING_ERROR = "error"

_BUILTIN_BASES = (dict, list, tuple, str, bytes, bytearray, int, float, complex, bool, object)


def _lookup_method(receiver, name: str):
    """A public method of the receiver's own class (not of dict/list/str...)."""
    if name.startswith("_"):
        return None
    for klass in type(receiver).__mro__:
        if klass in _BUILTIN_BASES:
            continue
        attr = klass.__dict__.get(name)
        if attr is None:
            continue
        if isinstance(attr, (staticmethod, classmethod)) or V.is_func(attr):
            return getattr(receiver, name)
        return None  # a property or class attribute: a field
    return None


_NOT_FOUND = object()


def _lookup_field(receiver, name: str):
    if name.startswith("_"):
        return _NOT_FOUND
    try:
        return getattr(receiver, name)
    except AttributeError:
        return _NOT_FOUND
    except Exception as e:  # noqa: BLE001 - a property that raised
        raise B.FuncError(str(e)) from None


class State:
    """One execution: output buffer, variable stack, current node and template."""

    def __init__(
        self,
        lookup: Callable[[str], Tree | None],
        funcs: Mapping[str, Callable],
        missingkey: str,
        tree: Tree,
        data,
    ):
        self.lookup = lookup
        self.funcs = funcs
        self.missingkey = missingkey
        self.tree = tree
        self.node: Node | None = None
        self.vars: list[list] = [["$", data]]
        self.depth = 0
        self.out: list[str] = []

    # --- errors --------------------------------------------------------------
    def errorf(self, msg: str):
        name = self.tree.name
        if self.node is None:
            raise ExecError(f"template: {name}: {msg}")
        tree = self.node.tree or self.tree
        loc = tree.location(self.node.pos)
        raise ExecError(f"template: {loc}: executing {go_quote(name)} at <{self.node}>: {msg}")

    def at(self, node: Node) -> None:
        self.node = node

    # --- variables -----------------------------------------------------------
    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def push(self, name: str, value) -> None:
        self.vars.append([name, value])

    def set_var(self, name: str, value) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str):
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.errorf(f"undefined variable: {name}")

    # --- walking -------------------------------------------------------------
    def walk(self, dot, node: Node) -> None:
        self.at(node)
        if isinstance(node, TextNode):
            self.out.append(node.text)
        elif isinstance(node, ActionNode):
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif isinstance(node, ListNode):
            for n in node.nodes:
                self.walk(dot, n)
        elif isinstance(node, IfNode):
            self.walk_if_or_with(False, dot, node)
        elif isinstance(node, WithNode):
            self.walk_if_or_with(True, dot, node)
        elif isinstance(node, RangeNode):
            self.walk_range(dot, node)
        elif isinstance(node, TemplateNode):
            self.walk_template(dot, node)
        elif isinstance(node, BreakNode):
            raise _Break()
        elif isinstance(node, ContinueNode):
            raise _Continue()
        elif isinstance(node, CommentNode):
            pass
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, is_with: bool, dot, node) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, node.pipe)
            if V.is_true(val):
                self.walk(val if is_with else dot, node.list)
            elif node.else_list is not None:
                self.walk(dot, node.else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot, r: RangeNode) -> None:
        self.at(r)
        outer = self.mark()
        try:
            val = self.eval_pipeline(dot, r.pipe)
            mark = self.mark()
            decl = r.pipe.decl
            assign = r.pipe.is_assign

            def one(index, elem) -> None:
                if decl:
                    if assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.set_top_var(1, elem)
                if len(decl) > 1:
                    if assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.set_top_var(2, index)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    self.pop(mark)

            ran = False
            try:
                for index, elem in self._range_items(val, r):
                    ran = True
                    one(index, elem)
            except _Break:
                return
            if not ran and r.else_list is not None:
                self.walk(dot, r.else_list)
        finally:
            self.pop(outer)

    def _range_items(self, val, r: RangeNode) -> Iterator[tuple]:
        if val is None:
            return iter(())
        if isinstance(val, Mapping):
            from alerting.template.gofmt import _sorted_keys

            if _iface_map(val):
                return ((k, _Iface(val[k])) for k in _sorted_keys(val))
            return ((k, val[k]) for k in _sorted_keys(val))
        if _iface_seq(val):
            return ((i, _Iface(e)) for i, e in enumerate(val))
        if isinstance(val, (bytes, bytearray)):
            return enumerate(val)
        if isinstance(val, int) and not isinstance(val, bool):
            if len(r.pipe.decl) > 1:
                self.errorf(f"can't use {sprint(val)} to iterate over more than one variable")
            return ((None, i) for i in range(val))
        it = V.iterate(val)
        if it is not None:
            return enumerate(it)
        self.errorf(f"range can't iterate over {sprint(val)}")
        raise AssertionError("unreachable")

    def walk_template(self, dot, t: TemplateNode) -> None:
        self.at(t)
        tree = self.lookup(t.name)
        if tree is None or tree.root is None:
            self.errorf(f"template {go_quote(t.name)} not defined")
        if self.depth >= MAX_EXEC_DEPTH:
            self.errorf(f"exceeded maximum template depth ({MAX_EXEC_DEPTH})")
        dot = self.eval_pipeline(dot, t.pipe) if t.pipe is not None else None
        saved = (self.tree, self.vars, self.depth)
        self.tree = tree
        self.vars = [["$", dot]]
        self.depth += 1
        try:
            self.walk(dot, tree.root)
        finally:
            self.tree, self.vars, self.depth = saved

    # --- evaluation ----------------------------------------------------------
    def eval_pipeline(self, dot, pipe: PipeNode):
        self.at(pipe)
        value = MISSING
        for cmd in pipe.cmds:
            value = _dig(self.eval_command(dot, cmd, value))
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.ident[0], value)
            else:
                self.push(v.ident[0], value)
        return value

    def not_a_function(self, args: list[Node], final) -> None:
        if len(args) > 1 or final is not MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot, cmd: CommandNode, final):
        first = cmd.args[0]
        if isinstance(first, FieldNode):
            return self.eval_field_node(dot, first, cmd.args, final)
        if isinstance(first, ChainNode):
            return self.eval_chain_node(dot, first, cmd.args, final)
        if isinstance(first, IdentifierNode):
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if isinstance(first, PipeNode):
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if isinstance(first, VariableNode):
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if isinstance(first, BoolNode):
            return first.value
        if isinstance(first, DotNode):
            return dot
        if isinstance(first, NilNode):
            self.errorf("nil is not a command")
        if isinstance(first, NumberNode):
            return self.ideal_constant(first)
        if isinstance(first, StringNode):
            return first.value
        self.errorf(f"can't evaluate command {go_quote(str(first))}")

    def ideal_constant(self, c: NumberNode):
        self.at(c)
        n = c.num
        text = n.text
        if n.is_complex:
            return n.complex_v
        is_hex_int = (
            len(text) > 2 and text[0] == "0" and text[1] in "xX" and not any(x in text for x in "pP")
        )
        if n.is_float and not is_hex_int and not text.startswith("'") and any(x in text for x in ".eEpP"):
            return n.float_v
        if n.is_int:
            return n.int_v
        if n.is_uint:
            self.errorf(f"{text} overflows int")
        return None

    def eval_field_node(self, dot, field: FieldNode, args, final):
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot, chain: ChainNode, args, final):
        self.at(chain)
        if not chain.fields:
            self.errorf("internal error: no fields in evalChainNode")
        if isinstance(chain.node, NilNode):
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable_node(self, dot, var: VariableNode, args, final):
        self.at(var)
        value = self.var_value(var.ident[0])
        if len(var.ident) == 1:
            self.not_a_function(args or [var], final)
            return value
        return self.eval_field_chain(dot, value, var, var.ident[1:], args, final)

    def eval_field_chain(self, dot, receiver, node: Node, ident: list[str], args, final):
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, MISSING, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_function(self, dot, node: IdentifierNode, cmd: Node, args, final):
        self.at(node)
        name = node.ident
        fn = self.funcs.get(name)
        if fn is None:
            self.errorf(f"{go_quote(name)} is not a defined function")
        return self.eval_call(dot, fn, name in B.BUILTINS and fn is B.BUILTINS[name], cmd, name, args, final)

    def eval_field(self, dot, name: str, node: Node, args, final, receiver):
        if isinstance(receiver, _Iface):
            if receiver.v is None:
                self.errorf(f"nil pointer evaluating interface {{}}.{name}")
            receiver = receiver.v
            typ = "interface {}"
        elif receiver is None:
            if self.missingkey == MISSING_ERROR:
                self.errorf(f"nil data; no entry for key {go_quote(name)}")
            return None
        else:
            typ = go_type_name(receiver)
        method = _lookup_method(receiver, name)
        if method is not None:
            return self.eval_call(dot, method, False, node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        if isinstance(receiver, Mapping):
            if has_args:
                self.errorf(f"{name} is not a method but has arguments")
            iface = _iface_map(receiver)
            if name in receiver:
                return _Iface(receiver[name]) if iface else receiver[name]
            if self.missingkey == MISSING_ZERO:
                return _Iface(None) if iface else V.map_zero(receiver)
            if self.missingkey == MISSING_ERROR:
                self.errorf(f"map has no entry for key {go_quote(name)}")
            return None
        if V.is_struct(receiver):
            try:
                value = _lookup_field(receiver, name)
            except B.FuncError as e:
                self.errorf(str(e))
            if value is not _NOT_FOUND:
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return value
        self.errorf(f"can't evaluate field {name} in type {typ}")

    def eval_call(self, dot, fn, is_builtin: bool, node: Node, name: str, args, final):
        args = list(args[1:]) if args is not None else []
        spec = B.BUILTIN_SPECS[name] if is_builtin else V.param_spec(fn)
        num_in = len(args) + (0 if final is MISSING else 1)
        n_params = len(spec.fixed)
        if spec.variadic:
            num_fixed = n_params
            if num_in < spec.required:
                self.errorf(
                    f"wrong number of args for {name}: want at least {spec.required} got {len(args)}"
                )
        else:
            num_fixed = len(args)
            if not spec.required <= num_in <= n_params:
                want = n_params if num_in > n_params else spec.required
                self.errorf(f"wrong number of args for {name}: want {want} got {num_in}")

        if is_builtin and name in ("and", "or"):
            v = None
            for a in args:
                v = self._eval_arg_keep(dot, a)
                if V.is_true(_dig(v)) == (name == "or"):
                    return v
            if final is not MISSING:
                v = final
            return v

        argv = []
        i = 0
        if is_builtin and name == "len" and args:
            # len tells a nil stored in an interface slot from a missing value
            v = self._eval_arg_keep(dot, args[0])
            if isinstance(v, _Iface) and v.v is None:
                self.at(node)
                self.errorf("error calling len: len of nil pointer")
            argv.append(_dig(v))
            i = 1
        while i < num_fixed and i < len(args):
            t = spec.fixed[i] if i < n_params else spec.variadic_type
            argv.append(self.eval_arg(dot, t, args[i]))
            i += 1
        if spec.variadic:
            while i < len(args):
                t = spec.fixed[i] if i < n_params else spec.variadic_type
                argv.append(self.eval_arg(dot, t, args[i]))
                i += 1
        if final is not MISSING:
            k = num_in - 1
            t = spec.fixed[k] if k < n_params else spec.variadic_type
            argv.append(self.validate_type(final, t))
        try:
            result = fn(*argv)
        except (ExecError, _Break, _Continue):
            raise
        except RecursionError:
            self.at(node)
            self.errorf(f"error calling {name}: maximum recursion depth exceeded")
        except Exception as e:  # noqa: BLE001 - Go turns a function's panic into an exec error
            self.at(node)
            self.errorf(f"error calling {name}: {_err_text(e)}")
        return result

    def _eval_arg_keep(self, dot, n: Node):
        """An interface{} argument, keeping whether it sits in an interface slot."""
        self.at(n)
        if isinstance(n, FieldNode):
            return self.eval_field_node(dot, n, [n], MISSING)
        if isinstance(n, VariableNode):
            return self.eval_variable_node(dot, n, None, MISSING)
        if isinstance(n, DotNode):
            return dot
        return self.eval_arg(dot, None, n)

    def validate_type(self, value, t: type | None):
        if isinstance(value, _Iface):
            if value.v is None and t is not None:
                self.errorf(f"wrong type for value; expected {V.type_label(t)}; got interface {{}}")
            value = value.v
        if value is None:
            if t is None or V.is_go_named(t):
                return None
            self.errorf(f"invalid value; expected {V.type_label(t)}")
        if t is None:
            return value
        ok = (
            (isinstance(value, int) and not isinstance(value, bool))
            if t is int
            else isinstance(value, float)
            if t is float
            else isinstance(value, t)
        )
        if not ok:
            self.errorf(
                f"wrong type for value; expected {V.type_label(t)}; got {go_type_name(value)}"
            )
        return value

    def eval_arg(self, dot, t: type | None, n: Node):
        self.at(n)
        if isinstance(n, DotNode):
            return self.validate_type(dot, t)
        if isinstance(n, NilNode):
            if t is None or V.is_go_named(t):
                return None
            self.errorf(f"cannot assign nil to {V.type_label(t)}")
        if isinstance(n, FieldNode):
            return self.validate_type(self.eval_field_node(dot, n, [n], MISSING), t)
        if isinstance(n, VariableNode):
            return self.validate_type(self.eval_variable_node(dot, n, None, MISSING), t)
        if isinstance(n, PipeNode):
            return self.validate_type(self.eval_pipeline(dot, n), t)
        if isinstance(n, IdentifierNode):
            return self.validate_type(self.eval_function(dot, n, n, None, MISSING), t)
        if isinstance(n, ChainNode):
            return self.validate_type(self.eval_chain_node(dot, n, None, MISSING), t)
        if t is bool:
            if isinstance(n, BoolNode):
                return n.value
            self.errorf(f"expected bool; found {n}")
        if t is str:
            if isinstance(n, StringNode):
                return n.value
            self.errorf(f"expected string; found {n}")
        if t is int:
            if isinstance(n, NumberNode) and n.num.is_int:
                return n.num.int_v
            self.errorf(f"expected integer; found {n}")
        if t is float:
            if isinstance(n, NumberNode) and n.num.is_float:
                return n.num.float_v
            self.errorf(f"expected float; found {n}")
        if t is complex:
            if isinstance(n, NumberNode) and n.num.is_complex:
                return n.num.complex_v
            if isinstance(n, NumberNode) and n.num.is_float:
                return complex(n.num.float_v)
            self.errorf(f"expected complex; found {n}")
        if t is not None:
            self.errorf(f"can't handle {n} for arg of type {V.type_label(t)}")
        # interface{}
        if isinstance(n, BoolNode):
            return n.value
        if isinstance(n, NumberNode):
            return self.ideal_constant(n)
        if isinstance(n, StringNode):
            return n.value
        self.errorf(f"can't handle assignment of {n} to empty interface argument")

    # --- printing ------------------------------------------------------------
    def print_value(self, n: Node, v) -> None:
        self.at(n)
        if v is None:
            self.out.append("<no value>")
            return
        if V.is_func(v):
            self.errorf(f"can't print {n} of type {go_type_name(v)}")
        try:
            self.out.append(sprint(v))
        except RecursionError:
            self.errorf("can't print a value that contains itself")


def _err_text(e: BaseException) -> str:
    if isinstance(e, KeyError) and e.args:
        return str(e.args[0])
    text = str(e)
    return text if text else type(e).__name__


def execute(
    tree: Tree,
    data,
    lookup: Callable[[str], Tree | None],
    funcs: Mapping[str, Callable],
    missingkey: str = MISSING_INVALID,
) -> str:
    """Run one tree; raises ExecError."""
    st = State(lookup, funcs, missingkey, tree, data)
    try:
        st.walk(data, tree.root)
    except (_Break, _Continue):  # the parser only allows them inside range
        st.errorf("break or continue outside range")
    except RecursionError:
        st.errorf("template nests too deeply")
    return "".join(st.out)
