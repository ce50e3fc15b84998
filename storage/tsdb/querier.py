"""Reading the TSDB: a querier over ``[mint, maxt]`` that merges blocks and the head.

``select`` works in three passes so that no per-sample Python runs: find the
matching series of every source (postings), sort their label sets once into
the output order (sources holding the same series, as consecutive blocks
usually do, are just compared), then decode each source's samples — only
the time pages the range overlaps — and lay them into one CSR
``SeriesSet`` (``merge.assemble``). A block's postings for a matcher list are
kept across queries (blocks never change; rules repeat their selects)::

    q = db.querier(start_ms, end_ms)
    ss = q.select([Matcher("=", "__name__", "up")])
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence

import numpy as np

from storage.interface import QueryLimitError, SelectHints, SeriesSet
from storage.labels import Labels, Matcher
from storage.tsdb.block import Block
from storage.tsdb.codec import offsets_from_counts
from storage.tsdb.groupcache import GroupCache
from storage.tsdb.head import Head, HeadSnapshot
from storage.tsdb.merge import assemble
from storage.tsdb.postings import select_postings


class TSDBQuerier:
    """A ``storage.interface.Querier`` over the blocks and head of one TSDB:
    ``db.querier(mint, maxt).select(matchers, SelectHints(max_samples=...))``."""

    def __init__(
        self, blocks: Sequence[Block], head: Head, mint: int, maxt: int, cache: GroupCache | None = None
    ):
        self.mint, self.maxt = mint, maxt
        self._cache = cache
        self._blocks = sorted(
            (b for b in blocks if b.overlaps(mint, maxt)), key=lambda b: (b.min_time, b.ulid)
        )
        self._head = head

    def _sources(self, matchers: Sequence[Matcher]):
        """Per source: (block or head snapshot, rows/sids, labels in label
        order; for the head, see ``HeadSnapshot.labels``)."""
        out: list[tuple[Block | HeadSnapshot, np.ndarray, list[Labels]]] = []
        for b in self._blocks:
            rows = _block_postings(b.index, matchers) if matchers else b.index.all_postings()
            if len(rows):
                rows = b.table.overlapping(rows, self.mint, self.maxt)
            if len(rows):
                out.append((b, rows, b.index.labels_for(rows)))
        snap = self._head.snapshot(matchers, self.mint, self.maxt)
        if len(snap.sids):
            out.append((snap, snap.sids, snap.labels))
        return out

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> SeriesSet:
        hints = hints or SelectHints()
        sources = self._sources(matchers)
        if not sources:
            return SeriesSet.empty()
        if len(sources) == 1 and isinstance(sources[0][0], Block):
            out_labels = sources[0][2]  # block rows are in label order
            out_of = [np.arange(len(out_labels), dtype=np.int64)]
        elif len(sources) == 1:
            snap = sources[0][0]
            out_labels = snap.labels
            out_of = [_inverse(snap.label_order)]
        else:
            out_labels, out_of = _union(sources)
        n = len(out_labels)
        if hints.series_only:
            return SeriesSet(list(out_labels), np.zeros(n + 1, np.int64), np.empty(0, np.int64), np.empty(0, np.float64))
        pieces = []
        loaded = 0
        for (src, rows, _), out in zip(sources, out_of):
            if isinstance(src, Block):
                src_pieces = [(out, src.table.read_runs(rows, self.mint, self.maxt, self._cache, lazy_values=True))]
            else:  # head: rows of its pieces are positions in snap.sids
                src_pieces = [
                    (out[which], runs)
                    for which, runs in src.pieces(self.mint, self.maxt, self._cache, lazy_values=True)
                ]
            loaded += sum(runs.num_samples for _, runs in src_pieces)
            if hints.max_samples and loaded > hints.max_samples:
                raise QueryLimitError(
                    f"query processing would load too many samples into memory "
                    f"(more than max_samples={hints.max_samples})"
                )
            pieces.extend(src_pieces)
        del src_pieces
        counts, ts, vals = assemble(n, pieces, consume=True)
        if hints.max_samples and len(ts) > hints.max_samples:
            raise QueryLimitError(
                f"query processing would load too many samples into memory "
                f"(more than max_samples={hints.max_samples})"
            )
        has = counts > 0
        if not has.all():
            out_labels = [lbl for lbl, h in zip(out_labels, has.tolist()) if h]
            counts = counts[has]
        return SeriesSet(list(out_labels), offsets_from_counts(counts), ts, vals)

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        if matchers:
            names: set[str] = set()
            for lbls in self._matching_labels(matchers):
                names.update(lbls.names())
            return sorted(names)
        names = set()
        for b in self._blocks:
            names.update(b.index.names)
        if self._head_overlaps():
            names.update(self._head.label_names())
        return sorted(names)

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        if matchers:
            values = {lbls.get(name) for lbls in self._matching_labels(matchers)}
            values.discard("")
            return sorted(values)
        values: set[str] = set()
        for b in self._blocks:
            values.update(b.index.label_values(name))
        if self._head_overlaps():
            values.update(self._head.label_values(name))
        return sorted(values)

    def _matching_labels(self, matchers: Sequence[Matcher]) -> list[Labels]:
        return [lbls for _, _, src_labels in self._sources(matchers) for lbls in src_labels]

    def _head_overlaps(self) -> bool:
        h = self._head
        return h.num_series > 0 and h.mint <= self.maxt and h.maxt >= self.mint

    def close(self) -> None:
        self._blocks = []


# A block's index never changes, and rules and dashboards select with the same
# matchers again and again (most of them, in a typical rule set, matching
# nothing in most blocks): the ids a matcher list selects are kept per index,
# read-only, until the index is dropped with its block. Bounded by the number
# of ids held per index so that wide selects cannot pin much memory.
_POSTINGS_CACHE_IDS = 1 << 20
_postings_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_postings_lock = threading.Lock()


def _block_postings(index, matchers: Sequence[Matcher]) -> np.ndarray:
    key = tuple(matchers)
    per_index = _postings_cache.get(index)
    if per_index is not None:
        rows = per_index[0].get(key)
        if rows is not None:
            return rows
    rows = select_postings(index, matchers)
    if len(rows) > _POSTINGS_CACHE_IDS // 4:
        return rows
    rows = rows.view()
    rows.flags.writeable = False
    with _postings_lock:
        per_index = _postings_cache.get(index)
        # an empty answer costs a slot too: the entry count stays bounded
        cost = len(rows) + 1
        if per_index is None or per_index[1] + cost > _POSTINGS_CACHE_IDS:
            per_index = ({}, 0)
        per_index[0][key] = rows
        _postings_cache[index] = (per_index[0], per_index[1] + cost)
    return rows


def _inverse(order: np.ndarray) -> np.ndarray:
    inverse = np.empty(len(order), np.int64)
    inverse[order] = np.arange(len(order))
    return inverse


def _union(sources) -> tuple[list[Labels], list[np.ndarray]]:
    """The sorted union of the sources' series and, per source, the output
    row of each of its series. Consecutive blocks usually hold the same
    series: then one list comparison replaces hashing and sorting them."""
    # every source's labels are in label order; the head's rows are
    # positions in its sids, which label_order maps them to
    orders = [None if isinstance(src, Block) else src.label_order for src, _, _ in sources]
    lists = [lbls for _, _, lbls in sources]
    first = lists[0]
    if all(len(lbls) == len(first) for lbls in lists) and all(lbls == first for lbls in lists[1:]):
        positions = [np.arange(len(first), dtype=np.int64)] * len(lists)
        out_labels = first
    else:
        out_labels, positions = _merge_labels(lists)
    out_of = []
    for pos, order in zip(positions, orders):
        if order is None:
            out_of.append(pos)
        else:
            rows = np.empty(len(order), np.int64)
            rows[order] = pos
            out_of.append(rows)
    return out_labels, out_of


def _merge_labels(lists: list[list[Labels]]) -> tuple[list[Labels], list[np.ndarray]]:
    """The sorted union of label lists and the position of each list's items in it."""
    union: dict[Labels, None] = {}
    for lbls in lists:
        union.update(dict.fromkeys(lbls))
    out_labels = sorted(union)
    pos = {lbl: i for i, lbl in enumerate(out_labels)}
    return out_labels, [np.fromiter(map(pos.__getitem__, lbls), np.int64, len(lbls)) for lbls in lists]
