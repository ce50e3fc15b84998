"""What goes over the wire to a Prometheus-compatible HTTP API, and what comes back.

Requests carry PromQL text, so label matchers are rendered back into a selector
with exactly the escaping Prometheus's lexer (and Spyglass's) reads back to the
same strings; times are seconds with millisecond precision. Responses are JSON
whose sample values are strings; a matrix's samples are cut out of the text and
read by numpy in one pass, never as one Python object per sample::

    render_selector([Matcher("=", "job", 'a"b')])   # '{job="a\\"b"}'
    doc, lifted = loads_matrix(body)
    labels, offsets, ts, vs, ignored = decode_matrix(doc["data"]["result"], lifted)

Everything here is pure and property-tested (tests/storage/remote/test_promapi_wire.py).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from itertools import chain
from typing import Any, NamedTuple

import numpy as np
import orjson

from storage.labels import METRIC_NAME, Labels, Matcher, is_legacy_label_name

__all__ = [
    "API_MAX_TIME_MS",
    "API_MIN_TIME_MS",
    "MAX_RANGE_MS",
    "LiftedValues",
    "WireError",
    "decode_matrix",
    "decode_scalar",
    "decode_series",
    "decode_strings",
    "decode_vector",
    "escape_label_name_path",
    "format_time",
    "loads_matrix",
    "quote_string",
    "render_selector",
]

# The API's own "no bound" times (Prometheus's minTime/maxTime, in ms): a querier
# opened at or beyond them sends no start/end at all.
API_MIN_TIME_MS = (-(2**63 // 1000) + 62135596801) * 1000
API_MAX_TIME_MS = ((2**63 - 1) // 1000 - 62135596801) * 1000 + 999

# The longest range selector Prometheus can parse: a Go time.Duration (int64 ns).
MAX_RANGE_MS = (2**63 - 1) // 1_000_000


class WireError(ValueError):
    """A response whose JSON does not have the shape the Prometheus API documents."""


# --- request side ---------------------------------------------------------------------

# Go's lexer stops a double-quoted string at a raw newline and refuses a literal
# U+FFFD ("invalid UTF-8 rune"); other control characters would pass but are
# escaped too, so the text stays printable in logs. Everything else goes as is.
_ESCAPES = {ord("\\"): "\\\\", ord('"'): '\\"', ord("\n"): "\\n", 0xFFFD: "\\ufffd"}
_ESCAPES.update({c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F) if c != ord("\n")})


def quote_string(s: str) -> str:
    """A PromQL double-quoted string literal whose value is exactly ``s``.

    Raises ``ValueError`` when ``s`` cannot be UTF-8 (lone surrogates): no
    literal could carry it."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{s!r} is not valid UTF-8") from None
    return '"' + s.translate(_ESCAPES) + '"'


def _render_matcher(m: Matcher) -> str:
    # Quoted label names (``{"my.label"="x"}``) are Prometheus 3.x syntax; legacy
    # names stay bare so that 2.x backends read them too. The metric name is
    # always written as a ``__name__`` matcher, which every version accepts.
    name = m.name if is_legacy_label_name(m.name) else quote_string(m.name)
    return f"{name}{m.op.value}{quote_string(m.value)}"


# Added when every matcher also matches the empty string: Prometheus refuses
# such selectors ("at least one non-empty matcher"), and every stored series
# has a metric name, so this one selects the same series.
_ANY_NAME = Matcher("=~", METRIC_NAME, ".+")


def render_selector(matchers: Sequence[Matcher]) -> str:
    """A series selector (``{a="b", c=~"d.*"}``) selecting what ``matchers`` select."""
    ms = list(matchers)
    if all(m.matches_empty() for m in ms):
        ms.append(_ANY_NAME)
    return "{" + ", ".join(_render_matcher(m) for m in ms) + "}"


def format_time(ms: int) -> str:
    """Unix seconds with millisecond precision, exactly (no float rounding)."""
    ms = int(ms)
    sign = "-" if ms < 0 else ""
    sec, frac = divmod(abs(ms), 1000)
    return f"{sign}{sec}.{frac:03d}"


def escape_label_name_path(name: str) -> str:
    """A label name as it goes into ``/api/v1/label/<name>/values``.

    Legacy names go as they are; others get Prometheus 3.x's ``U__`` value
    escaping (``my.label`` → ``U__my_2e_label``), which servers undo. A legacy
    name that itself starts with ``U__`` is escaped too, or the server would
    unescape it."""
    if is_legacy_label_name(name) and not name.startswith("U__"):
        return name
    out = ["U__"]
    for i, ch in enumerate(name):
        if ch == "_":
            out.append("__")
        elif ("a" <= ch <= "z") or ("A" <= ch <= "Z") or ch == ":" or (i > 0 and "0" <= ch <= "9"):
            out.append(ch)
        else:
            out.append(f"_{ord(ch):x}_")
    return "".join(out)


# --- response side --------------------------------------------------------------------


def _labels(metric) -> Labels:
    if not isinstance(metric, dict):
        raise WireError(f"series labels are not an object: {str(metric)[:100]}")
    for k, v in metric.items():
        if not isinstance(v, str):
            raise WireError(f"label {k!r} has a non-string value")
    return Labels.from_dict(metric)


def _floats(values: list) -> np.ndarray:
    """Sample values as the API writes them ("1.5", "NaN", "+Inf") → float64."""
    try:
        out = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise WireError(f"bad sample value: {e}") from None
    if out.shape != (len(values),):
        raise WireError("bad sample value: not a number")
    return out


# Seconds beyond which milliseconds no longer fit an int64.
_MAX_SECONDS = 9.2e15


def _millis(seconds: list) -> np.ndarray:
    """Sample timestamps (float seconds, three decimals) → exact int64 ms."""
    ts = _floats(seconds)
    if len(ts) and not (np.abs(ts) < _MAX_SECONDS).all():  # also catches NaN
        raise WireError("bad sample timestamp: not a finite time")
    return np.rint(ts * 1000.0).astype(np.int64)


class LiftedValues(NamedTuple):
    """The ``values`` arrays of a matrix answer, cut out of the JSON text before
    parsing it (see ``loads_matrix``): one count per array, in document order,
    and all their numbers as ``t0, v0, t1, v1, ...``."""

    counts: list[int]
    numbers: np.ndarray


def decode_matrix(
    result, lifted: LiftedValues | None = None
) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray, int]:
    """A ``matrix`` result → (labels, offsets, timestamps ms, values, ignored).

    Series *i* owns ``timestamps[offsets[i]:offsets[i+1]]``; order is the
    response's. Native-histogram points (``histograms``) are not float samples:
    they are skipped and their number returned as ``ignored``. With ``lifted``,
    the result's ``values`` arrays are the emptied ones ``loads_matrix`` left."""
    if not isinstance(result, list):
        raise WireError("matrix result is not a list")
    labels: list[Labels] = []
    points: list[list] = []
    lens: list[int] = []
    ignored = n_lifted = 0
    for item in result:
        if not isinstance(item, dict):
            raise WireError("matrix element is not an object")
        labels.append(_labels(item.get("metric", {})))
        vals = item.get("values", [])
        hist = item.get("histograms")
        if isinstance(hist, list):
            ignored += len(hist)
        if not isinstance(vals, list):
            raise WireError("matrix values are not a list")
        if lifted is not None and "values" in item:
            lens.append(lifted.counts[n_lifted] if n_lifted < len(lifted.counts) else -1)
            n_lifted += 1
        else:
            lens.append(len(vals))
            points.append(vals)
    offsets = np.zeros(len(lens) + 1, np.int64)
    np.cumsum(lens, out=offsets[1:])
    if lifted is not None:
        if n_lifted != len(lifted.counts) or -1 in lens:
            raise WireError("lifted values do not match the result's series")
        nums = lifted.numbers
        return labels, offsets, _millis(nums[0::2]), np.ascontiguousarray(nums[1::2]), ignored
    flat = list(chain.from_iterable(points))
    # shape checks with map() over builtins: C speed, no Python frame per sample
    if flat and (set(map(type, flat)) != {list} or set(map(len, flat)) != {2}):
        raise WireError("a sample is not a [time, value] pair")
    pairs = list(chain.from_iterable(flat))
    return labels, offsets, _millis(pairs[0::2]), _floats(pairs[1::2]), ignored


# A key "values" with an array value. In valid JSON this byte sequence cannot sit
# inside a string (a quote there is escaped), and label values are strings, so
# it only ever opens a series' sample array.
_VALUES_KEY = re.compile(rb'"values":\[')
_SEPARATORS = bytes.maketrans(b'[],"', b"    ")
# Every byte but the JSON structure of a sample array, whitespace and escapes.
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[],"\\ \t\n\r')


def _compact_pairs(span: bytes, n: int) -> bool:
    """Whether ``span`` is exactly ``n`` compact ``[t,"v"]`` pairs whose texts
    hold no separator, whitespace or escape and are not empty. Only then is every
    number one token for numpy: a comma, bracket or space inside a string (valid
    JSON) must not pass for structure."""
    if not n:
        return not span
    skeleton = span.translate(None, _NOT_STRUCTURE)
    return skeleton == b'[,""]' + b',[,""]' * (n - 1) and b'""' not in span


def _lift(body: bytes) -> tuple[bytes, list[bytes]] | None:
    pieces, spans, pos = [], [], 0
    for m in _VALUES_KEY.finditer(body):
        s = m.end()
        if m.start() < pos:
            return None
        if body.startswith(b"]", s):
            e = s
        else:
            # samples are [t,"v"] pairs whose strings hold no brackets: the array
            # ends at the first "]]"
            e = body.find(b"]]", s)
            if e < 0:
                return None
            e += 1
        pieces.append(body[pos:s])
        spans.append(body[s:e])
        pos = e
    pieces.append(body[pos:])
    return b"".join(pieces), spans


def _numpy_parses_strictly() -> bool:
    """NumPy 2.x raises on text it cannot read to its end; older versions warned
    and returned what they had read, which the fast path could not tell from
    success (it is then not used)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            np.fromstring(b"1 2x", dtype=np.float64, sep=" ")
        except ValueError:
            return True
    return False


_STRICT_TEXT_PARSE = _numpy_parses_strictly()


def loads_matrix(body: bytes) -> tuple[Any, LiftedValues | None]:
    """Parse an API answer, reading a matrix's samples without a Python object each.

    The sample arrays are cut out of the text and read by numpy in one pass
    (about four times faster than building the lists); the rest is parsed by
    orjson. Returns ``(doc, lifted)`` to hand to ``decode_matrix``, or, when the
    answer is not a compact matrix this path can read with certainty (an error,
    another result type, unusual formatting), ``(full parse, None)``.
    Raises ``orjson.JSONDecodeError`` when the body is not JSON."""
    cut = _lift(body) if _STRICT_TEXT_PARSE and b'"resultType":"matrix"' in body else None
    if cut is not None:
        stripped, spans = cut
        counts = [sp.count(b"[") for sp in spans]
        try:
            doc = orjson.loads(stripped)
            result = doc["data"]["result"]
            n_arrays = sum(1 for item in result if "values" in item)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            doc = result = None
            n_arrays = -1
        if n_arrays == len(spans) and all(_compact_pairs(sp, c) for sp, c in zip(spans, counts)):
            text = b" ".join(spans).translate(_SEPARATORS)
            if not sum(counts):
                return doc, LiftedValues(counts, np.empty(0, np.float64))
            try:
                numbers = np.fromstring(text, dtype=np.float64, sep=" ")
            except ValueError:  # text that is not all numbers: let orjson judge it
                numbers = None
            if numbers is not None and len(numbers) == 2 * sum(counts):
                return doc, LiftedValues(counts, numbers)
    return orjson.loads(body), None


def _point(p) -> tuple[int, float]:
    if not isinstance(p, list) or len(p) != 2:
        raise WireError(f"not a [time, value] pair: {str(p)[:100]}")
    return int(_millis([p[0]])[0]), float(_floats([p[1]])[0])


def decode_vector(result) -> tuple[list[tuple[Labels, int, float]], int]:
    """A ``vector`` result → ([(labels, t ms, value)], ignored native-histogram samples)."""
    if not isinstance(result, list):
        raise WireError("vector result is not a list")
    out = []
    ignored = 0
    for item in result:
        if not isinstance(item, dict):
            raise WireError("vector element is not an object")
        if "value" not in item and "histogram" in item:
            ignored += 1
            continue
        t, v = _point(item.get("value"))
        out.append((_labels(item.get("metric", {})), t, v))
    return out, ignored


def decode_scalar(result) -> tuple[int, float]:
    """A ``scalar`` result ``[t, "v"]`` → (t ms, value)."""
    return _point(result)


def decode_series(result) -> list[Labels]:
    """``/api/v1/series`` data → label sets."""
    if not isinstance(result, list):
        raise WireError("series result is not a list")
    return [_labels(m) for m in result]


def decode_strings(result) -> list[str]:
    """``/api/v1/labels`` or ``/label/<name>/values`` data → strings."""
    if not isinstance(result, list) or not all(isinstance(s, str) for s in result):
        raise WireError("expected a list of strings")
    return result
