"""JSON for the Prometheus HTTP API, byte-compatible with Prometheus's own encoder.

Sample values are strings formatted like Go's ``strconv.FormatFloat(v, 'f'|'e', -1, 64)``
(shortest round-trip digits; exponent form only below 1e-6 or from 1e21 up),
``NaN``, ``+Inf`` and ``-Inf``; timestamps are seconds with up to three decimals.
Matrices are written straight to text: a dashboard query returns hundreds of
thousands of points and building a Python object per point would dominate;
values are formatted in bulk (``format_values``) and written by orjson.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np
import orjson

from storage.labels import Labels


def format_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if v == math.inf:
        return "+Inf"
    if v == -math.inf:
        return "-Inf"
    s = repr(v)
    if "e" in s:
        # Python switches to exponent form at 1e-4 / 1e16, Go only below 1e-6 or from 1e21;
        # inside Go's range Python's exponent spelling (e-07, e+21) is already Go's.
        a = abs(v)
        if 1e-6 <= a < 1e21:
            s = np.format_float_positional(v, unique=True, trim="-")
        return s
    return s.removesuffix(".0")


def format_timestamp(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    ms = abs(int(ms))
    sec, frac = divmod(ms, 1000)
    if frac:
        return f"{sign}{sec}.{frac:03d}"
    return f"{sign}{sec}"


def labels_json(labels: Labels) -> str:
    """The label set as a JSON object; orjson writes what ``json.dumps``
    (UTF-8, compact) does, several times faster; a string it refuses (a lone
    surrogate) goes through ``json``."""
    d = labels.to_dict()
    try:
        return orjson.dumps(d).decode()
    except orjson.JSONEncodeError:
        return json.dumps(d, ensure_ascii=False, separators=(",", ":"))


def format_values(values: np.ndarray) -> list[str]:
    """``format_value`` of each. orjson writes a float's shortest round-trip
    digits as Python's ``repr`` does, in C (≈ 7x faster than ``repr`` one
    by one, measured on 20,000 values); then the few that Go spells
    differently (whole numbers lose the ".0"; NaN, infinities, -0 and
    exponent forms, which orjson writes otherwise) are fixed up by index."""
    values = np.ascontiguousarray(values, np.float64)
    if len(values) == 0:
        return []
    a = np.abs(values)
    plain = (a >= 1e-4) & (a < 1e16)  # NaN compares false: not plain
    plain |= (a == 0) & ~np.signbit(values)
    whole = plain & (values == np.trunc(values))
    if whole.all():  # byte counts, counters of events: integers below 1e16
        return list(map(str, values.astype(np.int64).tolist()))
    out = orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)[1:-1].decode().split(",")
    if whole.any():
        for i in np.flatnonzero(whole).tolist():
            out[i] = out[i][:-2]
    if not plain.all():
        for i in np.flatnonzero(~plain).tolist():
            out[i] = format_value(float(values[i]))
    return out


def format_timestamps(ts: np.ndarray) -> list[str]:
    """``format_timestamp`` of each; one Python step per element, not a call."""
    if len(ts) == 0:
        return []
    sec, frac = np.divmod(ts, 1000)
    if not frac.any():
        return list(map(str, sec.tolist()))
    if ts.min() < 0:
        return [format_timestamp(t) for t in ts.tolist()]
    return [f"{s}.{f:03d}" if f else str(s) for s, f in zip(sec.tolist(), frac.tolist())]


# Points whose values are formatted together by ``matrix_json``: one
# ``format_values`` call costs a dozen numpy calls whatever its length, so
# small series are formatted a batch at a time; the batch bounds the strings
# held at once.
FORMAT_BATCH = 1 << 15


def matrix_json(series: Iterable) -> str:
    """``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]`` for objects with
    ``labels``, ``timestamps``, ``values``. Each series' points are written
    by one ``%`` of its value strings into a template of its timestamps,
    ``[[t0,"%s"],[t1,"%s"],...]``, all in C (≈ 2.5x faster than orjson
    writing (timestamp, value) pairs, itself ≈ 4x faster than joining
    formatted pairs); the series of a range query usually share their
    timestamps (the step grid): their template is built once."""
    parts: list[str] = []
    last_ts: np.ndarray | None = None
    template = ""
    batch: list = []  # (series, its points template, its values)
    size = 0

    def flush() -> None:
        vals = np.concatenate([np.asarray(v, np.float64) for _, _, v in batch])
        text = format_values(vals)
        a = 0
        for s, tmpl, v in batch:
            b = a + len(v)
            # timestamps are digits, '.' and '-'; value strings are
            # substituted, never parsed: no '%' can be misread
            points = tmpl % tuple(text[a:b])
            parts.append('{"metric":' + labels_json(s.labels) + ',"values":' + points + "}")
            a = b
        batch.clear()

    for s in series:
        ts = np.asarray(s.timestamps)
        if last_ts is None or len(ts) != len(last_ts) or not np.array_equal(ts, last_ts):
            last_ts = ts
            template = "[" + ",".join(['[' + t + ',"%s"]' for t in format_timestamps(ts)]) + "]"
        batch.append((s, template, s.values))
        size += len(ts)
        if size >= FORMAT_BATCH:
            flush()
            size = 0
    if batch:
        flush()
    return "[" + ",".join(parts) + "]"


def vector_json(samples: Iterable) -> str:
    """``[{"metric": {...}, "value": [t, "v"]}, ...]`` for objects with ``labels``, ``t``, ``v``."""
    samples = list(samples)
    ts = format_timestamps(np.fromiter((s.t for s in samples), np.int64, len(samples)))
    vs = format_values(np.fromiter((s.v for s in samples), np.float64, len(samples)))
    parts = [
        '{"metric":' + labels_json(s.labels) + ',"value":[' + t + ',"' + v + '"]}'
        for s, t, v in zip(samples, ts, vs)
    ]
    return "[" + ",".join(parts) + "]"


def scalar_json(t: int, v: float) -> str:
    return f'[{format_timestamp(t)},"{format_value(v)}"]'


def string_json(t: int, v: str) -> str:
    return f"[{format_timestamp(t)},{json.dumps(v, ensure_ascii=False)}]"
