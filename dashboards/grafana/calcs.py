"""Grafana's reducers (``lastNotNull``, ``mean``, ``max``…) over a numpy column.

Legends, stat/gauge panels, table footers and ``groupBy`` all reduce with these.
NaN is Grafana's null here: reducers named "NotNull" and the statistics skip it.
"""

from __future__ import annotations

import numpy as np

NAMES = {
    "lastNotNull": "Last *", "last": "Last", "firstNotNull": "First *", "first": "First",
    "min": "Min", "max": "Max", "mean": "Mean", "sum": "Total", "count": "Count",
    "range": "Range", "delta": "Delta", "step": "Step", "diff": "Difference",
    "diffperc": "Difference %", "logmin": "Min (above zero)", "allIsZero": "All zeros",
    "allIsNull": "All nulls", "changeCount": "Change count", "distinctCount": "Distinct count",
    "median": "Median", "variance": "Variance", "stdDev": "StdDev", "allValues": "All values",
    "uniqueValues": "Unique values",
}
# Legacy names (old graph legends, singlestat) and their current ids.
ALIASES = {"avg": "mean", "current": "lastNotNull", "total": "sum", "last_not_null": "lastNotNull"}


def label(calc: str) -> str:
    calc = ALIASES.get(calc, calc)
    if calc.startswith("p") and calc[1:].isdigit():
        return f"{calc[1:]}th %"
    return NAMES.get(calc, calc)


def reduce(values: np.ndarray, calc: str) -> float | None:
    """One number for ``calc`` (None when there is nothing to reduce)."""
    calc = ALIASES.get(calc, calc)
    v = np.asarray(values, dtype=np.float64)
    ok = v[~np.isnan(v)]
    if calc == "last":
        return float(v[-1]) if v.size else None
    if calc == "first":
        return float(v[0]) if v.size else None
    if calc == "allIsNull":
        return float(ok.size == 0)
    if calc == "count":
        return float(v.size)
    if ok.size == 0:
        return None
    if calc == "lastNotNull":
        return float(ok[-1])
    if calc == "firstNotNull":
        return float(ok[0])
    if calc == "min":
        return float(ok.min())
    if calc == "max":
        return float(ok.max())
    if calc == "mean":
        return float(ok.mean())
    if calc == "sum":
        return float(ok.sum())
    if calc == "range":
        return float(ok.max() - ok.min())
    if calc == "delta":
        # increases only, resets start again from zero (counter semantics)
        d = np.diff(ok)
        return float(np.where(d >= 0, d, ok[1:]).sum())
    if calc == "step":
        return float(np.diff(np.sort(ok)).min()) if ok.size > 1 else None
    if calc == "diff":
        return float(ok[-1] - ok[0])
    if calc == "diffperc":
        return float((ok[-1] - ok[0]) / ok[0] * 100) if ok[0] else None
    if calc == "logmin":
        pos = ok[ok > 0]
        return float(pos.min()) if pos.size else None
    if calc == "allIsZero":
        return float(bool(np.all(ok == 0)))
    if calc == "changeCount":
        return float(np.count_nonzero(np.diff(ok)))
    if calc == "distinctCount":
        return float(np.unique(ok).size)
    if calc == "median":
        return float(np.median(ok))
    if calc == "variance":
        return float(ok.var())
    if calc == "stdDev":
        return float(ok.std())
    if calc.startswith("p") and calc[1:].isdigit():
        return float(np.percentile(ok, int(calc[1:])))
    raise ValueError(f"unknown reducer {calc!r}")


def known(calc: str) -> bool:
    calc = ALIASES.get(calc, calc)
    return calc in NAMES or (calc.startswith("p") and calc[1:].isdigit())
