"""A bounded cache of decoded chunk groups, shared by the reads of one TSDB.

Reading a few series of a page decodes whole compressed groups (a group
holds the chunks of about a hundred consecutive series), so a sparse read
such as ``node_cpu_seconds_total{mode="user"}`` (one series in eight) decodes
eight times what it returns. Rules, subqueries and refreshed dashboards read
the same pages again and again; keeping decoded data turns those repeats
into copies. An entry is a whole decoded group, or, when the read that
decoded it wanted only a small share of it, just the chunks it wanted
(``chunktable.PartialGroup``), so that a sparse read's entries cost what it
returns, not what it decoded. Blocks and sealed head parts never change, so
an entry never goes stale: it is only evicted (least recently used first)
to stay within the byte budget. A group is kept the second time a read
decodes it (the cache remembers the last few thousand keys it was asked
for), so one-off reads pay nothing for keeping what nobody reads again;
and one read adds at most a quarter of the budget, so a wide read cannot
flush what the repeated narrow ones use. Every decode counts, also one by
a read past its share, and a key stays remembered once its group is kept:
a group that other reads decoded before (a range query over all CPU modes,
a read of another mode kept in part) is kept by the first read that
decodes it again, so a subquery or instant query over those series pays
for decoding once, not twice.

Measured on ``bench_promql``'s blocks (8,900 series x 6 h, 2026-11, this
2-core machine, best of 9 interleaved): ``node_cpu_seconds_total{mode="user"}``
over 6 h 44-48 ms decoding, 12-16 ms repeated (its entries: 9 MB for
576,000 samples); over 31 min 6.5-7.2 -> 1.6-2.7 ms; every series x 5 min
29-31 -> 18-19 ms; a read that finds nothing cached costs what it did
without the cache (within 3 %)::

    cache = GroupCache(32 << 20, metrics)
    runs = table.read_runs(rows, mint, maxt, cache=cache)   # decodes, remembers
    runs = table.read_runs(rows, mint, maxt, cache=cache)   # decodes, keeps
    runs = table.read_runs(rows, mint, maxt, cache=cache)   # copies
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from storage.tsdb.telemetry import TSDBMetrics

# What a key's middle element says the group holds.
VALUES, TIMESTAMPS = 0, 1

Key = tuple[int, int, int]  # (table uid, VALUES or TIMESTAMPS, group number)

# Keys of groups decoded once and not kept, remembered to keep them the
# second time (a key costs about 150 bytes).
DOORKEEPER_KEYS = 8192


class GroupCache:
    """Decoded groups by (table uid, kind, group); at most ``capacity_bytes``
    of them. An entry is an array (made read-only) or any object with
    ``nbytes`` whose arrays nobody writes. Thread-safe."""

    def __init__(self, capacity_bytes: int, metrics: TSDBMetrics | None = None):
        if capacity_bytes <= 0:
            raise ValueError("capacity_bytes must be positive")
        self.capacity_bytes = capacity_bytes
        self._entries: OrderedDict[Key, object] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._metrics = metrics
        self._seen: OrderedDict[Key, None] = OrderedDict()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def admits(self, nbytes: int) -> bool:
        """Whether one read may add ``nbytes`` in all."""
        return nbytes <= self.capacity_bytes // 4

    def second_time(self, key: Key) -> bool:
        """Whether ``key``'s group was decoded before, recently (then it is
        worth keeping now); remembers it either way: a group kept in part
        (``PartialGroup``) and now read for other items is decoded again."""
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return True
            self._seen[key] = None
            if len(self._seen) > DOORKEEPER_KEYS:
                self._seen.popitem(last=False)
            return False

    def get(self, key: Key):
        return self.lookup([key])[0]

    def lookup(self, keys: list[Key]) -> list:
        """The entries of ``keys`` (None where absent), counted as hits and misses."""
        with self._lock:
            found = [self._entries.get(k) for k in keys]
            for k, e in zip(keys, found):
                if e is not None:
                    self._entries.move_to_end(k)
        if self._metrics is not None:
            hits = sum(e is not None for e in found)
            if hits:
                self._metrics.group_cache_hits.inc(hits)
            if hits < len(keys):
                self._metrics.group_cache_misses.inc(len(keys) - hits)
        return found

    def put(self, key: Key, arr) -> None:
        """Keep ``arr`` (the cache owns it from now on)."""
        if arr.nbytes > self.capacity_bytes:
            return
        if isinstance(arr, np.ndarray):
            arr.flags.writeable = False
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._entries[key] = arr
            self._bytes += arr.nbytes
            evicted = 0
            while self._bytes > self.capacity_bytes:
                _, gone = self._entries.popitem(last=False)
                self._bytes -= gone.nbytes
                evicted += 1
        if evicted and self._metrics is not None:
            self._metrics.group_cache_evictions.inc(evicted)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._seen.clear()
            self._bytes = 0
