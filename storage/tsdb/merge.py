"""Merging samples of the same series from several sources (blocks, head
parts, the head's open buffer) into one time-ordered CSR.

Sources are listed oldest first. Usually they do not overlap in time, so each
series' runs are simply laid end to end, copied once from the decoded buffers
(whether two runs overlap is decided from their first and last timestamps,
not sample by sample); only series whose runs overlap (out-of-order samples,
overlapping blocks) are sorted, and for a timestamp present twice the older
source's sample wins::

    counts, ts, vs = assemble(n_series, [(rows_a, runs_a), (rows_b, runs_b)])
"""

from __future__ import annotations

import numpy as np

from storage.tsdb.chunktable import Runs
from storage.tsdb.codec import gather_ranges, offsets_from_counts, ranges_index, sort_dedup_rows

Piece = tuple[np.ndarray, Runs]  # (output row of each row of the runs, runs)

# Mean run length from which several sources are merged by copying slices
# rather than by index. Indexing here also scatters each source into place,
# so it pays off only for shorter runs than a plain gather's
# ``codec.SLICE_RUN`` (measured on 3 sources, 3 M samples: equal at 64,
# slices 2x faster at 256, index 2.6x faster at 16).
MERGE_SLICE_RUN = 64


def assemble(n_out: int, pieces: list[Piece], consume: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge pieces into one CSR of ``n_out`` rows. A piece is (output row of
    each of its rows, their sample runs); output rows are unique within a
    piece; a row's runs within a piece come in time order and do not overlap
    (the pages of one table). Every sample is copied once, straight from the
    decoded buffers into the output. Where the timestamps alone fix every
    run's place in the output, the values are copied source by source, each
    source's values decoded just before (``Runs.values()``) and dropped just
    after: a wide read over several blocks holds one block's decoded values
    at a time. With ``consume`` the caller hands the pieces over: the list
    is emptied, and each source's buffers are let go once copied
    (``bench_promql``'s query process, whose peak is a 6 h read of 2,800
    series over three blocks: peak resident memory 255 -> 216 MiB; the
    price, copying values run by run rather than in one concatenation, is
    ≈ 4 ms of a 50 ms read of 2,000 series x 6 h)."""
    given = pieces
    pieces = [(np.asarray(o, np.int64), r) for o, r in pieces if len(o) and r.counts.any()]
    if consume:
        given.clear()
    if not pieces:
        return np.zeros(n_out, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    if len(pieces) == 1:
        done = _assemble_one(n_out, *pieces[0])
        if done is not None:
            return done
    # one entry per (piece, run): where its samples are and what times they span
    outs, tstarts, cnts, firsts, lasts, which, runs_of = [], [], [], [], [], [], []
    for k, (out_idx, r) in enumerate(pieces):
        nz = np.flatnonzero(r.counts > 0)
        c = r.counts[nz]
        ts0 = r.ts_start[nz]
        outs.append(out_idx[nz] if r.row is None else out_idx[r.row[nz]])
        tstarts.append(ts0)
        cnts.append(c)
        firsts.append(r.ts_src[ts0])
        lasts.append(r.ts_src[ts0 + c - 1])
        which.append(np.full(len(c), k, np.int64))
        runs_of.append(nz)
    out = np.concatenate(outs)
    piece = np.concatenate(which)
    run = np.concatenate(runs_of)  # the entry's run number in its piece
    if len(pieces) > 1 or (len(out) > 1 and not (out[1:] > out[:-1]).all()):
        order = np.lexsort((piece, out))  # by output row, then source order (stable: then time)
        out, piece, run = out[order], piece[order], run[order]
        tstart = np.concatenate(tstarts)[order]
        cnt = np.concatenate(cnts)[order]
        first = np.concatenate(firsts)[order]
        last = np.concatenate(lasts)[order]
    else:
        tstart, cnt = np.concatenate(tstarts), np.concatenate(cnts)
        first, last = np.concatenate(firsts), np.concatenate(lasts)
    totals = np.zeros(n_out, np.int64)
    np.add.at(totals, out, cnt)
    # rows whose pieces overlap in time need sorting; the rest are laid end to end
    clash = (out[1:] == out[:-1]) & (first[1:] <= last[:-1])
    bad_rows = np.unique(out[1:][clash])
    if len(pieces) == 1:
        r = pieces[0][1]
        val_src, val_start = r.values()
        out_ts = gather_ranges(r.ts_src, tstart, cnt)
        out_vals = gather_ranges(val_src, val_start[run], cnt)
    else:
        dest = offsets_from_counts(cnt)
        out_vals = np.empty(int(dest[-1]), np.float64)
        dest = dest[:-1]
        # long runs: copied slice by slice, no per-sample index
        slices = int(cnt.sum()) >= MERGE_SLICE_RUN * len(cnt)
        if slices:  # all timestamps at once: one concatenation, in output order
            ts_of = [r.ts_src for _, r in pieces]
            out_ts = np.concatenate(
                [ts_of[k][a : a + c] for k, a, c in zip(piece.tolist(), tstart.tolist(), cnt.tolist())]
            )
            del ts_of
        else:
            out_ts = np.empty(len(out_vals), np.int64)
        for k in range(len(pieces)):
            r = pieces[k][1]
            e = np.flatnonzero(piece == k)
            if len(e) == 0:
                continue
            d, c = dest[e], cnt[e]
            if not slices:
                _copy_runs(out_ts, d, r.ts_src, tstart[e], c, slices)
            val_src, val_start = r.values()
            _copy_runs(out_vals, d, val_src, val_start[run[e]], c, slices)
            del val_src, val_start, r  # this source's decoded values go now
            if consume:
                pieces[k] = None  # and its timestamps
    if len(bad_rows):
        return sort_dedup_rows(totals, out_ts, out_vals, bad_rows)
    return totals, out_ts, out_vals


def _assemble_one(n_out: int, out_idx: np.ndarray, r: Runs):
    """``assemble`` of one piece, the usual small query (one block): a row's
    runs come in time order, so unless two of them overlap (then None: the
    general path sorts them) they are laid end to end in output-row order,
    with about half the numpy calls (each ≈ 1 µs of a small query's fixed
    cost) of the general path."""
    nz = r.counts.nonzero()[0]
    cnt = r.counts[nz]
    out = out_idx[nz] if r.row is None else out_idx[r.row[nz]]
    tstart = r.ts_start[nz]
    if len(out) > 1 and not (out[1:] > out[:-1]).all():
        order = np.argsort(out, kind="stable")  # stable: a row's runs stay in time order
        out, nz, cnt, tstart = out[order], nz[order], cnt[order], tstart[order]
        same = out[1:] == out[:-1]
        ts = r.ts_src
        if (same & (ts[tstart[1:]] <= ts[tstart[:-1] + cnt[:-1] - 1])).any():
            return None
    totals = np.bincount(out, weights=cnt, minlength=n_out).astype(np.int64)
    val_src, val_start = r.values()
    return totals, gather_ranges(r.ts_src, tstart, cnt), gather_ranges(val_src, val_start[nz], cnt)


def _copy_runs(
    dst: np.ndarray, dst_start: np.ndarray, src: np.ndarray, src_start: np.ndarray, counts: np.ndarray, slices: bool
) -> None:
    """``dst[d:d+c] = src[s:s+c]`` for every run: by slices, or (short runs)
    through one index, shifting each destination to its source position
    (a source's buffers can be much larger than what is read)."""
    if slices:
        for d, a, c in zip(dst_start.tolist(), src_start.tolist(), counts.tolist()):
            dst[d : d + c] = src[a : a + c]
        return
    idx = ranges_index(dst_start, counts)
    dst[idx] = src[idx + np.repeat(src_start - dst_start, counts)]
