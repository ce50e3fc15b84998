"""Prometheus text (0.0.4, 1.0.0) and OpenMetrics (0.0.1, 1.0.0) exposition parsing.

This is the scrape hot path (a kube-state-metrics scrape is 100k+ lines), so
no Python code runs per character or per line: canonical bodies (nearly all)
are cut with numpy (``textsplit``, ≈0.5 µs per line), anything else by one
compiled regex running in C (≈3-4 µs per line), which also names the bad
line of an invalid body. Label sets are **not** parsed here: each sample keeps
its series text (``name{a="b"}``) as a key, and the scrape loop parses a key
into ``Labels`` only the first time it sees it (``series_pairs``; Prometheus's
scrape cache does the same)::

    scrape = parse(body, "text/plain; version=0.0.4")
    scrape.keys[0], scrape.values[0]          # 'up{job="a"}', 1.0
    labels = parse_series(scrape.keys[0])     # Labels(up{job="a"})

Timestamps: milliseconds in the text format, seconds (float) in OpenMetrics,
converted to milliseconds by truncation like Prometheus. OpenMetrics
exemplars are checked for syntax and ignored. ``_created`` series are kept as
ordinary samples, as Prometheus does unless created-timestamp ingestion is on.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from collector.scrape.textsplit import split_canonical
from storage.interface import MetricMetadata, MetricType
from storage.labels import METRIC_NAME, Labels

__all__ = [
    "ExpositionError",
    "Format",
    "ParsedScrape",
    "format_for_content_type",
    "parse",
    "parse_series",
    "series_pairs",
]


class ExpositionError(ValueError):
    """The body is not valid exposition text; the message names the line."""


class Format:
    TEXT = "text"
    OPENMETRICS = "openmetrics"


# A label set: quoted strings may hold anything but an unescaped quote; outside
# quotes anything but a brace, a quote or a newline.
# Possessive quantifiers (Python 3.11) keep the regex from backtracking: 5x faster.
_LABELS = r'\{(?:[^"}\n]++|"(?:[^"\\\n]++|\\.)*+")*+\}'
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*+"
_KEY = rf"(?:{_NAME}(?:[ \t]*+{_LABELS})?|{_LABELS})"
_TEXT_SAMPLE = re.compile(
    rf"^({_KEY})[ \t]++([^\s#]\S*+)(?:[ \t]++([^\s#]\S*+))?[ \t]*+$", re.MULTILINE
)
_OM_SAMPLE = re.compile(
    rf"^({_KEY})[ ]([^\s#]\S*+)(?:[ ]([^\s#]\S*+))?"
    rf"(?:[ ]#[ ]{_LABELS}[ ][^\s#]\S*+(?:[ ][^\s#]\S*+)?)?$",
    re.MULTILINE,
)
# Lines that must be samples: anything not blank and not a comment.
_SAMPLE_LIKE = re.compile(r"^[ \t]*[^#\s]", re.MULTILINE)
_META = re.compile(
    rf'^#[ \t]+(HELP|TYPE|UNIT)[ \t]+({_NAME}|"(?:[^"\\\n]|\\.)*")(?:[ \t]+(.*?))?[ \t]*$',
    re.MULTILINE,
)
_TYPES = {t.value: t for t in MetricType}
_TEXT_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass(frozen=True, slots=True)
class ParsedScrape:
    """One parsed body in columns: sample *i* is series text ``keys[i]`` with
    ``values[i]`` and, where ``has_timestamp[i]``, ``timestamps[i]`` (ms)."""

    keys: list[str]
    values: np.ndarray  # float64
    timestamps: np.ndarray  # int64 ms; meaningful where has_timestamp
    has_timestamp: np.ndarray  # bool
    metadata: Mapping[str, MetricMetadata] = field(default_factory=dict)  # read-only
    format: str = Format.TEXT

    def __len__(self) -> int:
        return len(self.keys)


def format_for_content_type(content_type: str | None) -> str | None:
    """The format of a response's Content-Type, or None when unknown/missing."""
    if not content_type:
        return None
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "application/openmetrics-text":
        return Format.OPENMETRICS
    if media == "text/plain":
        return Format.TEXT
    return None


def _unescape(s: str, help_text: bool = False) -> str:
    if "\\" not in s:
        return s
    out = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == "\\" and i + 1 < n:
            d = s[i + 1]
            if d == "n":
                out.append("\n")
            elif d == "\\":
                out.append("\\")
            elif d == '"' and not help_text:
                out.append('"')
            else:
                # Prometheus keeps an unknown escape as written.
                out.append(c + d)
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def parse(body: bytes | str, content_type: str | None = None, fmt: str | None = None) -> ParsedScrape:
    """Parse an exposition body; ``fmt`` wins over ``content_type`` (default: text).

    Canonical bodies (nearly all) are cut with numpy (``textsplit``); anything
    else goes through the regex parser, which also names the bad line of an
    invalid body. Series text is validated later, by ``parse_series``."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    fmt = fmt or format_for_content_type(content_type) or Format.TEXT
    om = fmt == Format.OPENMETRICS
    if om:
        raw = _cut_eof(raw)
    try:
        split = split_canonical(raw, om)
    except UnicodeDecodeError as e:
        raise ExpositionError(f"body is not valid UTF-8 at byte {e.start}") from None
    if split is not None:
        n = len(split.keys)
        timestamps = np.zeros(n, dtype=np.int64)
        if split.timestamps:
            ts = _timestamps(split.timestamps, om)
            if ts is None:
                return _parse_regex(raw, om, fmt)  # raises with the line's number
            timestamps[split.has_timestamp] = ts
        metadata = _comment_metadata("\n".join(split.comments), om) if split.comments else {}
        return ParsedScrape(split.keys, split.values, timestamps, split.has_timestamp, metadata, fmt)
    return _parse_regex(raw, om, fmt)


def _timestamps(raw: list[str], om: bool) -> np.ndarray | None:
    """Timestamp strings to int64 ms, or None when one is invalid."""
    if "_" in "".join(raw):
        return None  # accepted by Python's int/float, not by Go's strconv
    try:
        if om:
            secs = np.array(raw, dtype=np.float64)
            if not np.all(np.isfinite(secs)):
                return None
            return (secs * 1000.0).astype(np.int64)  # truncation, like Prometheus
        return np.array([int(x) for x in raw], dtype=np.int64)
    except (ValueError, OverflowError):
        return None


# Regex calls run on pieces of about this many characters: each call holds the
# GIL (≈5 ms for 256 KiB), and the scrape event loop must get it back quickly.
_CHUNK = 1 << 18


def _line_chunks(text: str, size: int = _CHUNK):
    """``text`` in pieces of whole lines, each about ``size`` characters."""
    start, n = 0, len(text)
    while start < n:
        end = text.find("\n", start + size)
        end = n if end < 0 else end + 1
        yield text[start:end]
        start = end


def _parse_regex(raw: bytes | bytearray | memoryview, om: bool, fmt: str) -> ParsedScrape:
    """The general parser: a regex over the text in C, a piece at a time."""
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ExpositionError(f"body is not valid UTF-8 at byte {e.start}") from None
    rx = _OM_SAMPLE if om else _TEXT_SAMPLE
    found: list[tuple[str, str, str]] = []
    expected = 0
    for chunk in _line_chunks(text):
        found.extend(rx.findall(chunk))
        expected += len(_SAMPLE_LIKE.findall(chunk))
    if expected != len(found):
        _raise_first_bad_line(text, rx)
    n = len(found)
    keys = [k for k, _, _ in found]
    raw_values = [v for _, v, _ in found]
    try:
        if "_" in "".join(raw_values):
            raise ValueError("underscore")
        values = np.array(raw_values, dtype=np.float64) if n else np.empty(0, np.float64)
    except ValueError:
        _raise_bad_value(found, text, rx)
    has_ts = np.zeros(n, dtype=bool)
    timestamps = np.zeros(n, dtype=np.int64)
    if n and any(t for _, _, t in found):
        idx = [i for i, (_, _, t) in enumerate(found) if t]
        raw_ts = [found[i][2] for i in idx]
        ts = _timestamps(raw_ts, om)
        if ts is None:
            raise ExpositionError(f"invalid timestamp in {raw_ts[:3]!r}")
        timestamps[idx] = ts
        has_ts[idx] = True
    metadata = _metadata(text, om)
    return ParsedScrape(keys, values, timestamps, has_ts, metadata, fmt)


def _cut_eof(raw: bytes | bytearray | memoryview) -> bytes:
    """An OpenMetrics body without its final ``# EOF`` line; raises when missing or not last."""
    raw = bytes(raw) if isinstance(raw, memoryview) else raw
    end = len(raw) - 1 if raw.endswith(b"\n") else len(raw)
    if raw[max(0, end - 5):end] == b"# EOF":
        cut = end - 5
        if cut == 0 or raw[cut - 1] == 10:
            return raw[:cut]
    if raw.find(b"\n# EOF\n") >= 0 or raw.startswith(b"# EOF\n"):
        raise ExpositionError("unexpected data after # EOF")
    raise ExpositionError("data does not end with # EOF")


def _raise_first_bad_line(text: str, rx: re.Pattern) -> None:
    for lineno, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        if not rx.match(line):
            raise ExpositionError(f"line {lineno}: invalid sample line: {line[:200]!r}")
    raise ExpositionError("invalid exposition body")  # unreachable unless the regexes disagree


def _raise_bad_value(found, text: str, rx: re.Pattern) -> None:
    for i, (key, v, _) in enumerate(found):
        try:
            if "_" in v:
                raise ValueError(v)
            float(v)
        except ValueError:
            for j, m in enumerate(rx.finditer(text)):
                if j == i:
                    raise ExpositionError(
                        f'line {_line_of(text, m.start())}: strconv.ParseFloat: parsing "{v}": '
                        f"invalid syntax ({key[:200]})"
                    ) from None
    raise ExpositionError("invalid value")


@functools.lru_cache(maxsize=256)
def _comment_metadata(comments: str, om: bool) -> Mapping[str, MetricMetadata]:
    """Metadata of a body's comment lines. A target's HELP/TYPE lines rarely
    change, so the answer is kept (read-only) for the next scrape."""
    return MappingProxyType(_metadata(comments, om))


def _metadata(text: str, om: bool) -> dict[str, MetricMetadata]:
    if "#" not in text:
        return {}
    types: dict[str, MetricType] = {}
    helps: dict[str, str] = {}
    units: dict[str, str] = {}
    found = [m for chunk in _line_chunks(text) for m in _META.findall(chunk)]
    for kind, name, rest in found:
        if name.startswith('"'):
            name = _unescape(name[1:-1])
        if kind == "TYPE":
            t = rest.strip().lower()
            if t == "untyped":
                t = "unknown"
            if t not in _TYPES or (not om and rest.strip() not in _TEXT_TYPES):
                raise ExpositionError(f"invalid metric type {rest.strip()!r} for {name}")
            types[name] = _TYPES[t]
        elif kind == "HELP":
            helps[name] = _unescape(rest, help_text=not om)
        elif om:
            units[name] = rest
    out = {}
    for name in types.keys() | helps.keys() | units.keys():
        out[name] = MetricMetadata(
            types.get(name, MetricType.UNKNOWN), helps.get(name, ""), units.get(name, "")
        )
    return out


# --- series text → Labels (once per new series) ---------------------------------

_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_QUOTED_RE = re.compile(r'"((?:[^"\\\n]|\\.)*)"')
_WS = " \t"


# The common shape, checked and cut by two C calls: ``name{a="v",b="w"}`` with
# plain names, no whitespace and no escapes (anything else takes the general path).
_SIMPLE_PAIR = r'[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"'
_SIMPLE_SERIES = re.compile(rf"([a-zA-Z_:][a-zA-Z0-9_:]*)\{{(?:{_SIMPLE_PAIR}(?:,{_SIMPLE_PAIR})*,?)?\}}")
_SIMPLE_PAIRS = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="([^"]*)"')


def series_pairs(key: str) -> dict[str, str]:
    """Series text → ``{label: value}`` including ``__name__``, empty values
    dropped (as ``Labels`` drops them). Raises ``ExpositionError``."""
    m = _SIMPLE_SERIES.fullmatch(key)
    if m is not None:
        pairs = _SIMPLE_PAIRS.findall(key, m.end(1))
        d = dict(pairs)
        if len(d) != len(pairs) or METRIC_NAME in d:
            raise ExpositionError(f"duplicate label name in {key!r}")
        if "" in d.values():
            d = {n: v for n, v in d.items() if v}
        d[METRIC_NAME] = m.group(1)
        return d
    if "{" not in key and _NAME_RE.fullmatch(key):
        return {METRIC_NAME: key}
    return parse_series(key).to_dict()


def parse_series(key: str) -> Labels:
    """Parse series text as exposed: ``name``, ``name{a="b",}``, or Prometheus 3's
    ``{"name.with.dots", "label.x"="v"}``. Raises ``ExpositionError``."""
    brace = key.find("{")
    if brace < 0:
        if not _NAME_RE.fullmatch(key):
            raise ExpositionError(f"invalid metric name {key!r}")
        return Labels.from_sorted_flat((METRIC_NAME, key))
    name = key[:brace].rstrip(_WS)
    if name and not _NAME_RE.fullmatch(name):
        raise ExpositionError(f"invalid metric name {name!r}")
    if not key.endswith("}"):
        raise ExpositionError(f"unterminated label set in {key!r}")
    pairs: dict[str, str] = {}
    i = brace + 1
    end = len(key) - 1
    first = True
    while True:
        while i < end and key[i] in _WS:
            i += 1
        if i >= end:
            break
        # a label name (bare or quoted), or a quoted metric name in first position
        if key[i] == '"':
            m = _QUOTED_RE.match(key, i)
            if not m:
                raise ExpositionError(f"invalid quoted name in {key!r}")
            lname = _unescape(m.group(1))
            i = m.end()
        else:
            m = _LABEL_NAME_RE.match(key, i)
            if not m:
                raise ExpositionError(f"invalid label name at offset {i} in {key!r}")
            lname = m.group(0)
            i = m.end()
            if first and not name and (i >= end or key[i] in ",}"):
                raise ExpositionError(f"metric name must be quoted inside braces in {key!r}")
        while i < end and key[i] in _WS:
            i += 1
        if i < end and key[i] == "=":
            i += 1
            while i < end and key[i] in _WS:
                i += 1
            m = _QUOTED_RE.match(key, i)
            if not m:
                raise ExpositionError(f"expected a quoted label value for {lname!r} in {key!r}")
            value = _unescape(m.group(1))
            i = m.end()
            if not lname:
                raise ExpositionError(f"empty label name in {key!r}")
            if lname in pairs or lname == METRIC_NAME:
                raise ExpositionError(f"duplicate label name {lname!r} in {key!r}")
            pairs[lname] = value
        elif first and not name and key[m.start()] == '"':
            name = lname  # {"metric.name", ...}
        else:
            raise ExpositionError(f"expected '=' after label name {lname!r} in {key!r}")
        first = False
        while i < end and key[i] in _WS:
            i += 1
        if i < end:
            if key[i] != ",":
                raise ExpositionError(f"expected ',' or '}}' at offset {i} in {key!r}")
            i += 1
    if not name:
        raise ExpositionError(f"series without a metric name: {key!r}")
    pairs[METRIC_NAME] = name
    return Labels.from_pairs(pairs.items())
