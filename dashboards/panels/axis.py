"""Value axes formatted by Grafana units: ticks computed here, labelled by
``units.format_value``, so an axis reads "1.5 GiB", not plotly's "1.5G"."""

from __future__ import annotations

import math

import numpy as np

from dashboards.grafana.units import format_value


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(count - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9 and len(ticks) < 50:
        if v >= lo - step * 1e-9:
            ticks.append(round(v, 12))
        v += step
    return ticks


def data_range(arrays: list[np.ndarray], soft_min: float | None, soft_max: float | None,
               hard_min: float | None, hard_max: float | None) -> tuple[float, float]:
    finite = [a[np.isfinite(a)] for a in arrays if len(a)]
    finite = [a for a in finite if a.size]
    lo = min((float(a.min()) for a in finite), default=0.0)
    hi = max((float(a.max()) for a in finite), default=1.0)
    if soft_min is not None:
        lo = min(lo, soft_min)
    if soft_max is not None:
        hi = max(hi, soft_max)
    if hard_min is not None:
        lo = hard_min
    if hard_max is not None:
        hi = hard_max
    if lo == hi:
        lo, hi = (lo - 1, hi + 1) if lo != 0 else (0.0, 1.0)
    return lo, hi


def axis(unit: str, decimals: int | None, lo: float, hi: float, *, log: int = 0) -> dict:
    """A plotly axis dict with unit-formatted tick labels over ``lo``..``hi``."""
    if log:
        return {"type": "log"}
    pad = (hi - lo) * 0.04
    lo_p = lo - pad if lo != 0 else lo
    hi_p = hi + pad
    ticks = nice_ticks(lo, hi)
    labels = [format_value(t, unit, decimals) for t in ticks]
    # a narrow range reads as the same label twice ("23.7 GiB"): add digits until not
    extra = 1
    while decimals is None and len(set(labels)) < len(labels) and extra <= 4:
        labels = [format_value(t, unit, _digits(t) + extra) for t in ticks]
        extra += 1
    return {"range": [lo_p, hi_p], "tickvals": ticks, "ticktext": labels, "tickmode": "array"}


def _digits(v: float) -> int:
    a = abs(v)
    if a == 0 or not math.isfinite(a):
        return 0
    return max(0, 2 - math.floor(math.log10(a)))


def hover_format(unit: str, decimals: int | None) -> tuple[str, str]:
    """A d3 format and suffix for plotly's hover label, close to the unit's text."""
    fixed = f".{decimals}f" if decimals is not None else ".3~f"
    si = f".{max(decimals, 1) if decimals is not None else 3}~s"
    if unit == "percentunit":
        return (f".{decimals if decimals is not None else 1}%", "")
    if unit == "percent":
        return (fixed, "%")
    if unit in ("bytes", "decbytes"):
        return (si, "B")
    if unit in ("bits", "decbits"):
        return (si, "b")
    if unit in ("Bps", "binBps"):
        return (si, "B/s")
    if unit in ("bps", "binbps"):
        return (si, "b/s")
    if unit == "s":
        return (si, "s")
    if unit == "ms":
        return (fixed, " ms")
    if unit in ("", "none", "short"):
        return (si if decimals is None else fixed, "")
    text = format_value(1.0, unit, 0)
    suffix = text[1:] if text.startswith("1") else ""
    return (si if decimals is None else fixed, suffix)
