"""Merging samples of the same series from several sources (blocks, head
parts, the head's open buffer) into one time-ordered CSR.

Sources are listed oldest first. Usually they do not overlap in time, so each
series' pieces are simply laid end to end with one scatter per source; only
series that come out unordered (out-of-order samples, overlapping blocks) are
sorted, and for a timestamp present twice the older source's sample wins::

    counts, ts, vs = assemble(n_series, [(rows_a, counts_a, ts_a, vs_a), ...])
"""

from __future__ import annotations

import numpy as np

from storage.tsdb.codec import offsets_from_counts, ranges_index, sort_dedup_rows

Piece = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def assemble(n_out: int, pieces: list[Piece]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pieces`` are (output row of each piece row, counts, timestamps, values);
    output rows are unique within one piece."""
    pieces = [p for p in pieces if len(p[0]) and len(p[2])]
    if not pieces:
        return np.zeros(n_out, np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    if len(pieces) == 1:
        out_idx, counts, ts, vals = pieces[0]
        totals = np.zeros(n_out, np.int64)
        totals[out_idx] = counts
        if len(out_idx) < 2 or bool((np.diff(out_idx) > 0).all()):
            return sort_dedup_rows(totals, ts, vals)
    totals = np.zeros(n_out, np.int64)
    for out_idx, counts, _, _ in pieces:
        totals[out_idx] += counts
    fill = offsets_from_counts(totals)[:-1].copy()
    total = int(totals.sum())
    out_ts = np.empty(total, np.int64)
    out_vals = np.empty(total, np.float64)
    for out_idx, counts, ts, vals in pieces:
        dst = ranges_index(fill[out_idx], counts)
        out_ts[dst] = ts
        out_vals[dst] = vals
        fill[out_idx] += counts
    return sort_dedup_rows(totals, out_ts, out_vals)
