"""Go's ``fmt`` printing (``Sprint``, ``Sprintln``, ``Sprintf``) over Python values.

Templates print values the way Go does, so a rule annotation renders the same
text in Spyglass as in Prometheus: ``1e+06`` for a float million, ``map[a:b]``
for a map, ``[a b]`` for a slice, ``%!d(string=x)`` for a bad verb::

    sprintf("%.2f%% of %v", 12.345, [1, 2])   # '12.35% of [1 2]'

Python values stand for Go values: ``None`` is nil, ``bool``/``int``/``float``/
``complex``/``str``/``bytes`` are Go's bool/int/float64/complex128/string/[]byte,
lists and tuples are slices, mappings are maps (printed in sorted key order), and
any other object with its own ``__str__`` is a ``fmt.Stringer``.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Mapping

__all__ = ["GoStringer", "format_float", "go_quote", "go_type_name", "sprint", "sprintf", "sprintln"]


class GoStringer:
    """Marker base for values that print with ``str()`` (Go's ``fmt.Stringer``)."""


# --- type names (for %T and error messages) ------------------------------------


def go_type_name(v) -> str:
    """The Go type name a Python value stands for (``map[string]interface {}``...)."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, complex):
        return "complex128"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "[]uint8"
    tn = getattr(type(v), "go_type", None)
    if isinstance(tn, str):
        return tn
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    if callable(v):
        return "func(...) interface {}"
    return "*" + type(v).__module__.rsplit(".", 1)[-1] + "." + type(v).__name__


# --- quoting (strconv.Quote) ----------------------------------------------------

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _is_print(ch: str) -> bool:
    # Go's unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the
    # ASCII space; other spaces and control/format/unassigned runes are not.
    if ch == " ":
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


def _quote_rune_body(ch: str, quote: str, ascii_only: bool) -> str:
    if ch == quote or ch == "\\":
        return "\\" + ch
    if ch in _ESCAPES:
        return _ESCAPES[ch]
    o = ord(ch)
    if ascii_only and o >= 0x80:
        pass
    elif _is_print(ch):
        return ch
    if 0xD800 <= o <= 0xDFFF:  # lone surrogate: Go's strings hold UTF-8, this is invalid
        return "\\ufffd"
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02x}"
    if o < 0x10000:
        return f"\\u{o:04x}"
    return f"\\U{o:08x}"


def go_quote(s: str, ascii_only: bool = False) -> str:
    """``strconv.Quote``: a double-quoted Go string literal."""
    return '"' + "".join(_quote_rune_body(c, '"', ascii_only) for c in s) + '"'


def go_quote_rune(r: int, ascii_only: bool = False) -> str:
    """``strconv.QuoteRune``: a single-quoted Go character literal."""
    if r < 0 or r > 0x10FFFF or 0xD800 <= r <= 0xDFFF:
        r = 0xFFFD
    return "'" + _quote_rune_body(chr(r), "'", ascii_only) + "'"


def _can_backquote(s: str) -> bool:
    for c in s:
        if c == "`" or c == "\ufeff":
            return False
        if c != "\t" and (ord(c) < 0x20 or ord(c) == 0x7F):
            return False
    return True


# --- floats (strconv.FormatFloat) ----------------------------------------------


def _shortest_digits(x: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of |x| and the decimal point position
    (value = 0.DIGITS * 10**dp), as Go's and Python's shortest formatting agree."""
    r = repr(abs(x))
    mant, _, exp = r.partition("e")
    e = int(exp) if exp else 0
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    dp = len(ip) + e - lead_zeros
    digits = digits.rstrip("0")
    if not digits:
        return "0", 1
    return digits, dp


def _exp_str(e: int, ch: str) -> str:
    sign = "-" if e < 0 else "+"
    e = abs(e)
    return f"{ch}{sign}{e:02d}"


def _fmt_e(digits: str, dp: int, prec: int, ch: str) -> str:
    # digits already rounded to the wanted number of significant digits
    first = digits[0]
    rest = digits[1:]
    if prec >= 0:
        rest = rest.ljust(prec, "0")[:prec] if prec > 0 else ""
    exp = dp - 1 if digits != "0" else 0
    return first + ("." + rest if rest else "") + _exp_str(exp, ch)


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if digits == "0":
        dp = 1
    if dp <= 0:
        ip = "0"
        fp = "0" * (-dp) + digits
    elif dp >= len(digits):
        ip = digits + "0" * (dp - len(digits))
        fp = ""
    else:
        ip = digits[:dp]
        fp = digits[dp:]
    if prec >= 0:
        fp = fp.ljust(prec, "0")[:prec]
    return ip + ("." + fp if fp else "")


def _rounded_digits(x: float, sig: int) -> tuple[str, int]:
    """|x| rounded to ``sig`` significant digits (correctly rounded, half-even on ties
    of the exact binary value, like strconv)."""
    if x == 0:
        return "0", 1
    s = f"{abs(x):.{max(sig - 1, 0)}e}"
    mant, _, exp = s.partition("e")
    digits = mant.replace(".", "").rstrip("0") or "0"
    return digits, int(exp) + 1


def format_float(x: float, fmt: str, prec: int = -1) -> str:
    """``strconv.FormatFloat(x, fmt, prec, 64)`` for fmt in e, E, f, g, G, b, x, X."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    neg = math.copysign(1.0, x) < 0
    sign = "-" if neg else ""
    if fmt == "b":
        if x == 0:
            return sign + "0p-1074"
        m, e = math.frexp(abs(x))
        mant = int(m * (1 << 53))
        exp = e - 53
        if exp < -1074:  # subnormal: Go keeps the exponent at -1074
            mant >>= -1074 - exp
            exp = -1074
        return f"{sign}{mant}p{'+' if exp >= 0 else '-'}{abs(exp)}"
    if fmt in "xX":
        return sign + _hex_float(abs(x), prec, fmt == "X")
    if fmt in "eE":
        if prec < 0:
            digits, dp = _shortest_digits(x)
            return sign + _fmt_e(digits, dp, -1, fmt)
        digits, dp = _rounded_digits(x, prec + 1)
        return sign + _fmt_e(digits, dp, prec, fmt)
    if fmt == "f":
        if prec < 0:
            digits, dp = _shortest_digits(x)
            return sign + _fmt_f(digits, dp, -1)
        return sign + f"{abs(x):.{prec}f}"
    if fmt in "gG":
        ech = "e" if fmt == "g" else "E"
        shortest = prec < 0
        if shortest:
            digits, dp = _shortest_digits(x)
            eprec = 6
        else:
            if prec == 0:
                prec = 1
            digits, dp = _rounded_digits(x, prec)
            eprec = prec
            if eprec > len(digits) and len(digits) >= dp:
                eprec = len(digits)
        exp = dp - 1 if digits != "0" else 0
        if exp < -4 or exp >= eprec:
            p = (len(digits) - 1) if shortest else min(len(digits) - 1, prec - 1)
            return sign + _fmt_e(digits, dp, p, ech)
        p = max(len(digits) - dp, 0) if shortest else max(min(len(digits), prec) - dp, 0)
        return sign + _fmt_f(digits, dp, p)
    raise ValueError(f"bad float format {fmt!r}")


def _hex_float(x: float, prec: int, upper: bool) -> str:
    if x == 0:
        mant, exp = 0, 0
    else:
        m, e = math.frexp(x)  # x = m * 2**e, 0.5 <= m < 1
        mant = int(m * (1 << 53))  # 53-bit integer mantissa, top bit set
        exp = e - 1
    # mantissa as 1.xxxx: 52 fraction bits = 13 hex digits
    frac = mant & ((1 << 52) - 1)
    hexd = f"{frac:013x}"
    lead = "1" if mant else "0"
    if prec < 0:
        hexd = hexd.rstrip("0")
    elif prec < 13:
        # round to prec hex digits, half to even
        shift = (13 - prec) * 4
        full = (mant >> 0)
        q, r = divmod(full, 1 << shift)
        half = 1 << (shift - 1)
        if r > half or (r == half and q & 1):
            q += 1
        if q >> (52 - shift) >= 2:  # carried into a new leading digit
            q >>= 1
            exp += 1
        lead = "1" if q else "0"
        fracq = q & ((1 << (52 - shift)) - 1) if prec else 0
        hexd = f"{fracq:0{prec}x}" if prec else ""
    else:
        hexd = hexd + "0" * (prec - 13)
    s = "0x" + lead + ("." + hexd if hexd else "") + "p" + ("+" if exp >= 0 else "-") + f"{abs(exp):02d}"
    return s.upper().replace("0X", "0X") if upper else s


# --- the printer ----------------------------------------------------------------


class _Flags:
    __slots__ = ("minus", "plus", "plus_v", "prec", "sharp", "sharp_v", "space", "wid", "zero")

    def __init__(self):
        self.clear()

    def clear(self):
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = None
        self.prec = None


_PLAIN_TYPES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict, type(None))
_BASES = (bool, int, float, complex, str, bytes, bytearray, list, tuple, dict)


def _is_stringer(v) -> bool:
    """Whether a value prints through its own ``__str__`` (Go's Stringer/error)."""
    if isinstance(v, (GoStringer, BaseException)):
        return True
    t = type(v)
    if t in _PLAIN_TYPES:
        return False
    for base in _BASES:
        if isinstance(v, base):
            return t.__str__ is not base.__str__
    return t.__str__ is not object.__str__


class _Printer:
    def __init__(self):
        self.buf: list[str] = []
        self.f = _Flags()
        self.erroring = False

    # padding ------------------------------------------------------------------
    def pad(self, s: str) -> None:
        f = self.f
        if f.wid is None or f.wid <= len(s):
            self.buf.append(s)
            return
        n = f.wid - len(s)
        if f.minus:
            self.buf.append(s + " " * n)
        else:
            self.buf.append(("0" if f.zero else " ") * n + s)

    # scalars ------------------------------------------------------------------
    def fmt_bool(self, v: bool, verb: str) -> None:
        if verb in "tv":
            self.pad("true" if v else "false")
        else:
            self.bad_verb(verb, v)

    def fmt_integer(self, v: int, verb: str, value) -> None:
        f = self.f
        if verb in "vd":
            self._int(v, 10, verb, False)
        elif verb == "b":
            self._int(v, 2, verb, False)
        elif verb in "oO":
            self._int(v, 8, verb, False)
        elif verb == "x":
            self._int(v, 16, verb, False)
        elif verb == "X":
            self._int(v, 16, verb, True)
        elif verb == "c":
            self.pad(chr(v) if 0 <= v <= 0x10FFFF and not 0xD800 <= v <= 0xDFFF else "\ufffd")
        elif verb == "q":
            self.pad(go_quote_rune(v, f.plus))
        elif verb == "U":
            r = v & 0xFFFFFFFFFFFFFFFF if v < 0 else v
            s = f"U+{r:04X}"
            if f.prec is not None and f.prec > 4:
                s = "U+" + f"{r:X}".rjust(f.prec, "0")
            if f.sharp and 0 <= v <= 0x10FFFF and _is_print(chr(v)):
                s += " '" + chr(v) + "'"
            old = f.zero
            f.zero = False
            self.pad(s)
            f.zero = old
        else:
            self.bad_verb(verb, value)

    def _int(self, v: int, base: int, verb: str, upper: bool) -> None:
        f = self.f
        neg = v < 0
        u = -v if neg else v
        prec = 0
        if f.prec is not None:
            prec = f.prec
            if prec == 0 and u == 0:
                old = f.zero
                f.zero = False
                self.pad("")
                f.zero = old
                return
        elif f.zero and f.wid is not None:
            prec = f.wid
            if neg or f.plus or f.space:
                prec -= 1
        if base == 10:
            digits = str(u)
        elif base == 16:
            digits = f"{u:X}" if upper else f"{u:x}"
        elif base == 8:
            digits = f"{u:o}"
        else:
            digits = f"{u:b}"
        if len(digits) < prec:
            digits = "0" * (prec - len(digits)) + digits
        if f.sharp:
            if base == 2:
                digits = "0b" + digits
            elif base == 8 and not digits.startswith("0"):
                digits = "0" + digits
            elif base == 16:
                digits = ("0X" if upper else "0x") + digits
        if verb == "O":
            digits = "0o" + digits
        if neg:
            digits = "-" + digits
        elif f.plus:
            digits = "+" + digits
        elif f.space:
            digits = " " + digits
        old = f.zero
        f.zero = False
        self.pad(digits)
        f.zero = old

    def fmt_float(self, v: float, verb: str, value) -> None:
        if verb == "v":
            self._float(v, "g", -1)
        elif verb in "bgGxX":
            self._float(v, verb, -1)
        elif verb in "feE":
            self._float(v, verb, 6)
        elif verb == "F":
            self._float(v, "f", 6)
        else:
            self.bad_verb(verb, value)

    def _float(self, v: float, verb: str, prec: int) -> None:
        f = self.f
        if f.prec is not None:
            prec = f.prec
        num = format_float(v, verb, prec)
        if num[0] not in "+-":
            num = "+" + num
        if f.space and num[0] == "+" and not f.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            old = f.zero
            f.zero = False
            if num[1] == "N" and not f.space and not f.plus:
                num = num[1:]
            self.pad(num)
            f.zero = old
            return
        if f.sharp and verb != "b":
            digits = 0
            if verb in "vgGx":
                digits = prec if prec != -1 else 6
            tail = ""
            body = num
            for i in range(1, len(num)):
                c = num[i]
                if c in "pP" or (c in "eE" and verb not in "xX"):
                    tail = num[i:]
                    body = num[:i]
                    break
            has_point = "." in body
            saw_nonzero = False
            for c in body[1:]:
                if c == ".":
                    continue
                if c != "0":
                    saw_nonzero = True
                if saw_nonzero:
                    digits -= 1
            if not has_point:
                if len(body) == 2 and body[1] == "0":
                    digits -= 1
                body += "."
            if digits > 0:
                body += "0" * digits
            num = body + tail
        if f.plus or num[0] != "+":
            if f.zero and f.wid is not None and f.wid > len(num):
                self.buf.append(num[0] + "0" * (f.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, verb: str, value) -> None:
        if verb in "vbgGxXfFeE":
            old = self.f.plus
            self.buf.append("(")
            self.fmt_float(v.real, verb, value)
            self.f.plus = True
            self.fmt_float(v.imag, verb, value)
            self.buf.append("i)")
            self.f.plus = old
        else:
            self.bad_verb(verb, value)

    def fmt_string(self, s: str, verb: str, value) -> None:
        f = self.f
        if verb == "v":
            if f.sharp_v:
                self._fmt_q(s)
            else:
                self._fmt_s(s)
        elif verb == "s":
            self._fmt_s(s)
        elif verb in "xX":
            self._fmt_sx(s.encode("utf-8", "surrogatepass"), verb == "X")
        elif verb == "q":
            self._fmt_q(s)
        else:
            self.bad_verb(verb, value)

    def _truncate(self, s: str) -> str:
        p = self.f.prec
        return s[:p] if p is not None else s

    def _fmt_s(self, s: str) -> None:
        self.pad(self._truncate(s))

    def _fmt_q(self, s: str) -> None:
        s = self._truncate(s)
        if self.f.sharp and _can_backquote(s):
            self.pad("`" + s + "`")
        else:
            self.pad(go_quote(s, self.f.plus))

    def _fmt_sx(self, b: bytes, upper: bool) -> None:
        f = self.f
        n = len(b)
        if f.prec is not None and f.prec < n:
            b = b[: f.prec]
        digits = "0123456789ABCDEF" if upper else "0123456789abcdef"
        out = []
        for i, c in enumerate(b):
            if f.space and i > 0:
                out.append(" ")
            if f.sharp and (f.space or i == 0):
                out.append("0X" if upper else "0x")
            out.append(digits[c >> 4] + digits[c & 15])
        old = f.zero
        self.pad("".join(out))
        f.zero = old

    def fmt_bytes(self, b: bytes, verb: str, value, depth: int) -> None:
        if verb in "vd":
            if self.f.sharp_v:
                self.buf.append("[]byte{" + ", ".join(f"0x{c:x}" for c in b) + "}")
                return
            self.buf.append("[")
            for i, c in enumerate(b):
                if i:
                    self.buf.append(" ")
                self.fmt_integer(c, verb, c)
            self.buf.append("]")
        elif verb == "s":
            self._fmt_s(b.decode("utf-8", "replace"))
        elif verb in "xX":
            self._fmt_sx(bytes(b), verb == "X")
        elif verb == "q":
            self._fmt_q(b.decode("utf-8", "replace"))
        else:
            self.print_value(list(b), verb, depth)

    # errors -------------------------------------------------------------------
    def bad_verb(self, verb: str, value) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        if value is None:
            self.buf.append("<nil>")
        else:
            self.buf.append(go_type_name(value) + "=")
            saved = self.f
            self.f = _Flags()
            self.print_arg(value, "v")
            self.f = saved
        self.buf.append(")")
        self.erroring = False

    # dispatch -----------------------------------------------------------------
    def print_arg(self, arg, verb: str, depth: int = 0) -> None:
        if arg is None:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb, None)
            return
        if verb == "T":
            self._fmt_s(go_type_name(arg))
            return
        if verb == "p":
            self.bad_verb(verb, arg)
            return
        if isinstance(arg, (bool, int, float, complex, str, bytes, bytearray)) and not _is_stringer(arg):
            self.fmt_basic(arg, verb, depth)
        elif not self.handle_methods(arg, verb):
            self.print_value(arg, verb, depth)

    def fmt_basic(self, arg, verb: str, depth: int) -> None:
        if isinstance(arg, bool):
            self.fmt_bool(arg, verb)
        elif isinstance(arg, int):
            self.fmt_integer(int(arg), verb, arg)
        elif isinstance(arg, float):
            self.fmt_float(float(arg), verb, arg)
        elif isinstance(arg, complex):
            self.fmt_complex(complex(arg), verb, arg)
        elif isinstance(arg, str):
            self.fmt_string(str(arg), verb, arg)
        else:
            self.fmt_bytes(bytes(arg), verb, arg, depth)

    def handle_methods(self, arg, verb: str) -> bool:
        if self.erroring or not _is_stringer(arg):
            return False
        if self.f.sharp_v:
            return False
        if verb in "vsxXq":
            try:
                s = str(arg)
            except Exception as e:  # noqa: BLE001 - Go prints a panicking String() as %!v(PANIC=String method: ...)
                self.buf.append(f"%!{verb}(PANIC=String method: {e})")
                return True
            self.fmt_string(s, verb, s)
            return True
        return False

    def print_value(self, v, verb: str, depth: int) -> None:
        if (depth > 0 and v is not None and not isinstance(v, (Mapping, list, tuple))
                and self.handle_methods(v, verb)):
            return
        if v is None:
            if depth == 0:
                self.buf.append("<invalid reflect.Value>")
            elif self.f.sharp_v:
                self.buf.append("interface {}(nil)")
            else:
                self.buf.append("<nil>")
            return
        if isinstance(v, (bool, int, float, complex, str, bytes, bytearray)):
            self.fmt_basic(v, verb, depth)
            return
        f = self.f
        if isinstance(v, Mapping):
            if f.sharp_v:
                self.buf.append(go_type_name(v) + "{")
            else:
                self.buf.append("map[")
            for i, k in enumerate(_sorted_keys(v)):
                if i > 0:
                    self.buf.append(", " if f.sharp_v else " ")
                self.print_value(k, verb, depth + 1)
                self.buf.append(":")
                self.print_value(v[k], verb, depth + 1)
            self.buf.append("}" if f.sharp_v else "]")
            return
        if isinstance(v, tuple) and hasattr(type(v), "_fields"):
            # a NamedTuple is a Go struct value: {a b}, {Name:a Value:b} with %+v
            self.buf.append("{")
            for i, (name, val) in enumerate(zip(type(v)._fields, v)):
                if i > 0:
                    self.buf.append(" ")
                if f.plus_v or f.sharp_v:
                    self.buf.append(name + ":")
                self.print_value(val, verb, depth + 1)
            self.buf.append("}")
            return
        if isinstance(v, (list, tuple)):
            if f.sharp_v:
                self.buf.append(go_type_name(v) + "{")
                for i, e in enumerate(v):
                    if i > 0:
                        self.buf.append(", ")
                    self.print_value(e, verb, depth + 1)
                self.buf.append("}")
                return
            self.buf.append("[")
            for i, e in enumerate(v):
                if i > 0:
                    self.buf.append(" ")
                self.print_value(e, verb, depth + 1)
            self.buf.append("]")
            return
        if callable(v) and not hasattr(v, "__dict__") or isinstance(v, type(len)):
            self.buf.append("0x" + format(id(v), "x"))
            return
        # An object with attributes: Go prints a struct as {field1 field2}.
        fields = _public_fields(v)
        self.buf.append("&{" if depth == 0 else "{")
        for i, (name, val) in enumerate(fields):
            if i > 0:
                self.buf.append(" ")
            if f.plus_v or f.sharp_v:
                self.buf.append(name + ":")
            self.print_value(val, verb, depth + 1)
        self.buf.append("}")


def _public_fields(v) -> list[tuple[str, object]]:
    slots = []
    for cls in type(v).__mro__:
        slots.extend(getattr(cls, "__slots__", ()))
    names = [n for n in slots if not n.startswith("_")]
    if hasattr(v, "__dict__"):
        names += [n for n in vars(v) if not n.startswith("_") and n not in names]
    return [(n, getattr(v, n, None)) for n in names]


def _sort_key(k):
    # fmt sorts map keys: numbers by value, strings by bytes, nil first.
    if k is None:
        return (0, 0)
    if isinstance(k, bool):
        return (1, int(k))
    if isinstance(k, (int, float)):
        return (2, k)
    if isinstance(k, str):
        return (3, k)
    return (4, str(k))


def _sorted_keys(m: Mapping) -> list:
    try:
        return sorted(m.keys(), key=_sort_key)
    except TypeError:
        return list(m.keys())


# --- entry points -----------------------------------------------------------------


def sprint(*args) -> str:
    """``fmt.Sprint``: a space between operands when neither is a string."""
    p = _Printer()
    prev_string = False
    for i, a in enumerate(args):
        is_string = isinstance(a, str)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.f.clear()
        p.print_arg(a, "v")
        prev_string = is_string
    return "".join(p.buf)


def sprintln(*args) -> str:
    """``fmt.Sprintln``: operands separated by spaces, then a newline."""
    p = _Printer()
    for i, a in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.f.clear()
        p.print_arg(a, "v")
    p.buf.append("\n")
    return "".join(p.buf)


def _parsenum(s: str, i: int) -> tuple[int | None, int]:
    start = i
    while i < len(s) and s[i] in "0123456789":
        if i > start and int(s[start:i]) > 1_000_000:
            # Go gives up on absurd numbers and skips the rest of the format
            return None, len(s)
        i += 1
    if i == start:
        return None, i
    return int(s[start:i]), i


def sprintf(format: str, *args) -> str:
    """``fmt.Sprintf`` with Go's verbs, flags, widths, precisions, ``*`` and ``[n]``."""
    p = _Printer()
    f = p.f
    a = args
    end = len(format)
    arg_num = 0
    reordered = False
    i = 0
    buf = p.buf

    def arg_number(arg_num: int, i: int) -> tuple[int, int, bool, bool]:
        # Go's argNumber: returns (arg_num, i, found, good)
        nonlocal reordered
        if i >= end or format[i] != "[":
            return arg_num, i, False, True
        reordered = True
        rest = format[i:]
        if len(rest) < 3:
            return arg_num, i + 1, False, False
        j = rest.find("]", 1)
        if j < 0:
            return arg_num, i + 1, False, False
        num, newi = _parsenum(rest, 1)
        if num is None or newi != j:
            return arg_num, i + j + 1, False, False
        idx = num - 1
        if 0 <= idx < len(a):
            return idx, i + j + 1, True, True
        return arg_num, i + j + 1, True, False

    def int_from_arg(arg_num: int) -> tuple[int | None, int]:
        if arg_num < len(a):
            v = a[arg_num]
            if isinstance(v, int) and not isinstance(v, bool) and -1_000_000 <= v <= 1_000_000:
                return v, arg_num + 1
            return None, arg_num + 1
        return None, arg_num

    while i < end:
        good_arg_num = True
        lasti = i
        while i < end and format[i] != "%":
            i += 1
        if i > lasti:
            buf.append(format[lasti:i])
        if i >= end:
            break
        i += 1
        f.clear()
        while i < end:
            c = format[i]
            if c == "#":
                f.sharp = True
            elif c == "0":
                f.zero = not f.minus
            elif c == "+":
                f.plus = True
            elif c == "-":
                f.minus = True
                f.zero = False
            elif c == " ":
                f.space = True
            else:
                break
            i += 1
        arg_num, i, after_index, ok = arg_number(arg_num, i)
        if not ok:
            good_arg_num = False
        if i < end and format[i] == "*":
            i += 1
            wid, arg_num = int_from_arg(arg_num)
            f.wid = wid
            if wid is None:
                buf.append("%!(BADWIDTH)")
            elif wid < 0:
                f.wid = -wid
                f.minus = True
                f.zero = False
            after_index = False
        else:
            f.wid, i = _parsenum(format, i)
            if after_index and f.wid is not None:
                good_arg_num = False
        if i + 1 < end and format[i] == ".":
            i += 1
            if after_index:
                good_arg_num = False
            arg_num, i, after_index, ok = arg_number(arg_num, i)
            if not ok:
                good_arg_num = False
            if i < end and format[i] == "*":
                i += 1
                prec, arg_num = int_from_arg(arg_num)
                f.prec = prec
                if prec is not None and prec < 0:
                    f.prec = None
                    buf.append("%!(BADPREC)")
                elif prec is None:
                    buf.append("%!(BADPREC)")
                after_index = False
            else:
                prec, i = _parsenum(format, i)
                f.prec = prec if prec is not None else 0
        if not after_index:
            arg_num, i, after_index, ok = arg_number(arg_num, i)
            if not ok:
                good_arg_num = False
        if i >= end:
            buf.append("%!(NOVERB)")
            break
        verb = format[i]
        i += 1
        if verb == "%":
            buf.append("%")
        elif not good_arg_num:
            buf.append("%!" + verb + "(BADINDEX)")
        elif arg_num >= len(a):
            buf.append("%!" + verb + "(MISSING)")
        else:
            if verb == "v":
                f.sharp_v = f.sharp
                f.sharp = False
                f.plus_v = f.plus
                f.plus = False
            elif verb == "w":
                verb = "w"
            p.print_arg(a[arg_num], verb)
            arg_num += 1
    if not reordered and arg_num < len(a):
        f.clear()
        buf.append("%!(EXTRA ")
        for k, arg in enumerate(a[arg_num:]):
            if k > 0:
                buf.append(", ")
            if arg is None:
                buf.append("<nil>")
            else:
                buf.append(go_type_name(arg) + "=")
                p.print_arg(arg, "v")
        buf.append(")")
    return "".join(buf)
