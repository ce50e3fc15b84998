"""YAML loading that remembers where each key came from, for error messages.

``load_with_positions(text)`` returns the plain data and a map from key paths
(tuples of keys and list indexes) to 1-based line numbers, so a validation
error can say ``scrape_configs.0.scrape_interval (line 12): ...``.
"""

from __future__ import annotations

from typing import Any

import yaml


class _Loader(yaml.SafeLoader):
    pass


def _walk(node: yaml.Node, path: tuple, out: dict[tuple, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            out[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), out)
            # the key line is the more useful place for errors about the key itself
            out[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), out)


def load_with_positions(text: str) -> tuple[Any, dict[tuple, int]]:
    """Parse one YAML document; raises ``yaml.YAMLError`` with its own line info."""
    node = yaml.compose(text, Loader=_Loader)
    positions: dict[tuple, int] = {}
    if node is None:
        return None, positions
    _walk(node, (), positions)
    return yaml.load(text, Loader=_Loader), positions


def line_of(positions: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the longest prefix of ``loc`` that exists in the document."""
    loc = tuple(loc)
    while loc:
        if loc in positions:
            return positions[loc]
        loc = loc[:-1]
    return positions.get(())
