"""Silence forms: the matcher text people type (``alertname="X", severity=~"crit|warn"``)
to typed matchers and back, and durations to end times."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from dashboards.client import Silence, SilenceMatcher
from spyglass.configtypes import parse_duration_ms

_MATCHER = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^,"}\s]+))\s*(?:,|$)')


class MatcherError(ValueError):
    pass


def parse_matchers(text: str) -> tuple[SilenceMatcher, ...]:
    """``{a="b", c=~"d.*"}`` (braces optional, values quoted or bare) → matchers."""
    s = text.strip()
    if s.startswith("{") and s.endswith("}"):
        s = s[1:-1]
    out = []
    pos = 0
    s = s.strip()
    while pos < len(s):
        m = _MATCHER.match(s, pos)
        if not m or m.end() == pos:
            raise MatcherError(f"cannot read a matcher at {s[pos:pos + 30]!r} "
                               '(write name="value", name=~"regex", name!="value")')
        name, op, quoted, bare = m.groups()
        value = re.sub(r'\\(.)', r"\1", quoted) if quoted is not None else bare
        if op in ("=~", "!~"):
            try:
                re.compile(value)
            except re.error as e:
                raise MatcherError(f"{name}: invalid regular expression: {e}") from None
        out.append(SilenceMatcher(name, value, is_regex=op in ("=~", "!~"), is_equal=op in ("=", "=~")))
        pos = m.end()
        while pos < len(s) and s[pos] in " \t\n":
            pos += 1
    if not out:
        raise MatcherError("a silence needs at least one matcher")
    if all(_matches_empty(m) for m in out):
        # Alertmanager refuses these too: a silence must not match every alert
        raise MatcherError("these matchers match every alert; add one that selects something")
    return tuple(out)


def _matches_empty(m: SilenceMatcher) -> bool:
    hit = bool(re.fullmatch(m.value, "")) if m.is_regex else m.value == ""
    return hit if m.is_equal else not hit


def _op(m: SilenceMatcher) -> str:
    return ("=~" if m.is_regex else "=") if m.is_equal else ("!~" if m.is_regex else "!=")


def format_matchers(matchers: tuple[SilenceMatcher, ...]) -> str:
    """Matchers as the form shows them; ``parse_matchers`` reads this back."""
    def q(v: str) -> str:
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ", ".join(f"{m.name}{_op(m)}{q(m.value)}" for m in matchers)


def rfc3339(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_silence(matchers_text: str, duration: str, created_by: str, comment: str,
                  now: datetime, silence_id: str = "") -> Silence:
    """A silence from the form's fields; raises ``MatcherError`` with what is wrong."""
    matchers = parse_matchers(matchers_text)
    try:
        ms = parse_duration_ms(duration.strip())
    except ValueError as e:
        raise MatcherError(f"duration: {e}") from None
    if ms <= 0:
        raise MatcherError("duration: must be longer than 0")
    if not created_by.strip():
        raise MatcherError("created by: who creates the silence is required")
    if not comment.strip():
        raise MatcherError("comment: say why the alerts are silenced")
    return Silence(matchers, rfc3339(now), rfc3339(now + timedelta(milliseconds=ms)),
                   created_by.strip(), comment.strip(), id=silence_id)


def parse_rfc3339(text: str) -> datetime:
    """Alertmanager's times (Go writes up to nanoseconds; Python reads microseconds)."""
    s = text.strip().replace("Z", "+00:00")
    if "." in s:
        head, _, tail = s.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        s = f"{head}.{digits[:6].ljust(6, '0')}{tail[len(digits):]}"
    dt = datetime.fromisoformat(s)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
