"""Template variable interpolation as Grafana's Prometheus datasource does it.

Forms: ``$var``, ``${var}``, ``${var:format}``, ``${var.field}``, ``[[var]]``,
``[[var:format]]``; built-ins ``$__interval``, ``$__rate_interval``, ``$__range``…
are ordinary entries of the scope, filled by ``builtin_scope``.

Without an explicit format, a multi-value or include-All variable is written as a
regex alternation with PromQL-string-escaped regex metacharacters (``(a|b\\\\.c)``),
and a single-value variable is written as is, except that backslashes and quotes
are escaped — which is what makes ``{pod=~"$pod"}`` work for any selection.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from spyglass.configtypes import format_duration_ms

ALL = "$__all"


@dataclass(frozen=True, slots=True)
class VarValue:
    """The current selection of a variable, as interpolation sees it.

    ``values`` holds the selected values; when ``is_all`` the selection is "All" and
    ``all_values`` lists every option (used unless the variable has an ``all_value``).
    """

    values: tuple[str, ...]
    texts: tuple[str, ...] = ()
    multi: bool = False
    include_all: bool = False
    is_all: bool = False
    all_value: str | None = None
    all_values: tuple[str, ...] = ()

    @property
    def effective(self) -> tuple[str, ...]:
        if self.is_all:
            return self.all_values
        return self.values


ScopeValue = VarValue | str
Scope = Mapping[str, ScopeValue]

TEMPLATE_RE = re.compile(
    r"\$(\w+)"
    r"|\[\[(\w+?)(?::(\w+))?\]\]"
    r"|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def referenced(text: str) -> set[str]:
    """Names of the variables ``text`` refers to (for chaining variables)."""
    out = set()
    for m in TEMPLATE_RE.finditer(text):
        out.add(m.group(1) or m.group(2) or m.group(4))
    return out


def interpolate(text: str, scope: Scope, *, default_format: str = "prometheus") -> str:
    """Replace every variable reference in ``text``; unknown names stay as written."""
    if "$" not in text and "[[" not in text:
        return text

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2) or m.group(4)
        fieldpath = m.group(5)
        fmt = m.group(3) or m.group(6)
        if fieldpath:
            key = f"{name}.{fieldpath}"
            if key in scope:
                v = scope[key]
                return v if isinstance(v, str) else ",".join(v.effective)
        if name not in scope:
            return m.group(0)
        value = scope[name]
        if isinstance(value, str):
            if fmt and name in ("__from", "__to"):
                return _format_time(value, fmt)
            if fmt:
                return format_value(VarValue((value,), (value,)), fmt, name)
            return value
        if fmt:
            return format_value(value, fmt, name)
        return _format_default(value, default_format)

    return TEMPLATE_RE.sub(sub, text)


# ----------------------------------------------------------------- escaping
_PROM_REGEX_SPECIAL = re.compile(r"[$^*{}\[\]'+?.()|]")
_JS_REGEX_SPECIAL = re.compile(r"[\\^$*+?.()|\[\]{}/]")
_LUCENE_SPECIAL = re.compile(r'([+\-!(){}\[\]^"~*?:\\/])')


def prometheus_regular_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\\\'")


def prometheus_regex_escape(value: str) -> str:
    # Inside a PromQL string, a regex backslash itself needs escaping: \\ per level.
    return _PROM_REGEX_SPECIAL.sub(lambda m: "\\\\" + m.group(0), value.replace("\\", "\\\\\\\\"))


def _format_default(v: VarValue, default_format: str) -> str:
    if default_format != "prometheus":
        return format_value(v, default_format, "")
    if v.is_all and v.all_value is not None:
        return v.all_value
    if not v.multi and not v.include_all:
        return prometheus_regular_escape(v.values[0]) if v.values else ""
    vals = [prometheus_regex_escape(x) for x in v.effective]
    if len(vals) == 1:
        return vals[0]
    return "(" + "|".join(vals) + ")"


def format_value(v: VarValue, fmt: str, name: str) -> str:
    """Grafana's named formats (``${var:csv}``…); an unknown format means ``glob``,
    as in Grafana."""
    fmt, _, arg = fmt.partition(":")
    if v.is_all and v.all_value is not None and fmt not in ("text", "queryparam"):
        vals: tuple[str, ...] = (v.all_value,)
    else:
        vals = v.effective
    many = len(vals) != 1
    if fmt == "raw":
        return ",".join(vals)
    if fmt == "regex":
        esc = [_JS_REGEX_SPECIAL.sub(lambda m: "\\" + m.group(0), x) for x in vals]
        return "(" + "|".join(esc) + ")" if many else esc[0]
    if fmt == "pipe":
        return "|".join(vals)
    if fmt == "csv":
        return ",".join(vals)
    if fmt == "distributed":
        if not vals:
            return ""
        return ",".join([vals[0]] + [f"{name}={x}" for x in vals[1:]])
    if fmt == "json":
        return json.dumps(list(vals) if (v.multi or v.include_all) else (vals[0] if vals else ""))
    if fmt == "doublequote":
        return ",".join('"' + x.replace('"', '\\"') + '"' for x in vals)
    if fmt == "singlequote":
        return ",".join("'" + x.replace("'", "\\'") + "'" for x in vals)
    if fmt == "sqlstring":
        return ",".join("'" + x.replace("'", "''") + "'" for x in vals)
    if fmt == "lucene":
        esc = [_LUCENE_SPECIAL.sub(r"\\\1", x) for x in vals]
        return "(" + " OR ".join(f'"{e}"' for e in esc) + ")" if many else esc[0]
    if fmt == "percentencode":
        text = "{" + ",".join(vals) + "}" if many else vals[0]
        return urllib.parse.quote(text, safe="-_.!~*'()")
    if fmt == "text":
        if v.is_all:
            return "All"
        texts = v.texts or v.values
        return " + ".join(texts)
    if fmt == "queryparam":
        if v.is_all:
            return urllib.parse.urlencode({f"var-{name}": "$__all"})
        return "&".join(urllib.parse.urlencode({f"var-{name}": x}) for x in v.values)
    if fmt == "date":
        return _format_time(vals[0] if vals else "", "date:" + arg if arg else "date")
    # glob, and Grafana's fallback for names it does not know
    return "{" + ",".join(vals) + "}" if many else (vals[0] if vals else "")


def _format_time(ms_text: str, fmt: str) -> str:
    try:
        ms = int(float(ms_text))
    except ValueError:
        return ms_text
    kind = fmt.partition(":")[2] if fmt.startswith("date") else ""
    if not fmt.startswith("date"):
        return ms_text
    if kind == "seconds":
        return str(ms // 1000)
    dt = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---------------------------------------------------------------- built-ins
def builtin_scope(*, from_ms: int, to_ms: int, interval_ms: int, rate_interval_ms: int,
                  dashboard: str = "") -> dict[str, str]:
    """``$__interval``, ``$__rate_interval``, ``$__range``… for one panel query."""
    range_ms = max(to_ms - from_ms, 0)
    range_s = range_ms // 1000
    return {
        "__interval": format_duration_ms(interval_ms),
        "__interval_ms": str(interval_ms),
        "__rate_interval": format_duration_ms(rate_interval_ms),
        "__rate_interval_ms": str(rate_interval_ms),
        "__range": f"{range_s}s",
        "__range_s": str(range_s),
        "__range_ms": str(range_ms),
        "__from": str(from_ms),
        "__to": str(to_ms),
        "__dashboard": dashboard,
    }
