"""Cutting an exposition body into series text, value and timestamp with numpy.

The regex parser in ``exposition`` walks every character of a body in Python's
``re`` engine (≈ 4 µs per kube-state-metrics line). Almost every real body is
*canonical*: ``series SP value [SP timestamp] LF``, single spaces, no tabs or
carriage returns, comments starting with ``#``. For those, the separators can
be found for all lines at once from the positions of the spaces and newlines
(one numpy pass over the bytes): the value and the timestamp cannot contain a
space or a ``}``, so walking back from each line's end over its last one or two
spaces finds where the series text ends, even when label values hold spaces or
braces. The separators are then turned into newlines in a copy of the body,
and one ``str.split`` cuts keys, values and timestamps as strings in C.

``split_canonical`` answers ``None`` for anything it is not sure about
(tabs, leading or doubled spaces, a trailing space, OpenMetrics exemplars,
values that ``float`` rejects); the caller then uses the regex parser, which
accepts every valid body and names the offending line of an invalid one. The
series text itself is checked when the scrape loop first turns it into labels
(``exposition.parse_series``), as for the regex path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_NL, _SP, _HASH, _CLOSE = 10, 32, 35, 125


@dataclass(frozen=True, slots=True)
class SplitBody:
    """Sample *i* of a canonical body: ``keys[i]``, ``values[i]`` and, where
    ``has_timestamp[i]``, the next entry of ``timestamps`` (strings, in order);
    ``comments`` are the ``#`` lines (for HELP/TYPE/UNIT)."""

    keys: list[str]
    values: np.ndarray  # float64
    has_timestamp: np.ndarray  # bool
    timestamps: list[str]
    comments: list[str]


def split_canonical(body: bytes | bytearray | memoryview, openmetrics: bool = False) -> SplitBody | None:
    """Split a canonical body; ``None`` when it is not (use the regex parser).

    Raises ``UnicodeDecodeError`` for a body that is not UTF-8."""
    arr = np.frombuffer(body, dtype=np.uint8)
    n = arr.size
    if n == 0:
        return SplitBody([], np.empty(0, np.float64), np.zeros(0, bool), [], [])
    if openmetrics and b" # " in body:
        return None  # exemplars: the regex parser checks and skips them
    ws = np.flatnonzero(arr <= _SP)
    kind = arr[ws]
    is_nl = kind == _NL
    is_sp = kind == _SP
    if np.count_nonzero(is_nl) + np.count_nonzero(is_sp) != ws.size:
        return None  # tabs, CR or control characters: let the regex parser decide
    ends = ws[is_nl]
    if arr[-1] != _NL:
        ends = np.append(ends, n)  # a last line without a newline
    spaces = ws[is_sp]
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    nonblank = starts < ends
    first = np.zeros(ends.size, np.uint8)
    first[nonblank] = arr[starts[nonblank]]
    if np.any(first == _SP):
        return None  # leading whitespace
    is_sample = nonblank & (first != _HASH)
    s = starts[is_sample]
    e = ends[is_sample]
    # The last three spaces before each line's end (sentinels before the first).
    sp = np.empty(spaces.size + 3, np.int64)
    sp[:3] = -10
    sp[3:] = spaces
    j = np.searchsorted(spaces, e) + 2
    sp1, sp2, sp3 = sp[j], sp[j - 1], sp[j - 2]
    c1 = arr[np.maximum(sp1 - 1, 0)]
    c2 = arr[np.maximum(sp2 - 1, 0)]
    in2 = sp2 >= s
    no_ts = c1 == _CLOSE  # `...} value`
    braced_ts = ~no_ts & in2 & (c2 == _CLOSE)  # `...} value ts`
    bare_ts = ~no_ts & ~braced_ts & in2 & (sp3 < s)  # `name value ts`
    bare = ~no_ts & ~in2  # `name value`
    has_ts = braced_ts | bare_ts
    key_end = np.where(has_ts, sp2, sp1)
    ok = (
        (sp1 > s)
        & (no_ts | braced_ts | bare_ts | bare)
        & (sp1 + 1 < e)  # a non-empty last field
        & (key_end > s)
        & (~has_ts | (sp2 + 1 < sp1))  # a non-empty value before the timestamp
    )
    if not ok.all():
        return None
    if body.isascii():
        # Character offsets are byte offsets: slice keys straight out of the
        # text and parse all values in one numpy call, no string per value.
        text = bytes(body).decode("ascii")
        values = _floats(arr, key_end + 1, np.where(has_ts, sp1, e))
        if values is None:
            return None
        keys = [text[a:b] for a, b in zip(s.tolist(), key_end.tolist())]
        ts = [text[a:b] for a, b in zip((sp1[has_ts] + 1).tolist(), e[has_ts].tolist())]
        is_comment = nonblank & (first == _HASH)
        comments = [text[a:b] for a, b in zip(starts[is_comment].tolist(), ends[is_comment].tolist())]
        return SplitBody(keys, values, has_ts, ts, comments)
    # UTF-8: turn the separators into newlines in a copy and split it in C.
    buf = bytearray(body)
    view = np.frombuffer(buf, dtype=np.uint8)
    view[key_end] = _NL
    view[sp1[has_ts]] = _NL
    parts = buf.decode("utf-8").split("\n")
    # Each line became 1 (comment, blank), 2 (key, value) or 3 (key, value, ts) parts.
    count = np.ones(ends.size, np.int64)
    count[is_sample] = 2 + has_ts
    offset = np.cumsum(count) - count
    kidx = offset[is_sample].tolist()
    keys = [parts[i] for i in kidx]
    vals = [parts[i + 1] for i in kidx]
    ts = [parts[i + 2] for i, t in zip(kidx, has_ts.tolist()) if t] if has_ts.any() else []
    is_comment = nonblank & (first == _HASH)
    comments = [parts[i] for i in offset[is_comment].tolist()] if is_comment.any() else []
    if "_" in "".join(vals):
        return None  # Python's float accepts 1_000, Go's ParseFloat does not
    try:
        values = np.array(vals, dtype=np.float64) if vals else np.empty(0, np.float64)
    except ValueError:
        return None
    return SplitBody(keys, values, has_ts, ts, comments)


# Bytes a Prometheus value can hold: digits, sign, point, exponent, Inf/NaN letters.
_FLOAT_BYTES = np.zeros(256, dtype=bool)
_FLOAT_BYTES[np.frombuffer(b"0123456789+-.eEinfatyINFATY", dtype=np.uint8)] = True


def _floats(arr: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """Parse the values at ``arr[start[i]:end[i]]`` with one C call, or None if one is invalid."""
    n = start.size
    if n == 0:
        return np.empty(0, np.float64)
    lens = end - start
    total = int(lens.sum())
    # Gather the value bytes into one space-separated buffer.
    slot = np.cumsum(lens + 1) - (lens + 1)  # where value i starts in the buffer
    out = np.full(total + n, _SP, dtype=np.uint8)
    dest = np.ones(total + n, dtype=bool)
    dest[slot + lens] = False
    dest = np.flatnonzero(dest)
    src = dest + np.repeat(start - slot, lens)
    out[dest] = arr[src]
    if not _FLOAT_BYTES[out[dest]].all():
        return None
    try:
        # numpy converts with CPython's correctly rounded strtod, like float().
        values = np.fromstring(out.tobytes(), dtype=np.float64, sep=" ")
    except ValueError:  # a malformed number (numpy >= 2.x may raise instead of warning)
        return None
    return values if values.size == n else None
