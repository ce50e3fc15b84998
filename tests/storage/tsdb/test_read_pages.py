"""Time pages in the chunk table: how pages are chosen, that a read decodes
only the pages it overlaps, and that paged reads of any rows over any window
return exactly the stored samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.interface import STALE_NAN
from storage.tsdb import codec
from storage.tsdb.chunktable import MAX_PAGES, ChunkTableBuilder, choose_page_ms
from storage.tsdb.codec import CorruptChunkError, search_segments
from storage.tsdb.merge import assemble

MIN = 60_000
HOUR = 60 * MIN


def regular(n_series: int, interval: int, span: int, t0: int = 1_700_000_000_000 - 1_700_000_000_000 % (2 * HOUR)):
    """CSR rows: every series scraped every ``interval`` ms over ``span`` ms, own phase."""
    rng = np.random.default_rng(n_series + interval)
    rows = []
    for i in range(n_series):
        ts = t0 + (i * 997) % interval + np.arange(0, span - interval, interval, dtype=np.int64)
        vals = np.round(np.cumsum(rng.random(len(ts))), 2) if i % 3 else rng.random(len(ts))
        rows.append((ts, vals))
    counts = np.array([len(t) for t, _ in rows])
    return counts, np.concatenate([t for t, _ in rows]), np.concatenate([v for _, v in rows])


def build(counts, ts, vals, **kw):
    b = ChunkTableBuilder(**kw)
    b.add(counts, ts, vals)
    return b.finish()


def expected(counts, ts, vals, rows, lo, hi):
    offs = np.concatenate([[0], np.cumsum(counts)])
    out = []
    for r in rows:
        t, v = ts[offs[r] : offs[r + 1]], vals[offs[r] : offs[r + 1]]
        keep = (t >= lo) & (t <= hi)
        out.append((t[keep], v[keep]))
    return out


def assert_read(table, counts, ts, vals, rows, lo, hi):
    c, t, v = table.read(np.asarray(rows, np.int64), lo, hi)
    exp = expected(counts, ts, vals, rows, lo, hi)
    assert c.tolist() == [len(e[0]) for e in exp]
    assert t.tolist() == [x for e in exp for x in e[0].tolist()]
    assert (v.view(np.uint64) == np.concatenate([e[1] for e in exp] + [np.empty(0)]).view(np.uint64)).all()


def test_page_duration_follows_the_scrape_interval():
    # 15 s scrapes: pages of 1 h, so a 2 h block has two
    assert choose_page_ms(*regular(20, 15_000, 2 * HOUR)[:2]) == HOUR
    # 1 s scrapes over 10 minutes: 5-minute pages
    assert choose_page_ms(*regular(5, 1_000, 10 * MIN)[:2]) == 5 * MIN
    # 60 s scrapes: a page would be longer than the 2 h block, so none
    assert choose_page_ms(*regular(20, 60_000, 2 * HOUR)[:2]) == 0
    # a long (compacted) span is cut into at most MAX_PAGES pages
    page = choose_page_ms(*regular(4, 15_000, 54 * HOUR)[:2])
    assert 54 * HOUR / page <= MAX_PAGES
    # single samples tell no interval
    assert choose_page_ms(np.array([1, 1]), np.array([0, 10 * HOUR])) == 0


def test_chunks_are_cut_at_page_boundaries():
    counts, ts, vals = regular(30, 15_000, 2 * HOUR)
    t = build(counts, ts, vals)
    assert len(t.page_mint) == 2 and t.num_chunks == 2 * 30
    assert (t.page_maxt[0] < t.page_mint[1]) and (t.page_mint // HOUR).tolist() == (t.page_maxt // HOUR).tolist()
    # every series has a chunk in each page, in row order
    for p in range(2):
        assert t.chunk_row[t.page_chunk[p] : t.page_chunk[p + 1]].tolist() == list(range(30))
    assert_read(t, counts, ts, vals, range(30), int(ts.min()), int(ts.max()))


def _corrupt_page(table, page: int) -> bytes:
    """The table's buffer with every group holding chunks of ``page`` damaged."""
    buf = bytearray(table.buf)
    c0, c1 = int(table.page_chunk[page]), int(table.page_chunk[page + 1])
    vg = np.unique(np.searchsorted(table.vg_chunk, np.arange(c0, c1), "right") - 1)
    tg = np.unique(table.uts_group[table.chunk_tsref[c0:c1]])
    for groups, ids in ((table.vgroups, vg), (table.tgroups, tg)):
        for g in ids.tolist():
            buf[int(groups.off[g]) + int(groups.size[g]) // 2] ^= 0xFF
    return bytes(buf)


def test_a_narrow_read_decodes_only_the_pages_it_overlaps():
    counts, ts, vals = regular(40, 15_000, 2 * HOUR)
    t = build(counts, ts, vals, group_samples=1000)
    assert len(t.page_mint) == 2
    from storage.tsdb.chunktable import ChunkTable

    broken = ChunkTable.from_arrays(t.arrays(), _corrupt_page(t, 0))
    end = int(ts.max())
    # the last five minutes live in page 1 only: page 0 is never decoded
    assert_read(broken, counts, ts, vals, range(40), end - 5 * MIN, end)
    with pytest.raises(CorruptChunkError):
        broken.read(np.arange(40), end - 70 * MIN, end)


def test_reading_few_rows_and_many_rows_agree():
    counts, ts, vals = regular(300, 15_000, 3 * HOUR)
    t = build(counts, ts, vals, group_samples=2000)
    lo, hi = int(ts.min()) + 50 * MIN, int(ts.min()) + 130 * MIN
    assert_read(t, counts, ts, vals, [7, 250, 3], lo, hi)  # binary search per page
    assert_read(t, counts, ts, vals, list(range(299, -1, -2)), lo, hi)  # one lookup table


def test_runs_of_several_pages_merge_with_other_sources():
    counts, ts, vals = regular(10, 15_000, 2 * HOUR)
    t = build(counts, ts, vals)
    later = ts.max() + 15_000 + np.arange(3) * 15_000
    head_counts = np.array([3])
    from storage.tsdb.chunktable import Runs

    out_counts, out_ts, out_vals = assemble(
        10,
        [
            (np.arange(10), t.read_runs(np.arange(10))),
            (np.array([4]), Runs.from_csr(head_counts, later, np.array([1.0, 2.0, STALE_NAN]))),
        ],
    )
    assert out_counts.tolist() == (counts + (np.arange(10) == 4) * 3).tolist()
    offs = np.concatenate([[0], np.cumsum(out_counts)])
    row4 = out_ts[offs[4] : offs[5]]
    assert (np.diff(row4) > 0).all() and row4[-3:].tolist() == later.tolist()
    assert out_vals[offs[5] - 1 : offs[5]].view(np.uint64)[0] == np.array([STALE_NAN]).view(np.uint64)[0]


row = st.lists(
    st.tuples(st.integers(0, 6 * HOUR), st.one_of(st.floats(allow_nan=False), st.integers(-1000, 1000).map(float))),
    min_size=1,
    max_size=60,
    unique_by=lambda x: x[0],
).map(lambda r: sorted(r))


@settings(max_examples=120, deadline=None)
@given(
    st.lists(st.lists(row, min_size=1, max_size=8), min_size=1, max_size=3),
    st.sampled_from([0, MIN, 5 * MIN, 15 * MIN, HOUR]),
    st.integers(1, 200),
    st.data(),
)
def test_paged_reads_match_the_stored_samples(batches, page_ms, group, data):
    b = ChunkTableBuilder(group_samples=group, page_ms=page_ms)
    all_rows = []
    for rows in batches:
        b.add(
            np.array([len(r) for r in rows]),
            np.array([t for r in rows for t, _ in r], np.int64),
            np.array([v for r in rows for _, v in r], np.float64),
        )
        all_rows.extend(rows)
    t = b.finish()
    counts = np.array([len(r) for r in all_rows])
    ts = np.array([x for r in all_rows for x, _ in r], np.int64)
    vals = np.array([v for r in all_rows for _, v in r], np.float64)
    assert t.num_rows == len(all_rows) and t.num_samples == len(ts)
    if page_ms:
        assert ((t.page_mint // page_ms) == (t.page_maxt // page_ms)).all()
    subset = data.draw(st.lists(st.integers(0, len(all_rows) - 1), unique=True, min_size=1))
    lo = data.draw(st.integers(-MIN, 6 * HOUR + MIN))
    hi = data.draw(st.integers(lo - MIN, 6 * HOUR + MIN))
    assert_read(t, counts, ts, vals, subset, lo, hi)
    assert_read(t, counts, ts, vals, range(len(all_rows)), -(2**63), 2**63 - 1)


@settings(max_examples=300, deadline=None)
@given(
    # up to FEW_SEGMENTS segments are searched one by one, more by bisecting them together
    st.lists(st.lists(st.integers(-50, 50), min_size=1, max_size=30).map(sorted), min_size=1, max_size=40),
    st.integers(-60, 60),
    st.sampled_from(["left", "right"]),
    st.booleans(),
    st.data(),
)
def test_search_segments_is_searchsorted_per_segment(segments, x, side, one_x_each, data):
    src = np.array([v for s in segments for v in s], np.int64)
    lens = np.array([len(s) for s in segments])
    starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
    xs = [x] * len(segments)
    if one_x_each:
        xs = data.draw(st.lists(st.integers(-60, 60), min_size=len(segments), max_size=len(segments)))
        x = np.array(xs, np.int64)
    got = search_segments(src, starts, lens, x, side)
    assert got.tolist() == [int(np.searchsorted(np.array(s), v, side)) for s, v in zip(segments, xs)]


def test_value_groups_store_decimal_integers_and_still_read_delta_streams():
    counts = np.array([4, 3])
    vals = np.array([1.5, 2.5, 2.75, 3.0, 10.0, 11.0, 13.0])
    data, pos = codec.encode_values(counts, vals)
    assert data[0] == 3
    out = np.empty(len(vals))
    codec.decode_values(data, counts, out)
    got = np.concatenate([out[p : p + c] for p, c in zip(pos.tolist(), counts.tolist())])
    assert got.tolist() == vals.tolist()
    # encoding 2 (blocks written before version 2): each class is a delta stream
    cls = codec.value_classes(counts, vals)
    assert cls.tolist() == [2, 0]
    parts = [bytes((2,)), np.uint32(2).tobytes(), cls.tobytes()]
    for k, seg in ((0, [10.0, 11.0, 13.0]), (2, [1.5, 2.5, 2.75, 3.0])):
        blob = codec.encode(np.diff(np.round(np.array(seg) * 10**k).astype(np.int64), prepend=np.int64(0)))
        parts += [np.uint32(len(blob)).tobytes(), blob]
    legacy = np.empty(len(vals))
    codec.decode_values(b"".join(parts), counts, legacy)
    assert legacy.tolist() == [10.0, 11.0, 13.0, 1.5, 2.5, 2.75, 3.0]
    bad = bytearray(data)
    bad[5] = 9  # class 9 does not exist
    with pytest.raises(CorruptChunkError, match="class"):
        codec.decode_values(bytes(bad), counts, out)
