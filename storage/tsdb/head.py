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
from operator import is_, lt

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
from storage.tsdb import appendrules as rules
from storage.tsdb import walrecords as rec
from storage.tsdb.appendrules import INT64_MAX, INT64_MIN, Existing
from storage.tsdb.chunktable import ChunkTableBuilder
from storage.tsdb.codec import SEAL_CONFIG, ranges_index
from storage.tsdb.headdata import HeadPart, HeadSnapshot, OpenLog, SidColumn
from storage.tsdb.merge import assemble
from storage.tsdb.options import TSDBOptions
from storage.tsdb.postings import select_postings
from storage.tsdb.telemetry import TSDBMetrics

# Samples per batch when parts are merged or cut into blocks: bounds memory.
REWRITE_BATCH_SAMPLES = 1 << 20


def _distinct(a: np.ndarray) -> bool:
    """No value twice (a sort: numpy's hashing unique is slower at these sizes)."""
    s = np.sort(a)
    return bool((s[1:] != s[:-1]).all())


_NO_SIDS = np.empty(0, np.int64)
_NO_SIDS.flags.writeable = False
# label pairs whose posting lists are kept as arrays (``_HeadIndex._array``)
_POSTINGS_ARRAYS_MAX = 4096


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
            return self._array(name, values[0] if len(values) == 1 else None, lists[0])
        total = sum(map(len, lists))
        # a series has one value per name, so these lists are disjoint: when
        # they hold as many ids as the head has series, they are all of them
        # (``__name__=~".+"``)
        if total == len(self.h._series):
            return self.h._live_sids()
        ids = np.fromiter(itertools.chain.from_iterable(lists), np.int64, total)
        ids.sort()
        return ids

    def postings_for_range(self, name: str, lo: int, hi: int) -> np.ndarray:
        return self.postings_for(name, self.label_values(name)[lo:hi])

    def _array(self, name: str, value: str | None, lst: list[int]) -> np.ndarray:
        """The ids of one posting list as a read-only array, kept between queries
        (rules select ``job=``/``__name__=`` again every interval). A list only
        ever grows in place or is replaced by another (``_gc``), so an entry
        holding the list itself and its length is valid while both still hold."""
        if value is None:
            return np.array(lst, np.int64)
        cache = self.h._postings_arrays
        hit = cache.get((name, value))
        if hit is not None and hit[0] is lst and hit[1] == len(lst):
            return hit[2]
        arr = np.array(lst, np.int64)
        arr.flags.writeable = False
        if len(cache) >= _POSTINGS_ARRAYS_MAX:
            cache.clear()
        cache[(name, value)] = (lst, len(lst), arr)
        return arr


class Head:
    """In-memory series registry and recent samples: ``prepare`` → WAL write →
    ``commit``; ``snapshot`` for reads; ``rewrite`` to cut blocks (see the module docstring)."""

    def __init__(self, options: TSDBOptions, metrics: TSDBMetrics):
        self.opts = options
        self.metrics = metrics
        self.lock = threading.RLock()
        self._seal_lock = threading.Lock()
        self._series: dict[Labels, int] = {}
        self._labels: list[Labels | None] = []
        self._postings: dict[str, dict[str, list[int]]] = {}
        self._values_cache: dict[str, list[str]] = {}
        # (name, value) -> (posting list, its length, read-only array of it); read path only
        self._postings_arrays: dict[tuple[str, str], tuple[list[int], int, np.ndarray]] = {}
        self._live_cache: np.ndarray | None = None
        self._last_ts = SidColumn(np.int64, INT64_MIN)
        self._last_bits = SidColumn(np.uint64, 0)
        self._first_ts = SidColumn(np.int64, INT64_MAX)
        self._next_sid = 0
        # Ids of removed series, reusable once no WAL record mentions them
        # (after the next successful checkpoint): per-id state stays bounded
        # under series churn.
        self._free_sids: list[int] = []
        self._retired_sids: list[int] = []
        self._order: list[int] = []
        self._unordered: list[int] = []  # series added since the label order was last updated
        self._rank: np.ndarray | None = None
        self._order_arr: np.ndarray | None = None
        self._log = OpenLog(options.head_seal_samples)
        # During WAL replay logs are made bigger (fewer, larger parts).
        self.replaying = False
        self._frozen: list[OpenLog] = []
        self._parts: list[HeadPart] = []
        self.mint = INT64_MAX
        self.maxt = INT64_MIN
        # Samples below this are already in blocks: the maximum block end.
        self.min_valid_time = INT64_MIN
        self.metadata: dict[str, MetricMetadata] = {}
        self._replay_map = SidColumn(np.int64, -1)

    # --- series registry -----------------------------------------------------
    @property
    def num_series(self) -> int:
        return len(self._series)

    def _add_series(self, sids: Sequence[int], new: Sequence[Labels], interned: bool = False) -> None:
        """Register series ``new`` under ids ``sids`` (under the lock);
        ``interned``: their strings are interned already."""
        if not new:
            return
        end = max(sids) + 1
        if end > len(self._labels):
            self._labels.extend([None] * (end - len(self._labels)))
        series, labels_of = self._series, self._labels
        postings, values_cache = self._postings, self._values_cache
        intern = sys.intern
        make = Labels.from_sorted_flat
        # ids never used before, in increasing order (no reused id among
        # them): every posting list just grows at its end
        fresh = min(sids) >= self._next_sid and all(map(lt, sids, sids[1:]))
        for sid, labels in zip(sids, new):
            if not interned:
                # share label strings between series: one copy of "instance", "job", ...
                strings = tuple(map(intern, labels))
                if not all(map(is_, strings, labels)):
                    labels = make(strings)
                # else: the caller's strings were interned (receivers do):
                # keep its object, so its later lookups match by identity
            series[labels] = sid
            labels_of[sid] = labels
            it = iter(labels)
            for name, value in zip(it, it):
                d = postings.get(name)
                if d is None:
                    d = postings[name] = {}
                lst = d.get(value)
                if lst is None:
                    d[value] = [sid]
                    values_cache.pop(name, None)
                elif fresh or lst[-1] < sid:
                    lst.append(sid)
                else:  # a reused id: keep the list sorted
                    bisect.insort(lst, sid)
        self._unordered.extend(sids)
        self._next_sid = max(self._next_sid, end)
        n = self._next_sid
        self._last_ts.ensure(n)
        self._last_bits.ensure(n)
        self._first_ts.ensure(n)
        self._live_cache = None
        self.metrics.series_created.inc(len(new))

    def _allocate(self, k: int) -> list[int]:
        """``k`` ids for new series, reused ones first; nothing is taken until
        ``_commit_ids`` (the same call again returns the same ids first)."""
        free = self._free_sids
        reuse = free[len(free) - min(k, len(free)) :][::-1]
        return reuse + list(range(self._next_sid, self._next_sid + k - len(reuse)))

    def _commit_ids(self, handed_out: list[int], used: list[int]) -> None:
        """Take the ids ``_allocate`` handed out from the pool; those not
        ``used`` (their series got no sample) go back to it."""
        free = self._free_sids
        m = min(len(handed_out), len(free))
        if m:
            del free[len(free) - m :]
        top = max(used) + 1 if used else self._next_sid
        used_set = set(used)
        back = [s for s in handed_out if s not in used_set and s < max(top, self._next_sid)]
        free.extend(sorted(back, reverse=True))

    def release_retired_sids(self) -> int:
        """Make the ids of removed series reusable; call only after a WAL
        checkpoint that dropped every record of them succeeded."""
        with self.lock:
            n = len(self._retired_sids)
            self._free_sids.extend(self._retired_sids)
            self._retired_sids = []
            return n

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

    # --- label order (for sealing parts in label order) ----------------------
    def _sync_order(self) -> None:
        if not self._unordered:
            return
        key = self._labels.__getitem__
        new = [s for s in self._unordered if self._labels[s] is not None]
        self._unordered = []
        if new:
            new.sort(key=key)
            if len(new) * 16 >= len(self._order):
                self._order.extend(new)
                self._order.sort(key=key)  # two sorted runs: timsort merges them in O(n)
            else:
                for s in new:
                    bisect.insort(self._order, s, key=key)
            self._rank = None

    def _ranks(self) -> tuple[np.ndarray, np.ndarray]:
        """(rank of each sid in label order, sid of each rank); call under the lock."""
        self._sync_order()
        if self._rank is None or len(self._rank) < self._next_sid:  # reset by _sync_order / _gc
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
        existing: Existing | None = None,
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

        # 1. series: existing, new (tentative sids), or rejected. Known
        # series are looked up with one map(); only the others are walked.
        found = list(map(self._series.get, batch.series))
        new_labels: list[Labels] = []
        rejected_series: dict[int, tuple[int, str]] = {}  # batch position -> (code, message)
        # tentative ids for new series; a series that gets no sample is not
        # created and its id goes unused
        candidates: list[int] = []
        # label sets the producer validated against limits no looser than ours
        # (and interned) are not checked again: that is most of a new series' cost
        trusted = rules.labels_trusted(batch.labels_checked, opts.label_limits)
        if None in found:
            get = self._series.get
            pending: dict[Labels, int] = {}
            limit = opts.max_series
            for i in [i for i, f in enumerate(found) if f is None]:
                labels = batch.series[i]
                sid = None
                if "" in labels[1::2]:
                    # an empty value means "no such label" (Prometheus): drop it
                    labels = Labels.from_pairs(labels.items())
                    sid = get(labels)
                if sid is None:
                    sid = pending.get(labels)
                if sid is None:
                    try:
                        if not trusted:
                            labels.validate(opts.label_limits)
                    except InvalidLabels as e:
                        found[i] = -1
                        rejected_series[i] = (RejectReason.INVALID_LABELS, str(e))
                        continue
                    if limit and len(self._series) + len(new_labels) >= limit:
                        found[i] = -1
                        rejected_series[i] = (
                            RejectReason.SERIES_LIMIT,
                            f"series {labels} would exceed the limit of {limit} series",
                        )
                        continue
                    if len(new_labels) == len(candidates):
                        candidates = self._allocate(max(16, 2 * len(candidates)))
                    sid = candidates[len(new_labels)]
                    pending[labels] = sid
                    new_labels.append(labels)
                found[i] = sid
        batch_sid = np.fromiter(found, np.int64, n_series)
        sid = batch_sid[idx]
        # Receivers list each series' samples together: then nothing needs
        # sorting by series below (checked, not assumed).
        grouped = bool((idx[1:] >= idx[:-1]).all()) and _distinct(batch_sid)
        per_series = np.bincount(idx, minlength=n_series) if rejected_series else None
        for i, (reason, msg) in rejected_series.items():
            count = int(per_series[i])
            result.reject(reason, count, msg)
            self.metrics.samples_rejected.labels(reason=reason.value).inc(count)

        # 2. samples
        handed_out = candidates[: len(new_labels)]
        new_sids = handed_out
        n_total = max([self._next_sid, *new_sids]) + 1
        self._last_ts.ensure(n_total)
        self._last_bits.ensure(n_total)
        self._first_ts.ensure(n_total)
        new_of = dict(zip(new_sids, new_labels))

        def label_of(s: int) -> Labels:
            lbl = new_of.get(s)
            return lbl if lbl is not None else self._labels[s]

        code = rules.classify(
            sid,
            ts,
            vals,
            now_ms=now_ms,
            opts=opts,
            head_maxt=self.maxt,
            min_valid_time=self.min_valid_time,
            last_ts=self._last_ts.a,
            last_bits=self._last_bits.a,
            existing=existing,
            label_of=label_of,
            grouped=grouped,
        )

        stored = (code == rules.INORDER) | (code == rules.OOO)
        accepted = int(np.count_nonzero(stored | (code == rules.IDEMPOTENT)))
        result.accepted = accepted
        rejected_codes = code >= 10
        if rejected_codes.any():
            for c in np.unique(code[rejected_codes & (sid >= 0)]).tolist():
                where = np.flatnonzero(code == c)
                reason = rules.REJECT[c]
                result.reject(reason, len(where))
                self.metrics.samples_rejected.labels(reason=reason.value).inc(len(where))
                for j in where[: AppendResult.MAX_ERRORS].tolist():
                    if len(result.errors) < AppendResult.MAX_ERRORS:
                        result.errors.append(
                            f"series {label_of(int(sid[j]))}: {rules.REJECT_TEXT[c]}, sample at {int(ts[j])}"
                        )

        # 3. WAL records: new series that got samples, changed metadata, samples
        st_idx = np.flatnonzero(stored)
        st_sid, st_ts, st_val = sid[st_idx], ts[st_idx], vals[st_idx]
        if new_labels:
            used = set(np.unique(st_sid).tolist())
            kept = [(s, lbl) for s, lbl in zip(new_sids, new_labels) if s in used]
            new_sids = [s for s, _ in kept]
            new_labels = [lbl for _, lbl in kept]
        parts = []
        if new_labels:
            parts.append(
                rec.frame(
                    rec.RecordType.SERIES,
                    rec.encode_series(np.array(new_sids, np.int64), new_labels),
                )
            )
        meta_changes = {k: v for k, v in batch.metadata.items() if self.metadata.get(k) != v}
        if meta_changes:
            parts.append(rec.frame(rec.RecordType.METADATA, rec.encode_metadata(meta_changes)))
        if len(st_idx):
            parts.append(
                rec.frame(rec.RecordType.SAMPLES, rec.encode_samples(st_sid, st_ts, st_val, compress))
            )
        wal_bytes = b"".join(parts)
        n_ooo = int(np.count_nonzero(code == rules.OOO))

        def commit() -> None:
            self._commit_ids(handed_out, new_sids)
            self._add_series(new_sids, new_labels, interned=trusted)
            self.metadata.update(meta_changes)
            if len(st_ts):
                self._apply(st_sid, st_ts, st_val, grouped)
                self.metrics.head_samples_appended.inc(len(st_ts))
                if n_ooo:
                    self.metrics.out_of_order_samples_appended.inc(n_ooo)

        return result, wal_bytes, commit

    def _log_capacity(self) -> int:
        """Samples per open log: at least ``head_seal_samples``, and enough
        for several samples per series, because each sealed part costs a few
        dozen bytes per series it holds whatever its sample count."""
        per_series = 32 if self.replaying else 8
        return int(min(max(self.opts.head_seal_samples, per_series * len(self._series)), 1 << 23))

    def _apply(self, sid: np.ndarray, ts: np.ndarray, vals: np.ndarray, grouped: bool = False) -> None:
        """Store validated samples (under the lock); ``grouped``: each
        series' samples are adjacent."""
        if self._log.room < len(ts):
            self._frozen.append(self._log)
            self._log = OpenLog(max(self._log_capacity(), len(ts)))
        self._log.append(sid, ts, vals)
        # each series' newest sample (usually an in-order one; an out-of-order
        # sample only when the series had nothing newer in the head) and oldest
        change = sid[1:] != sid[:-1]
        if grouped and ((ts[1:] > ts[:-1]) | change).all():
            # adjacent and in time order: a series' first and last samples
            # are where its run begins and ends
            begin = np.flatnonzero(np.concatenate(([True], change)))
            end = np.append(begin[1:], len(sid)) - 1
            c_sid, c_ts, c_val = sid[end], ts[end], vals[end]
            f_sid, f_ts = sid[begin], ts[begin]
            first = self._first_ts.a
            first[f_sid] = np.minimum(first[f_sid], f_ts)
        else:
            order = np.lexsort((ts, sid))
            o_sid = sid[order]
            lastpos = np.flatnonzero(np.append(o_sid[1:] != o_sid[:-1], True))
            c_sid, c_ts, c_val = o_sid[lastpos], ts[order][lastpos], vals[order][lastpos]
            np.minimum.at(self._first_ts.a, sid, ts)
        newer = c_ts > self._last_ts.a[c_sid]
        self._last_ts.a[c_sid[newer]] = c_ts[newer]
        self._last_bits.a[c_sid[newer]] = c_val[newer].view(np.uint64)
        self.mint = min(self.mint, int(ts.min()))
        self.maxt = max(self.maxt, int(ts.max()))

    @property
    def frozen_logs(self) -> int:
        """Full open logs waiting to be sealed."""
        return len(self._frozen)

    @property
    def frozen_samples(self) -> int:
        """Samples in full open logs waiting to be sealed (20 bytes each)."""
        return sum(log.n for log in self._frozen)

    # --- replay --------------------------------------------------------------
    def replay_series(self, sids: np.ndarray, labels: list[Labels]) -> None:
        with self.lock:
            self._replay_map.ensure(int(sids.max()) + 1 if len(sids) else 0)
            batch: dict[Labels, int] = {}  # new series of this record, registered together
            for s, lbl in zip(sids.tolist(), labels):
                known = self._series.get(lbl)
                if known is None:
                    known = batch.get(lbl)
                if known is not None:
                    self._replay_map.a[s] = known  # re-created series: alias to the first id
                    continue
                if s < len(self._labels) and self._labels[s] is not None:
                    continue  # id already bound (cannot happen with a sane WAL)
                batch[lbl] = s
                self._replay_map.a[s] = s
            if batch:
                self._add_series(list(batch.values()), list(batch), interned=True)

    def finish_replay(self) -> None:
        """After replay: ids the WAL never bound are free for new series."""
        with self.lock:
            bound = np.zeros(self._next_sid, bool)
            bound[self._live_sids()] = True
            self._free_sids = np.flatnonzero(~bound)[::-1].tolist()
            self._replay_map = SidColumn(np.int64, -1)
            self.replaying = False

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
                self._log = OpenLog(max(self._log_capacity(), len(ts)))
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
                    self._log = OpenLog(self._log_capacity())
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
        n = log.n
        if n == 0:
            return None
        # the log by series and time (cached when queries read it already);
        # parts hold series in label order: move whole series runs
        o = log.order(n)
        counts = np.diff(o.off)
        by_rank = np.argsort(rank[o.sids], kind="stable")
        ts, val = o.ts, o.val
        if (by_rank[1:] < by_rank[:-1]).any():
            idx = ranges_index(o.off[:-1][by_rank], counts[by_rank])
            ts, val = ts[idx], val[idx]
        b = ChunkTableBuilder(config=SEAL_CONFIG)
        b.add(counts[by_rank], ts, val)
        return HeadPart.build(b.finish(), o.sids[by_rank])

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
                runs = p.table.read_runs(np.arange(lo, hi))
                pieces.append((np.searchsorted(batch_ranks, pr[lo:hi]), runs))
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
                self._log = OpenLog(self._log_capacity())
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
        # maxt stays: it bounds what later appends may be (see appendrules)
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
        self._last_ts.a[cand] = INT64_MIN
        self._last_bits.a[cand] = 0
        self._first_ts.a[cand] = INT64_MAX
        self._retired_sids.extend(cand.tolist())
        self.metrics.series_removed.inc(len(dead))
        return len(dead)

    # --- reading -------------------------------------------------------------
    def snapshot(self, matchers: Sequence[Matcher], mint: int, maxt: int) -> HeadSnapshot:
        with self.lock:
            sids = select_postings(_HeadIndex(self), matchers) if matchers else self._live_sids()
            if len(sids):
                keep = (self._first_ts.a[sids] <= maxt) & (self._last_ts.a[sids] >= mint)
                sids = sids[keep]
            if len(sids) == 0:
                # most selects of a rule set match nothing in the head: skip the ordering
                return HeadSnapshot(_NO_SIDS, [], [], [], _NO_SIDS)
            rank, _ = self._ranks()
            order = np.argsort(rank[sids], kind="stable")
            labels = [self._labels[s] for s in sids[order].tolist()]
            logs = [(log, log.n) for log in self._frozen + [self._log]]
            return HeadSnapshot(sids, labels, list(self._parts), logs, order)

    def snapshot_sids(self, sids: np.ndarray, labels: list[Labels]) -> HeadSnapshot:
        """Snapshot of the given sorted sids (some may be new, not yet
        committed), for the out-of-order duplicate check."""
        with self.lock:
            logs = [(log, log.n) for log in self._frozen + [self._log]]
            return HeadSnapshot(sids, labels, list(self._parts), logs)

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
                log.sid.nbytes + log.ts.nbytes + log.val.nbytes for log in self._frozen + [self._log]
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
