"""InfluxDB line protocol parser.

    measurement[,tag=value...] field=value[,field=value...] [timestamp]

Escapes (backslash): ``,`` and space in measurements; ``,`` ``=`` and space
in tag keys, tag values and field keys; ``"`` and ``\\`` in string field
values (which may span lines). A backslash before any other character is
literal. Field values: float (``1``, ``-1.5e3``), integer (``1i``),
unsigned integer (``1u``), string (``"x"``), boolean (``t``/``true``/``T``/
``True``/``TRUE`` and the ``f`` forms). Lines starting with ``#`` and blank
lines are skipped. The timestamp is an integer in the request's precision,
or absent::

    for item in parse('cpu,host=a usage=0.5,n=3i 1700000000000000000\\n'):
        # Point('cpu', (('host', 'a'),), (('usage', 0.5), ('n', 3)), 1700000000000000000)
        # or LineError(line, message) for a line that does not parse

A bad line yields a ``LineError`` and parsing resumes at the next line, so
the good lines of a request can still be stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import NamedTuple

FieldValue = float | int | bool | str

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

_FLOAT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"[+-]?\d+")
_UINT = re.compile(r"\d+")
_TRUE = frozenset(("t", "T", "true", "True", "TRUE"))
_FALSE = frozenset(("f", "F", "false", "False", "FALSE"))


class Point(NamedTuple):
    measurement: str
    tags: tuple[tuple[str, str], ...]
    fields: tuple[tuple[str, FieldValue], ...]
    timestamp: int | None  # in the request's precision; None: the server's time


class LineError(NamedTuple):
    line: int  # 1-based line number in the body
    message: str


class _Bad(Exception):
    pass


def parse_value(text: str) -> FieldValue:
    """A non-string field value (``1.5``, ``3i``, ``7u``, ``true``)."""
    if not text:
        raise _Bad("missing field value")
    last = text[-1]
    if last == "i":
        body = text[:-1]
        if _INT.fullmatch(body):
            v = int(body)
            if INT64_MIN <= v <= INT64_MAX:
                return v
            raise _Bad(f"integer {text!r} out of range")
    elif last == "u":
        body = text[:-1]
        if _UINT.fullmatch(body):
            v = int(body)
            if v <= UINT64_MAX:
                return v
            raise _Bad(f"unsigned integer {text!r} out of range")
    elif text in _TRUE:
        return True
    elif text in _FALSE:
        return False
    elif _FLOAT.fullmatch(text):
        v = float(text)
        if v in (float("inf"), float("-inf")):
            raise _Bad(f"float {text!r} out of range")
        return v
    raise _Bad(f"invalid field value {text!r}")


def _timestamp(text: str) -> int:
    if not _INT.fullmatch(text):
        raise _Bad(f"invalid timestamp {text!r}")
    v = int(text)
    if not INT64_MIN <= v <= INT64_MAX:
        raise _Bad(f"timestamp {text!r} out of range")
    return v


def _simple(line: str) -> Point:
    """A line without backslashes or double quotes: plain splits suffice."""
    parts = [p for p in line.split(" ") if p]
    if len(parts) < 2:
        raise _Bad("missing fields")
    if len(parts) > 3:
        raise _Bad("unexpected text after the timestamp")
    key = parts[0].split(",")
    measurement = key[0]
    if not measurement:
        raise _Bad("missing measurement")
    tags = []
    for t in key[1:]:
        k, eq, v = t.partition("=")
        if not eq or not k or not v or "=" in v:
            raise _Bad(f"invalid tag {t!r}")
        tags.append((k, v))
    fields = []
    for f in parts[1].split(","):
        k, eq, v = f.partition("=")
        if not eq or not k:
            raise _Bad(f"invalid field {f!r}")
        fields.append((k, parse_value(v)))
    ts = _timestamp(parts[2]) if len(parts) == 3 else None
    return Point(measurement, tuple(tags), tuple(fields), ts)


class _Scanner:
    """The general case: escapes, and quoted strings that may hold anything."""

    __slots__ = ("i", "n", "s")

    def __init__(self, s: str, i: int):
        self.s, self.i, self.n = s, i, len(s)

    def token(self, stops: str, escapable: str, what: str) -> str:
        s, i, n = self.s, self.i, self.n
        out = []
        start = i
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n and s[i + 1] in escapable:
                out.append(s[start:i])
                out.append(s[i + 1])
                i += 2
                start = i
                continue
            if c in stops or c == "\n":
                break
            i += 1
        out.append(s[start:i])
        self.i = i
        tok = "".join(out)
        if not tok:
            raise _Bad(f"missing {what}")
        return tok

    def peek(self) -> str:
        return self.s[self.i] if self.i < self.n else "\n"

    def string(self) -> str:
        s, n = self.s, self.n
        i = self.i + 1  # after the opening quote
        out = []
        start = i
        while i < n:
            c = s[i]
            if c == "\\" and i + 1 < n and s[i + 1] in '"\\':
                out.append(s[start:i])
                out.append(s[i + 1])
                i += 2
                start = i
                continue
            if c == '"':
                out.append(s[start:i])
                self.i = i + 1
                return "".join(out)
            i += 1
        self.i = n
        raise _Bad("unterminated string field value")

    def point(self) -> Point:
        measurement = self.token(", ", ", ", "measurement")
        tags = []
        while self.peek() == ",":
            self.i += 1
            k = self.token("=, ", ",= ", "tag key")
            if self.peek() != "=":
                raise _Bad(f"tag {k!r} has no value")
            self.i += 1
            tags.append((k, self.token(", ", ",= ", f"value of tag {k!r}")))
        if self.peek() != " ":
            raise _Bad("missing fields")
        self.skip_spaces()
        fields = []
        while True:
            k = self.token("=, ", ",= ", "field key")
            if self.peek() != "=":
                raise _Bad(f"field {k!r} has no value")
            self.i += 1
            if self.peek() == '"':
                fields.append((k, self.string()))
            else:
                start = self.i
                s, n, i = self.s, self.n, self.i
                while i < n and s[i] not in ", \n":
                    i += 1
                self.i = i
                try:
                    fields.append((k, parse_value(s[start:i])))
                except _Bad as e:
                    raise _Bad(f"field {k!r}: {e}") from None
            c = self.peek()
            if c == ",":
                self.i += 1
                continue
            break
        ts = None
        if self.peek() == " ":
            self.skip_spaces()
            if self.peek() != "\n":
                start = self.i
                s, n, i = self.s, self.n, self.i
                while i < n and s[i] not in " \n":
                    i += 1
                self.i = i
                ts = _timestamp(s[start:i])
                self.skip_spaces()
        if self.peek() != "\n":
            raise _Bad("unexpected text after the timestamp")
        return Point(measurement, tuple(tags), tuple(fields), ts)

    def skip_spaces(self) -> None:
        s, n, i = self.s, self.n, self.i
        while i < n and s[i] == " ":
            i += 1
        self.i = i


def parse(text: str) -> Iterator[Point | LineError]:
    """Points and per-line errors of a line-protocol body, in order."""
    if "\r" in text:  # tolerate CRLF bodies
        text = text.replace("\r\n", "\n")
    pos, n, lineno = 0, len(text), 1
    while pos < n:
        nl = text.find("\n", pos)
        if nl < 0:
            nl = n
        line = text[pos:nl]
        stripped = line.lstrip(" \t")
        if not stripped.strip() or stripped[0] == "#":
            pos, lineno = nl + 1, lineno + 1
            continue
        if "\\" not in line and '"' not in line:
            try:
                yield _simple(stripped)
            except _Bad as e:
                yield LineError(lineno, f"{e} in {_excerpt(line)}")
            pos, lineno = nl + 1, lineno + 1
            continue
        sc = _Scanner(text, pos + len(line) - len(stripped))
        try:
            point = sc.point()
            end = sc.i  # at the newline ending the point (or the end of the text)
        except _Bad as e:
            yield LineError(lineno, f"{e} in {_excerpt(line)}")
            # resume after the line the scanner stopped in: a quoted string may
            # have carried it past this line's end
            end = nl if sc.i <= nl else text.find("\n", sc.i)
            end = n if end < 0 else end
            point = None
        if point is not None:
            yield point
        lineno += text.count("\n", pos, end) + 1
        pos = end + 1


def _excerpt(line: str) -> str:
    return repr(line if len(line) <= 80 else line[:77] + "...")
