"""Go's ``regexp`` package over RE2: compile with Go's error texts, ``MatchString``
and ``ReplaceAllString`` with ``$1``/``${name}`` expansion and Go's handling of
empty matches (the template functions ``match`` and ``reReplaceAll`` use them)::

    replace_all(compile_go("(a+)"), "xaay", "<$1>")   # 'x<aa>y'
"""

from __future__ import annotations

import functools

import re2

from collector.relabel.process import expand  # Go's Regexp.Expand, shared with relabeling

__all__ = ["GoRegexpError", "compile_go", "match_string", "must_compile", "replace_all"]

_OPTS = re2.Options()
_OPTS.log_errors = False

# RE2's C++ error codes -> Go's regexp/syntax error codes
_CODES = [
    ("missing )", "missing closing )"),
    ("unexpected )", "unexpected )"),
    ("missing ]", "missing closing ]"),
    ("invalid repetition size", "invalid repeat count"),
    ("invalid escape sequence", "invalid escape sequence"),
    ("invalid character class range", "invalid character class range"),
    ("invalid character class", "invalid character class"),
    ("no argument for repetition operator", "missing argument to repetition operator"),
    ("bad repetition operator", "invalid nested repetition operator"),
    ("invalid perl operator", "invalid or unsupported Perl syntax"),
    ("invalid named capture group", "invalid named capture"),
    ("trailing \\", "trailing backslash at end of expression"),
    ("invalid UTF-8", "invalid UTF-8"),
    ("pattern too large", "expression too large"),
    ("bad repetition", "invalid nested repetition operator"),
]


class GoRegexpError(ValueError):
    """A pattern Go's regexp rejects; ``str()`` is Go's ``error parsing regexp: ...``."""


def _go_message(pattern: str, err: Exception) -> str:
    raw = err.args[0] if err.args else str(err)
    msg = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, _, frag = msg.partition(": ")
    for c2, go in _CODES:
        if code.startswith(c2):
            return f"error parsing regexp: {go}: `{frag or pattern}`"
    return f"error parsing regexp: {msg}: `{pattern}`"


@functools.lru_cache(maxsize=1024)
def compile_go(pattern: str):
    """Compile with Go's (RE2) syntax; raises GoRegexpError with Go's message."""
    try:
        return re2.compile(pattern, options=_OPTS)
    except re2.error as e:
        raise GoRegexpError(_go_message(pattern, e)) from None


def _go_quote_pattern(p: str) -> str:
    from alerting.template.gofmt import go_quote

    if "`" not in p and all(c == "\t" or (ord(c) >= 0x20 and ord(c) != 0x7F) for c in p):
        return "`" + p + "`"
    return go_quote(p)


def must_compile(pattern: str):
    """Go's MustCompile: the failure reads ``regexp: Compile(`x(`): error parsing ...``."""
    try:
        return compile_go(pattern)
    except GoRegexpError as e:
        raise GoRegexpError(f"regexp: Compile({_go_quote_pattern(pattern)}): {e}") from None


def match_string(pattern: str, s: str) -> bool:
    """Go's regexp.MatchString: an unanchored search."""
    return compile_go(pattern).search(s) is not None


def replace_all(regex, src: str, repl: str) -> str:
    """Go's ReplaceAllString: successive non-overlapping matches, an empty match
    right after a previous match is not replaced."""
    out = []
    last_end = 0
    pos = 0
    n = len(src)
    while pos <= n:
        m = regex.search(src, pos)
        if m is None:
            break
        a0, a1 = m.span()
        out.append(src[last_end:a0])
        if a1 > last_end or a0 == 0:
            out.append(expand(repl, m, regex))
        last_end = a1
        if pos + 1 > a1:
            pos += 1
        else:
            pos = a1
    out.append(src[last_end:])
    return "".join(out)
