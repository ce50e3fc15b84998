"""Go literal syntax: ``strconv.Unquote`` for strings and characters, and the
number readings of ``text/template/parse`` (int, uint, float, complex at once)."""

from __future__ import annotations

import math

from alerting.template.nodes import NumberValue


class SyntaxErr(ValueError):
    """A literal Go would not accept; the message is Go's."""


_SIMPLE = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92}
_HEX = "0123456789abcdefABCDEF"


def unquote_char(s: str, i: int, quote: str) -> tuple[int, bool, int]:
    """Decode one character or escape of a quoted literal starting at ``s[i]``.

    Returns (value, is_byte, next index); ``is_byte`` marks \\x and octal escapes,
    which stand for one byte rather than one character."""
    c = s[i]
    if c == quote and quote in "'\"":
        raise SyntaxErr("invalid syntax")
    if c != "\\":
        return ord(c), False, i + 1
    if i + 1 >= len(s):
        raise SyntaxErr("invalid syntax")
    c = s[i + 1]
    i += 2
    if c in _SIMPLE:
        return _SIMPLE[c], False, i
    if c in ("'", '"'):
        if c != quote:
            raise SyntaxErr("invalid syntax")
        return ord(c), False, i
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        h = s[i : i + n]
        if len(h) < n or any(ch not in _HEX for ch in h):
            raise SyntaxErr("invalid syntax")
        v = int(h, 16)
        if c == "x":
            return v, quote != "'", i + n
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            raise SyntaxErr("invalid syntax")
        return v, False, i + n
    if c in "01234567":
        o = s[i - 1 : i + 2]
        if len(o) < 3 or any(ch not in "01234567" for ch in o):
            raise SyntaxErr("invalid syntax")
        v = int(o, 8)
        if v > 255:
            raise SyntaxErr("invalid syntax")
        return v, quote != "'", i + 2
    raise SyntaxErr("invalid syntax")


def unquote(text: str) -> str:
    """``strconv.Unquote`` for "..." and `...` literals."""
    if len(text) < 2:
        raise SyntaxErr("invalid syntax")
    q = text[0]
    if q != text[-1]:
        raise SyntaxErr("invalid syntax")
    body = text[1:-1]
    if q == "`":
        if "`" in body:
            raise SyntaxErr("invalid syntax")
        return body.replace("\r", "")
    if q != '"':
        raise SyntaxErr("invalid syntax")
    if "\n" in body:
        raise SyntaxErr("invalid syntax")
    if "\\" not in body and '"' not in body:
        return body
    out = bytearray()
    i = 0
    while i < len(body):
        v, is_byte, i = unquote_char(body, i, '"')
        if is_byte:
            out.append(v)
        else:
            out += chr(v).encode("utf-8", "surrogatepass")
    # Go strings may hold any bytes; a Python str holds text, so bytes that are not
    # UTF-8 become U+FFFD (what any UTF-8 reader of Go's output would show).
    return out.decode("utf-8", "replace")


def _underscore_ok(s: str) -> bool:
    saw = "^"
    i = 0
    if s[:1] in ("-", "+"):
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1].lower() in "box":
        i = 2
        saw = "0"
        hexa = s[1].lower() == "x"
    while i < len(s):
        c = s[i]
        if "0" <= c <= "9" or (hexa and c.lower() in "abcdef"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def _parse_uint(s: str) -> int | None:
    """strconv.ParseUint(s, 0, 64)."""
    if not s or s[0] in "+-":
        return None
    body = s
    base = 10
    if s[0] == "0" and len(s) > 1:
        p = s[1].lower()
        if len(s) >= 3 and p == "b":
            base, body = 2, s[2:]
        elif len(s) >= 3 and p == "o":
            base, body = 8, s[2:]
        elif len(s) >= 3 and p == "x":
            base, body = 16, s[2:]
        else:
            base, body = 8, s[1:]
    if "_" in s and not _underscore_ok(s):
        return None
    body = body.replace("_", "")
    if not body:
        return None
    try:
        v = int(body, base)
    except ValueError:
        return None
    return v if v < (1 << 64) else None


def _parse_int(s: str) -> int | None:
    """strconv.ParseInt(s, 0, 64)."""
    if not s:
        return None
    neg = s[0] == "-"
    body = s[1:] if s[0] in "+-" else s
    u = _parse_uint(body)
    if u is None:
        return None
    if "_" in s and not _underscore_ok(s):
        return None
    v = -u if neg else u
    if v < -(1 << 63) or v >= (1 << 63):
        return None
    return v


def _parse_float(s: str) -> float | None:
    """strconv.ParseFloat(s, 64) for the forms the lexer lets through."""
    if not s:
        return None
    if "_" in s and not _underscore_ok(s):
        return None
    t = s.replace("_", "")
    sign = 1.0
    if t[:1] in "+-":
        sign = -1.0 if t[0] == "-" else 1.0
        t = t[1:]
    try:
        if t[:2].lower() == "0x":
            if "p" not in t.lower():
                return None  # Go requires the p exponent in a hex float
            v = float.fromhex(t)
        else:
            if not t or t[0] not in "0123456789." or t.lower().startswith(("0b", "0o")):
                return None
            v = float(t)
    except ValueError:
        return None
    if math.isinf(v):
        return None  # out of range: Go reports ErrRange
    return sign * v


def parse_number(text: str, kind: str) -> NumberValue:
    """The readings of a number literal (Go's parse.newNumber); kind is the token type."""
    n = NumberValue(text)
    if kind == "charconst":
        body = text[1:]
        if not body:
            raise SyntaxErr("invalid syntax")
        v, _, i = unquote_char(body, 0, "'")
        if body[i:] != "'":
            raise SyntaxErr(f"malformed character constant: {text}")
        n.is_int = n.is_uint = n.is_float = True
        n.int_v = n.uint_v = v
        n.float_v = float(v)
        return n
    if kind == "complex":
        try:
            c = complex(text.replace("i", "j").replace("_", ""))
        except ValueError:
            raise SyntaxErr(f'expected integer; found "{text}"') from None
        n.is_complex = True
        n.complex_v = c
        _simplify_complex(n)
        return n
    if text.endswith("i"):
        f = _parse_float(text[:-1]) if text[:-1] else None
        if f is None and text[:-1]:
            iv = _parse_int(text[:-1])
            f = float(iv) if iv is not None else None
        if f is not None:
            n.is_complex = True
            n.complex_v = complex(0, f)
            _simplify_complex(n)
            return n
    u = _parse_uint(text)
    if u is not None:
        n.is_uint = True
        n.uint_v = u
    i = _parse_int(text)
    if i is not None:
        n.is_int = True
        n.int_v = i
        if i == 0:
            n.is_uint = True
            n.uint_v = u or 0
    if n.is_int:
        n.is_float = True
        n.float_v = float(n.int_v)
    elif n.is_uint:
        n.is_float = True
        n.float_v = float(n.uint_v)
    else:
        f = _parse_float(text)
        if f is not None:
            if not any(c in text for c in ".eEpP"):
                from alerting.template.gofmt import go_quote

                raise SyntaxErr(f"integer overflow: {go_quote(text)}")
            n.is_float = True
            n.float_v = f
            if f == int(f) and -(1 << 63) <= f < (1 << 63):
                n.is_int = True
                n.int_v = int(f)
            if f == int(f) and 0 <= f < (1 << 64):
                n.is_uint = True
                n.uint_v = int(f)
    if not (n.is_int or n.is_uint or n.is_float):
        from alerting.template.gofmt import go_quote

        raise SyntaxErr(f"illegal number syntax: {go_quote(text)}")
    return n


def _simplify_complex(n: NumberValue) -> None:
    if n.complex_v.imag == 0:
        n.is_float = True
        n.float_v = n.complex_v.real
        f = n.float_v
        if f == int(f) and abs(f) < (1 << 63):
            n.is_int = True
            n.int_v = int(f)
        if f == int(f) and 0 <= f < (1 << 64):
            n.is_uint = True
            n.uint_v = int(f)
