"""An in-memory ``Storage``: for tests, ``spyglass rules test`` and small tools.

It keeps every sample in memory with no persistence and no limits, like
Prometheus's ``teststorage``. The embedded TSDB is what servers use::

    store = MemoryStorage()
    store.append(SampleBatch.from_samples([(Labels.parse('up{job="a"}'), 0, 1.0)]))
    store.querier(0, 1000).select([Matcher("=", "job", "a")])
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from storage.interface import (
    AppendResult,
    CardinalityStat,
    MetricMetadata,
    RejectReason,
    SampleBatch,
    SelectHints,
    SeriesSet,
    TSDBStatus,
)
from storage.labels import Labels, Matcher, matches_all


class _Series:
    __slots__ = ("sorted", "ts", "vs")

    def __init__(self):
        self.ts: list[int] = []
        self.vs: list[float] = []
        self.sorted = True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        ts = np.asarray(self.ts, dtype=np.int64)
        vs = np.asarray(self.vs, dtype=np.float64)
        if not self.sorted:
            # keep the last write for a duplicate timestamp
            order = np.argsort(ts, kind="stable")
            ts, vs = ts[order], vs[order]
            keep = np.ones(len(ts), bool)
            keep[:-1] = ts[1:] != ts[:-1]
            ts, vs = ts[keep], vs[keep]
            self.ts, self.vs, self.sorted = ts.tolist(), vs.tolist(), True
        return ts, vs


class MemoryStorage:
    """Keeps all samples in memory; accepts samples in any order."""

    def __init__(self):
        self._series: dict[Labels, _Series] = {}
        self._metadata: dict[str, MetricMetadata] = {}
        self._lock = threading.Lock()

    # --- Appendable ---------------------------------------------------------
    def append(self, batch: SampleBatch) -> AppendResult:
        result = AppendResult()
        with self._lock:
            valid = []
            for labels in batch.series:
                try:
                    labels.validate()
                    valid.append(self._series.setdefault(labels, _Series()))
                except ValueError as e:
                    valid.append(None)
                    result.reject(RejectReason.INVALID_LABELS, 0, str(e))
            for i, t, v in zip(
                batch.series_index.tolist(), batch.timestamps.tolist(), batch.values.tolist()
            ):
                s = valid[i]
                if s is None:
                    result.reject(RejectReason.INVALID_LABELS)
                    continue
                if s.ts and t <= s.ts[-1]:
                    s.sorted = False
                s.ts.append(t)
                s.vs.append(v)
                result.accepted += 1
            self._metadata.update(batch.metadata)
        return result

    def add(self, labels: Labels, t: int, v: float) -> None:
        self.append(SampleBatch.from_samples([(labels, t, v)]))

    def clear(self) -> None:
        with self._lock:
            self._series.clear()
            self._metadata.clear()

    # --- Queryable ----------------------------------------------------------
    def querier(self, mint: int, maxt: int) -> _MemoryQuerier:
        return _MemoryQuerier(self, mint, maxt)

    def metadata(self, metric: str | None = None, limit: int = 0) -> dict[str, list[MetricMetadata]]:
        out = {
            name: [meta]
            for name, meta in sorted(self._metadata.items())
            if metric is None or name == metric
        }
        if limit > 0:
            out = dict(list(out.items())[:limit])
        return out

    def status(self, limit: int = 10) -> TSDBStatus:
        by_name: dict[str, int] = {}
        values_by_label: dict[str, set[str]] = {}
        pairs: dict[tuple[str, str], int] = {}
        mint, maxt, n_samples = None, None, 0
        for labels, s in self._series.items():
            by_name[labels.name] = by_name.get(labels.name, 0) + 1
            for n, v in labels.items():
                values_by_label.setdefault(n, set()).add(v)
                pairs[(n, v)] = pairs.get((n, v), 0) + 1
            if s.ts:
                ts, _ = s.arrays()
                mint = ts[0] if mint is None else min(mint, ts[0])
                maxt = ts[-1] if maxt is None else max(maxt, ts[-1])
                n_samples += len(ts)

        def top(d):
            return [CardinalityStat(k, v) for k, v in sorted(d.items(), key=lambda kv: -kv[1])[:limit]]

        return TSDBStatus(
            num_series=len(self._series),
            num_label_pairs=len(pairs),
            min_time=int(mint or 0),
            max_time=int(maxt or 0),
            series_count_by_metric_name=top(by_name),
            label_value_count_by_label_name=top({k: len(v) for k, v in values_by_label.items()}),
            series_count_by_label_value_pair=top({f"{n}={v}": c for (n, v), c in pairs.items()}),
        )

    def close(self) -> None:
        pass


class _MemoryQuerier:
    def __init__(self, store: MemoryStorage, mint: int, maxt: int):
        self.store, self.mint, self.maxt = store, mint, maxt

    def _matching(self, matchers: Sequence[Matcher]):
        with self.store._lock:
            items = list(self.store._series.items())
        for labels, s in items:
            if not matches_all(matchers, labels):
                continue
            ts, vs = s.arrays()
            a = int(np.searchsorted(ts, self.mint, "left"))
            b = int(np.searchsorted(ts, self.maxt, "right"))
            if a < b:
                yield labels, ts[a:b], vs[a:b]

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> SeriesSet:
        return SeriesSet.from_series(list(self._matching(matchers)))

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        names = set()
        for labels, _, _ in self._matching(matchers):
            names.update(labels.names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        values = {labels.get(name) for labels, _, _ in self._matching(matchers)}
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        pass

