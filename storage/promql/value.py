"""The values a query returns, as the Prometheus API shapes them.

An instant query returns a ``Scalar``, a ``String``, a vector (``list[Sample]``)
or, for a range-vector expression, a matrix (``list[Series]``); a range query
always returns a matrix. One ``Series`` holds a series' points as two numpy
columns, never one Python object per point::

    res = engine.range_query(store, "rate(x[5m])", 0, 3_600_000, 60_000)
    for s in res.value:               # list[Series], sorted by labels
        s.labels, s.timestamps, s.values
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from storage.labels import Labels


class Scalar(NamedTuple):
    """A single number at time ``t`` (ms)."""

    t: int
    v: float


class String(NamedTuple):
    """A string literal's value at time ``t`` (ms)."""

    t: int
    v: str


class Sample(NamedTuple):
    """One element of an instant vector: a series' value at time ``t`` (ms)."""

    labels: Labels
    t: int
    v: float


class Series(NamedTuple):
    """One element of a matrix: a series' points, ``timestamps`` int64 ms and
    ``values`` float64, sorted by time."""

    labels: Labels
    timestamps: np.ndarray
    values: np.ndarray


Vector = list[Sample]
Matrix = list[Series]
Value = Scalar | String | Vector | Matrix
