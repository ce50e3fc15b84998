"""The rules that decide, sample by sample, whether an append stores it.

Prometheus's rules, applied to a whole batch at once: samples of each series
are taken in arrival order and compared with the newest sample before them
(stored or earlier in the batch). Newer: stored. Same time and the same value
bit for bit (NaNs included): accepted without storing — a sender's retry.
Same time, another value: ``duplicate_sample_for_timestamp``. Older: rejected
as ``out_of_order``, or, with an out-of-order window, stored when not
``too_old`` and not clashing with a stored sample. Samples older than the
head accepts are ``out_of_bounds``; those beyond the clock's skew
``too_far_in_future``. Series whose samples come in order — nearly all — are
judged in numpy; only the others are walked one sample at a time::

    code = classify(sid, ts, vals, now_ms=..., opts=..., head_maxt=..., ...)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from storage.interface import RejectReason
from storage.labels import LabelLimits, Labels
from storage.tsdb.codec import offsets_from_counts
from storage.tsdb.options import TSDBOptions

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)

# existing(sids, labels, mint, maxt) -> (counts, timestamps, values) CSR
Existing = Callable[[np.ndarray, list[Labels], int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]

# Codes: store in order, store out of order, accept without storing (the
# same sample is stored already); the _CHECK_* codes are intermediate.
INORDER, OOO, IDEMPOTENT = 0, 1, 2
_CHECK, _CHECK_INORDER, _CHECK_EQUAL = 3, 4, 5
REJECT = {
    10: RejectReason.INVALID_LABELS,
    11: RejectReason.TOO_FAR_IN_FUTURE,
    12: RejectReason.OUT_OF_BOUNDS,
    13: RejectReason.TOO_OLD,
    14: RejectReason.OUT_OF_ORDER,
    15: RejectReason.DUPLICATE,
}
R_SERIES, _R_FUTURE, _R_OOB, _R_TOO_OLD, _R_OOO, _R_DUP = 10, 11, 12, 13, 14, 15
REJECT_TEXT = {
    _R_FUTURE: "too far in the future",
    _R_OOB: "out of bounds (older than the head accepts)",
    _R_TOO_OLD: "too old (beyond the out-of-order window)",
    _R_OOO: "out of order",
    _R_DUP: "duplicate sample for timestamp with a different value",
}


def labels_trusted(checked: LabelLimits | None, limits: LabelLimits) -> bool:
    """Whether label sets a producer validated against ``checked`` (and interned)
    need no second check against ``limits``: every limit of ``checked`` is at
    least as strict (0 is unlimited) and legacy names are required if ``limits`` does."""
    if checked is None:
        return False
    if limits.utf8_names is False and checked.utf8_names is not False:
        return False
    for mine, theirs in (
        (checked.max_labels, limits.max_labels),
        (checked.max_name_length, limits.max_name_length),
        (checked.max_value_length, limits.max_value_length),
    ):
        if theirs and not (0 < mine <= theirs):
            return False
    return True


def classify(
    sid: np.ndarray,
    ts: np.ndarray,
    vals: np.ndarray,
    *,
    now_ms: int,
    opts: TSDBOptions,
    head_maxt: int,
    min_valid_time: int,
    last_ts: np.ndarray,
    last_bits: np.ndarray,
    existing: Existing | None,
    label_of: Callable[[int], Labels],
    grouped: bool = False,
) -> np.ndarray:
    """A code per sample: INORDER / OOO (store), IDEMPOTENT (accept, already
    stored) or a rejection code (see REJECT). ``sid`` is -1 for samples of
    rejected series; ``last_ts``/``last_bits`` hold each series' newest stored
    sample; ``existing(sids, labels, mint, maxt)`` returns stored samples for
    the duplicate checks. ``grouped``: each series' samples are adjacent in
    the batch already (as receivers build batches), so no sort is needed."""
    n = len(ts)
    code = np.zeros(n, np.int8)
    code[sid < 0] = R_SERIES
    if opts.max_future_skew_ms:
        horizon = min(INT64_MAX, now_ms + opts.max_future_skew_ms)
        code[(ts > horizon) & (code == 0)] = _R_FUTURE
    window = opts.out_of_order_window_ms
    min_valid = min_valid_time
    if head_maxt != INT64_MIN:
        min_valid = max(min_valid, head_maxt - opts.block_duration_ms // 2)
    ooo_floor = max(INT64_MIN, head_maxt - window) if head_maxt != INT64_MIN else INT64_MIN
    if min_valid != INT64_MIN:
        oob = (ts < min_valid) & (code == 0)
        if window == 0:
            code[oob] = _R_OOB
        else:
            code[oob & (ts < ooo_floor)] = _R_TOO_OLD
    cand = np.flatnonzero(code == 0)
    if len(cand) == 0:
        return code
    bits = vals.view(np.uint64)
    if grouped:
        pos = cand
    else:
        pos = cand[np.argsort(sid[cand], kind="stable")]
    # pos: positions in the batch, grouped by series, arrival order kept
    s_sid, s_ts, s_bits = sid[pos], ts[pos], bits[pos]
    first = np.ones(len(pos), bool)
    first[1:] = s_sid[1:] != s_sid[:-1]
    prev = np.empty(len(pos), np.int64)
    prev_bits = np.empty(len(pos), np.uint64)
    inbatch = np.zeros(len(pos), bool)
    inbatch_bits = np.zeros(len(pos), np.uint64)
    # Fast path: a series whose samples in this batch increase and start
    # at or after its newest stored sample compares each sample with the
    # one before it. Other series are walked sample by sample.
    prev[1:] = s_ts[:-1]
    prev_bits[1:] = s_bits[:-1]
    prev[first] = last_ts[s_sid[first]]
    prev_bits[first] = last_bits[s_sid[first]]
    group = np.cumsum(first) - 1
    irregular = np.zeros(int(group[-1]) + 1, bool)
    irregular[group[1:][(s_ts[1:] <= s_ts[:-1]) & ~first[1:]]] = True
    irregular[group[first][s_ts[first] < prev[first]]] = True
    if irregular.any():
        starts = np.flatnonzero(first).tolist() + [len(pos)]
        ts_l, bits_l, sid_l = s_ts.tolist(), s_bits.tolist(), s_sid.tolist()
        for g in np.flatnonzero(irregular).tolist():
            a, b = starts[g], starts[g + 1]
            cur = int(last_ts[sid_l[a]])
            cur_bits = int(last_bits[sid_l[a]])
            seen: dict[int, int] = {}
            for i in range(a, b):
                t = ts_l[i]
                prev[i] = cur
                prev_bits[i] = cur_bits
                if t < cur and t in seen:
                    inbatch[i] = True
                    inbatch_bits[i] = seen[t]
                if t > cur:
                    cur, cur_bits = t, bits_l[i]
                seen.setdefault(t, bits_l[i])
    s_code = np.zeros(len(pos), np.int8)
    eq = s_ts == prev
    s_code[eq] = np.where(s_bits[eq] == prev_bits[eq], IDEMPOTENT, _R_DUP)
    lt = s_ts < prev
    if lt.any():
        if window == 0:
            s_code[lt] = _R_OOO
        else:
            too_old = lt & (s_ts < ooo_floor)
            s_code[too_old] = _R_TOO_OLD
            s_code[lt & ~too_old] = _CHECK
    if window and min_valid != INT64_MIN:
        # at or after its series' newest sample in the head, but where
        # blocks already are (a series that moved to blocks and came
        # back): the blocks may hold a sample at that time
        below = s_ts < min_valid
        s_code[(s_ts > prev) & below] = _CHECK_INORDER
        s_code[eq & below] = _CHECK_EQUAL
    if ((s_code == _CHECK) | (s_code == _CHECK_INORDER) | (s_code == _CHECK_EQUAL)).any():
        _check_stored(s_code, s_sid, s_ts, s_bits, prev_bits, inbatch, inbatch_bits, existing, label_of)
    code[pos] = s_code
    return code


def _check_stored(s_code, s_sid, s_ts, s_bits, prev_bits, inbatch, inbatch_bits, existing, label_of) -> None:
    """Samples that may meet a stored one at the same time: a sample
    already stored there (in the TSDB, else earlier in this batch) makes
    them idempotent (same value) or duplicates (different value);
    otherwise they are stored."""
    chk_eq = np.flatnonzero(s_code == _CHECK_EQUAL)
    s_code[chk_eq] = np.where(s_bits[chk_eq] == prev_bits[chk_eq], IDEMPOTENT, _R_DUP)
    chk_in = np.flatnonzero(s_code == _CHECK_INORDER)
    s_code[chk_in] = INORDER
    chk = np.flatnonzero(s_code == _CHECK)
    s_code[chk] = OOO
    same = inbatch[chk]
    s_code[chk[same]] = np.where(s_bits[chk[same]] == inbatch_bits[chk[same]], IDEMPOTENT, _R_DUP)
    stored_before = np.sort(np.concatenate([chk, chk_in, chk_eq]))
    if existing is None or len(stored_before) == 0:
        return
    sids = np.unique(s_sid[stored_before])
    counts, ets, evals = existing(
        sids,
        [label_of(s) for s in sids.tolist()],
        int(s_ts[stored_before].min()),
        int(s_ts[stored_before].max()),
    )
    offs = offsets_from_counts(counts)
    ebits = evals.view(np.uint64)
    row = np.searchsorted(sids, s_sid[stored_before])
    for j, r in zip(stored_before.tolist(), row.tolist()):
        a, b = int(offs[r]), int(offs[r + 1])
        if a == b:
            continue
        k = a + int(np.searchsorted(ets[a:b], s_ts[j]))
        if k < b and ets[k] == s_ts[j]:
            s_code[j] = IDEMPOTENT if ebits[k] == s_bits[j] else _R_DUP
