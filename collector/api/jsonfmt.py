"""JSON for the Prometheus HTTP API, byte-compatible with Prometheus's own encoder.

Sample values are strings formatted like Go's ``strconv.FormatFloat(v, 'f'|'e', -1, 64)``
(shortest round-trip digits; exponent form only below 1e-6 or from 1e21 up),
``NaN``, ``+Inf`` and ``-Inf``; timestamps are seconds with up to three decimals.
Matrices are written straight to text: a dashboard query returns hundreds of
thousands of points and building a Python object per point would dominate.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np

from storage.labels import Labels


def format_value(v: float) -> str:
    if v != v:
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
    return s[:-2] if s.endswith(".0") else s


def format_timestamp(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    ms = abs(int(ms))
    sec, frac = divmod(ms, 1000)
    if frac:
        return f"{sign}{sec}.{frac:03d}"
    return f"{sign}{sec}"


def labels_json(labels: Labels) -> str:
    return json.dumps(labels.to_dict(), ensure_ascii=False, separators=(",", ":"))


def format_values(values: np.ndarray) -> list[str]:
    """Vectorised-enough formatting of a float array (fast path for ordinary values)."""
    out = []
    append = out.append
    for v in values.tolist():
        a = v if v >= 0 else -v
        if v == v and (a == 0 or 1e-4 <= a < 1e16):
            s = repr(v)
            append(s[:-2] if s.endswith(".0") else s)
        else:
            append(format_value(v))
    return out


def format_timestamps(ts: np.ndarray) -> list[str]:
    if len(ts) and not (ts % 1000).any():
        return [str(x) for x in (ts // 1000).tolist()]
    return [format_timestamp(t) for t in ts.tolist()]


def matrix_json(series: Iterable) -> str:
    """``[{"metric": {...}, "values": [[t, "v"], ...]}, ...]`` for objects with
    ``labels``, ``timestamps``, ``values``."""
    parts = []
    for s in series:
        ts = format_timestamps(np.asarray(s.timestamps))
        vs = format_values(np.asarray(s.values))
        points = ",".join(f'[{t},"{v}"]' for t, v in zip(ts, vs))
        parts.append(f'{{"metric":{labels_json(s.labels)},"values":[{points}]}}')
    return "[" + ",".join(parts) + "]"


def vector_json(samples: Iterable) -> str:
    """``[{"metric": {...}, "value": [t, "v"]}, ...]`` for objects with ``labels``, ``t``, ``v``."""
    parts = [
        f'{{"metric":{labels_json(s.labels)},"value":[{format_timestamp(s.t)},"{format_value(s.v)}"]}}'
        for s in samples
    ]
    return "[" + ",".join(parts) + "]"


def scalar_json(t: int, v: float) -> str:
    return f'[{format_timestamp(t)},"{format_value(v)}"]'


def string_json(t: int, v: str) -> str:
    return f"[{format_timestamp(t)},{json.dumps(v, ensure_ascii=False)}]"
