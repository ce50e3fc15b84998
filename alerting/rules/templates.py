"""Prometheus's template functions and the expansion of alert labels and annotations.

An alerting rule's label and annotation values are Go templates; Prometheus
prepends ``{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}
{{$externalURL := .ExternalURL}}{{$value := .Value}}`` and runs them with
``missingkey=zero`` and its function map (``humanize``, ``query``, ...). A
template that fails renders as ``<error expanding template: ...>`` and never
stops the evaluation::

    expand_alert_text("{{ $value | humanize }}B free on {{ $labels.instance }}",
                      "DiskFull", labels={"instance": "a"}, value=1234567.0)
    # '1.235MB free on a'
"""

from __future__ import annotations

import functools
import ipaddress
import math
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from urllib.parse import quote_plus, urlsplit

from alerting.template import StrMap, Template, TemplateError, sprintf
from alerting.template.gofmt import GoStringer, go_type_name
from alerting.template.goregexp import compile_go, must_compile, replace_all
from alerting.template.gotime import SECOND, GoDuration, GoTime, seconds_to_go_time
from spyglass.configtypes import parse_duration_ms

__all__ = [
    "ALERT_DEFS",
    "AlertTemplateData",
    "Expander",
    "QueryFunc",
    "QueryResult",
    "QuerySample",
    "check_alert_template",
    "expand_alert_text",
    "prometheus_funcs",
]

# Prometheus prepends these so that rules can say $labels, $value...
ALERT_DEFS = (
    "{{$labels := .Labels}}"
    "{{$externalLabels := .ExternalLabels}}"
    "{{$externalURL := .ExternalURL}}"
    "{{$value := .Value}}"
)

# (expr, eval time ms) -> the instant vector as (labels mapping, value) pairs
QueryFunc = Callable[[str, int], Sequence[tuple[Mapping[str, str], float]]]


class AlertTemplateData:
    """The dot of an alert template (Prometheus's anonymous struct)."""

    __slots__ = ("ExternalLabels", "ExternalURL", "Labels", "Value")
    go_type = (
        "struct { Labels map[string]string; ExternalLabels map[string]string; "
        "ExternalURL string; Value interface {} }"
    )

    def __init__(self, labels: Mapping[str, str], external_labels: Mapping[str, str], external_url: str, value):
        self.Labels = StrMap(labels)
        self.ExternalLabels = StrMap(external_labels)
        self.ExternalURL = external_url
        self.Value = value


class QuerySample:
    """One element of a ``query`` result: ``.Labels`` and ``.Value``."""

    __slots__ = ("Labels", "Value")
    go_type = "*template.sample"

    def __init__(self, labels: Mapping[str, str], value):
        self.Labels = StrMap(labels)
        self.Value = value


class QueryResult(list):
    """The result of ``query``: a list of QuerySample."""

    __slots__ = ()
    go_type = "template.queryResult"


# --- conversions ---------------------------------------------------------------


def go_parse_float(s: str) -> float:
    """strconv.ParseFloat(s, 64), with Go's error text."""
    t = s.replace("_", "") if "_" in s and _underscore_ok(s) else s
    body = t[1:] if t[:1] in "+-" else t
    low = body.lower()
    try:
        if low in ("inf", "infinity"):
            v = math.inf
        elif low == "nan":
            v = math.nan
        elif low.startswith("0x"):
            v = float.fromhex(body) if "p" in low else _bad(s)
        elif body and body[0] in "0123456789." and all(c in "0123456789.eE+-" for c in body):
            v = float(body)
        else:
            v = _bad(s)
    except ValueError:
        _bad(s)
    if math.isinf(v) and low not in ("inf", "infinity"):
        raise ValueError(f'strconv.ParseFloat: parsing "{s}": value out of range')
    return -v if t[:1] == "-" else v


def _bad(s: str):
    from alerting.template.gofmt import go_quote

    raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")


def _underscore_ok(s: str) -> bool:
    from alerting.template.literals import _underscore_ok as ok

    return ok(s)


def convert_to_float(i) -> float:
    """Prometheus's ConvertToFloat: float, numeric string, int or duration."""
    if isinstance(i, GoDuration):
        return int(i) / SECOND
    if isinstance(i, float):
        return float(i)
    if isinstance(i, str):
        return go_parse_float(i)
    if isinstance(i, int) and not isinstance(i, bool):
        return float(i)
    raise ValueError(f"can't convert {go_type_name(i)} to float")


# --- the functions -----------------------------------------------------------------


def _scale_down(v: float, prefixes: tuple[str, ...], base: float) -> tuple[float, str]:
    """Divide by ``base`` while ``|v| >= base``, one prefix a step (Prometheus's loop)."""
    prefix = ""
    for p in prefixes:
        if abs(v) < base:
            break
        prefix = p
        v /= base
    return v, prefix


def _scale_up_small(v: float) -> tuple[float, str]:
    """Multiply a fraction by 1000 until ``|v| >= 1``, one SI prefix a step."""
    prefix = ""
    for p in ("m", "u", "n", "p", "f", "a", "z", "y"):
        if abs(v) >= 1:
            break
        prefix = p
        v *= 1000
    return v, prefix


def humanize(i) -> str:
    v = convert_to_float(i)
    if v == 0 or math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    if abs(v) >= 1:
        v, prefix = _scale_down(v, ("k", "M", "G", "T", "P", "E", "Z", "Y"), 1000)
    else:
        v, prefix = _scale_up_small(v)
    return sprintf("%.4g%s", v, prefix)


def humanize1024(i) -> str:
    v = convert_to_float(i)
    if abs(v) <= 1 or math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    v, prefix = _scale_down(v, ("ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"), 1024)
    return sprintf("%.4g%s", v, prefix)


def humanize_duration(i) -> str:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    if v == 0:
        return sprintf("%.4gs", v)
    if abs(v) >= 1:
        sign = ""
        if v < 0:
            sign = "-"
            v = -v
        duration = int(v)
        seconds = duration % 60
        minutes = (duration // 60) % 60
        hours = (duration // 3600) % 24
        days = duration // 86400
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return sprintf("%s%.4gs", sign, v)
    v, prefix = _scale_up_small(v)
    return sprintf("%.4g%ss", v, prefix)


def humanize_percentage(i) -> str:
    return sprintf("%.4g%%", convert_to_float(i) * 100)


def humanize_timestamp(i) -> str:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        return sprintf("%.4g", v)
    return str(seconds_to_go_time(v))


def to_time(i) -> GoTime:
    v = convert_to_float(i)
    if math.isnan(v) or math.isinf(v):
        raise ValueError("value is NaN or Inf")
    return seconds_to_go_time(v)


def to_duration(i) -> GoDuration:
    return GoDuration(int(convert_to_float(i) * SECOND))


def parse_duration(d: str) -> float:
    """model.ParseDurationAllowNegative, in seconds."""
    neg = d.startswith("-")
    body = d[1:] if neg else d
    try:
        ms = parse_duration_ms(body)
    except ValueError:
        from alerting.template.gofmt import go_quote

        raise ValueError(f"not a valid duration string: {go_quote(d)}") from None
    return (-ms if neg else ms) / 1000.0


def split_host_port(hostport: str) -> tuple[str, str]:
    """Go's net.SplitHostPort; raises ValueError."""
    i = hostport.rfind(":")
    if i < 0:
        raise ValueError("missing port in address")
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise ValueError("missing ']' in address")
        if end + 1 == len(hostport):
            raise ValueError("missing port in address")
        if end + 1 != i:
            if hostport[end + 1] == ":":
                raise ValueError("too many colons in address")
            raise ValueError("missing port in address")
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            raise ValueError("too many colons in address")
    if "[" in hostport[j:]:
        raise ValueError("unexpected '[' in address")
    if "]" in hostport[k:]:
        raise ValueError("unexpected ']' in address")
    return host, hostport[i + 1 :]


def _is_ip(host: str) -> bool:
    if "%" in host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def strip_port(host_port: str) -> str:
    try:
        host, _ = split_host_port(host_port)
    except ValueError:
        return host_port
    return host


def strip_domain(host_port: str) -> str:
    try:
        host, port = split_host_port(host_port)
    except ValueError:
        host, port = host_port, ""
    if _is_ip(host):
        return host_port
    host = host.split(".")[0]
    if port:
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return host


_MID = set(".:'’‘·,;\u2024\ufe52\uff07\uff0e\u0387\u05f4\u2027\ufe13\ufe55\uff1a")


def _is_cased(c: str) -> bool:
    return c.lower() != c.upper() or unicodedata.category(c) in ("Lt",)


def _is_word_char(c: str) -> bool:
    cat = unicodedata.category(c)
    return cat[0] in "LMN" or c == "_" or c in _MID


def title(s: str) -> str:
    """x/text cases.Title(AmericanEnglish, NoLower): the first cased letter of each
    word is title-cased, the rest is kept."""
    out = []
    mid_word = False
    prev_mid = False
    for c in s:
        is_mid = c in _MID
        if prev_mid and is_mid:
            mid_word = False
        if _is_cased(c):
            if not mid_word:
                t = c.title()
                out.append(t if len(t) == 1 else c.upper() if len(c.upper()) == 1 else c)
                mid_word = True
            else:
                out.append(c)
        else:
            out.append(c)
            if not _is_word_char(c):
                mid_word = False
        prev_mid = is_mid
    return "".join(out)


def _map_runes(s: str, f) -> str:
    # Go maps rune by rune; Python's full case mapping can grow a character
    # ("ß".upper() == "SS"), which Go's unicode.ToUpper never does.
    out = []
    for c in s:
        m = f(c)
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def to_upper(s: str) -> str:
    return _map_runes(s, str.upper)


def to_lower(s: str) -> str:
    return _map_runes(s, str.lower)


def re_replace_all(pattern: str, repl: str, text: str) -> str:
    return replace_all(must_compile(pattern), text, repl)


def match(pattern: str, s: str) -> bool:
    """Go's regexp.MatchString (unanchored); a bad pattern is an error naming it."""
    return compile_go(pattern).search(s) is not None


def graph_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='')}&g0.tab=0"


def table_link(expr: str) -> str:
    return f"/graph?g0.expr={quote_plus(expr, safe='')}&g0.tab=1"


class SafeHTML(str, GoStringer):
    """html/template.HTML: text that is already safe HTML."""

    go_type = "template.HTML"

    def __str__(self) -> str:
        return str.__str__(self)


def safe_html(text: str) -> SafeHTML:
    return SafeHTML(text)


def args(*a) -> dict:
    return {f"arg{i}": v for i, v in enumerate(a)}


def first(v: QueryResult) -> QuerySample:
    if v:
        return v[0]
    raise ValueError("first() called on vector with no elements")


def _deref(s):
    if s is None:
        raise ValueError("runtime error: invalid memory address or nil pointer dereference")
    return s


def label(name: str, s: QuerySample) -> str:
    return _deref(s).Labels.get(name, "")


def value(s: QuerySample):
    return _deref(s).Value


def strvalue(s: QuerySample) -> str:
    return _deref(s).Labels.get("__value__", "")


def sort_by_label(name: str, v: QueryResult) -> QueryResult:
    if v is None:
        return QueryResult()
    v.sort(key=lambda s: s.Labels.get(name, ""))
    return v


def url_query_escape(s: str) -> str:
    return quote_plus(s, safe="")


# Functions that do not depend on the evaluation: shared by every expansion.
STATIC_FUNCS: dict[str, Callable] = {
    "first": first,
    "label": label,
    "value": value,
    "strvalue": strvalue,
    "args": args,
    "reReplaceAll": re_replace_all,
    "safeHtml": safe_html,
    "match": match,
    "title": title,
    "toUpper": to_upper,
    "toLower": to_lower,
    "graphLink": graph_link,
    "tableLink": table_link,
    "sortByLabel": sort_by_label,
    "stripPort": strip_port,
    "stripDomain": strip_domain,
    "humanize": humanize,
    "humanize1024": humanize1024,
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "humanizeTimestamp": humanize_timestamp,
    "toTime": to_time,
    "toDuration": to_duration,
    "parseDuration": parse_duration,
    "urlQueryEscape": url_query_escape,
}

# Names of the functions that are bound to one evaluation (time, query, URL).
_BOUND = ("query", "now", "pathPrefix", "externalURL", "tmpl")


def prometheus_funcs(
    query_func: QueryFunc | None,
    t_ms: int,
    external_url: str,
    tmpl: Template | None = None,
) -> dict[str, Callable]:
    """The full Prometheus function map for an expansion at ``t_ms``."""

    def query(q: str) -> QueryResult:
        if query_func is None:
            raise ValueError("no query engine is available to templates here")
        return QueryResult(QuerySample(dict(lbls), v) for lbls, v in query_func(q, t_ms))

    def now() -> float:
        return t_ms / 1000.0

    def path_prefix() -> str:
        return urlsplit(external_url).path

    def external_url_f() -> str:
        return external_url

    def tmpl_f(name: str, data) -> SafeHTML:
        if tmpl is None:
            raise ValueError("tmpl is only available to templates of a template set")
        return SafeHTML(tmpl.execute(data, name=name, funcs=funcs))

    funcs = dict(STATIC_FUNCS)
    funcs.update(
        {"query": query, "now": now, "pathPrefix": path_prefix, "externalURL": external_url_f, "tmpl": tmpl_f}
    )
    return funcs


_PARSE_FUNCS = dict(STATIC_FUNCS, **{name: (lambda *a: None) for name in _BOUND})


@functools.lru_cache(maxsize=4096)
def _parsed(text: str, name: str, missingkey: str) -> Template | TemplateError:
    t = Template(_PARSE_FUNCS, missingkey=missingkey, name=name)
    try:
        t.parse(text)
    except TemplateError as e:
        return e
    return t


class Expander:
    """Runs one Prometheus template (Go's template.Expander)::

        Expander("{{ 1 | humanize }}", "t", data=None).expand()   # '1'
    """

    def __init__(
        self,
        text: str,
        name: str,
        data,
        t_ms: int = 0,
        query_func: QueryFunc | None = None,
        external_url: str = "",
        missingkey: str = "zero",
    ):
        self.text = text
        self.name = name
        self.data = data
        self.t_ms = t_ms
        self.query_func = query_func
        self.external_url = external_url
        self.missingkey = missingkey

    def expand(self) -> str:
        """The text, or TemplateError("error parsing/executing template NAME: ...")."""
        parsed = _parsed(self.text, self.name, self.missingkey)
        if isinstance(parsed, TemplateError):
            raise TemplateError(f"error parsing template {self.name}: {parsed}")
        funcs = prometheus_funcs(self.query_func, self.t_ms, self.external_url, parsed)
        try:
            return parsed.execute(self.data, funcs=funcs)
        except TemplateError as e:
            raise TemplateError(f"error executing template {self.name}: {e}") from None


def expand_alert_text(
    text: str,
    rule_name: str,
    labels: Mapping[str, str] | None = None,
    value: float = 0.0,
    external_labels: Mapping[str, str] | None = None,
    external_url: str = "",
    t_ms: int = 0,
    query_func: QueryFunc | None = None,
) -> str:
    """Expand one label or annotation of an alert as Prometheus does; failures
    become ``<error expanding template: ...>``."""
    if "{{" not in text:
        return text  # nothing to expand: skip the template machinery
    data = AlertTemplateData(labels or {}, external_labels or {}, external_url, value)
    try:
        return Expander(
            ALERT_DEFS + text, "__alert_" + rule_name, data, t_ms, query_func, external_url
        ).expand()
    except TemplateError as e:
        return f"<error expanding template: {e}>"


def check_alert_template(text: str, rule_name: str) -> str | None:
    """Parse a label/annotation template as ``promtool check rules`` does; the error or None."""
    parsed = _parsed(ALERT_DEFS + text, "__alert_" + rule_name, "zero")
    return str(parsed) if isinstance(parsed, TemplateError) else None
