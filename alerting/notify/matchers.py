"""Alertmanager's label matchers and the two syntaxes that write them.

Alertmanager matchers differ from PromQL's in small ways that users notice:
regexes are anchored ``^(?:re)$`` without the dot-matches-newline flag, values
may be unquoted (``severity=critical``), and a list may be written with or
without braces (``{a="b", c=~"d|e"}``). Two parsers exist upstream: the
classic one (Alertmanager ≤ 0.26) and the UTF-8 one (0.27+, which also accepts
quoted UTF-8 label names). Alertmanager's default "fallback" mode keeps the
classic result whenever the classic parser accepts the input and uses the
UTF-8 parser otherwise; ``parse_matchers`` does the same::

    ms = parse_matchers('{severity="critical", team=~"db|web"}')
    Matchers(ms).matches({"severity": "critical", "team": "db"})  # True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping, Sequence

import re2

from alerting.notify.wire import go_quote, go_unquote

_LEGACY_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*\Z")


def is_legacy_label_name(name: str) -> bool:
    return bool(_LEGACY_NAME.match(name))


def is_valid_label_name(name: str) -> bool:
    """Alertmanager 0.27+ (UTF-8 mode): any non-empty valid UTF-8 string."""
    return bool(name) and is_valid_utf8(name)


def is_valid_utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


# Quiet options: a bad user regex is reported as an error, not logged to stderr.
_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False


def compile_regex(pattern: str):
    """Compile a Go/RE2 regex; ``ValueError`` with a readable reason when invalid."""
    try:
        return re2.compile(pattern, options=_RE2_OPTIONS)
    except re2.error as e:
        reason = e.args[0] if e.args else str(e)
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"error parsing regexp: {reason}") from None


class MatchType(enum.IntEnum):
    """The operator; the integer order is Alertmanager's (it breaks sort ties)."""

    EQUAL = 0
    NOT_EQUAL = 1
    REGEX = 2
    NOT_REGEX = 3

    @property
    def op(self) -> str:
        return _OPS[self]

    @classmethod
    def from_op(cls, op: str) -> MatchType:
        return _FROM_OP[op]


_OPS = {MatchType.EQUAL: "=", MatchType.NOT_EQUAL: "!=", MatchType.REGEX: "=~", MatchType.NOT_REGEX: "!~"}
_FROM_OP = {v: k for k, v in _OPS.items()}


def _om_escape(s: str) -> str:
    # OpenMetrics escaping, what Alertmanager prints inside matcher quotes.
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Matcher:
    """One Alertmanager matcher; a missing label matches as ``""``::

    Matcher(MatchType.REGEX, "job", "api|web").matches("api")  # True
    """

    __slots__ = ("_re", "name", "type", "value")

    def __init__(self, type: MatchType | str, name: str, value: str):
        self.type = MatchType.from_op(type) if isinstance(type, str) else MatchType(type)
        self.name = name
        self.value = value
        self._re = None
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            self._re = compile_regex(f"^(?:{value})$")

    def matches(self, s: str) -> bool:
        t = self.type
        if t is MatchType.EQUAL:
            return s == self.value
        if t is MatchType.NOT_EQUAL:
            return s != self.value
        hit = self._re.search(s) is not None
        return hit if t is MatchType.REGEX else not hit

    def sort_key(self) -> tuple[str, str, int]:
        # Alertmanager sorts matchers by name, then value, then type.
        return (self.name, self.value, int(self.type))

    def __eq__(self, other) -> bool:
        return isinstance(other, Matcher) and (self.type, self.name, self.value) == (
            other.type, other.name, other.value)

    def __hash__(self) -> int:
        return hash((self.type, self.name, self.value))

    def __str__(self) -> str:
        name = self.name if is_legacy_label_name(self.name) else go_quote(self.name)
        return f'{name}{self.type.op}"{_om_escape(self.value)}"'

    def __repr__(self) -> str:
        return f"Matcher({self!s})"


class Matchers(tuple):
    """An immutable list of matchers that all must match (the order is kept)."""

    __slots__ = ()

    def __new__(cls, items: Iterable[Matcher] = ()):
        return tuple.__new__(cls, items)

    def sorted(self) -> Matchers:
        return Matchers(sorted(self, key=Matcher.sort_key))

    def matches(self, labels: Mapping[str, str]) -> bool:
        get = labels.get
        return all(m.matches(get(m.name, "")) for m in self)

    def __str__(self) -> str:
        return "{" + ",".join(str(m) for m in self) + "}"

    def __repr__(self) -> str:
        return f"Matchers({self!s})"


# --- the classic parser (Alertmanager <= 0.26, pkg/labels) -----------------------
# Go's \s is [\t\n\f\r ], narrower than Python's.
_CLASSIC = re.compile(
    r"^[\t\n\f\r ]*([a-zA-Z_:][a-zA-Z0-9_:]*)[\t\n\f\r ]*(=~|=|!=|!~)[\t\n\f\r ]*(.*?)[\t\n\f\r ]*$",
    re.DOTALL,
)


class MatcherError(ValueError):
    """A matcher text is malformed; the message says where."""


def parse_matcher_classic(text: str) -> Matcher:
    m = _CLASSIC.match(text)
    if not m:
        raise MatcherError(f"bad matcher format: {text}")
    name, op, raw = m.group(1), m.group(2), m.group(3)
    expect_quote = False
    if raw.startswith('"'):
        raw = raw[1:]
        expect_quote = True
    if not is_valid_utf8(raw):
        raise MatcherError(f"matcher value not valid UTF-8: {m.group(3)}")
    out: list[str] = []
    escaped = False
    last = len(raw) - 1
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            if ch == "n":
                out.append("\n")
            elif ch in '"\\':
                out.append(ch)
            else:
                # A stray backslash stays literal, as upstream tolerates.
                out.append("\\" + ch)
            continue
        if ch == "\\":
            if i < last:
                escaped = True
                continue
            out.append("\\")
        elif ch == '"':
            if not expect_quote or i < last:
                raise MatcherError(f"matcher value contains unescaped double quote: {m.group(3)}")
            expect_quote = False
        else:
            out.append(ch)
    if expect_quote:
        raise MatcherError(f"matcher value contains unescaped double quote: {m.group(3)}")
    try:
        return Matcher(MatchType.from_op(op), name, "".join(out))
    except ValueError as e:
        raise MatcherError(str(e)) from None


def parse_matchers_classic(text: str) -> list[Matcher]:
    s = text.removeprefix("{")
    s = s.removesuffix("}")
    tokens: list[str] = []
    token: list[str] = []
    inside_quotes = escaped = False
    for ch in s:
        if ch == ",":
            if not inside_quotes:
                tokens.append("".join(token))
                token = []
                continue
        elif ch == '"':
            if not escaped:
                inside_quotes = not inside_quotes
            else:
                escaped = False
        elif ch == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(ch)
    rest = "".join(token)
    if rest.strip(" \t\n\r\f\v"):
        tokens.append(rest.strip(" \t\n\r\f\v"))
    return [parse_matcher_classic(t) for t in tokens]


# --- the UTF-8 parser (Alertmanager 0.27+, matcher/parse) ------------------------
_RESERVED = set('{}!=~,\\"\'`')


def _is_space(ch: str) -> bool:
    return ch.isspace()


def _reserved(ch: str) -> bool:
    return ch.isspace() or ch in _RESERVED


def _lex(text: str) -> list[tuple[str, str, int]]:
    """Tokens (kind, text, column) where kind is one of { } , op quoted unquoted."""
    toks: list[tuple[str, str, int]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "{},":
            toks.append((ch, ch, i))
            i += 1
        elif ch in "=!":
            if ch == "!":
                nxt = text[i + 1:i + 2]
                if nxt not in ("=", "~"):
                    raise MatcherError(f"{i}:{i + 1 + len(nxt)}: {text[i:i + 1 + len(nxt)]}: expected one of '=~'")
                toks.append(("op", ch + nxt, i))
                i += 2
            else:
                if text[i + 1:i + 2] == "~":
                    toks.append(("op", "=~", i))
                    i += 2
                else:
                    toks.append(("op", "=", i))
                    i += 1
        elif ch == '"':
            j = i + 1
            esc = False
            while j < n:
                c = text[j]
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    break
                j += 1
            if j >= n:
                raise MatcherError(f"{i}:{n}: {text[i:]}: missing end \"")
            toks.append(("quoted", text[i:j + 1], i))
            i = j + 1
        elif not _reserved(ch):
            j = i
            while j < n and not _reserved(text[j]):
                j += 1
            toks.append(("unquoted", text[i:j], i))
            i = j
        elif _is_space(ch):
            i += 1
        else:
            raise MatcherError(f"{i}:{i + 1}: {ch}: invalid input")
    return toks


def _tok_value(kind: str, raw: str, col: int) -> str:
    if kind == "quoted":
        try:
            return go_unquote(raw)
        except ValueError:
            raise MatcherError(f"{col}:{col + len(raw)}: {raw}: invalid input") from None
    return raw


def parse_matchers_utf8(text: str) -> list[Matcher]:
    toks = _lex(text)
    pos = 0
    out: list[Matcher] = []
    has_open = bool(toks) and toks[0][0] == "{"
    if has_open:
        pos = 1

    def peek():
        return toks[pos] if pos < len(toks) else None

    while True:
        t = peek()
        if t is None:
            if has_open:
                raise MatcherError(f"0:{len(text)}: unexpected end of input: expected close brace")
            return out
        if t[0] == "}":
            if not has_open:
                raise MatcherError(f"0:{t[2] + 1}: }}: expected opening brace")
            pos += 1
            if pos != len(toks):
                nt = toks[pos]
                raise MatcherError(f"{nt[2]}:{nt[2] + len(nt[1])}: {nt[1]}: expected end of input")
            return out
        if t[0] not in ("quoted", "unquoted"):
            raise MatcherError(f"{t[2]}:{t[2] + len(t[1])}: unexpected {t[1]}: expected label name")
        name = _tok_value(t[0], t[1], t[2])
        pos += 1
        t = peek()
        if t is None:
            raise MatcherError(f"0:{len(text)}: unexpected end of input: expected an operator such as '=', '!=', '=~' or '!~'")
        if t[0] != "op":
            raise MatcherError(f"{t[2]}:{t[2] + len(t[1])}: unexpected {t[1]}: expected an operator such as '=', '!=', '=~' or '!~'")
        op = t[1]
        pos += 1
        t = peek()
        if t is None:
            raise MatcherError(f"0:{len(text)}: unexpected end of input: expected label value")
        if t[0] not in ("quoted", "unquoted"):
            raise MatcherError(f"{t[2]}:{t[2] + len(t[1])}: unexpected {t[1]}: expected label value")
        value = _tok_value(t[0], t[1], t[2])
        pos += 1
        try:
            out.append(Matcher(MatchType.from_op(op), name, value))
        except ValueError as e:
            raise MatcherError(f"failed to create matcher: {e}") from None
        t = peek()
        if t is None:
            continue  # end of input: the loop checks the brace
        if t[0] == "}":
            continue
        if t[0] != ",":
            raise MatcherError(f"{t[2]}:{t[2] + len(t[1])}: unexpected {t[1]}: expected a comma or close brace")
        pos += 1
        t = peek()
        if t is not None and t[0] not in ("}", "quoted", "unquoted"):
            raise MatcherError(f"{t[2]}:{t[2] + len(t[1])}: unexpected {t[1]}: expected a matcher or close brace after comma")


# --- what config files and the API use ----------------------------------------------
def parse_matchers(text: str) -> list[Matcher]:
    """A list of matchers, as Alertmanager's fallback mode parses it."""
    try:
        return parse_matchers_classic(text)
    except MatcherError as classic_err:
        try:
            return parse_matchers_utf8(text)
        except MatcherError:
            raise classic_err from None


def parse_matcher(text: str) -> Matcher:
    """Exactly one matcher (API ``filter`` parameters, amtool arguments)."""
    if text.startswith("{") or text.endswith("}"):
        raise MatcherError(f"unexpected open or close brace: {text}")
    try:
        return parse_matcher_classic(text)
    except MatcherError as classic_err:
        try:
            ms = parse_matchers_utf8(text)
        except MatcherError:
            raise classic_err from None
        if len(ms) != 1:
            raise MatcherError(f"expected 1 matcher, found {len(ms)}") from None
        return ms[0]


def sort_matchers(ms: Sequence[Matcher]) -> Matchers:
    return Matchers(ms).sorted()
