"""A PromQL tokenizer that keeps every token's place in the query text.

``promql-parser`` builds the syntax tree but its nodes carry no positions, and
Prometheus words its errors and annotations with the line:column of the
offending sub-expression. This lexer (and ``positions``, which walks its
tokens with PromQL's grammar) recovers those places::

    [t.kind for t in tokenize('rate(x[5m])')]
    # ['IDENT', '(', 'IDENT', '[', 'DURATION', ']', ')', 'EOF']
"""

from __future__ import annotations

import re
from typing import NamedTuple


class Token(NamedTuple):
    kind: str  # IDENT NUMBER DURATION STRING EOF, or the operator text itself
    text: str
    pos: int  # character offset in the query


class LexError(ValueError):
    def __init__(self, message: str, pos: int):
        super().__init__(message)
        self.pos = pos


# Longest operators first so that "==" wins over "=".
_OPERATORS = (
    "==",
    "!=",
    ">=",
    "<=",
    "=~",
    "!~",
    "</",
    ">/",
    "+",
    "-",
    "*",
    "/",
    "%",
    "^",
    ">",
    "<",
    "=",
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "@",
)
_IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_DURATION = re.compile(r"(?:[0-9]+(?:\.[0-9]+)?(?:ms|[smhdwy]))+(?![a-zA-Z0-9_])")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DIGITS = "0123456789"
_SPACE = re.compile(r"(?:\s+|#[^\n]*)+")


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal starting at ``start``."""
    quote = text[start]
    i = start + 1
    n = len(text)
    if quote == "`":
        end = text.find("`", i)
        if end < 0:
            raise LexError("unterminated raw string", start)
        return end + 1
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        if c == "\n":
            break
        i += 1
    raise LexError("unterminated quoted string", start)


def tokenize(text: str) -> list[Token]:
    """Split ``text`` into tokens; raises ``LexError`` with the offset of a bad character."""
    out: list[Token] = []
    i, n = 0, len(text)
    brackets = 0  # inside [...], ":" separates a subquery's range and step
    while i < n:
        m = _SPACE.match(text, i)
        if m:
            i = m.end()
            continue
        c = text[i]
        if c in "\"'`":
            j = _string_end(text, i)
            out.append(Token("STRING", text[i:j], i))
            i = j
            continue
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            m = _DURATION.match(text, i)
            if m:
                out.append(Token("DURATION", m.group(), i))
                i = m.end()
                continue
            m = _NUMBER.match(text, i)
            assert m is not None
            out.append(Token("NUMBER", m.group(), i))
            i = m.end()
            continue
        m = None if (c == ":" and brackets > 0) else _IDENT.match(text, i)
        if m:
            out.append(Token("IDENT", m.group(), i))
            i = m.end()
            continue
        for op in _OPERATORS:
            if text.startswith(op, i):
                if op == "[":
                    brackets += 1
                elif op == "]":
                    brackets = max(0, brackets - 1)
                out.append(Token(op, op, i))
                i += len(op)
                break
        else:
            raise LexError(f"unexpected character: {c!r}", i)
    out.append(Token("EOF", "", n))
    return out


def line_column(text: str, pos: int) -> tuple[int, int]:
    """Prometheus's ``line:column`` for a character offset: the column counts bytes
    (UTF-8) from the last line break, starting at 1."""
    pos = max(0, min(pos, len(text)))
    before = text[:pos]
    line = before.count("\n") + 1
    last = before.rfind("\n")
    col = len(before[last + 1 :].encode("utf-8")) + 1
    return line, col


_SIMPLE_ESCAPES = {
    "a": 7,
    "b": 8,
    "f": 12,
    "n": 10,
    "r": 13,
    "t": 9,
    "v": 11,
    "\\": 92,
    '"': 34,
    "'": 39,
}


def decode_string(literal: str) -> str:
    """The value of a PromQL string literal, decoded as Go does: ``\\xNN`` and octal
    escapes are raw bytes. Bytes that do not form valid UTF-8 are kept as
    surrogate escapes (U+DC80..U+DCFF), so that callers can reject them and
    messages can show them as Go does (``\\xc5``)."""
    quote, body = literal[0], literal[1:-1]
    if quote == "`":
        return body
    out = bytearray()
    i, n = 0, len(body)
    while i < n:
        c = body[i]
        if c != "\\":
            out += c.encode("utf-8", "surrogateescape")
            i += 1
            continue
        e = body[i + 1] if i + 1 < n else ""
        if e in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[e])
            i += 2
        elif e == "x":
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif e in ("u", "U"):
            width = 4 if e == "u" else 8
            out += chr(int(body[i + 2 : i + 2 + width], 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        elif e and e in "01234567":
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
        else:
            raise LexError(f"unknown escape sequence \\{e}", i)
    return out.decode("utf-8", "surrogateescape")


def valid_utf8(s: str) -> bool:
    """False when ``s`` carries bytes that were not valid UTF-8 (see ``decode_string``)."""
    return not any("\udc80" <= ch <= "\udcff" for ch in s)
