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

import operator
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

    def single(self) -> Grid:
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
    def empty(cls, num_steps: int) -> StepVector:
        return cls([], np.empty((0, num_steps)), np.zeros((0, num_steps), bool))

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def num_steps(self) -> int:
        return self.values.shape[1]

    def take(self, rows: np.ndarray | list[int]) -> StepVector:
        rows = np.asarray(rows, dtype=np.int64)
        return StepVector(
            [self.labels[i] for i in rows.tolist()],
            self.values[rows],
            self.present[rows],
            self.drop_name[rows],
            None if self.sample_ts is None else self.sample_ts[rows],
            self.ordered,
        )

    def nonempty(self) -> StepVector:
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
    # distinct label sets first (the common answer: nothing to merge)
    index = dict.fromkeys(v.labels)
    if len(index) == n:
        return v
    first: list[int] = []
    for i, ls in enumerate(v.labels):
        if index[ls] is None:
            index[ls] = len(first)
            first.append(i)
    group = np.fromiter(map(index.__getitem__, v.labels), np.int64, n)
    G = len(first)
    counts = group_rows(np.add, group, v.present.astype(np.int32), G)
    if (counts > 1).any():
        raise EvaluationError(DUPLICATE_LABELSET)
    # at most one row of a group is present at any step: scatter the present cells
    rows, cols = np.nonzero(v.present)
    values = np.zeros((G, v.num_steps))
    values[group[rows], cols] = v.values[rows, cols]
    present = counts > 0
    drop = group_rows(np.logical_or, group, v.drop_name, G)
    sample_ts = None
    if v.sample_ts is not None:
        sample_ts = np.zeros((G, v.num_steps), np.int64)
        sample_ts[group[rows], cols] = v.sample_ts[rows, cols]
    return StepVector(
        [v.labels[i] for i in first], values, present, drop, sample_ts, v.ordered and keep_order
    )


def drop_names(v: StepVector) -> StepVector:
    """Apply the delayed ``__name__`` removal (end of the query, or where a
    function must see final labels)."""
    if not v.drop_name.any():
        return v
    labels = [without_name(ls) if d else ls for ls, d in zip(v.labels, v.drop_name.tolist())]
    out = StepVector(
        labels, v.values, v.present, np.zeros(len(labels), bool), v.sample_ts, v.ordered
    )
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


def group_rows(ufunc, ids: np.ndarray, values: np.ndarray, groups: int, fill=0) -> np.ndarray:
    """Combine the rows of ``values`` that share a group id with ``ufunc``
    (``np.add``, ``np.fmax``, ...): shape (groups, ...). Groups without rows get
    ``fill``. Sorting once and ``reduceat`` is far faster than ``ufunc.at``."""
    out_shape = (groups,) + values.shape[1:]
    if len(ids) == 0:
        return np.full(out_shape, fill, dtype=values.dtype)
    order = np.argsort(ids, kind="stable")
    sid = ids[order]
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    reduced = ufunc.reduceat(values[order], starts, axis=0)
    if len(starts) == groups:
        return reduced
    out = np.full(out_shape, fill, dtype=reduced.dtype)
    out[sid[starts]] = reduced
    return out


class LabelProjector:
    """Projects label sets onto a subset of their names, fast for many series that
    share a layout (the same label names): ``keep=True`` keeps ``names`` (``by``,
    ``on``), ``keep=False`` keeps everything else (``without``, ``ignoring``).
    Returns the flat ``(name, value, ...)`` tuple, ready for ``Labels``::

        project = LabelProjector(("job",), keep=True)
        Labels.from_sorted_flat(project(ls))
    """

    __slots__ = ("_getters", "keep", "names")

    def __init__(self, names, keep: bool):
        self.names = frozenset(names)
        self.keep = keep
        self._getters: dict[tuple, object] = {}

    def __call__(self, ls: tuple) -> tuple:
        layout = ls[0::2]
        getter = self._getters.get(layout)
        if getter is None:
            picked = [i for i, n in enumerate(layout) if (n in self.names) == self.keep]
            positions = [p for i in picked for p in (2 * i, 2 * i + 1)]
            if not positions:
                getter = _empty_getter
            elif len(positions) == len(ls):
                getter = _identity
            else:
                ig = operator.itemgetter(*positions)
                getter = ig
            self._getters[layout] = getter
        return getter(ls)


def _empty_getter(ls):
    return ()


def _identity(ls):
    return tuple(ls)


# Labels that describe the metric rather than the series; Prometheus drops all of
# them where it drops the metric name (``__type__``/``__unit__`` exist when the
# type-and-unit labels feature wrote them).
METADATA_LABELS = (METRIC_NAME, "__type__", "__unit__")


def without_name(ls: Labels) -> Labels:
    """``ls`` without ``__name__`` (and ``__type__``/``__unit__``); cheap in the
    common case where only the name, sorted first, is there."""
    if len(ls) >= 2 and ls[0] == METRIC_NAME and (len(ls) < 4 or ls[2] > "__unit__"):
        return Labels.from_sorted_flat(ls[2:])
    names = ls[0::2]
    if not any(n in names for n in METADATA_LABELS):
        return ls
    return ls.without(*METADATA_LABELS)
