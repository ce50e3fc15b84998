"""The storage contracts: everything that writes or reads metrics goes through these.

Receivers (remote-write, scrape, OTLP, InfluxDB) write through ``Appendable``;
the PromQL engine, the HTTP API, alerting and the UI read through ``Queryable``.
The embedded TSDB (``storage.tsdb``), the in-memory store (``storage.memstore``)
and remote backends implement them, so no caller knows which one is behind.

Data crosses this boundary in columns, never one Python object per sample:
``SampleBatch`` on the way in, ``SeriesSet`` on the way out.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

import numpy as np

from storage.labels import LabelLimits, Labels, Matcher

# Prometheus's staleness marker: a NaN with this exact bit pattern. An ordinary
# NaN value is a sample; the stale NaN says "this series ended here".
STALE_NAN_BITS = 0x7FF0000000000002
STALE_NAN: float = struct.unpack("<d", struct.pack("<Q", STALE_NAN_BITS))[0]


def is_stale(values: np.ndarray) -> np.ndarray:
    """Boolean mask of stale markers in a float64 array."""
    return np.ascontiguousarray(values, dtype=np.float64).view(np.uint64) == STALE_NAN_BITS


def is_stale_value(v: float) -> bool:
    return struct.pack("<d", v) == struct.pack("<Q", STALE_NAN_BITS)


class MetricType(str, enum.Enum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    GAUGE_HISTOGRAM = "gaugehistogram"
    SUMMARY = "summary"
    INFO = "info"
    STATESET = "stateset"
    UNKNOWN = "unknown"


class MetricMetadata(NamedTuple):
    """Metadata of a metric family, as the Prometheus API's ``/metadata`` returns it."""

    type: MetricType = MetricType.UNKNOWN
    help: str = ""
    unit: str = ""


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Samples for many series, in columns.

    ``series`` lists each label set once; sample *i* belongs to
    ``series[series_index[i]]`` and has ``timestamps[i]`` (ms) and ``values[i]``.
    A batch is appended atomically and is durable when ``append`` returns.
    """

    series: Sequence[Labels]
    series_index: np.ndarray  # int32 or int64, one per sample
    timestamps: np.ndarray  # int64 milliseconds
    values: np.ndarray  # float64
    metadata: Mapping[str, MetricMetadata] = field(default_factory=dict)
    # Set by a producer that validated every label set in ``series`` against
    # these limits and interned their strings (``sys.intern``), as the
    # remote-write receiver does; storage whose limits are no stricter skips both.
    labels_checked: LabelLimits | None = None

    def __post_init__(self):
        n = len(self.timestamps)
        if len(self.values) != n or len(self.series_index) != n:
            raise ValueError("series_index, timestamps and values must have the same length")

    @classmethod
    def from_samples(
        cls,
        samples: Sequence[tuple[Labels, int, float]],
        metadata: Mapping[str, MetricMetadata] | None = None,
    ) -> SampleBatch:
        """Convenience for small batches (tests, the scrape of one target)."""
        index: dict[Labels, int] = {}
        idx = np.empty(len(samples), dtype=np.int64)
        ts = np.empty(len(samples), dtype=np.int64)
        vs = np.empty(len(samples), dtype=np.float64)
        for i, (labels, t, v) in enumerate(samples):
            idx[i] = index.setdefault(labels, len(index))
            ts[i] = t
            vs[i] = v
        return cls(list(index), idx, ts, vs, metadata or {})

    def __len__(self) -> int:
        return len(self.timestamps)


class RejectReason(str, enum.Enum):
    """Why a sample or series was not stored (also the ``reason`` metric label)."""

    OUT_OF_ORDER = "out_of_order"  # older than the series' newest sample, beyond the OOO window
    OUT_OF_BOUNDS = "out_of_bounds"  # older than the head can take (already in a block)
    TOO_OLD = "too_old"  # older than the out-of-order window
    TOO_FAR_IN_FUTURE = "too_far_in_future"
    DUPLICATE = "duplicate_sample_for_timestamp"  # same timestamp, different value
    INVALID_LABELS = "invalid_labels"
    SERIES_LIMIT = "series_limit"


@dataclass(slots=True)
class AppendResult:
    """What happened to a batch: how many samples were stored and why others were not."""

    accepted: int = 0
    rejected: dict[RejectReason, int] = field(default_factory=dict)
    # A few human-readable examples ("series up{...}: out of order sample at 123"),
    # bounded so that a bad batch cannot make a huge error message.
    errors: list[str] = field(default_factory=list)

    MAX_ERRORS = 10

    def reject(self, reason: RejectReason, count: int = 1, message: str | None = None) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + count
        if message is not None and len(self.errors) < self.MAX_ERRORS:
            self.errors.append(message)

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def merge(self, other: AppendResult) -> None:
        self.accepted += other.accepted
        for r, n in other.rejected.items():
            self.rejected[r] = self.rejected.get(r, 0) + n
        self.errors.extend(other.errors[: max(0, self.MAX_ERRORS - len(self.errors))])


class StorageError(Exception):
    """Base of storage errors."""


class StorageFullError(StorageError):
    """The disk is full or the store refuses more data for now: retry later (HTTP 503)."""

    retry_after_seconds = 30


class OverloadedError(StorageError):
    """Too much in flight: retry later (HTTP 429/503, gRPC UNAVAILABLE)."""

    retry_after_seconds = 5


class QueryLimitError(StorageError):
    """A read would exceed a configured limit (samples, series); the message names it."""


@dataclass(frozen=True, slots=True)
class SeriesSet:
    """Series selected by a querier, in compressed-sparse-row layout.

    Series *i* has labels ``labels[i]`` and samples
    ``timestamps[offsets[i]:offsets[i+1]]`` / ``values[...]``, sorted by time
    with no duplicates. ``labels`` is sorted. Stale markers are included.
    """

    labels: list[Labels]
    offsets: np.ndarray  # int64, len(labels) + 1
    timestamps: np.ndarray  # int64 ms
    values: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.labels)

    def series(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.offsets[i], self.offsets[i + 1]
        return self.timestamps[a:b], self.values[a:b]

    @property
    def num_samples(self) -> int:
        return int(self.offsets[-1]) if len(self.offsets) else 0

    @classmethod
    def empty(cls) -> SeriesSet:
        return cls([], np.zeros(1, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))

    @classmethod
    def from_series(
        cls, series: Sequence[tuple[Labels, np.ndarray, np.ndarray]]
    ) -> SeriesSet:
        """Build from (labels, timestamps, values) triples; sorts by labels."""
        series = sorted(series, key=lambda s: s[0])
        lens = np.fromiter((len(s[1]) for s in series), dtype=np.int64, count=len(series))
        offsets = np.zeros(len(series) + 1, np.int64)
        np.cumsum(lens, out=offsets[1:])
        if series:
            ts = np.concatenate([np.asarray(s[1], np.int64) for s in series])
            vs = np.concatenate([np.asarray(s[2], np.float64) for s in series])
        else:
            ts, vs = np.empty(0, np.int64), np.empty(0, np.float64)
        return cls([s[0] for s in series], offsets, ts, vs)


@dataclass(frozen=True, slots=True)
class SelectHints:
    """Optional hints from the query engine; a querier may ignore them."""

    step_ms: int = 0
    range_ms: int = 0
    func: str = ""
    # Read only the label sets, no samples (``/api/v1/series``).
    series_only: bool = False
    # Stop once this many samples would be returned; the querier raises QueryLimitError.
    max_samples: int = 0


@runtime_checkable
class Querier(Protocol):
    """Reads over the time range ``[mint, maxt]`` (ms, inclusive) it was opened for."""

    def select(
        self, matchers: Sequence[Matcher], hints: SelectHints | None = None
    ) -> SeriesSet: ...

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]: ...

    def close(self) -> None: ...


@runtime_checkable
class Queryable(Protocol):
    def querier(self, mint: int, maxt: int) -> Querier: ...


@runtime_checkable
class Appendable(Protocol):
    def append(self, batch: SampleBatch) -> AppendResult:
        """Store a batch. When this returns, what it accepted survives a crash.

        Raises ``StorageFullError`` / ``OverloadedError`` (retryable) when nothing
        could be stored; per-sample problems are reported in the result instead.
        """
        ...


class CardinalityStat(NamedTuple):
    name: str
    value: int


@dataclass(slots=True)
class TSDBStatus:
    """The shape of Prometheus's ``/api/v1/status/tsdb``."""

    num_series: int = 0
    num_label_pairs: int = 0
    chunk_count: int = 0
    min_time: int = 0
    max_time: int = 0
    series_count_by_metric_name: list[CardinalityStat] = field(default_factory=list)
    label_value_count_by_label_name: list[CardinalityStat] = field(default_factory=list)
    memory_in_bytes_by_label_name: list[CardinalityStat] = field(default_factory=list)
    series_count_by_label_value_pair: list[CardinalityStat] = field(default_factory=list)


@runtime_checkable
class Storage(Appendable, Queryable, Protocol):
    """A complete metrics store."""

    def metadata(self, metric: str | None = None, limit: int = 0) -> dict[str, list[MetricMetadata]]:
        ...

    def status(self, limit: int = 10) -> TSDBStatus: ...

    def close(self) -> None: ...
