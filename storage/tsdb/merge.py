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


def assemble(n_out: int, pieces: list[Piece]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge pieces into one CSR of ``n_out`` rows. A piece is (output row of
    each of its rows, their sample runs); output rows are unique within a
    piece; a row's runs within a piece come in time order and do not overlap
    (the pages of one table). Every sample is copied once, straight from the
    decoded buffers into the output, which is written front to back."""
    pieces = [(np.asarray(o, np.int64), r) for o, r in pieces if len(o) and r.counts.any()]
    if not pieces:
        return np.zeros(n_out, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    # one entry per (piece, row): where its samples are and what times they span
    outs, tstarts, vstarts, cnts, firsts, lasts, which = [], [], [], [], [], [], []
    for k, (out_idx, r) in enumerate(pieces):
        nz = r.counts > 0
        c = r.counts[nz]
        ts0 = r.ts_start[nz]
        outs.append(out_idx[nz] if r.row is None else out_idx[r.row[nz]])
        tstarts.append(ts0)
        vstarts.append(r.val_start[nz])
        cnts.append(c)
        firsts.append(r.ts_src[ts0])
        lasts.append(r.ts_src[ts0 + c - 1])
        which.append(np.full(len(c), k, np.int64))
    out = np.concatenate(outs)
    piece = np.concatenate(which)
    if len(pieces) > 1 or (len(out) > 1 and not (out[1:] > out[:-1]).all()):
        order = np.lexsort((piece, out))  # by output row, then source order (stable: then time)
    else:
        order = np.arange(len(out))
    out, piece = out[order], piece[order]
    tstart = np.concatenate(tstarts)[order]
    vstart = np.concatenate(vstarts)[order]
    cnt = np.concatenate(cnts)[order]
    first = np.concatenate(firsts)[order]
    last = np.concatenate(lasts)[order]
    totals = np.zeros(n_out, np.int64)
    np.add.at(totals, out, cnt)
    # rows whose pieces overlap in time need sorting; the rest are laid end to end
    clash = (out[1:] == out[:-1]) & (first[1:] <= last[:-1])
    bad_rows = np.unique(out[1:][clash])
    if len(pieces) == 1:
        r = pieces[0][1]
        out_ts = gather_ranges(r.ts_src, tstart, cnt)
        out_vals = gather_ranges(r.val_src, vstart, cnt)
    elif int(cnt.sum()) >= MERGE_SLICE_RUN * len(cnt):
        # long runs: copy slices, no per-sample index
        ts_list = [r.ts_src for _, r in pieces]
        vs_list = [r.val_src for _, r in pieces]
        spans = list(zip(piece.tolist(), tstart.tolist(), vstart.tolist(), cnt.tolist()))
        out_ts = np.concatenate([ts_list[k][a : a + c] for k, a, _, c in spans])
        out_vals = np.concatenate([vs_list[k][b : b + c] for k, _, b, c in spans])
    else:
        # short runs: gathered by index, source by source straight into the
        # output (a source's buffers can be much larger than what is read)
        total = int(cnt.sum())
        out_ts = np.empty(total, np.int64)
        out_vals = np.empty(total, np.float64)
        dest = offsets_from_counts(cnt)[:-1]
        for k, (_, r) in enumerate(pieces):
            e = np.flatnonzero(piece == k)
            if len(e) == 0:
                continue
            c = cnt[e]
            d = ranges_index(dest[e], c)
            t0, v0 = tstart[e], vstart[e]
            # source positions are the destinations shifted per run
            src = d + np.repeat(t0 - dest[e], c)
            out_ts[d] = r.ts_src[src]
            if not np.array_equal(t0, v0):
                src += np.repeat(v0 - t0, c)
            out_vals[d] = r.val_src[src]
    if len(bad_rows):
        return sort_dedup_rows(totals, out_ts, out_vals, bad_rows)
    return totals, out_ts, out_vals
