"""The head: the recent, mutable part of the TSDB, in memory.

Series live in a registry (labels → series id, "sid") with a postings index.
Samples arrive in an *open log*: three preallocated numpy columns (sid,
timestamp, value) appended batch by batch in arrival order. When it fills up
it is *sealed*: sorted by (series label order, time) and compressed into an
immutable ``HeadPart`` (a ``ChunkTable``, ≈1 byte per sample). Parts are
merged in tiers by ``merge_parts()`` and cut into blocks by ``rewrite()``.
Because the open log accepts any order, out-of-order samples need no
separate structure; order is only a validation rule.

Every method that mutates takes ``self.lock``; readers take a snapshot under
it and then work on immutable data (parts, and open-log prefixes that are
never written again)::

    head = Head(options, metrics)
    result, wal_bytes, commit = head.prepare(batch, now_ms=clock_ms)
    wal.log(wal_bytes); commit()
"""

from __future__ import annotations

import bisect
import itertools
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from storage.interface import (
    AppendResult,
    CardinalityStat,
    MetricMetadata,
    RejectReason,
    SampleBatch,
    TSDBStatus,
)
from storage.labels import InvalidLabels, Labels, Matcher
from storage.tsdb import walrecords as rec
from storage.tsdb.chunktable import ChunkTable, ChunkTableBuilder
from storage.tsdb.codec import offsets_from_counts
from storage.tsdb.merge import assemble
from storage.tsdb.options import TSDBOptions
from storage.tsdb.postings import select_postings
from storage.tsdb.telemetry import TSDBMetrics

INT64_MIN = int(np.iinfo(np.int64).min)
INT64_MAX = int(np.iinfo(np.int64).max)
# Samples per batch when parts are merged or cut into blocks: bounds memory.
REWRITE_BATCH_SAMPLES = 1 << 20

# Sample classification codes (internal).
_INORDER, _OOO, _IDEMPOTENT, _CHECK = 0, 1, 2, 3
_REJECT = {
    10: RejectReason.INVALID_LABELS,
    11: RejectReason.TOO_FAR_IN_FUTURE,
    12: RejectReason.OUT_OF_BOUNDS,
    13: RejectReason.TOO_OLD,
    14: RejectReason.OUT_OF_ORDER,
    15: RejectReason.DUPLICATE,
}
_R_SERIES, _R_FUTURE, _R_OOB, _R_TOO_OLD, _R_OOO, _R_DUP = 10, 11, 12, 13, 14, 15
_REJECT_TEXT = {
    _R_FUTURE: "too far in the future",
    _R_OOB: "out of bounds (older than the head accepts)",
    _R_TOO_OLD: "too old (beyond the out-of-order window)",
    _R_OOO: "out of order",
    _R_DUP: "duplicate sample for timestamp with a different value",
}


class _Column:
    """A growable per-sid numpy column."""

    __slots__ = ("a", "fill")

    def __init__(self, dtype, fill):
        self.fill = fill
        self.a = np.full(1024, fill, dtype)

    def ensure(self, n: int) -> None:
        if n > len(self.a):
            new = np.full(max(n, 2 * len(self.a)), self.fill, self.a.dtype)
            new[: len(self.a)] = self.a
            self.a = new


@dataclass(frozen=True, slots=True)
class HeadPart:
    """Sealed, compressed samples of the head; rows in series label order."""

    table: ChunkTable
    sids: np.ndarray  # int64 sid of each row
    sorted_sids: np.ndarray
    sorted_rows: np.ndarray
    mint: int
    maxt: int

    @classmethod
    def build(cls, table: ChunkTable, sids: np.ndarray) -> HeadPart:
        order = np.argsort(sids, kind="stable")
        return cls(
            table,
            sids,
            sids[order],
            order,
            int(table.row_mint.min()),
            int(table.row_maxt.max()),
        )

    @property
    def num_samples(self) -> int:
        return self.table.num_samples

    @property
    def memory_bytes(self) -> int:
        return self.table.memory_bytes + 3 * self.sids.nbytes

    def rows_for(self, sids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(part rows, positions in ``sids``) of the given sorted sids present here."""
        if len(self.sorted_sids) == 0 or len(sids) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        pos = np.searchsorted(self.sorted_sids, sids)
        pos[pos >= len(self.sorted_sids)] = 0
        hit = self.sorted_sids[pos] == sids
        return self.sorted_rows[pos[hit]], np.flatnonzero(hit)


class OpenLog:
    """Append-only sample columns; a prefix once written never changes."""

    __slots__ = ("sid", "ts", "val", "n")

    def __init__(self, capacity: int):
        self.sid = np.empty(capacity, np.int64)
        self.ts = np.empty(capacity, np.int64)
        self.val = np.empty(capacity, np.float64)
        self.n = 0

    @property
    def room(self) -> int:
        return len(self.ts) - self.n

    def append(self, sid: np.ndarray, ts: np.ndarray, val: np.ndarray) -> None:
        a, b = self.n, self.n + len(ts)
        self.sid[a:b] = sid
        self.ts[a:b] = ts
        self.val[a:b] = val
        self.n = b

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n
        return self.sid[:n], self.ts[:n], self.val[:n]


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """Series of the head matching a query, and the data to read them from."""

    sids: np.ndarray  # sorted
    labels: list[Labels]  # of each sid
    parts: list[HeadPart]
    logs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    sid_space: int
    label_order: np.ndarray | None = None  # permutation of sids into label order

    def read(self, mint: int, maxt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR samples of ``self.sids`` (same order) within ``[mint, maxt]``."""
        n = len(self.sids)
        pieces = []
        for part in self.parts:
            if part.maxt < mint or part.mint > maxt:
                continue
            rows, which = part.rows_for(self.sids)
            if len(rows) == 0:
                continue
            keep = (part.table.row_mint[rows] <= maxt) & (part.table.row_maxt[rows] >= mint)
            rows, which = rows[keep], which[keep]
            counts, ts, vals = part.table.read(rows, mint, maxt)
            pieces.append((which, counts, ts, vals))
        if self.logs and n:
            lut = np.full(self.sid_space, -1, np.int64)
            lut[self.sids] = np.arange(n)
            for lsid, lts, lval in self.logs:
                if len(lsid) == 0:
                    continue
                idx = lut[lsid]
                sel = np.flatnonzero((idx >= 0) & (lts >= mint) & (lts <= maxt))
                if len(sel) == 0:
                    continue
                order = sel[np.lexsort((lts[sel], idx[sel]))]  # stable: arrival order breaks ties
                rows = idx[order]
                counts = np.bincount(rows, minlength=n)
                which = np.flatnonzero(counts)
                pieces.append((which, counts[which], lts[order], lval[order]))
        return assemble(n, pieces)


class _HeadIndex:
    """The head's postings seen through the ``LabelIndex`` protocol (call under the head lock)."""

    def __init__(self, head: Head):
        self.h = head

    def all_postings(self) -> np.ndarray:
        return self.h._live_sids()

    def label_values(self, name: str) -> list[str]:
        return self.h._sorted_values(name)

    def postings_for(self, name: str, values: Sequence[str]) -> np.ndarray:
        d = self.h._postings.get(name)
        if not d:
            return np.empty(0, np.int64)
        lists = [d[v] for v in values if v in d]
        if not lists:
            return np.empty(0, np.int64)
        if len(lists) == 1:
            return np.array(lists[0], np.int64)
        total = sum(map(len, lists))
        return np.unique(np.fromiter(itertools.chain.from_iterable(lists), np.int64, total))

    def postings_for_range(self, name: str, lo: int, hi: int) -> np.ndarray:
        return self.postings_for(name, self.label_values(name)[lo:hi])


class Head:
    """In-memory series registry and recent samples (see module docstring)."""

    def __init__(self, options: TSDBOptions, metrics: TSDBMetrics):
        self.opts = options
        self.metrics = metrics
        self.lock = threading.RLock()
        self._seal_lock = threading.Lock()
        self._series: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._values_cache: dict[str, list[str]] = {}
        self._live_cache: np.ndarray | None = None
        self._last_ts = _Column(np.int64, INT64_MIN)
        self._last_bits = _Column(np.uint64, 0)
        self._first_ts = _Column(np.int64, INT64_MAX)
        self._next_sid = 0
        self._order: list[int] = []
        self._order_upto = 0
        self._rank: np.ndarray | None = None
        self._order_arr: np.ndarray | None = None
        self._log = OpenLog(options.head_seal_samples)
        self._frozen: list[OpenLog] = []
        self._parts: list[HeadPart] = []
        self.mint = INT64_MAX
        self.maxt = INT64_MIN
        # Samples below this are already in blocks: the maximum block end.
        self.min_valid_time = INT64_MIN
        self.metadata: dict[str, MetricMetadata] = {}
        self._replay_map = _Column(np.int64, -1)

    # --- series registry -----------------------------------------------------
    @property
    def num_series(self) -> int:
        return len(self._series)

    def _add_series(self, sid: int, labels: Labels) -> None:
        labels = Labels.from_sorted_flat([sys.intern(s) for s in labels])
        self._series[labels] = sid
        if sid >= len(self._labels):
            self._labels.extend([None] * (sid + 1 - len(self._labels)))
        self._labels[sid] = labels
        for name, value in labels.items():
            d = self._postings.get(name)
            if d is None:
                d = self._postings[name] = {}
            lst = d.get(value)
            if lst is None:
                d[value] = [sid]
                self._values_cache.pop(name, None)
            else:
                lst.append(sid)
        self._next_sid = max(self._next_sid, sid + 1)
        n = self._next_sid
        self._last_ts.ensure(n)
        self._last_bits.ensure(n)
        self._first_ts.ensure(n)
        self._live_cache = None
        self.metrics.series_created.inc()

    def _live_sids(self) -> np.ndarray:
        if self._live_cache is None:
            self._live_cache = np.sort(np.fromiter(self._series.values(), np.int64, len(self._series)))
        return self._live_cache

    def _sorted_values(self, name: str) -> list[str]:
        vals = self._values_cache.get(name)
        if vals is None:
            vals = sorted(self._postings.get(name, ()))
            self._values_cache[name] = vals
        return vals

    def labels_of(self, sid: int) -> Labels | None:
        return self._labels[sid] if 0 <= sid < len(self._labels) else None

    # --- label order (for sealing parts in label order) ----------------------
    def _sync_order(self) -> None:
        if self._order_upto >= self._next_sid:
            return
        key = self._labels.__getitem__
        new = [s for s in range(self._order_upto, self._next_sid) if self._labels[s] is not None]
        if new:
            new.sort(key=key)
            if len(new) * 16 >= len(self._order):
                self._order.extend(new)
                self._order.sort(key=key)  # two sorted runs: timsort merges them in O(n)
            else:
                for s in new:
                    bisect.insort(self._order, s, key=key)
            self._rank = None
        self._order_upto = self._next_sid

    def _ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """(rank of each sid in label order, sid of each rank); call under the lock."""
        self._sync_order()
        if self._rank is None or len(self._rank) < self._next_sid:
            order = np.array(self._order, np.int64)
            rank = np.full(max(self._next_sid, 1), -1, np.int64)
            rank[order] = np.arange(len(order))
            self._rank, self._order_arr = rank, order
        return self._rank, self._order_arr

    # --- appending -----------------------------------------------------------
    def prepare(
        self,
        batch: SampleBatch,
        now_ms: int,
        existing: Callable[[np.ndarray, int, int], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None,
        compress: bool = True,
    ) -> tuple[AppendResult, bytes, Callable[[], None]]:
        """Validate ``batch`` (call under ``self.lock``).

        Returns the result, the WAL records to write, and a ``commit`` that
        applies the batch to the head; call it only once the WAL write
        succeeded, so a failed write leaves no trace. ``existing(sids, mint,
        maxt)`` returns stored samples (head and blocks) for the
        out-of-order duplicate check.
        """
        opts = self.opts
        result = AppendResult()
        n_series = len(batch.series)
        idx = np.asarray(batch.series_index, np.int64)
        ts = np.ascontiguousarray(batch.timestamps, np.int64)
        vals = np.ascontiguousarray(batch.values, np.float64)
        if len(idx) and (idx.min() < 0 or idx.max() >= n_series):
            raise ValueError("series_index refers to a series the batch does not list")

        # 1. series: existing, new (tentative sids), or rejected
        batch_sid = np.empty(n_series, np.int64)
        new_labels: list[Labels] = []
        pending: dict[Labels, int] = {}
        rejected_series: dict[int, tuple[int, str]] = {}  # batch position -> (code, message)
        get = self._series.get
        next_sid = self._next_sid
        limit = opts.max_series
        for i, labels in enumerate(batch.series):
            sid = get(labels)
            if sid is None:
                sid = pending.get(labels)
                if sid is None:
                    try:
                        labels.validate(opts.label_limits)
                    except InvalidLabels as e:
                        batch_sid[i] = -1
                        rejected_series[i] = (RejectReason.INVALID_LABELS, str(e))
                        continue
                    if limit and len(self._series) + len(new_labels) >= limit:
                        batch_sid[i] = -1
                        rejected_series[i] = (
                            RejectReason.SERIES_LIMIT,
                            f"series {labels} would exceed the limit of {limit} series",
                        )
                        continue
                    sid = next_sid + len(new_labels)
                    pending[labels] = sid
                    new_labels.append(labels)
            batch_sid[i] = sid
        sid = batch_sid[idx]
        per_series = np.bincount(idx, minlength=n_series) if rejected_series else None
        for i, (reason, msg) in rejected_series.items():
            count = int(per_series[i])
            result.reject(reason, count, msg)
            self.metrics.samples_rejected.labels(reason=reason.value).inc(count)

        # 2. samples
        n_total = next_sid + len(new_labels)
        self._last_ts.ensure(n_total)
        self._last_bits.ensure(n_total)
        self._first_ts.ensure(n_total)
        code = self._classify(sid, ts, vals, now_ms, existing)

        stored = (code == _INORDER) | (code == _OOO)
        accepted = int(np.count_nonzero(stored | (code == _IDEMPOTENT)))
        result.accepted = accepted
        rejected_codes = code >= 10
        if rejected_codes.any():
            for c in np.unique(code[rejected_codes & (sid >= 0)]).tolist():
                where = np.flatnonzero(code == c)
                reason = _REJECT[c]
                result.reject(reason, len(where))
                self.metrics.samples_rejected.labels(reason=reason.value).inc(len(where))
                for j in where[: AppendResult.MAX_ERRORS].tolist():
                    s = int(sid[j])
                    lbl = self._labels[s] if s < next_sid else new_labels[s - next_sid]
                    if len(result.errors) < AppendResult.MAX_ERRORS:
                        result.errors.append(f"series {lbl}: {_REJECT_TEXT[c]}, sample at {int(ts[j])}")

        # 3. WAL records: new series that got samples, changed metadata, samples
        st_idx = np.flatnonzero(stored)
        st_sid, st_ts, st_val = sid[st_idx], ts[st_idx], vals[st_idx]
        if new_labels:
            used = np.zeros(len(new_labels), bool)
            fresh = st_sid[st_sid >= next_sid] - next_sid
            used[fresh] = True
            keep_new = np.flatnonzero(used)
            if len(keep_new) != len(new_labels):
                # drop new series that got no samples and renumber the rest densely
                remap = np.full(len(new_labels), -1, np.int64)
                remap[keep_new] = next_sid + np.arange(len(keep_new))
                m = st_sid >= next_sid
                st_sid = st_sid.copy()
                st_sid[m] = remap[st_sid[m] - next_sid]
                new_labels = [new_labels[k] for k in keep_new.tolist()]
        parts = []
        if new_labels:
            new_sids = np.arange(next_sid, next_sid + len(new_labels), dtype=np.int64)
            parts.append(rec.frame(rec.RecordType.SERIES, rec.encode_series(new_sids, new_labels)))
        meta_changes = {k: v for k, v in batch.metadata.items() if self.metadata.get(k) != v}
        if meta_changes:
            parts.append(rec.frame(rec.RecordType.METADATA, rec.encode_metadata(meta_changes)))
        if len(st_idx):
            parts.append(
                rec.frame(rec.RecordType.SAMPLES, rec.encode_samples(st_sid, st_ts, st_val, compress))
            )
        wal_bytes = b"".join(parts)
        n_ooo = int(np.count_nonzero(code == _OOO))

        def commit() -> None:
            for k, labels in enumerate(new_labels):
                self._add_series(next_sid + k, labels)
            self.metadata.update(meta_changes)
            if len(st_ts):
                inorder = code[st_idx] == _INORDER
                self._apply(st_sid, st_ts, st_val, inorder)
                self.metrics.head_samples_appended.inc(len(st_ts))
                if n_ooo:
                    self.metrics.out_of_order_samples_appended.inc(n_ooo)

        return result, wal_bytes, commit

    def _classify(self, sid, ts, vals, now_ms, existing) -> np.ndarray:
        opts = self.opts
        n = len(ts)
        code = np.zeros(n, np.int8)
        code[sid < 0] = _R_SERIES
        if opts.max_future_skew_ms:
            horizon = min(INT64_MAX, now_ms + opts.max_future_skew_ms)
            code[(ts > horizon) & (code == 0)] = _R_FUTURE
        window = opts.out_of_order_window_ms
        min_valid = self.min_valid_time
        if self.maxt != INT64_MIN:
            min_valid = max(min_valid, self.maxt - opts.block_duration_ms // 2)
        ooo_floor = max(INT64_MIN, self.maxt - window) if self.maxt != INT64_MIN else INT64_MIN
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
        c_sid = sid[cand]
        order = np.argsort(c_sid, kind="stable")
        pos = cand[order]  # positions in the batch, grouped by series, arrival order kept
        s_sid, s_ts, s_bits = sid[pos], ts[pos], bits[pos]
        first = np.ones(len(pos), bool)
        first[1:] = s_sid[1:] != s_sid[:-1]
        last_ts, last_bits = self._last_ts.a, self._last_bits.a
        prev = np.empty(len(pos), np.int64)
        prev_bits = np.empty(len(pos), np.uint64)
        inbatch = np.zeros(len(pos), bool)
        inbatch_bits = np.zeros(len(pos), np.uint64)
        increasing = bool(np.all((s_ts[1:] > s_ts[:-1]) | first[1:]))
        if increasing:
            prev[1:] = s_ts[:-1]
            prev_bits[1:] = s_bits[:-1]
            prev[first] = last_ts[s_sid[first]]
            prev_bits[first] = last_bits[s_sid[first]]
        else:
            starts = np.flatnonzero(first).tolist() + [len(pos)]
            ts_l, bits_l, sid_l = s_ts.tolist(), s_bits.tolist(), s_sid.tolist()
            for a, b in zip(starts[:-1], starts[1:]):
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
        s_code[eq] = np.where(s_bits[eq] == prev_bits[eq], _IDEMPOTENT, _R_DUP)
        lt = s_ts < prev
        if lt.any():
            if window == 0:
                s_code[lt] = _R_OOO
            else:
                too_old = lt & (s_ts < ooo_floor)
                s_code[too_old] = _R_TOO_OLD
                s_code[lt & ~too_old] = _CHECK
        if (s_code == _CHECK).any():
            self._check_ooo(s_code, s_sid, s_ts, s_bits, inbatch, inbatch_bits, existing)
        code[pos] = s_code
        return code

    def _check_ooo(self, s_code, s_sid, s_ts, s_bits, inbatch, inbatch_bits, existing) -> None:
        """Out-of-order candidates: a sample already stored at the same time
        (in the TSDB, else earlier in this batch) makes them idempotent (same
        value) or duplicates (different value); otherwise they are stored."""
        chk = np.flatnonzero(s_code == _CHECK)
        s_code[chk] = _OOO
        same = inbatch[chk]
        s_code[chk[same]] = np.where(s_bits[chk[same]] == inbatch_bits[chk[same]], _IDEMPOTENT, _R_DUP)
        # series created by this very batch have nothing stored yet
        stored_before = chk[s_sid[chk] < self._next_sid]
        if existing is None or len(stored_before) == 0:
            return
        sids = np.unique(s_sid[stored_before])
        counts, ets, evals = existing(
            sids, int(s_ts[stored_before].min()), int(s_ts[stored_before].max())
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
                s_code[j] = _IDEMPOTENT if ebits[k] == s_bits[j] else _R_DUP

    def _apply(self, sid: np.ndarray, ts: np.ndarray, vals: np.ndarray, inorder: np.ndarray) -> None:
        """Store validated samples (under the lock)."""
        if self._log.room < len(ts):
            self._frozen.append(self._log)
            self._log = OpenLog(max(self.opts.head_seal_samples, len(ts)))
        self._log.append(sid, ts, vals)
        if inorder.all():
            io_sid, io_ts, io_vals = sid, ts, vals
        else:
            io_sid, io_ts, io_vals = sid[inorder], ts[inorder], vals[inorder]
        if len(io_ts):
            order = np.lexsort((io_ts, io_sid))
            o_sid = io_sid[order]
            lastpos = np.flatnonzero(np.append(o_sid[1:] != o_sid[:-1], True))
            self._last_ts.a[o_sid[lastpos]] = io_ts[order][lastpos]
            self._last_bits.a[o_sid[lastpos]] = io_vals[order][lastpos].view(np.uint64)
        np.minimum.at(self._first_ts.a, sid, ts)
        self.mint = min(self.mint, int(ts.min()))
        self.maxt = max(self.maxt, int(ts.max()))

    @property
    def needs_seal(self) -> bool:
        return bool(self._frozen)

    # --- replay --------------------------------------------------------------
    def replay_series(self, sids: np.ndarray, labels: list[Labels]) -> None:
        with self.lock:
            self._replay_map.ensure(int(sids.max()) + 1 if len(sids) else 0)
            for s, lbl in zip(sids.tolist(), labels):
                known = self._series.get(lbl)
                if known is not None:
                    self._replay_map.a[s] = known  # re-created series: alias to the first sid
                    continue
                if s < self._next_sid and self._labels[s] is not None:
                    continue  # sid already taken (cannot happen with a sane WAL)
                self._add_series(s, lbl)
                self._replay_map.a[s] = s

    def replay_samples(self, sids: np.ndarray, ts: np.ndarray, vals: np.ndarray, min_time: int) -> int:
        """Apply WAL samples without order checks (they were accepted once);
        returns how many were dropped (unknown series or older than ``min_time``)."""
        with self.lock:
            mapped = np.full(len(sids), -1, np.int64)
            known = (sids >= 0) & (sids < len(self._replay_map.a))
            mapped[known] = self._replay_map.a[sids[known]]
            keep = (mapped >= 0) & (ts >= min_time)
            dropped = len(ts) - int(np.count_nonzero(keep))
            if dropped:
                mapped, ts, vals = mapped[keep], ts[keep], vals[keep]
            if len(ts) == 0:
                return dropped
            if self._log.room < len(ts):
                self._frozen.append(self._log)
                self._log = OpenLog(max(self.opts.head_seal_samples, len(ts)))
            self._log.append(mapped, ts, vals)
            np.maximum.at(self._last_ts.a, mapped, ts)
            hit = ts == self._last_ts.a[mapped]
            self._last_bits.a[mapped[hit]] = vals[hit].view(np.uint64)
            np.minimum.at(self._first_ts.a, mapped, ts)
            self.mint = min(self.mint, int(ts.min()))
            self.maxt = max(self.maxt, int(ts.max()))
            self.metrics.head_samples_appended.inc(len(ts))
            return dropped

    def replay_metadata(self, items: dict[str, MetricMetadata]) -> None:
        with self.lock:
            self.metadata.update(items)

    # --- sealing and merging parts --------------------------------------------
    def seal(self, force: bool = False) -> None:
        """Compress frozen open logs into parts (and the current one, if ``force``)."""
        with self._seal_lock:
            with self.lock:
                if force and self._log.n:
                    self._frozen.append(self._log)
                    self._log = OpenLog(self.opts.head_seal_samples)
                frozen = list(self._frozen)
                rank, _ = self._ranks()
            for log in frozen:
                part = self._encode_log(log, rank)
                with self.lock:
                    self._frozen.remove(log)
                    if part is not None:
                        self._parts.append(part)
                    self.metrics.head_parts.set(len(self._parts))

    def _encode_log(self, log: OpenLog, rank: np.ndarray) -> HeadPart | None:
        sid, ts, val = log.view()
        if len(ts) == 0:
            return None
        order = np.lexsort((np.arange(len(ts)), ts, rank[sid]))
        s_sid, s_ts = sid[order], ts[order]
        keep = np.ones(len(order), bool)
        keep[1:] = (s_sid[1:] != s_sid[:-1]) | (s_ts[1:] != s_ts[:-1])
        if not keep.all():
            order, s_sid, s_ts = order[keep], s_sid[keep], s_ts[keep]
        bounds = np.flatnonzero(np.append(True, s_sid[1:] != s_sid[:-1]))
        counts = np.diff(np.append(bounds, len(s_sid)))
        b = ChunkTableBuilder()
        b.add(counts, s_ts, val[order])
        return HeadPart.build(b.finish(), s_sid[bounds].copy())

    def merge_parts(self) -> int:
        """Merge parts in size tiers (``head_merge_fanout`` parts of one tier
        become one part); returns the number of merges done."""
        # Callers serialize merges and cuts (the TSDB's maintenance lock);
        # seals may run meanwhile: parts are replaced by identity.
        merges = 0
        while True:
            with self.lock:
                parts = list(self._parts)
            tiers: dict[int, list[HeadPart]] = {}
            base = self.opts.head_seal_samples
            fan = self.opts.head_merge_fanout
            for p in parts:
                tier = 0
                size = p.num_samples
                while size >= base * fan ** (tier + 1):
                    tier += 1
                tiers.setdefault(tier, []).append(p)
            group = next((g for t, g in sorted(tiers.items()) if len(g) >= fan), None)
            if group is None:
                return merges
            new = self.rewrite(group, None, None)
            self._replace_parts(group, [new] if new is not None else [])
            merges += 1

    def _replace_parts(self, old: list[HeadPart], new: list[HeadPart]) -> None:
        with self.lock:
            ids = {id(p) for p in old}
            first = next((i for i, p in enumerate(self._parts) if id(p) in ids), len(self._parts))
            rest = [p for p in self._parts if id(p) not in ids]
            first = min(first, len(rest))
            self._parts = rest[:first] + new + rest[first:]
            self.metrics.head_parts.set(len(self._parts))

    def rewrite(
        self,
        parts: list[HeadPart],
        split_at: int | None,
        sink: Callable[[list[Labels], np.ndarray, np.ndarray, np.ndarray], None] | None,
    ) -> HeadPart | None:
        """Merge ``parts`` in label order, in batches of bounded size. Samples
        before ``split_at`` go to ``sink(labels, counts, ts, vals)`` (label
        order, for block writing); the rest form the returned part."""
        with self.lock:
            rank, order_arr = self._ranks()
            labels_of = self._labels
        part_ranks = [rank[p.sids] for p in parts]
        all_ranks = np.concatenate(part_ranks) if parts else np.empty(0, np.int64)
        all_counts = (
            np.concatenate([p.table.row_count.astype(np.int64) for p in parts])
            if parts
            else np.empty(0, np.int64)
        )
        if len(all_ranks) == 0:
            return None
        o = np.argsort(all_ranks, kind="stable")
        r_sorted, c_cum = all_ranks[o], np.cumsum(all_counts[o])
        # batch boundaries (in rank space) every REWRITE_BATCH_SAMPLES samples
        cuts = np.searchsorted(c_cum, np.arange(REWRITE_BATCH_SAMPLES, int(c_cum[-1]), REWRITE_BATCH_SAMPLES))
        edges = np.unique(np.concatenate([[r_sorted[0]], r_sorted[np.minimum(cuts, len(r_sorted) - 1)], [r_sorted[-1] + 1]]))
        builder = ChunkTableBuilder()
        kept_sids: list[np.ndarray] = []
        for r0, r1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
            lo, hi = np.searchsorted(r_sorted, [r0, r1])
            batch_ranks = np.unique(r_sorted[lo:hi])
            if len(batch_ranks) == 0:
                continue
            pieces = []
            for p, pr in zip(parts, part_ranks):
                lo, hi = np.searchsorted(pr, [r0, r1])
                if lo == hi:
                    continue
                rows = np.arange(lo, hi)
                counts, ts, vals = p.table.read(rows)
                pieces.append((np.searchsorted(batch_ranks, pr[lo:hi]), counts, ts, vals))
            counts, ts, vals = assemble(len(batch_ranks), pieces)
            sids = order_arr[batch_ranks]
            if split_at is not None:
                low = ts < split_at
                rid = np.repeat(np.arange(len(counts)), counts)
                low_counts = np.bincount(rid[low], minlength=len(counts))
                has = np.flatnonzero(low_counts)
                if len(has) and sink is not None:
                    sink([labels_of[s] for s in sids[has].tolist()], low_counts[has], ts[low], vals[low])
                counts = counts - low_counts
                ts, vals = ts[~low], vals[~low]
            has = np.flatnonzero(counts)
            if len(has):
                builder.add(counts[has], ts, vals)
                kept_sids.append(sids[has])
        if not kept_sids:
            return None
        return HeadPart.build(builder.finish(), np.concatenate(kept_sids))

    # --- cutting blocks --------------------------------------------------------
    def begin_cut(self, boundary: int, cut_wal: Callable[[], int] | None) -> tuple[list[HeadPart], int | None]:
        """Start moving samples before ``boundary`` to blocks: from now on
        in-order samples before it are out of bounds; everything appended so
        far is sealed into parts and returned with the number of the last WAL
        segment holding it."""
        with self.lock:
            closed = cut_wal() if cut_wal is not None else None
            self.min_valid_time = max(self.min_valid_time, boundary)
            if self._log.n:
                self._frozen.append(self._log)
                self._log = OpenLog(self.opts.head_seal_samples)
        self.seal()
        with self.lock:
            return list(self._parts), closed

    def finish_cut(self, old: list[HeadPart], new: HeadPart | None, boundary: int) -> int:
        """Swap the cut parts for what remains of them and drop series with no
        samples left in the head; returns how many series were removed."""
        self._replace_parts(old, [new] if new is not None else [])
        with self.lock:
            self._recompute_bounds()
            return self._gc(boundary)

    def _recompute_bounds(self) -> None:
        mint, maxt = INT64_MAX, self.maxt
        for p in self._parts:
            mint = min(mint, p.mint)
        for log in self._frozen + [self._log]:
            if log.n:
                mint = min(mint, int(log.ts[: log.n].min()))
        self.mint = mint
        # maxt stays: it bounds what later appends may be (see _classify)
        self.maxt = maxt

    def _gc(self, boundary: int) -> int:
        live = self._live_sids()
        cand = live[self._last_ts.a[live] < boundary]
        if len(cand) == 0:
            return 0
        present = [p.sids for p in self._parts] + [log.sid[: log.n] for log in self._frozen + [self._log]]
        if present:
            cand = cand[~np.isin(cand, np.concatenate(present))]
        if len(cand) == 0:
            return 0
        dead = set(cand.tolist())
        touched: dict[str, set[str]] = {}
        for s in cand.tolist():
            labels = self._labels[s]
            del self._series[labels]
            self._labels[s] = None
            for name, value in labels.items():
                touched.setdefault(name, set()).add(value)
        for name, values in touched.items():
            d = self._postings[name]
            for v in values:
                kept = [s for s in d[v] if s not in dead]
                if kept:
                    d[v] = kept
                else:
                    del d[v]
                    self._values_cache.pop(name, None)
            if not d:
                del self._postings[name]
                self._values_cache.pop(name, None)
        self._order = [s for s in self._order if s not in dead]
        self._rank = None
        self._live_cache = None
        self.metrics.series_removed.inc(len(dead))
        return len(dead)

    # --- reading -------------------------------------------------------------
    def snapshot(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> HeadSnapshot:
        with self.lock:
            sids = select_postings(_HeadIndex(self), matchers) if matchers else self._live_sids()
            if len(sids):
                keep = (self._first_ts.a[sids] <= maxt) & (self._last_ts.a[sids] >= mint)
                sids = sids[keep]
            labels = [self._labels[s] for s in sids.tolist()]
            logs = [log.view() for log in self._frozen + [self._log]]
            rank, _ = self._ranks()
            order = np.argsort(rank[sids], kind="stable")
            return HeadSnapshot(sids, labels, list(self._parts), logs, max(self._next_sid, 1), order)

    def snapshot_sids(self, sids: np.ndarray) -> HeadSnapshot:
        """Snapshot of the given sids (sorted), for the out-of-order duplicate check."""
        with self.lock:
            labels = [self._labels[s] for s in sids.tolist()]
            logs = [log.view() for log in self._frozen + [self._log]]
            return HeadSnapshot(sids, labels, list(self._parts), logs, max(self._next_sid, 1))

    def label_names(self) -> list[str]:
        with self.lock:
            return sorted(self._postings)

    def label_values(self, name: str) -> list[str]:
        with self.lock:
            return list(self._sorted_values(name))

    @property
    def num_samples(self) -> int:
        with self.lock:
            return sum(p.num_samples for p in self._parts) + sum(
                log.n for log in self._frozen + [self._log]
            )

    @property
    def parts(self) -> list[HeadPart]:
        with self.lock:
            return list(self._parts)

    def memory_bytes(self) -> int:
        with self.lock:
            return sum(p.memory_bytes for p in self._parts) + sum(
                log.sid.nbytes * 3 for log in self._frozen + [self._log]
            )

    def status(self, limit: int) -> TSDBStatus:
        with self.lock:
            by_name: list[CardinalityStat] = []
            values_per_name: list[CardinalityStat] = []
            mem_per_name: list[CardinalityStat] = []
            pairs: list[CardinalityStat] = []
            for name, d in self._postings.items():
                values_per_name.append(CardinalityStat(name, len(d)))
                mem = 0
                for v, lst in d.items():
                    mem += len(v) * len(lst)
                    pairs.append(CardinalityStat(f"{name}={v}", len(lst)))
                    if name == "__name__":
                        by_name.append(CardinalityStat(v, len(lst)))
                mem_per_name.append(CardinalityStat(name, mem))

            def top(stats):
                return sorted(stats, key=lambda s: (-s.value, s.name))[:limit]

            empty = self.mint == INT64_MAX
            return TSDBStatus(
                num_series=len(self._series),
                num_label_pairs=sum(len(d) for d in self._postings.values()),
                chunk_count=sum(len(p.table.vgroups) for p in self._parts)
                + sum(1 for log in self._frozen + [self._log] if log.n),
                min_time=0 if empty else self.mint,
                max_time=0 if empty else self.maxt,
                series_count_by_metric_name=top(by_name),
                label_value_count_by_label_name=top(values_per_name),
                memory_in_bytes_by_label_name=top(mem_per_name),
                series_count_by_label_value_pair=top(pairs),
            )
