"""Go's wire formats, where Alertmanager's clients compare bytes.

Alertmanager is written in Go, and what it sends is what Go's standard library
prints: times in RFC 3339 with nanoseconds and the sender's UTC offset,
JSON from ``encoding/json`` (HTML-safe escaping, map keys sorted, struct
fields in declaration order, a trailing newline from ``Encoder``), label
values quoted with ``%q``. Webhook consumers and group keys depend on those
bytes, so they are reproduced here once::

    t = GoTime.parse("2024-05-01T10:00:00.5+02:00")
    t.rfc3339nano()          # '2024-05-01T10:00:00.5+02:00'
    go_json({"b": 1, "a": "<"})  # '{"a":"\\u003c","b":1}'
"""

from __future__ import annotations

import math
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

NS = 1_000_000_000
# 0001-01-01T00:00:00Z, Go's zero time.Time, in ns since the Unix epoch.
ZERO_NS = -62135596800 * NS

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def local_offset(sec: float) -> int:
    """The machine's UTC offset in seconds at ``sec`` (Go's time.Local)."""
    try:
        return time.localtime(sec).tm_gmtoff
    except (OverflowError, OSError, ValueError):
        return 0


class GoTime(NamedTuple):
    """An instant with nanosecond precision and the UTC offset it was written with.

    Ordering and arithmetic use ``ns``; the offset only matters when the time is
    printed, exactly as a Go ``time.Time`` keeps its location.
    """

    ns: int
    offset: int = 0  # seconds east of UTC

    @classmethod
    def zero(cls) -> GoTime:
        return ZERO

    @classmethod
    def from_seconds(cls, sec: float, offset: int | None = None) -> GoTime:
        ns = round(sec * NS)
        return cls(ns, local_offset(sec) if offset is None else offset)

    @classmethod
    def parse(cls, text: str) -> GoTime:
        """Parse RFC 3339 (with optional fraction up to ns), keeping the offset."""
        m = _RFC3339.match(text.strip())
        if not m:
            raise ValueError(f"invalid RFC 3339 time {text!r}")
        y, mo, d, h, mi, s, frac, z, sign, oh, om = m.groups()
        offset = 0 if z else (1 if sign == "+" else -1) * (int(oh) * 3600 + int(om) * 60)
        try:
            base = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=UTC)
        except ValueError as e:
            raise ValueError(f"invalid RFC 3339 time {text!r}: {e}") from None
        delta = base - _EPOCH
        ns = (delta.days * 86400 + delta.seconds) * NS
        ns -= offset * NS
        if frac:
            ns += int(frac.ljust(9, "0"))
        return cls(ns, offset)

    @classmethod
    def coerce(cls, value: Any) -> GoTime:
        """Accept None (zero), GoTime, epoch seconds, datetime or RFC 3339 text."""
        if value is None or value == "":
            return ZERO
        if isinstance(value, GoTime):
            return value
        if isinstance(value, bool):
            raise ValueError(f"not a time: {value!r}")  # noqa: TRY004 - callers handle bad input as ValueError
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise ValueError(f"not a time: {value!r}")
            return cls.from_seconds(float(value))
        if isinstance(value, datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=UTC)
            off = int(value.utcoffset().total_seconds())
            delta = value - _EPOCH
            ns = (delta.days * 86400 + delta.seconds) * NS + delta.microseconds * 1000
            return cls(ns, off)
        if isinstance(value, str):
            return cls.parse(value)
        raise ValueError(f"not a time: {value!r}")

    # -- queries -----------------------------------------------------------
    def is_zero(self) -> bool:
        return self.ns == ZERO_NS

    def seconds(self) -> float:
        return self.ns / NS

    def add(self, seconds: float) -> GoTime:
        return GoTime(self.ns + round(seconds * NS), self.offset)

    def before(self, other: GoTime) -> bool:
        return self.ns < other.ns

    def after(self, other: GoTime) -> bool:
        return self.ns > other.ns

    def in_utc(self) -> GoTime:
        return GoTime(self.ns, 0)

    # -- printing ----------------------------------------------------------
    def _parts(self) -> tuple[str, int]:
        local_ns = self.ns + self.offset * NS
        sec, frac = divmod(local_ns, NS)
        dt = _EPOCH + timedelta(seconds=sec)
        return dt.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0"), frac

    def _zone(self) -> str:
        if self.offset == 0:
            return "Z"
        sign = "+" if self.offset > 0 else "-"
        h, m = divmod(abs(self.offset) // 60, 60)
        return f"{sign}{h:02d}:{m:02d}"

    def rfc3339nano(self) -> str:
        """Go's ``time.RFC3339Nano`` (what ``encoding/json`` writes): trailing zeros trimmed."""
        if self.is_zero():
            return "0001-01-01T00:00:00Z"
        base, frac = self._parts()
        fs = f".{frac:09d}".rstrip("0") if frac else ""
        return f"{base}{'' if fs == '.' else fs}{self._zone()}"

    def rfc3339millis(self) -> str:
        """go-openapi's ``strfmt.DateTime`` format: always three fraction digits."""
        if self.is_zero():
            return "0001-01-01T00:00:00.000Z"
        base, frac = self._parts()
        return f"{base}.{frac // 1_000_000:03d}{self._zone()}"

    def __str__(self) -> str:
        return self.rfc3339nano()


ZERO = GoTime(ZERO_NS, 0)


# --- %q quoting ---------------------------------------------------------------
_Q_ESC = {"\a": r"\a", "\b": r"\b", "\f": r"\f", "\n": r"\n", "\r": r"\r", "\t": r"\t", "\v": r"\v"}


def go_quote(s: str) -> str:
    """``strconv.Quote``: printable runes kept, the rest escaped Go-style."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch in _Q_ESC:
            out.append(_Q_ESC[ch])
        elif ch.isprintable():
            out.append(ch)
        else:
            cp = ord(ch)
            if cp < 0x80:
                out.append(f"\\x{cp:02x}")
            elif cp < 0x10000:
                out.append(f"\\u{cp:04x}")
            else:
                out.append(f"\\U{cp:08x}")
    out.append('"')
    return "".join(out)


def go_unquote(s: str) -> str:
    """``strconv.Unquote`` for a double-quoted Go string literal."""
    if len(s) < 2 or s[0] != '"' or s[-1] != '"':
        raise ValueError("invalid syntax")
    body = s[1:-1]
    out: list[str] = []
    i = 0
    n = len(body)
    simple = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
              "\\": "\\", '"': '"'}
    while i < n:
        ch = body[i]
        if ch == '"' or ch == "\n":
            raise ValueError("invalid syntax")
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        i += 1
        if i >= n:
            raise ValueError("invalid syntax")
        c = body[i]
        if c in simple:
            out.append(simple[c])
            i += 1
        elif c in "xuU":
            width = {"x": 2, "u": 4, "U": 8}[c]
            digits = body[i + 1:i + 1 + width]
            if len(digits) != width or not all(d in "0123456789abcdefABCDEF" for d in digits):
                raise ValueError("invalid syntax")
            cp = int(digits, 16)
            if c == "x":
                # \xNN is a byte; only ASCII bytes form valid UTF-8 alone.
                if cp >= 0x80:
                    raise ValueError("invalid UTF-8")
            elif cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise ValueError("invalid syntax")
            out.append(chr(cp))
            i += 1 + width
        elif c in "01234567":
            digits = body[i:i + 3]
            if len(digits) != 3 or not all(d in "01234567" for d in digits):
                raise ValueError("invalid syntax")
            cp = int(digits, 8)
            if cp > 255:
                raise ValueError("invalid syntax")
            if cp >= 0x80:
                raise ValueError("invalid UTF-8")
            out.append(chr(cp))
            i += 3
        else:
            raise ValueError("invalid syntax")
    return "".join(out)


# --- encoding/json --------------------------------------------------------------
_JSON_ESC = {
    '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t",
    "<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029",
}
_JSON_NEEDS = re.compile('["\\\\\x00-\x1f<>&\u2028\u2029]')


def _json_str(s: str) -> str:
    if not _JSON_NEEDS.search(s):
        return f'"{s}"'
    out = ['"']
    for ch in s:
        esc = _JSON_ESC.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


class GoMap(dict):
    """A dict that encodes like a Go map: keys sorted (byte order of UTF-8)."""


def _encode(v: Any, out: list[str]) -> None:
    if v is None:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, str):
        out.append(_json_str(v))
    elif isinstance(v, GoTime):
        out.append(_json_str(v.rfc3339nano()))
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(repr(v) if v != int(v) or abs(v) >= 1e21 else str(int(v)))
    elif isinstance(v, dict):
        items = v.items()
        if isinstance(v, GoMap):
            items = sorted(items, key=lambda kv: kv[0].encode("utf-8"))
        out.append("{")
        first = True
        for k, val in items:
            if not first:
                out.append(",")
            first = False
            out.append(_json_str(k))
            out.append(":")
            _encode(val, out)
        out.append("}")
    elif isinstance(v, (list, tuple)):
        out.append("[")
        for i, item in enumerate(v):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"cannot encode {type(v).__name__} as JSON")


def go_json(v: Any) -> str:
    """Encode like Go's ``json.Marshal``: plain dicts keep their order (structs),
    ``GoMap`` sorts its keys (maps), strings are HTML-safe escaped."""
    out: list[str] = []
    _encode(v, out)
    return "".join(out)
