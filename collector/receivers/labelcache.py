"""A bounded map from a series' wire form to its validated ``Labels``.

Senders repeat the same series in every request; decoding, sorting and
validating a label set once and then finding it by its raw form (the label
bytes of a remote-write series, the resolved strings of a 2.0 series) is
what keeps per-series work to one dictionary lookup::

    cache = LabelCache(100_000)
    labels = cache.get(key)          # what was put, or None (unknown)
    if labels is None:
        labels = cache.put(key, build())

Values are ``Labels``, ``InvalidLabels`` or whatever a decoder needs to
remember about a key (remote-write 1.0 wraps label sets whose key was not
their canonical encoding, see ``remote_write/labelfields.py``).
"""

from __future__ import annotations

from collections.abc import Hashable

from storage.labels import InvalidLabels, Labels


class LabelCache:
    """Two generations of dictionaries: when the young one is full it becomes
    the old one and the previous old one is dropped, so the cache stays within
    twice its size and series still in use survive (a hit in the old
    generation moves the entry to the young one). O(1), no per-entry
    bookkeeping, safe under the GIL without locks (a lost race only costs a
    re-decode)."""

    __slots__ = ("_old", "_young", "size")

    def __init__(self, size: int):
        self.size = size
        self._young: dict[Hashable, Labels | InvalidLabels] = {}
        self._old: dict[Hashable, Labels | InvalidLabels] = {}

    def get(self, key: Hashable) -> Labels | InvalidLabels | None:
        hit = self._young.get(key)
        if hit is not None:
            return hit
        hit = self._old.get(key)
        if hit is not None:
            self.put(key, hit)
        return hit

    def get_many(self, keys: list) -> list:
        """``get`` for every key, in order (None for unknown ones); the young
        generation is looked up with one ``map``, which is what a request of
        known series costs."""
        found = list(map(self._young.get, keys))
        if self._old and None in found:
            get = self.get
            found = [f if f is not None else get(k) for f, k in zip(found, keys)]
        return found

    def put(self, key: Hashable, value: Labels | InvalidLabels) -> Labels | InvalidLabels:
        if self.size <= 0:
            return value
        young = self._young
        if len(young) >= self.size:
            self._old = young
            young = self._young = {}
        young[key] = value
        return value

    def __len__(self) -> int:
        return len(self._young) + len(self._old)
