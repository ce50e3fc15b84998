"""Typed reads from untrusted JSON that fail with the JSON path and the panel named.

Grafana itself is lenient (numbers written as strings, missing objects), so the
getters accept what Grafana accepts and reject only what it could not use.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any

from dashboards.grafana.errors import DashboardError

_MISSING = object()


class Reader:
    """A JSON object seen at ``path``; ``Reader(obj).str("title")`` reads a field."""

    __slots__ = ("obj", "panel", "path")

    def __init__(self, obj: Any, path: str = "", panel: str = ""):
        self.obj = obj
        self.path = path
        self.panel = panel

    # -- navigation -------------------------------------------------------------
    def _sub(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def error(self, message: str, key: str | int | None = None) -> DashboardError:
        return DashboardError(message, path=self._sub(key) if key is not None else self.path,
                              panel=self.panel)

    def raw(self, key: str, default: Any = None) -> Any:
        v = self.obj.get(key, _MISSING)
        return default if v is _MISSING or v is None else v

    def has(self, key: str) -> bool:
        return self.obj.get(key) is not None

    def obj_at(self, key: str, *, panel: str | None = None) -> Reader:
        """The object at ``key`` (an empty one when absent or null)."""
        v = self.obj.get(key)
        if v is None:
            v = {}
        if not isinstance(v, dict):
            raise self.error(f"expected an object, got {_kind(v)}", key)
        return Reader(v, self._sub(key), self.panel if panel is None else panel)

    def list_at(self, key: str) -> list[Any]:
        v = self.obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.error(f"expected a list, got {_kind(v)}", key)
        return v

    def objects(self, key: str) -> Iterator[Reader]:
        """Each element of the list at ``key``, which must be objects."""
        base = self._sub(key)
        for i, item in enumerate(self.list_at(key)):
            if not isinstance(item, dict):
                raise DashboardError(f"expected an object, got {_kind(item)}",
                                     path=f"{base}[{i}]", panel=self.panel)
            yield Reader(item, f"{base}[{i}]", self.panel)

    # -- scalars ----------------------------------------------------------------
    def regex(self, key: str, compile: Callable[[str], object] = re.compile) -> str:
        """A string field that ``compile`` accepts (when not empty), as written."""
        pattern = self.str(key)
        if pattern:
            try:
                compile(pattern)
            except re.error as e:
                raise self.error(f"invalid regular expression: {e}", key) from None
        return pattern

    def str(self, key: str, default: str = "") -> str:
        v = self.obj.get(key)
        if v is None:
            return default
        if isinstance(v, str):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            # Grafana writes some text fields as numbers (a "1" custom option, say).
            return _num_text(v)
        raise self.error(f"expected a string, got {_kind(v)}", key)

    def bool(self, key: str, default: bool = False) -> bool:
        v = self.obj.get(key)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, (int, float)):
            return bool(v)
        if isinstance(v, str) and v.lower() in ("true", "false"):
            return v.lower() == "true"
        raise self.error(f"expected true or false, got {_kind(v)}", key)

    def float(self, key: str, default: float | None = None) -> float | None:
        v = self.obj.get(key)
        if v is None or v == "":
            return default
        return self.to_float(v, key)

    def to_float(self, v: Any, key: str | int) -> float:
        if isinstance(v, bool):
            raise self.error("expected a number, got a boolean", key)
        if isinstance(v, (int, float)):
            return float(v)
        if isinstance(v, str):
            try:
                f = float(v.strip())
            except ValueError:
                raise self.error(f"expected a number, got {v!r}", key) from None
            if math.isnan(f):
                raise self.error(f"expected a number, got {v!r}", key)
            return f
        raise self.error(f"expected a number, got {_kind(v)}", key)

    def int(self, key: str, default: int | None = None) -> int | None:
        f = self.float(key, None)
        if f is None:
            return default
        if math.isinf(f):
            raise self.error("expected a whole number, got infinity", key)
        return int(f)

    def str_list(self, key: str) -> tuple[str, ...]:
        out = []
        for i, v in enumerate(self.list_at(key)):
            if isinstance(v, str):
                out.append(v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out.append(_num_text(v))
            else:
                raise DashboardError(f"expected a string, got {_kind(v)}",
                                     path=f"{self._sub(key)}[{i}]", panel=self.panel)
        return tuple(out)


def _num_text(v: float) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return f"the number {v}"
    if isinstance(v, str):
        return f"the string {v[:40]!r}"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__
