"""The configuration reference, generated from the models themselves.

Every config field is documented by the comment written above its declaration;
this module reads those comments back from the source, so that
``spyglass config reference`` prints every key with its default and its
documentation, and a test can fail when a field is left undocumented::

    print(reference_yaml(SpyglassConfig))
"""

from __future__ import annotations

import inspect
import re
import textwrap
import typing
from collections.abc import Iterator

import yaml
from pydantic import BaseModel

_FIELD = re.compile(r"^\s+([A-Za-z_][A-Za-z0-9_]*)\s*:")


def field_comments(cls: type[BaseModel]) -> dict[str, str]:
    """Field name → the comment block just above its declaration (own class and bases)."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not (isinstance(klass, type) and issubclass(klass, BaseModel)) or klass is BaseModel:
            continue
        try:
            lines = textwrap.dedent(inspect.getsource(klass)).splitlines()
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in lines[1:]:
            stripped = line.strip()
            if stripped.startswith("#"):
                pending.append(stripped.lstrip("#").strip())
                continue
            m = _FIELD.match(line)
            if (
                m
                and m.group(1) in klass.model_fields
                and line.startswith("    ")
                and not line.startswith("     ")
                and pending
            ):
                out[m.group(1)] = " ".join(pending)
            pending = []
    return out


def _model_of(annotation) -> type[BaseModel] | None:
    """The model inside ``X``, ``X | None``, ``list[X]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        m = _model_of(arg)
        if m is not None:
            return m
    return None


def iter_fields(cls: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel], str]]:
    """(dotted key path, owning model, field name) for every field, recursively."""
    seen: set[type] = set()

    def walk(model: type[BaseModel], path: str):
        if model in seen:
            return
        seen.add(model)
        for name, f in model.model_fields.items():
            key = f.alias or name
            full = f"{path}.{key}" if path else key
            yield full, model, name
            sub = _model_of(f.annotation)
            if sub is not None:
                yield from walk(sub, full + ("[]" if typing.get_origin(f.annotation) in (list,) else ""))
        seen.discard(model)

    yield from walk(cls, prefix)


def undocumented(cls: type[BaseModel]) -> list[str]:
    """Key paths whose field has no comment above its declaration."""
    cache: dict[type, dict[str, str]] = {}
    missing = []
    for path, model, name in iter_fields(cls):
        docs = cache.setdefault(model, field_comments(model))
        if name not in docs and not _self_explanatory(model, name):
            missing.append(path)
    return missing


def _self_explanatory(model: type[BaseModel], name: str) -> bool:
    # Fields copied from Prometheus/Alertmanager formats are documented upstream under the
    # same name; models mark that with a `upstream_docs` class attribute (a URL).
    return bool(getattr(model, "upstream_docs", None))


def reference_yaml(cls: type[BaseModel]) -> str:
    """The whole configuration with defaults, each key preceded by its comment."""
    default = cls().model_dump(mode="json", by_alias=True)
    lines: list[str] = []
    _emit(cls, default, 0, lines)
    return "\n".join(lines) + "\n"


def _emit(model: type[BaseModel], values: dict, indent: int, lines: list[str]) -> None:
    docs = field_comments(model)
    pad = " " * indent
    for name, f in model.model_fields.items():
        key = f.alias or name
        doc = docs.get(name)
        if doc:
            lines.append(f"{pad}# {doc}")
        value = values.get(key)
        sub = _model_of(f.annotation)
        if isinstance(value, dict) and sub is not None and typing.get_origin(f.annotation) is not dict:
            lines.append(f"{pad}{key}:")
            _emit(sub, value, indent + 2, lines)
            continue
        text = yaml.safe_dump({key: value}, default_flow_style=False, width=1000, sort_keys=False).strip()
        lines.extend(pad + line for line in text.splitlines())
