"""Prometheus's ``quantile`` on many rows of values at once (``quantile``,
``quantile_over_time``, ``mad_over_time``).

Prometheus sorts NaN before every number and interpolates between the two
closest ranks::

    quantile_of_sorted(q, sorted_nan_first(rows), counts)
"""

from __future__ import annotations

import numpy as np


def sorted_nan_first(x: np.ndarray) -> np.ndarray:
    """Sort each row ascending with NaN before everything, as Prometheus orders
    values for quantiles."""
    nan = np.isnan(x)
    out = np.sort(np.where(nan, -np.inf, x), axis=1)
    counts = nan.sum(axis=1)
    if counts.any():
        out[np.arange(x.shape[1])[None, :] < counts[:, None]] = np.nan
    return out


def quantile_of_sorted(q: np.ndarray, xs: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Prometheus's ``quantile`` for rows of sorted values; row i has ``n[i]`` values."""
    with np.errstate(invalid="ignore"):
        rank = q * (n - 1)
        lower = np.maximum(0, np.floor(rank))
        upper = np.minimum(n - 1, lower + 1)
        weight = rank - np.floor(rank)
        rows = np.arange(len(xs))
        li = np.nan_to_num(lower, nan=0).astype(np.int64)
        ui = np.nan_to_num(upper, nan=0).astype(np.int64)
        top = np.maximum(n - 1, 0).astype(np.int64)
        li = np.clip(li, 0, top)
        ui = np.clip(ui, 0, top)
        res = xs[rows, li] * (1 - weight) + xs[rows, ui] * weight
        res = np.where(q < 0, -np.inf, res)
        res = np.where(q > 1, np.inf, res)
        res = np.where(np.isnan(q) | (n == 0), np.nan, res)
    return res
