"""The scrape cache of one target: series text → series id → final labels.

Like Prometheus's ``scrapeCache``: the first time a target exposes a series
text (``name{a="b"}``), the scrape loop turns it into its final label set
(target labels merged, metric relabeling applied, limits checked) and the
cache remembers the answer, including "dropped". Later scrapes cost one dict
lookup per sample, done in C by ``map``; everything after that works on
integer ids in numpy: duplicates, and which series went stale (the last
scrape had them, this one has not)::

    cache = ScrapeCache()
    ids, added = cache.lookup(parsed.keys, make_labels)   # -1: dropped
    gone = cache.commit(parsed.keys, ids, present_ids, tracked_ids)
    stale_labels = cache.labels_of(gone)

Identical label sets reached from different texts share one id, so staleness
is tracked per series, as Prometheus tracks it per label-set hash.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import repeat

import numpy as np

from storage.labels import Labels

DROPPED = -1
_MISS = -2


class ScrapeCache:
    """Series ids of one target's scrapes and the series of its last scrape.

    Not thread-safe: one scrape at a time uses it (the loop's own worker call)."""

    __slots__ = ("_id_of", "_last_ids", "_last_keys", "_series_memo", "ids", "labels", "tracked")

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}  # series text -> id, or DROPPED
        self.labels: list[Labels] = []  # id -> final labels
        self._id_of: dict[Labels, int] = {}
        # Ids of the last scrape's series that get a stale marker when they vanish
        # (series with explicit timestamps do not, unless track_timestamps_staleness).
        self.tracked = np.zeros(0, dtype=np.int64)
        # The last scrape's texts and ids: a target usually exposes the same
        # series in the same order, and comparing two lists of strings costs
        # a sixth of hashing and looking up every one of them.
        self._last_keys: Sequence[str] = ()
        self._last_ids = np.zeros(0, dtype=np.int64)
        self._series_memo: tuple[np.ndarray | None, tuple[Labels, ...]] = (None, ())

    def __len__(self) -> int:
        return len(self.ids)

    def lookup(self, keys: Sequence[str], make: Callable[[str], Labels | None]) -> tuple[np.ndarray, int]:
        """Ids for ``keys`` (``DROPPED`` where ``make`` answered None) and how
        many keys were new. ``make`` may raise; what it answered so far stays cached."""
        if len(keys) == len(self._last_keys) and keys == self._last_keys:
            return self._last_ids, 0
        get = self.ids.get
        ids = np.fromiter(map(get, keys, repeat(_MISS)), dtype=np.int64, count=len(keys))
        added = 0
        if len(keys):
            miss = np.flatnonzero(ids == _MISS)
            for i in miss.tolist():
                key = keys[i]
                sid = get(key, _MISS)  # the same text twice in one scrape
                if sid == _MISS:
                    lset = make(key)
                    if lset is None:
                        sid = DROPPED
                    else:
                        sid = self._id_of.get(lset, -1)
                        if sid < 0:
                            sid = len(self.labels)
                            self.labels.append(lset)
                            self._id_of[lset] = sid
                        added += 1
                    self.ids[key] = sid
                ids[i] = sid
        ids.flags.writeable = False  # shared with the next scrape's lookup
        self._last_keys, self._last_ids = keys, ids
        return ids, added

    def labels_of(self, ids: np.ndarray | Sequence[int]) -> list[Labels]:
        labels = self.labels
        return [labels[i] for i in (ids.tolist() if isinstance(ids, np.ndarray) else ids)]

    def series_of(self, all_ids: np.ndarray, ids: np.ndarray) -> list[Labels]:
        """``labels_of(ids)`` for the stored samples of a scrape whose lookup
        answered ``all_ids``; when that is the last answer again (same texts in
        the same order), the last list is reused. ``ids`` must be derived from
        ``all_ids`` alone (dropping and de-duplicating are)."""
        memo_ids, memo = self._series_memo
        if all_ids is not memo_ids:
            memo = tuple(self.labels_of(ids))
            self._series_memo = (all_ids, memo)
        return list(memo)

    def commit(
        self, keys: Sequence[str], ids: np.ndarray, present: np.ndarray, tracked: np.ndarray
    ) -> np.ndarray:
        """Record a scrape: ``present`` are the ids it stored, ``tracked`` those
        of them that take part in staleness. Returns the ids of the last
        scrape's tracked series that this one lacks (they get stale markers).
        A failed scrape commits nothing present: all tracked series go stale."""
        n = len(self.labels)
        mask = np.zeros(n, dtype=bool)
        mask[self.tracked] = True
        mask[present] = False
        gone = np.flatnonzero(mask)
        self.tracked = np.asarray(tracked, dtype=np.int64)
        if len(keys) and (len(self.ids) > 2 * len(keys) + 1000 or n > 2 * len(present) + 1000):
            gone = self._compact(keys, ids, gone)
        return gone

    def forget(self) -> np.ndarray:
        """The tracked ids, which are then forgotten (end of the target's run)."""
        out, self.tracked = self.tracked, np.zeros(0, dtype=np.int64)
        return out

    def _compact(self, keys: Sequence[str], ids: np.ndarray, gone: np.ndarray) -> np.ndarray:
        # Series churn and varying texts grow the cache; keep only what the
        # last scrape used (and the ids about to get stale markers).
        n = len(self.labels)
        keep = np.zeros(n, dtype=bool)
        keep[ids[ids >= 0]] = True
        keep[gone] = True
        remap = np.full(n, -1, dtype=np.int64)
        kept = np.flatnonzero(keep)
        remap[kept] = np.arange(len(kept))
        self.labels = [self.labels[i] for i in kept.tolist()]
        self._id_of = {lab: i for i, lab in enumerate(self.labels)}
        self.ids = {k: (int(remap[i]) if i >= 0 else DROPPED) for k, i in zip(keys, ids.tolist())}
        self.tracked = remap[self.tracked]
        last = np.where(ids >= 0, remap[np.maximum(ids, 0)], DROPPED)
        last.flags.writeable = False
        self._last_keys, self._last_ids = keys, last
        return remap[gone]
