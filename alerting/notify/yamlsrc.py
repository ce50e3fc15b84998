"""YAML as Alertmanager reads it: strict, and with positions for error messages.

Go's ``yaml.UnmarshalStrict`` refuses duplicate keys, which PyYAML silently
accepts (the last one wins); an ``alertmanager.yml`` with two ``route:`` keys
must be an error here too. ``load(text)`` returns the data and a map from key
paths to 1-based line numbers::

    data, lines = load("route:\\n  receiver: x\\n")
    lines[("route", "receiver")]   # 2
"""

from __future__ import annotations

from typing import Any

import yaml


class YAMLError(ValueError):
    """The text is not valid (strict) YAML; the message has the line."""


class _StrictLoader(yaml.SafeLoader):
    pass


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue  # `<<: *anchor` merges; explicit keys beside it may override
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            raise YAMLError(f"line {key_node.start_mark.line + 1}: unhashable mapping key") from None
        if key in seen:
            raise YAMLError(
                f"line {key_node.start_mark.line + 1}: key {key!r} already set in map "
                f"(first at line {seen[key]})"
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _walk(node: yaml.Node, path: tuple, out: dict[tuple, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), out)


def load(text: str) -> tuple[Any, dict[tuple, int]]:
    try:
        node = yaml.compose(text, Loader=_StrictLoader)
        data = yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as e:
        raise YAMLError(str(e)) from None
    lines: dict[tuple, int] = {}
    if node is not None:
        _walk(node, (), lines)
    return data, lines


def line_of(lines: dict[tuple, int], path: tuple) -> int | None:
    """The line of the longest prefix of ``path`` present in the document."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


def format_path(path: tuple) -> str:
    out = ""
    for p in path:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out
