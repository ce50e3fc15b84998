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


_S, _M, _H, _D = 1000, 60_000, 3_600_000, 86_400_000
TIME_STEPS_MS = (1 * _S, 2 * _S, 5 * _S, 10 * _S, 15 * _S, 30 * _S,
                 1 * _M, 2 * _M, 5 * _M, 10 * _M, 15 * _M, 30 * _M,
                 1 * _H, 2 * _H, 3 * _H, 6 * _H, 12 * _H,
                 1 * _D, 2 * _D, 7 * _D, 14 * _D, 30 * _D, 91 * _D, 365 * _D)
TIME_TICK_PX = 80  # about one label per this many pixels, as Grafana spaces them


def time_ticks(from_ms: float, to_ms: float, width_px: int) -> tuple[list[float], list[str]]:
    """Time-axis ticks over ``from``..``to`` for a plot ``width_px`` wide: values (epoch
    ms, on multiples of a readable step in UTC) and Grafana's labels ("HH:mm",
    "MM/DD HH:mm" past a day, "MM/DD" for day steps). Computed here so that the
    quick canvas drawing of a panel and plotly's drawing of it agree."""
    import datetime as dt

    span = max(float(to_ms) - float(from_ms), 1.0)
    want = max(int(width_px) // TIME_TICK_PX, 2)
    step = next((s for s in TIME_STEPS_MS if span / s <= want), TIME_STEPS_MS[-1])
    first = math.ceil(from_ms / step) * step
    values = [float(v) for v in np.arange(first, to_ms + 1, step)][:200]
    if step >= _D:
        fmt = "%m/%d"
    elif span > _D:
        fmt = "%m/%d %H:%M"
    elif step < _M:
        fmt = "%H:%M:%S"
    else:
        fmt = "%H:%M"
    utc = dt.UTC
    return values, [dt.datetime.fromtimestamp(v / 1000, utc).strftime(fmt) for v in values]
