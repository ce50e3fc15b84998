"""The grouped chunk table: round trips, timestamp sharing, clipping, checksums."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import STALE_NAN
from storage.tsdb import codec
from storage.tsdb.chunktable import ChunkTable, ChunkTableBuilder, unique_rows
from storage.tsdb.codec import CorruptChunkError

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([STALE_NAN, float("-inf"), -0.0])
)
timestamps = st.integers(min_value=-(2**62), max_value=2**62)


def _rows(draw_rows):
    counts = np.array([len(r) for r in draw_rows], np.int64)
    ts = np.array([t for r in draw_rows for t, _ in r], np.int64)
    vs = np.array([v for r in draw_rows for _, v in r], np.float64)
    return counts, ts, vs


row = st.lists(st.tuples(timestamps, floats), min_size=1, max_size=40, unique_by=lambda x: x[0]).map(
    lambda r: sorted(r, key=lambda x: x[0])
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.lists(row, min_size=1, max_size=6), min_size=1, max_size=3),
    st.integers(1, 64),
    st.sampled_from([codec.BLOCK_CONFIG, codec.SEAL_CONFIG]),
)
def test_round_trip_over_several_adds(batches, group, config):
    b = ChunkTableBuilder(group_samples=group, config=config)
    all_rows = []
    for rows in batches:
        b.add(*_rows(rows))
        all_rows.extend(rows)
    table = b.finish()
    assert table.num_rows == len(all_rows)
    c, t, v = table.read(np.arange(table.num_rows))
    ec, et, ev = _rows(all_rows)
    assert (c == ec).all() and (t == et).all()
    assert (v.view(np.uint64) == ev.view(np.uint64)).all()
    # any subset, in any order, clipped
    sub = np.arange(table.num_rows)[::2][::-1]
    lo, hi = int(et.min()), int(et.max())
    mid = (lo + hi) // 2
    c2, t2, _ = table.read(sub, lo, mid)
    exp = [[(x, y) for x, y in all_rows[i] if lo <= x <= mid] for i in sub.tolist()]
    assert c2.tolist() == [len(e) for e in exp]
    assert t2.tolist() == [x for e in exp for x, _ in e]


def test_shared_timestamps_are_stored_once():
    ts = np.arange(0, 480 * 15_000, 15_000, dtype=np.int64)
    n = 200
    b = ChunkTableBuilder()
    b.add(np.full(n, len(ts)), np.tile(ts, n), np.random.default_rng(0).random(n * len(ts)))
    table = b.finish()
    # 2 h at 15 s: a few pages, one timestamp array each, shared by all series
    pages = len(table.page_mint)
    assert pages > 1
    assert len(table.uts_len) == pages
    for p in range(pages):
        refs = table.chunk_tsref[table.page_chunk[p] : table.page_chunk[p + 1]]
        assert len(refs) == n and (refs == refs[0]).all()


def test_key_collision_only_loses_sharing():
    # rows 0 and 1 share length, first, last and sum but differ: never merged
    counts = np.array([4, 4, 4])
    ts = np.array([0, 1, 9, 10, 0, 2, 8, 10, 0, 1, 9, 10], np.int64)
    reps, ref = unique_rows(counts, ts)
    assert reps.tolist() == [0, 1]
    assert ref.tolist() == [0, 1, 0]


def test_checksum_mismatch_is_detected():
    b = ChunkTableBuilder()
    b.add(np.array([100]), np.arange(100, dtype=np.int64), np.arange(100, dtype=np.float64))
    t = b.finish()
    buf = bytearray(t.buf)
    buf[int(t.vgroups.off[0]) + 3] ^= 0x40
    broken = ChunkTable.from_arrays(t.arrays(), bytes(buf))
    with pytest.raises(CorruptChunkError):
        broken.read(np.array([0]))


def test_rows_need_samples():
    with pytest.raises(ValueError):
        ChunkTableBuilder().add(np.array([0]), np.empty(0, np.int64), np.empty(0))


def test_compresses_node_like_data_below_one_byte_per_sample():
    from storage.tsdb.synth import NodeLikeWorkload

    w = NodeLikeWorkload(targets=4, series_per_target=250, seed=2)
    rounds = list(w.scrapes(240))
    ts = np.stack([r[0] for r in rounds], 1)
    vs = np.stack([r[1] for r in rounds], 1)
    b = ChunkTableBuilder()
    b.add(np.full(ts.shape[0], ts.shape[1]), ts.ravel(), vs.ravel())
    t = b.finish()
    assert t.compressed_bytes / ts.size < 1.0
