"""How Python values play Go's types inside templates: truth, kinds for
comparison, typed function parameters, and maps with a typed zero value."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Iterator, Mapping

from alerting.template.gofmt import GoStringer

__all__ = ["ParamSpec", "StrMap", "is_func", "is_true", "param_spec", "type_label"]


class StrMap(dict):
    """A ``map[string]string``: with ``missingkey=zero`` a missing key reads as ``""``
    (a plain dict is a ``map[string]interface {}``, whose zero prints ``<no value>``)::

        Template(missingkey="zero").execute_string("{{.a}}", StrMap())  # ''
    """

    __slots__ = ()
    go_zero = ""
    go_type = "map[string]string"


def map_zero(m: Mapping):
    """The zero value of a map's element type."""
    return getattr(type(m), "go_zero", None)


_FUNC_TYPES = (
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    types.BuiltinMethodType,
    types.MethodWrapperType,
    types.WrapperDescriptorType,
    types.MethodDescriptorType,
    functools.partial,
)


def is_func(v) -> bool:
    return isinstance(v, _FUNC_TYPES)


def is_struct(v) -> bool:
    """An object whose attributes are fields (Go struct), as opposed to a Go basic
    type, slice or map."""
    if v is None or isinstance(v, (bool, int, float, complex, str, bytes, bytearray, Mapping)):
        return False
    if isinstance(v, (list, tuple)):
        return hasattr(type(v), "_fields")  # a NamedTuple is a struct
    return not is_func(v)


def is_go_named(t) -> bool:
    """A parameter type given by a class with a ``go_type`` name (nil-able, like a
    Go pointer or slice type)."""
    return t is not None and t not in (str, int, float, bool, complex)


def is_true(v) -> bool:
    """Go's template truth: the zero value of a type is false."""
    if v is None:
        return False
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, complex)):
        return v != 0
    if isinstance(v, (str, bytes, bytearray, Mapping)):
        return len(v) > 0
    if isinstance(v, (list, tuple)) and not hasattr(type(v), "_fields"):
        return len(v) > 0
    return True


# --- comparison kinds (text/template's basicKind) --------------------------------

BOOL, COMPLEX, INT, FLOAT, STRING, OTHER = "bool", "complex", "int", "float", "string", "other"


def basic_kind(v) -> str:
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, int) and not isinstance(v, GoStringer):
        return INT
    if isinstance(v, float):
        return FLOAT
    if isinstance(v, complex):
        return COMPLEX
    if isinstance(v, str):
        return STRING
    return OTHER


# --- function parameters ---------------------------------------------------------

_ANNOTATION_TYPES: dict[object, type] = {
    str: str,
    int: int,
    float: float,
    bool: bool,
    complex: complex,
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "complex": complex,
}


def type_label(t: type | None) -> str:
    """Go's name for a parameter type (None is interface{})."""
    if t is not None and isinstance(getattr(t, "go_type", None), str):
        return t.go_type
    return {
        str: "string",
        int: "int",
        float: "float64",
        bool: "bool",
        complex: "complex128",
        None: "interface {}",
    }[t]


class ParamSpec(typing.NamedTuple):
    """What a callable takes: fixed parameter types (None = any), how many are
    required, and the element type of ``*args`` when it has them."""

    fixed: tuple[type | None, ...]
    required: int
    variadic: bool
    variadic_type: type | None


_ANY_SPEC = ParamSpec((), 0, True, None)


@functools.lru_cache(maxsize=4096)
def _spec_of(fn) -> ParamSpec:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return _ANY_SPEC
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable hints mean untyped arguments
        hints = {}
    fixed: list[type | None] = []
    required = 0
    variadic = False
    vtype = None
    for p in sig.parameters.values():
        ann = hints.get(p.name, p.annotation)
        t = _ANNOTATION_TYPES.get(ann) if _hashable(ann) else None
        if t is None and isinstance(ann, type) and isinstance(getattr(ann, "go_type", None), str):
            t = ann  # a class standing for a named Go type (e.g. template.queryResult)
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            fixed.append(t)
            if p.default is p.empty:
                required += 1
        elif p.kind == p.VAR_POSITIONAL:
            variadic = True
            vtype = t
    return ParamSpec(tuple(fixed), required, variadic, vtype)


def _hashable(x) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def param_spec(fn) -> ParamSpec:
    """The parameters of a template function or method (cached per callable)."""
    if isinstance(fn, types.MethodType):
        # cache by the plain function, not the bound method (which holds its object)
        spec = param_spec(fn.__func__)
        if not spec.fixed:
            return spec
        return ParamSpec(spec.fixed[1:], max(spec.required - 1, 0), spec.variadic, spec.variadic_type)
    try:
        return _spec_of(fn)
    except TypeError:  # unhashable callable
        return _spec_of.__wrapped__(fn)


def iterate(v) -> Iterator | None:
    """An iterator over a generator-like value (Go's channel/iterator range), or None."""
    if isinstance(v, Iterator):
        return v
    return None

