"""WAL replay at open: sealing is left to the background sealer unless too much
waits unsealed, and everything replayed is readable as soon as ``open`` returns."""

from __future__ import annotations

import numpy as np

from storage.labels import Labels, Matcher, MatchOp
from storage.tsdb import TSDB
from storage.tsdb.head import Head
from tests.storage.tsdb.conftest import T0, series_batch

SERIES = 200


def _fill(db: TSDB, rounds: int, per_round: int = 10) -> int:
    labels = [Labels.from_pairs([("__name__", "replay_metric"), ("i", str(i))]) for i in range(SERIES)]
    for r in range(rounds):
        ts = T0 + (r * per_round + np.arange(per_round))[None, :].repeat(SERIES, 0) * 1000
        db.append(series_batch(labels, ts, np.full(ts.shape, float(r))))
    return SERIES * rounds * per_round


def _count(db: TSDB) -> int:
    q = db.querier(T0 - 1, T0 + 10**9)
    try:
        ss = q.select([Matcher(MatchOp.EQUAL, "__name__", "replay_metric")])
        return len(ss.timestamps)
    finally:
        q.close()


def _seal_calls(monkeypatch) -> list[tuple[bool, int]]:
    """(replaying, frozen samples) at every Head.seal call."""
    calls: list[tuple[bool, int]] = []
    seal = Head.seal

    def recording(self, force=False):
        calls.append((self.replaying, self.frozen_samples))
        return seal(self, force)

    monkeypatch.setattr(Head, "seal", recording)
    return calls


def test_replay_leaves_sealing_to_the_background(open_db, tmp_path, monkeypatch):
    path = tmp_path / "db"
    db, _ = open_db(path, head_seal_samples=256)
    written = _fill(db, 40)
    db.close()
    calls = _seal_calls(monkeypatch)
    db2, _ = open_db(path, head_seal_samples=256)
    assert not [c for c in calls if c[0]], "replay sealed inline under the bound"
    assert _count(db2) == written  # readable at once, sealed or not


def test_replay_seals_inline_above_the_unsealed_bound(open_db, tmp_path, monkeypatch):
    path = tmp_path / "db"
    db, _ = open_db(path, head_seal_samples=256)
    written = _fill(db, 40)
    db.close()
    bound = 3_000
    monkeypatch.setattr(TSDB, "REPLAY_UNSEALED_SAMPLES", bound)
    calls = _seal_calls(monkeypatch)
    db2, _ = open_db(path, head_seal_samples=256)
    inline = [frozen for replaying, frozen in calls if replaying]
    assert inline and all(f > bound for f in inline)
    assert db2.head.frozen_samples <= bound + written // 2
    assert _count(db2) == written
