"""Fixtures for TSDB tests: a fresh registry and a settable clock per database."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from storage.interface import SampleBatch
from storage.labels import Labels
from storage.tsdb import TSDB, TSDBOptions

T0 = 1_700_000_000_000  # ms


class FakeClock:
    def __init__(self, ms: int = T0):
        self.ms = ms

    def __call__(self) -> float:
        return self.ms / 1000.0


def metric_value(registry: CollectorRegistry, name: str, labels: dict | None = None) -> float:
    v = registry.get_sample_value(name, labels or {})
    return 0.0 if v is None else v


def batch(*samples: tuple[str, int, float], metadata=None) -> SampleBatch:
    """batch(('up{job="a"}', t, v), ...)"""
    return SampleBatch.from_samples([(Labels.parse(s), t, v) for s, t, v in samples], metadata)


def series_batch(labels: list[Labels], ts: np.ndarray, vals: np.ndarray) -> SampleBatch:
    """One batch with len(ts) samples for each series (ts and vals: series x k)."""
    ts = np.asarray(ts, np.int64)
    k = ts.shape[1]
    idx = np.repeat(np.arange(len(labels)), k)
    return SampleBatch(labels, idx, ts.ravel().copy(), np.asarray(vals, np.float64).ravel().copy())


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def open_db(tmp_path, clock):
    """open_db(**option overrides) -> (db, registry); reopening the same path is allowed."""
    opened = []

    def _open(path=None, registry=None, **opts):
        registry = registry or CollectorRegistry()
        options = TSDBOptions(**{"wal_fsync_interval_s": 0, **opts})
        db = TSDB.open(str(path or tmp_path / "db"), options, registry=registry, clock=clock)
        opened.append(db)
        return db, registry

    yield _open
    for db in opened:
        db.close()
