"""Go text/template's predefined functions, with Go's semantics and error texts.

``and`` and ``or`` short-circuit, so the executor evaluates them itself; the
functions here receive evaluated arguments and raise ``FuncError`` (or any
exception) which the executor reports as ``error calling NAME: ...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote_plus

from alerting.template import values as V
from alerting.template.gofmt import go_type_name, sprint, sprintf, sprintln


class FuncError(Exception):
    """A template function failed; the message is what Go would say."""


_INVALID = "invalid"


def _kind(v) -> str:
    return _INVALID if v is None else V.basic_kind(v)


def _printable(v):
    return "<no value>" if v is None else v


def eval_args(args: tuple) -> str:
    """Go's evalArgs: one string argument as is, else fmt.Sprint of them all."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(*(_printable(a) for a in args))


# --- comparisons --------------------------------------------------------------


def _go_eq_other(a, b) -> bool:
    # Both are non-basic values: Go compares nil-able kinds by nil-ness and
    # comparable ones (structs) with ==; slices and maps cannot be compared.
    ka = "list" if isinstance(a, (list, tuple)) else "map" if isinstance(a, Mapping) else "obj"
    kb = "list" if isinstance(b, (list, tuple)) else "map" if isinstance(b, Mapping) else "obj"
    if ka != kb:
        raise FuncError(
            sprintf("non-comparable types %s: %v, %s: %v", a, go_type_name(a), go_type_name(b), b)
        )
    if ka in ("list", "map") and not V.is_struct(b):
        raise FuncError(sprintf("non-comparable type %s: %v", b, go_type_name(b)))
    return a == b


def eq(arg1, *arg2) -> bool:
    if not arg2:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in arg2:
        k2 = _kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError("incompatible types for comparison")
            truth = False
        elif k1 == _INVALID:
            truth = True
        elif k1 == V.OTHER:
            truth = _go_eq_other(arg1, arg)
        else:
            truth = arg1 == arg
        if truth:
            return True
    return False


def ne(arg1, arg2) -> bool:
    return not eq(arg1, arg2)


def lt(arg1, arg2) -> bool:
    k1, k2 = _kind(arg1), _kind(arg2)
    if k1 in (_INVALID, V.OTHER) or k2 in (_INVALID, V.OTHER):
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    if k1 in (V.BOOL, V.COMPLEX):
        raise FuncError("invalid type for comparison")
    if k1 == V.STRING:
        # Go compares strings by bytes; UTF-8 byte order equals code point order
        return arg1 < arg2
    return arg1 < arg2


def le(arg1, arg2) -> bool:
    return lt(arg1, arg2) or eq(arg1, arg2)


def gt(arg1, arg2) -> bool:
    return not le(arg1, arg2)


def ge(arg1, arg2) -> bool:
    return not lt(arg1, arg2)


# --- indexing -----------------------------------------------------------------


def _index_arg(index, cap: int) -> int:
    if index is None:
        raise FuncError("cannot index slice/array with nil")
    if isinstance(index, bool) or not isinstance(index, int):
        raise FuncError(f"cannot index slice/array with type {go_type_name(index)}")
    if index < 0 or index > cap:
        raise FuncError(f"index out of range: {index}")
    return index


def _seq_view(item):
    """(sequence, go kind word) for what can be indexed by position."""
    if isinstance(item, str):
        return item.encode("utf-8", "surrogatepass"), "string"
    if isinstance(item, (bytes, bytearray)):
        return item, "slice"
    if isinstance(item, (list, tuple)) and not V.is_struct(item):
        return item, "slice"
    return None, ""


def _map_key_check(m: Mapping, key) -> None:
    string_keys = all(isinstance(k, str) for k in m)
    if string_keys:
        if key is None:
            raise FuncError("value is nil; should be of type string")
        if not isinstance(key, str):
            raise FuncError(f"value has type {go_type_name(key)}; should be string")


def index(item, *indexes):
    if item is None:
        raise FuncError("index of untyped nil")
    for idx in indexes:
        if item is None:
            raise FuncError("index of nil pointer")
        seq, word = _seq_view(item)
        if seq is not None:
            x = _index_arg(idx, len(seq))
            if x == len(seq):
                raise FuncError(f"reflect: {word} index out of range")
            item = seq[x]
        elif isinstance(item, Mapping):
            _map_key_check(item, idx)
            item = item[idx] if idx in item else V.map_zero(item)
        else:
            raise FuncError(f"can't index item of type {go_type_name(item)}")
    return item


def slice_(item, *indexes):
    if item is None:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        seq = item.encode("utf-8", "surrogatepass")
    elif isinstance(item, (list, tuple, bytes, bytearray)) and not V.is_struct(item):
        seq = item
    else:
        raise FuncError(f"can't slice item of type {go_type_name(item)}")
    cap = len(seq)
    idx = [0, len(seq), len(seq)]
    for i, x in enumerate(indexes):
        idx[i] = _index_arg(x, cap)
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise FuncError(f"invalid slice index: {idx[1]} > {idx[2]}")
    out = seq[idx[0] : idx[1]]
    if isinstance(item, str):
        return out.decode("utf-8", "replace")
    return out


def length(item) -> int:
    if item is None:
        raise FuncError("reflect: call of reflect.Value.Type on zero Value")
    if isinstance(item, str):
        return len(item.encode("utf-8", "surrogatepass"))
    if isinstance(item, (bytes, bytearray, Mapping)) or (
        isinstance(item, (list, tuple)) and not V.is_struct(item)
    ):
        return len(item)
    raise FuncError(f"len of type {go_type_name(item)}")


def not_(arg) -> bool:
    return not V.is_true(arg)


# --- call -----------------------------------------------------------------------


def call(fn, *args):
    if fn is None:
        raise FuncError("call of nil")
    if not callable(fn) or V.is_struct(fn) and not V.is_func(fn):
        raise FuncError(f"non-function of type {go_type_name(fn)}")
    spec = V.param_spec(fn)
    n_fixed = len(spec.fixed)
    if spec.variadic:
        if len(args) < spec.required:
            raise FuncError(f"wrong number of args: got {len(args)} want at least {spec.required}")
    elif not spec.required <= len(args) <= n_fixed:
        want = n_fixed if len(args) > n_fixed else spec.required
        raise FuncError(f"wrong number of args: got {len(args)} want {want}")
    for i, a in enumerate(args):
        t = spec.fixed[i] if i < n_fixed else spec.variadic_type
        if t is None:
            continue
        if a is None:
            raise FuncError(f"arg {i}: value is nil; should be of type {V.type_label(t)}")
        if not _assignable(a, t):
            raise FuncError(
                f"arg {i}: value has type {go_type_name(a)}; should be {V.type_label(t)}"
            )
    return fn(*args)


def _assignable(v, t: type) -> bool:
    if t is int:
        return isinstance(v, int) and not isinstance(v, bool)
    if t is float:
        return isinstance(v, float)
    return isinstance(v, t)


# --- escapers -------------------------------------------------------------------

_HTML = {"\0": "\ufffd", '"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;"}


def html_escape_string(s: str) -> str:
    """Go's template.HTMLEscapeString."""
    return "".join(_HTML.get(c, c) for c in s)


def html(*args) -> str:
    return html_escape_string(eval_args(args))


_JS = {"\\": "\\\\", "'": "\\'", '"': '\\"', "<": "\\u003C", ">": "\\u003E", "&": "\\u0026", "=": "\\u003D"}


def js_escape_string(s: str) -> str:
    """Go's template.JSEscapeString."""
    out = []
    for c in s:
        o = ord(c)
        if c in _JS:
            out.append(_JS[c])
        elif o < 0x20:
            out.append(f"\\u00{o:02X}")
        elif o < 0x80 or c.isprintable() and not 0xD800 <= o <= 0xDFFF:
            out.append(c)
        else:
            out.append(f"\\u{o:04X}")
    return "".join(out)


def js(*args) -> str:
    return js_escape_string(eval_args(args))


def urlquery(*args) -> str:
    return quote_plus(eval_args(args), safe="")


def print_(*args) -> str:
    return sprint(*args)


def printf(format: str, *args) -> str:
    return sprintf(format, *args)


def println(*args) -> str:
    return sprintln(*args)


def _short_circuit(*args):  # and/or: evaluated lazily by the executor
    raise AssertionError("and/or are evaluated by the executor")


BUILTINS = {
    "and": _short_circuit,
    "call": call,
    "html": html,
    "index": index,
    "slice": slice_,
    "js": js,
    "len": length,
    "not": not_,
    "or": _short_circuit,
    "print": print_,
    "printf": printf,
    "println": println,
    "urlquery": urlquery,
    "eq": eq,
    "ge": ge,
    "gt": gt,
    "le": le,
    "lt": lt,
    "ne": ne,
}

# Parameter shapes of the builtins, as Go declares them (reflect.Value params are
# "any"; printf's format is a string).
BUILTIN_SPECS = {
    "and": V.ParamSpec((None,), 1, True, None),
    "or": V.ParamSpec((None,), 1, True, None),
    "call": V.ParamSpec((None,), 1, True, None),
    "html": V.ParamSpec((), 0, True, None),
    "js": V.ParamSpec((), 0, True, None),
    "urlquery": V.ParamSpec((), 0, True, None),
    "index": V.ParamSpec((None,), 1, True, None),
    "slice": V.ParamSpec((None,), 1, True, None),
    "len": V.ParamSpec((None,), 1, False, None),
    "not": V.ParamSpec((None,), 1, False, None),
    "print": V.ParamSpec((), 0, True, None),
    "printf": V.ParamSpec((str,), 1, True, None),
    "println": V.ParamSpec((), 0, True, None),
    "eq": V.ParamSpec((None,), 1, True, None),
    "ne": V.ParamSpec((None, None), 2, False, None),
    "lt": V.ParamSpec((None, None), 2, False, None),
    "le": V.ParamSpec((None, None), 2, False, None),
    "gt": V.ParamSpec((None, None), 2, False, None),
    "ge": V.ParamSpec((None, None), 2, False, None),
}
