"""Notification templates: the default set, the user's files, and Alertmanager's functions.

Receiver fields such as ``title`` or ``message`` are Go templates rendered
with the notification data. ``Templates`` loads Spyglass's defaults, then the
config's ``templates:`` files (later definitions win, as with Alertmanager's
ParseGlob), and renders with Alertmanager's function map (``toUpper``,
``title``, ``join``, ``match``, ``reReplaceAll``, ``safeHtml``, ``date``,
``tz``, ``since``, ``humanizeDuration``, ``toJson``, ...)::

    t = Templates.load(cfg.template_files())
    t.render('{{ template "slack.default.title" . }}', data)

Email HTML is rendered by the same text engine (Go's html/template
auto-escaping is not reproduced); the default HTML template escapes every
user value with ``html`` explicitly.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from alerting.notify.default_templates import DEFAULT_TEMPLATES
from alerting.notify.gotimefmt import TemplateTime, in_zone
from alerting.notify.matchers import compile_regex
from alerting.notify.wire import NS, GoTime, go_json
from alerting.template import Template, TemplateError

__all__ = ["FUNCS", "TemplateError", "Templates"]

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def _title(s: str) -> str:
    return _WORD.sub(lambda m: m.group(0)[:1].upper() + m.group(0)[1:].lower(), s)


def _join(sep: str, items: Sequence) -> str:
    return sep.join(str(x) for x in items)


def _match(pattern: str, text: str) -> bool:
    return compile_regex(pattern).search(text) is not None


_EXPAND = re.compile(r"\$(?:\$|\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _expand(repl: str, m) -> str:
    # Go's Regexp.Expand: $1, ${1}, $name, ${name}; $$ is a literal $.
    def sub(x):
        if x.group(0) == "$$":
            return "$"
        name = x.group(1) or x.group(2)
        try:
            g = m.group(int(name)) if name.isdigit() else m.group(name)
        except (IndexError, KeyError, re2.error, ValueError):
            return ""
        return g or ""

    return _EXPAND.sub(sub, repl)


def _re_replace_all(pattern: str, repl: str, text: str) -> str:
    rx = compile_regex(pattern)
    out = []
    pos = 0
    for m in rx.finditer(text):
        out.append(text[pos:m.start()])
        out.append(_expand(repl, m))
        pos = m.end()
    out.append(text[pos:])
    return "".join(out)


def _as_time(t) -> GoTime:
    if isinstance(t, TemplateTime):
        return t.gotime
    return GoTime.coerce(t)


def _date(layout: str, t) -> str:
    tt = t if isinstance(t, TemplateTime) else TemplateTime(_as_time(t))
    return tt.Format(layout)


def _tz(name: str, t) -> TemplateTime:
    try:
        z = ZoneInfo(name) if name not in ("UTC", "") else ZoneInfo("UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name}") from None
    return in_zone(_as_time(t), z)


def humanize_duration(seconds: float) -> str:
    """Prometheus's humanizeDuration: ``1d 2h 3m 4s``, or ms/us for short spans."""
    v = float(seconds)
    if abs(v) >= 1:
        sign = "-" if v < 0 else ""
        v = abs(v)
        days, rem = divmod(int(v), 86400)
        hours, rem = divmod(rem, 3600)
        minutes, secs = divmod(rem, 60)
        frac = v - int(v)
        s_part = f"{secs + frac:.4g}s"
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {s_part}"
        if hours:
            return f"{sign}{hours}h {minutes}m {s_part}"
        if minutes:
            return f"{sign}{minutes}m {s_part}"
        return f"{sign}{s_part}"
    if v == 0:
        return "0s"
    if abs(v) >= 1e-3:
        return f"{v * 1e3:.4g}ms"
    return f"{v * 1e6:.4g}us"


def _to_json(v) -> str:
    def plain(x):
        if isinstance(x, TemplateTime):
            return x.gotime
        if isinstance(x, Mapping):
            return {str(k): plain(val) for k, val in x.items()}
        if isinstance(x, (list, tuple)):
            return [plain(i) for i in x]
        if hasattr(x, "to_json"):
            return x.to_json()
        return x

    try:
        return go_json(plain(v))
    except TypeError:
        return json.dumps(str(v))


def make_funcs(now_ns) -> dict:
    """Alertmanager's template functions; ``now_ns`` is the injected clock."""

    def since(t) -> float:
        return (now_ns() - _as_time(t).ns) / NS

    return {
        "toUpper": lambda s: str(s).upper(),
        "toLower": lambda s: str(s).lower(),
        "title": lambda s: _title(str(s)),
        "trimSpace": lambda s: str(s).strip(),
        "join": _join,
        "match": _match,
        "safeHtml": lambda s: s,
        "safeUrl": lambda s: s,
        "reReplaceAll": _re_replace_all,
        "stringSlice": lambda *s: list(s),
        "date": _date,
        "tz": _tz,
        "since": since,
        "humanizeDuration": humanize_duration,
        "toJson": _to_json,
    }


FUNCS = make_funcs(time.time_ns)


class Templates:
    """The parsed default + user templates; ``render`` runs one receiver field."""

    def __init__(self, template: Template):
        self._t = template

    @classmethod
    def load(cls, files: Iterable[str] = (), now_ns=None) -> Templates:
        funcs = make_funcs(now_ns) if now_ns else FUNCS
        t = Template(funcs=funcs, missingkey="zero")
        t.parse(DEFAULT_TEMPLATES, name="default.tmpl")
        for path in files:
            try:
                with open(path, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise TemplateError(f"template file {path}: {e.strerror}") from None
            t.parse(text, name=os.path.basename(path))
        return cls(t)

    def render(self, text: str, data) -> str:
        """Execute ``text`` against ``data``; raises ``TemplateError``."""
        if not text:
            return ""
        return self._t.execute_string(text, data)

    def check(self, text: str) -> None:
        """Parse ``text`` only (config validation)."""
        if text:
            self._t.clone().parse(text, name="check")

    def has(self, name: str) -> bool:
        return self._t.lookup(name)
