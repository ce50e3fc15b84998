"""Values while a query is evaluated: whole series over the whole step grid, in numpy.

The evaluator never loops over steps. An instant-vector expression evaluates to
a ``StepVector``: one row per series and one column per step of the ``Grid``,
with a ``present`` mask (NaN is a value, so absence needs its own column). A
scalar expression is a ``StepScalar`` (one value per step). Range vectors are
``RangeSeries``: series with their raw points in compressed-sparse-row layout::

    grid = Grid(0, 600_000, 60_000)              # 11 steps
    v = StepVector(labels, values, present)      # values.shape == (len(labels), 11)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from storage.labels import METRIC_NAME, Labels
from storage.promql.errors import EvaluationError

DUPLICATE_LABELSET = "vector cannot contain metrics with the same labelset"


@dataclass(frozen=True, slots=True)
class Grid:
    """The evaluation timestamps ``start, start+step, ..., <= end`` (ms)."""

    start: int
    end: int
    step: int

    @property
    def times(self) -> np.ndarray:
        return self.start + np.arange(self.num_steps, dtype=np.int64) * self.step

    @property
    def num_steps(self) -> int:
        if self.end < self.start:
            return 0
        return (self.end - self.start) // self.step + 1 if self.step > 0 else 1

    @property
    def instant(self) -> bool:
        return self.start == self.end

    def single(self) -> "Grid":
        """The one-step grid at this grid's start (step-invariant evaluation)."""
        return Grid(self.start, self.start, self.step)


@dataclass(slots=True)
class StepScalar:
    values: np.ndarray  # (T,) float64


@dataclass(slots=True)
class StepString:
    value: str


@dataclass(slots=True)
class StepVector:
    """An instant vector at every step: ``values``/``present`` are (series, steps).

    ``drop_name`` marks series whose ``__name__`` goes when the query finishes
    (Prometheus 3.x delays dropping it so that ``label_replace`` can still read
    it). ``sample_ts`` (same shape) keeps the time of the sample each value came
    from, which ``timestamp()`` needs; it is only kept by plain selectors.
    ``ordered`` says the row order means something (``sort``, ``topk``) for an
    instant query's result.
    """

    labels: list[Labels]
    values: np.ndarray
    present: np.ndarray
    drop_name: np.ndarray = field(default=None)  # type: ignore[assignment]
    sample_ts: np.ndarray | None = None
    ordered: bool = False

    def __post_init__(self):
        if self.drop_name is None:
            self.drop_name = np.zeros(len(self.labels), dtype=bool)

    @classmethod
    def empty(cls, num_steps: int) -> "StepVector":
        return cls([], np.empty((0, num_steps)), np.zeros((0, num_steps), bool))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_steps(self) -> int:
        return self.values.shape[1]

    def take(self, rows: np.ndarray | list[int]) -> "StepVector":
        rows = np.asarray(rows, dtype=np.int64)
        return StepVector(
            [self.labels[i] for i in rows.tolist()],
            self.values[rows],
            self.present[rows],
            self.drop_name[rows],
            None if self.sample_ts is None else self.sample_ts[rows],
            self.ordered,
        )

    def nonempty(self) -> "StepVector":
        """Drop rows with no point at any step."""
        keep = self.present.any(axis=1)
        if keep.all():
            return self
        return self.take(np.flatnonzero(keep))

    def points(self) -> int:
        return int(np.count_nonzero(self.present))


@dataclass(slots=True)
class RangeSeries:
    """Series with their raw points (a range vector), in CSR layout: series *i* has
    ``timestamps[offsets[i]:offsets[i+1]]`` and ``values[...]``."""

    labels: list[Labels]
    offsets: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray
    drop_name: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self):
        if self.drop_name is None:
            self.drop_name = np.zeros(len(self.labels), dtype=bool)

    def __len__(self) -> int:
        return len(self.labels)

    def points(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0


def merge_same_labels(v: StepVector, keep_order: bool = False) -> StepVector:
    """Merge rows with identical label sets into one series, as Prometheus keys its
    output series by labels; two of them at the same step is an error."""
    n = len(v.labels)
    if n < 2:
        return v
    index: dict[Labels, int] = {}
    first: list[int] = []
    group = np.empty(n, dtype=np.int64)
    for i, ls in enumerate(v.labels):
        g = index.get(ls)
        if g is None:
            g = index[ls] = len(first)
            first.append(i)
        group[i] = g
    if len(first) == n:
        return v
    G = len(first)
    counts = np.zeros((G, v.num_steps), dtype=np.int64)
    np.add.at(counts, group, v.present.astype(np.int64))
    if (counts > 1).any():
        raise EvaluationError(DUPLICATE_LABELSET)
    values = np.zeros((G, v.num_steps))
    present = np.zeros((G, v.num_steps), dtype=bool)
    drop = np.zeros(G, dtype=bool)
    sample_ts = None if v.sample_ts is None else np.zeros((G, v.num_steps), dtype=np.int64)
    for i in range(n):
        g = group[i]
        m = v.present[i]
        values[g, m] = v.values[i, m]
        present[g] |= m
        drop[g] |= v.drop_name[i]
        if sample_ts is not None:
            sample_ts[g, m] = v.sample_ts[i, m]
    return StepVector([v.labels[i] for i in first], values, present, drop, sample_ts,
                      v.ordered and keep_order)


def drop_names(v: StepVector) -> StepVector:
    """Apply the delayed ``__name__`` removal (end of the query, or where a
    function must see final labels)."""
    if not v.drop_name.any():
        return v
    labels = [ls.without(METRIC_NAME) if d else ls for ls, d in zip(v.labels, v.drop_name.tolist())]
    out = StepVector(labels, v.values, v.present, np.zeros(len(labels), bool), v.sample_ts, v.ordered)
    return out


def broadcast_steps(v: StepVector, num_steps: int) -> StepVector:
    """Repeat a one-step vector over ``num_steps`` steps."""
    if v.num_steps == num_steps:
        return v
    return StepVector(
        v.labels,
        np.repeat(v.values, num_steps, axis=1),
        np.repeat(v.present, num_steps, axis=1),
        v.drop_name,
        None if v.sample_ts is None else np.repeat(v.sample_ts, num_steps, axis=1),
        v.ordered,
    )
