"""OpenTelemetry → Prometheus names, per the OpenTelemetry specification's
"Prometheus and OpenMetrics Compatibility" document (OTLP metric points to
Prometheus).

Metric names: characters outside ``[a-zA-Z0-9]`` separate words, words are
joined with ``_`` (so runs of ``_`` collapse), the unit is appended as a word
unless the name already has it (``s`` → ``_seconds``, ``By`` → ``_bytes``,
``By/s`` → ``_bytes_per_second``, ``{packet}`` → nothing, ``1`` → ``_ratio``
for gauges), then ``_total`` for monotonic sums, after the unit (a name
already ending in ``total`` keeps one ``_total``), and a leading digit gets a
``_`` prefix::

    metric_name("http.server.request.duration", "s", MetricKind.HISTOGRAM)
    # 'http_server_request_duration_seconds'   (+ _bucket/_sum/_count)

Label names: characters outside ``[a-zA-Z0-9_]`` become ``_``, runs of ``_``
collapse to one, a leading digit gets a ``key_`` prefix (as Prometheus does).
Attribute values that are not strings are written as the OTel attribute
specification says (``true``, ``42``, ``1.5``, JSON for arrays and maps).
"""

from __future__ import annotations

import base64
import enum
import functools
import json
import math
import re

import numpy as np

# OTel (UCUM) unit → Prometheus unit word.
UNITS = {
    "d": "days",
    "h": "hours",
    "min": "minutes",
    "s": "seconds",
    "ms": "milliseconds",
    "us": "microseconds",
    "ns": "nanoseconds",
    "By": "bytes",
    "KiBy": "kibibytes",
    "MiBy": "mebibytes",
    "GiBy": "gibibytes",
    "TiBy": "tibibytes",
    "KBy": "kilobytes",
    "MBy": "megabytes",
    "GBy": "gigabytes",
    "TBy": "terabytes",
    "m": "meters",
    "V": "volts",
    "A": "amperes",
    "J": "joules",
    "W": "watts",
    "g": "grams",
    "Cel": "celsius",
    "Hz": "hertz",
    "1": "",
    "%": "percent",
}
# The denominator of "x/y" units.
PER_UNITS = {
    "s": "second",
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "mo": "month",
    "y": "year",
}


class MetricKind(enum.Enum):
    GAUGE = "gauge"
    COUNTER = "counter"  # monotonic sum
    UPDOWN = "updown"  # non-monotonic sum: a Prometheus gauge
    HISTOGRAM = "histogram"
    SUMMARY = "summary"


_WORD = re.compile(r"[A-Za-z0-9]+")
_BAD_LABEL_CHARS = re.compile(r"[^A-Za-z0-9_]")
_UNDERSCORES = re.compile(r"__+")


def _words(s: str) -> list[str]:
    return _WORD.findall(s)


@functools.lru_cache(maxsize=256)
def unit_parts(unit: str, kind: MetricKind = MetricKind.GAUGE) -> tuple[str, str]:
    """The Prometheus words of an OTel unit, split at ``/``: ``By/s`` →
    ``("bytes", "second")``, ``ms`` → ``("milliseconds", "")``, ``{request}`` → ``("", "")``."""
    main, _, per = unit.partition("/")
    main, per = main.strip(), per.strip()
    main_word = per_word = ""
    if main and "{" not in main and "}" not in main:
        if main == "1" and kind is MetricKind.GAUGE:
            main_word = "ratio"
        else:
            main_word = "_".join(_words(UNITS.get(main, main)))
    if per and "{" not in per and "}" not in per:
        per_word = "_".join(_words(PER_UNITS.get(per, per)))
    return main_word, per_word


def prometheus_unit(unit: str, kind: MetricKind = MetricKind.GAUGE) -> str:
    """The unit as Prometheus metadata says it: ``By/s`` → ``bytes_per_second``."""
    main, per = unit_parts(unit, kind)
    if per:
        return f"{main}_per_{per}" if main else f"per_{per}"
    return main


@functools.lru_cache(maxsize=65536)
def metric_name(name: str, unit: str, kind: MetricKind, add_suffixes: bool = True) -> str:
    """The Prometheus metric name (before ``_bucket``/``_sum``/``_count``); ``""`` if none is left."""
    words = _words(name)
    if not words:
        return ""
    if add_suffixes:
        counter = kind is MetricKind.COUNTER
        if counter and words[-1] == "total":
            words.pop()  # put the unit before it, then add it back once
        main, per = unit_parts(unit, kind)
        joined = "_".join(words)
        # "unless the metric name already contains the unit"
        if main and f"_{main}_" not in f"_{joined}_":
            words.extend(main.split("_"))
        if per and f"_{per}_" not in f"_{joined}_":
            words.append("per")
            words.extend(per.split("_"))
        if counter:
            words.append("total")
    out = "_".join(words)
    return "_" + out if out[0].isdigit() else out


@functools.lru_cache(maxsize=65536)
def label_name(key: str) -> str:
    """A Prometheus label name for an attribute key (``""`` if the key is empty)."""
    if not key:
        return ""
    out = _UNDERSCORES.sub("_", _BAD_LABEL_CHARS.sub("_", key))
    return "key_" + out if out[0].isdigit() else out


def format_float(v: float) -> str:
    """Shortest positional form (``0.005``, ``10``, ``+Inf``): how ``le`` and
    ``quantile`` values and double attributes are written."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return np.format_float_positional(v, trim="-")


def any_value_str(v) -> str:
    """An OTLP ``AnyValue`` as a label value."""
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind is None:
        return ""
    return json.dumps(_any_value_py(v), separators=(",", ":"), ensure_ascii=False) if kind in (
        "array_value", "kvlist_value") else _scalar_str(v, kind)


def _scalar_str(v, kind: str) -> str:
    if kind == "bool_value":
        return "true" if v.bool_value else "false"
    if kind == "int_value":
        return str(v.int_value)
    if kind == "double_value":
        return format_float(v.double_value)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    return ""


def _any_value_py(v):
    kind = v.WhichOneof("value")
    if kind == "string_value":
        return v.string_value
    if kind == "bool_value":
        return v.bool_value
    if kind == "int_value":
        return v.int_value
    if kind == "double_value":
        d = v.double_value
        return d if math.isfinite(d) else format_float(d)
    if kind == "bytes_value":
        return base64.b64encode(v.bytes_value).decode()
    if kind == "array_value":
        return [_any_value_py(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _any_value_py(kv.value) for kv in v.kvlist_value.values}
    return None


def raw_attributes(attributes) -> tuple[str, ...]:
    """OTLP ``KeyValue``s as a flat (key, value-string, ...) tuple: hashable, and
    the cache key of the label set they produce."""
    out: list[str] = []
    for kv in attributes:
        v = kv.value
        out.append(kv.key)
        out.append(v.string_value if v.WhichOneof("value") == "string_value" else any_value_str(v))
    return tuple(out)


def sanitize_pairs(raw: tuple[str, ...]) -> list[tuple[str, str]]:
    """Flat (key, value, ...) attributes → Prometheus (name, value) pairs; keys
    that sanitize to the same name get their values joined with ``;`` in the
    order of the original keys."""
    keys, values = raw[0::2], raw[1::2]
    out: dict[str, str] = {}
    collided = False
    for key, value in zip(keys, values):
        name = label_name(key)
        if not name:
            continue
        if name in out:
            collided = True
            break
        out[name] = value
    if not collided:
        return list(out.items())
    grouped: dict[str, list[tuple[str, str]]] = {}
    for key, value in zip(keys, values):
        name = label_name(key)
        if name:
            grouped.setdefault(name, []).append((key, value))
    return [(name, ";".join(v for _, v in sorted(kvs))) for name, kvs in grouped.items()]
