"""Scanning PromQL text as typed into a panel or a variable query, where only
the characters outside string literals carry structure::

    [c for _, c in outside_quotes('up{job="a,b"}')]   # ['u', 'p', '{', 'j', 'o', 'b', '=', '}']
"""

from __future__ import annotations

from collections.abc import Iterator


def outside_quotes(text: str) -> Iterator[tuple[int, str]]:
    """(index, char) of each character outside "…", '…' and `…` literals; the quotes
    themselves and backslash escapes inside a literal are skipped."""
    quote = ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = ""
        elif c in "\"'`":
            quote = c
        else:
            yield i, c
        i += 1
