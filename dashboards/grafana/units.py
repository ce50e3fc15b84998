"""Grafana's value units: ``format_value(1536, "bytes") == "1.50 KiB"``.

Covers the unit ids real dashboards use (data, data rate, throughput, time, percent,
SI/IEC scaling, boolean, temperature, frequency) and Grafana's custom forms
``suffix:…``, ``prefix:…``, ``si:…``, ``count:…``. An id Grafana does not define is
shown as a suffix, as Grafana does.
"""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime

_SI = ("", "k", "M", "G", "T", "P", "E", "Z", "Y")
_SI_SMALL = ("", "m", "µ", "n", "p", "f")
_IEC = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi")
_SHORT = ("", " K", " Mil", " Bil", " Tri", " Quadr", " Quint", " Sext", " Sept")


def _decimals_for(value: float, decimals: int | None) -> int:
    if decimals is not None:
        return decimals
    a = abs(value)
    if a == 0 or not math.isfinite(a):
        return 0
    # about three significant digits, the way Grafana's auto decimals read
    mag = math.floor(math.log10(a))
    return max(0, min(2 - mag, 6))


def _fixed(value: float, decimals: int | None) -> str:
    if not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    d = _decimals_for(value, decimals)
    text = f"{value:.{d}f}"
    if decimals is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", "-0.0"):
        text = "0"
    return text


def _scaled(value: float, decimals: int | None, base: float, prefixes: tuple[str, ...],
            unit: str, sep: str = " ", offset: int = 0) -> str:
    if not math.isfinite(value):
        return _fixed(value, decimals) + (sep + unit if unit else "")
    i = 0
    v = value
    while abs(v) >= base and i < len(prefixes) - 1 - offset:
        v /= base
        i += 1
    prefix = prefixes[i + offset]
    text = _fixed(v, decimals)
    if not prefix and not unit:
        return text
    return f"{text}{sep}{prefix}{unit}"


def _si(value: float, decimals: int | None, unit: str, offset: int = 0) -> str:
    """SI prefixes both ways (``1.5 kHz``, ``3 ms``); ``offset`` starts above base."""
    if value != 0 and math.isfinite(value) and abs(value) < 1 and offset == 0:
        i = 0
        v = value
        while abs(v) < 1 and i < len(_SI_SMALL) - 1:
            v *= 1000
            i += 1
        return f"{_fixed(v, decimals)} {_SI_SMALL[i]}{unit}"
    return _scaled(value, decimals, 1000, _SI, unit, offset=offset)


def _short(value: float, decimals: int | None) -> str:
    if not math.isfinite(value):
        return _fixed(value, decimals)
    i = 0
    v = value
    while abs(v) >= 1000 and i < len(_SHORT) - 1:
        v /= 1000
        i += 1
    return _fixed(v, decimals) + _SHORT[i]


def _count(value: float, decimals: int | None, suffix: str) -> str:
    return _short(value, decimals) + suffix


def _duration(value: float, decimals: int | None, unit: str) -> str:
    """Time units scale up to minutes/hours/days/weeks/years like Grafana's ``s``."""
    factors = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
               "h": 3600.0, "d": 86400.0}
    seconds = value * factors[unit]
    a = abs(seconds)
    if not math.isfinite(a):
        return _fixed(seconds, decimals)
    if a == 0:
        return f"0 {unit if unit != 'us' else 'µs'}"
    if a < 1e-6:
        return f"{_fixed(seconds * 1e9, decimals)} ns"
    if a < 1e-3:
        return f"{_fixed(seconds * 1e6, decimals)} µs"
    if a < 1:
        return f"{_fixed(seconds * 1e3, decimals)} ms"
    if a < 60:
        return f"{_fixed(seconds, decimals)} s"
    if a < 3600:
        return f"{_fixed(seconds / 60, decimals)} min"
    if a < 86400:
        return f"{_fixed(seconds / 3600, decimals)} hour"
    if a < 604800:
        return f"{_fixed(seconds / 86400, decimals)} day"
    if a < 31536000:
        return f"{_fixed(seconds / 604800, decimals)} week"
    return f"{_fixed(seconds / 31536000, decimals)} year"


def _dtduration(value: float, unit: str) -> str:
    """``dtdurations``/``dtdurationms``: "2 days, 3 hours"."""
    seconds = int(value / 1000 if unit == "ms" else value)
    parts = []
    for name, size in (("year", 31536000), ("day", 86400), ("hour", 3600), ("minute", 60),
                       ("second", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n} {name}{'s' if n != 1 else ''}")
        if len(parts) == 2:
            break
    return ", ".join(parts) or "0 seconds"


_SIMPLE_SUFFIX = {
    "reqps": " req/s", "rps": " rd/s", "wps": " wr/s", "iops": " io/s", "opm": " ops/min",
    "rpm": " rd/min", "wpm": " wr/min", "ops": " ops/s", "cps": " c/s", "mps": " msg/s",
    "eps": " evt/s", "pps": " p/s", "rds": " rd/s",
}

# unit id → function(value, decimals) → text
_UNITS = {
    "": lambda v, d: _fixed(v, d),
    "none": lambda v, d: _fixed(v, d),
    "short": _short,
    "sishort": lambda v, d: _scaled(v, d, 1000, _SI, ""),
    "percent": lambda v, d: f"{_fixed(v, d)}%",
    "percentunit": lambda v, d: f"{_fixed(v * 100, d)}%",
    "humidity": lambda v, d: f"{_fixed(v, d)}%H",
    "dB": lambda v, d: f"{_fixed(v, d)} dB",
    "ppm": lambda v, d: f"{_fixed(v, d)} ppm",
    # data (IEC and SI)
    "bytes": lambda v, d: _scaled(v, d, 1024, _IEC, "B"),
    "decbytes": lambda v, d: _scaled(v, d, 1000, _SI, "B"),
    "bits": lambda v, d: _scaled(v, d, 1024, _IEC, "b"),
    "decbits": lambda v, d: _scaled(v, d, 1000, _SI, "b"),
    "kbytes": lambda v, d: _scaled(v, d, 1024, _IEC, "B", offset=1),
    "mbytes": lambda v, d: _scaled(v, d, 1024, _IEC, "B", offset=2),
    "gbytes": lambda v, d: _scaled(v, d, 1024, _IEC, "B", offset=3),
    "deckbytes": lambda v, d: _scaled(v, d, 1000, _SI, "B", offset=1),
    "decmbytes": lambda v, d: _scaled(v, d, 1000, _SI, "B", offset=2),
    "decgbytes": lambda v, d: _scaled(v, d, 1000, _SI, "B", offset=3),
    # data rate
    "binBps": lambda v, d: _scaled(v, d, 1024, _IEC, "B/s"),
    "Bps": lambda v, d: _scaled(v, d, 1000, _SI, "B/s"),
    "binbps": lambda v, d: _scaled(v, d, 1024, _IEC, "b/s"),
    "bps": lambda v, d: _scaled(v, d, 1000, _SI, "b/s"),
    "KBs": lambda v, d: _scaled(v, d, 1000, _SI, "B/s", offset=1),
    "MBs": lambda v, d: _scaled(v, d, 1000, _SI, "B/s", offset=2),
    "Kbits": lambda v, d: _scaled(v, d, 1000, _SI, "b/s", offset=1),
    "Mbits": lambda v, d: _scaled(v, d, 1000, _SI, "b/s", offset=2),
    # time
    "ns": lambda v, d: _duration(v, d, "ns"),
    "µs": lambda v, d: _duration(v, d, "µs"),
    "us": lambda v, d: _duration(v, d, "us"),
    "ms": lambda v, d: _duration(v, d, "ms"),
    "s": lambda v, d: _duration(v, d, "s"),
    "m": lambda v, d: _duration(v, d, "m"),
    "h": lambda v, d: _duration(v, d, "h"),
    "d": lambda v, d: _duration(v, d, "d"),
    "dtdurations": lambda v, d: _dtduration(v, "s"),
    "dtdurationms": lambda v, d: _dtduration(v, "ms"),
    "dateTimeAsIso": lambda v, d: _datetime(v),
    "dateTimeAsSystem": lambda v, d: _datetime(v),
    "dateTimeFromNow": lambda v, d: _datetime(v),
    # physical
    "hertz": lambda v, d: _si(v, d, "Hz"),
    "celsius": lambda v, d: f"{_fixed(v, d)}°C",
    "fahrenheit": lambda v, d: f"{_fixed(v, d)}°F",
    "kelvin": lambda v, d: f"{_fixed(v, d)} K",
    "rotrpm": lambda v, d: f"{_fixed(v, d)} rpm",
    "rothz": lambda v, d: _si(v, d, "Hz"),
    "volt": lambda v, d: _si(v, d, "V"),
    "amp": lambda v, d: _si(v, d, "A"),
    "watt": lambda v, d: _si(v, d, "W"),
    "kwatt": lambda v, d: _si(v, d, "W", offset=1),
    "joule": lambda v, d: _si(v, d, "J"),
    "watth": lambda v, d: _si(v, d, "Wh"),
    # booleans
    "bool": lambda v, d: "true" if v else "false",
    "bool_yes_no": lambda v, d: "Yes" if v else "No",
    "bool_on_off": lambda v, d: "On" if v else "Off",
    "currencyUSD": lambda v, d: "$" + _short(v, d),
    "currencyEUR": lambda v, d: "€" + _short(v, d),
}
for _id, _suffix in _SIMPLE_SUFFIX.items():
    _UNITS[_id] = functools.partial(_count, suffix=_suffix)


def _datetime(ms: float) -> str:
    if not math.isfinite(ms):
        return _fixed(ms, None)
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def known_unit(unit: str) -> bool:
    return unit in _UNITS or unit.split(":", 1)[0] in ("suffix", "prefix", "si", "count",
                                                       "currency", "time")


def format_value(value: float | None, unit: str = "", decimals: int | None = None) -> str:
    """The text Grafana shows for ``value`` in ``unit`` with ``decimals`` (None = auto)."""
    if value is None:
        return "No data"
    value = float(value)
    fn = _UNITS.get(unit)
    if fn is not None:
        return fn(value, decimals)
    kind, _, arg = unit.partition(":")
    if kind == "suffix" and arg:
        return f"{_fixed(value, decimals)}{arg}"
    if kind == "prefix" and arg:
        return f"{arg}{_fixed(value, decimals)}"
    if kind == "si" and arg:
        return _si(value, decimals, arg)
    if kind == "count" and arg:
        return _count(value, decimals, " " + arg)
    if kind == "currency" and arg:
        return arg + _short(value, decimals)
    # Grafana shows an unknown unit id as a custom suffix ("12 read/s").
    return f"{_fixed(value, decimals)} {unit}"


def axis_suffix(unit: str) -> tuple[str, float, str]:
    """How a plotly axis shows ``unit``: (tick suffix, scale factor, d3 exponent format).

    Only used for axis ticks; hover and legend text come from ``format_value``.
    """
    if unit == "percentunit":
        return ("%", 100.0, "")
    if unit == "percent":
        return ("%", 1.0, "")
    if unit in ("bytes", "decbytes", "binBps", "Bps"):
        return ("B" + ("/s" if unit.endswith("ps") else ""), 1.0, "SI")
    if unit in ("bits", "decbits", "bps", "binbps"):
        return ("b" + ("/s" if unit.endswith("ps") else ""), 1.0, "SI")
    if unit == "s":
        return ("s", 1.0, "SI")
    if unit == "ms":
        return ("s", 0.001, "SI")
    if unit in _SIMPLE_SUFFIX:
        return (_SIMPLE_SUFFIX[unit], 1.0, "SI")
    if unit == "hertz":
        return ("Hz", 1.0, "SI")
    return ("", 1.0, "")
