"""The synthetic workload is deterministic and has the shares it claims."""

from __future__ import annotations

import numpy as np

from storage.interface import Storage
from storage.tsdb.synth import CONST, NOISY_FLOAT, NodeLikeWorkload


def test_workload_is_deterministic_and_shaped_like_node_exporter():
    w = NodeLikeWorkload(targets=3, series_per_target=200, seed=4)
    a = list(w.scrapes(5))
    b = list(w.scrapes(3, first=2))
    assert all((x[0] == y[0]).all() and (x[1] == y[1]).all() for x, y in zip(a[2:], b))
    kinds = w.kinds()
    assert np.count_nonzero(kinds == NOISY_FLOAT) == 16  # 8 % of 200
    assert np.count_nonzero(kinds == CONST) >= 110
    ts = a[0][0]
    # all series of one target share the scrape timestamp
    assert len(set(ts[:200].tolist())) == 1 and len(set(ts.tolist())) == 3
    labels = w.series()
    assert len(set(labels)) == 600
    batches = list(w.batches(scrapes=4, samples_per_series=2, series_per_batch=250))
    assert sum(len(x) for x in batches) == 600 * 4


def test_tsdb_implements_the_storage_protocol(open_db):
    db, _ = open_db()
    assert isinstance(db, Storage)
