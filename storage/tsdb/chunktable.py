"""Grouped, compressed sample storage for many series: the body of a block and
of a sealed head part.

A ``ChunkTable`` holds rows (one per series, in the caller's order). Time is
cut into aligned *pages* sized so that a series scraped at its usual interval
has about ``CHUNK_SAMPLES`` samples in one (1 h for 15 s scrapes); a row's
samples inside one page are a *chunk*. Chunks of one page and consecutive
rows are concatenated into *value groups* of about ``GROUP_SAMPLES`` samples
and compressed together, so that reading 10,000 series costs a few hundred
decoder calls rather than tens of thousands, while a read of a few minutes
decodes only the pages it overlaps. Timestamps are deduplicated first: all
chunks of one scrape share one timestamp array, which is stored once (a
*unique timestamp array*, "uts") and referenced by every chunk that has
exactly those timestamps. Unique arrays are grouped per page and compressed
the same way. See FORMAT.md for the layout::

    b = ChunkTableBuilder()
    b.add(counts, timestamps, values)     # rows in order, samples concatenated
    table = b.finish()
    counts, ts, vs = table.read(np.array([0, 2]), mint, maxt)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from pcodec import ChunkConfig

from storage.interface import StorageError
from storage.tsdb import codec
from storage.tsdb.codec import (
    CorruptChunkError,
    gather_ranges,
    offsets_from_counts,
    ranges_index,
    search_segments,
)
from storage.tsdb.groupcache import TIMESTAMPS, VALUES, GroupCache

# Target samples per compressed group: big enough that pcodec's per-chunk
# header and the Python call cost vanish, small enough that a selective query
# does not decode much it does not need (measured in FORMAT.md).
GROUP_SAMPLES = 32_768

# Samples a series should have per page. A read of a 5-minute window decodes
# one or two pages per series, so smaller pages make narrow reads cheaper;
# but a wide read copies every chunk on its own (~1 µs each in numpy), and
# each chunk costs 12 bytes of index. Measured (FORMAT.md): 120 samples made
# a 6-hour select of 8,900 series 35 % slower than one page per 2 h block;
# 240 keeps it within noise and still halves 5-minute selects.
CHUNK_SAMPLES = 240

# Pages a table is cut into at most, while pages of a day or less suffice.
MAX_PAGES = 8

# Page durations a table may use: each divides a day, so pages start at
# round times (aligned to multiples of their duration since the epoch).
PAGE_LADDER_MS = (
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000,
    14_400_000, 21_600_000, 43_200_000, 86_400_000,
)  # fmt: skip

_I64_MIN = np.iinfo(np.int64).min
_I64_MAX = np.iinfo(np.int64).max

# Table identities for the decoded-group cache: never reused in a process.
_table_uids = itertools.count(1)

# A read that wants less than 1/SPARSE_SHARE of a decoded group's values
# caches only the chunks it wanted (``PartialGroup``), not the whole group.
SPARSE_SHARE = 4


def choose_page_ms(counts: np.ndarray, ts: np.ndarray) -> int:
    """Page duration for rows like these (CSR), or 0 for one page: the
    shortest ladder step of at least ⅔ × ``CHUNK_SAMPLES`` median sample
    intervals and at least 1/``MAX_PAGES`` of the time the rows span (long
    compacted blocks are read wide: fewer, longer chunks); no pages at all
    when the rows span less than one page."""
    offs = offsets_from_counts(counts)
    multi = counts >= 2
    if not multi.any():
        return 0
    # in float: the span of int64 timestamps may not fit an int64
    row_span = ts[offs[1:] - 1].astype(np.float64) - ts[offs[:-1]].astype(np.float64)
    interval = float(np.median(row_span[multi] / (counts[multi] - 1)))
    span = float(ts.max()) - float(ts.min())
    target = max(interval * CHUNK_SAMPLES / 1.5, span / MAX_PAGES)
    page = next((p for p in PAGE_LADDER_MS if p >= target), PAGE_LADDER_MS[-1])
    return 0 if span < page else page


@dataclass(frozen=True, slots=True)
class GroupTable:
    """Where each compressed group lives in the buffer and how many values it holds."""

    off: np.ndarray  # uint64 byte offset in the buffer
    size: np.ndarray  # uint32 compressed bytes
    n: np.ndarray  # uint32 values
    crc: np.ndarray  # uint32 CRC-32 of the compressed bytes

    @classmethod
    def empty(cls) -> GroupTable:
        return cls(
            np.empty(0, np.uint64), np.empty(0, np.uint32), np.empty(0, np.uint32), np.empty(0, np.uint32)
        )

    def __len__(self) -> int:
        return len(self.off)

    def take(self, ids: np.ndarray) -> GroupTable:
        return GroupTable(self.off[ids], self.size[ids], self.n[ids], self.crc[ids])


ROW_FIELDS = ("row_mint", "row_maxt", "row_count")
CHUNK_FIELDS = ("chunk_row", "chunk_voff", "chunk_tsref")
PAGE_FIELDS = ("page_mint", "page_maxt", "page_chunk")
UTS_FIELDS = ("uts_group", "uts_off", "uts_len")
_DTYPES = {
    "row_mint": np.int64,
    "row_maxt": np.int64,
    "row_count": np.uint32,
    "chunk_row": np.uint32,
    "chunk_voff": np.uint32,
    "chunk_tsref": np.uint32,
    "page_mint": np.int64,
    "page_maxt": np.int64,
    "page_chunk": np.uint64,
    "uts_group": np.uint32,
    "uts_off": np.uint32,
    "uts_len": np.uint32,
    "vg_chunk": np.uint64,
}


@dataclass(frozen=True, slots=True)
class ChunkTable:
    """Compressed samples of ``num_rows`` series (see module docstring):
    ``table.read_runs(rows, mint, maxt)`` decodes only the overlapping pages."""

    row_mint: np.ndarray  # int64, first timestamp of the row
    row_maxt: np.ndarray  # int64, last timestamp of the row
    row_count: np.ndarray  # uint32 samples
    # chunks, ordered by page then row
    chunk_row: np.ndarray  # uint32 row of the chunk
    chunk_voff: np.ndarray  # uint32 first value's position inside its value group
    chunk_tsref: np.ndarray  # uint32 unique timestamp array (its length is the chunk's)
    # pages, in time order; their chunks are page_chunk[p]:page_chunk[p+1]
    page_mint: np.ndarray  # int64 first timestamp in the page
    page_maxt: np.ndarray  # int64 last timestamp in the page
    page_chunk: np.ndarray  # int64, pages + 1
    uts_group: np.ndarray  # uint32 timestamp group of each unique array
    uts_off: np.ndarray  # uint32 position inside the group
    uts_len: np.ndarray  # uint32 length
    vgroups: GroupTable
    vg_chunk: np.ndarray  # int64 first chunk of each value group, value groups + 1
    tgroups: GroupTable
    buf: object  # bytes or mmap holding the compressed groups
    # this table's identity in a GroupCache (tables never change)
    uid: int = field(default_factory=_table_uids.__next__, compare=False)

    @property
    def num_rows(self) -> int:
        return len(self.row_count)

    @property
    def num_chunks(self) -> int:
        return len(self.chunk_row)

    @property
    def num_samples(self) -> int:
        return int(self.row_count.sum(dtype=np.int64))

    @property
    def compressed_bytes(self) -> int:
        return int(self.vgroups.size.sum(dtype=np.int64) + self.tgroups.size.sum(dtype=np.int64))

    @property
    def memory_bytes(self) -> int:
        arrays = [getattr(self, f) for f in ROW_FIELDS + CHUNK_FIELDS + PAGE_FIELDS + UTS_FIELDS]
        arrays += [getattr(g, f) for g in (self.vgroups, self.tgroups) for f in ("off", "size", "n", "crc")]
        arrays.append(self.vg_chunk)
        return sum(a.nbytes for a in arrays) + (len(self.buf) if isinstance(self.buf, bytes) else 0)

    # --- reading -------------------------------------------------------------
    def overlapping(self, rows: np.ndarray, mint: int, maxt: int) -> np.ndarray:
        """The subset of ``rows`` with at least one sample possibly in ``[mint, maxt]``."""
        rows = np.asarray(rows, np.int64)
        return rows[(self.row_mint[rows] <= maxt) & (self.row_maxt[rows] >= mint)]

    def read(
        self, rows: np.ndarray, mint: int | None = None, maxt: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Samples of ``rows`` as CSR (counts per row, timestamps, values),
        clipped to ``[mint, maxt]`` when given."""
        rows = np.asarray(rows, np.int64)
        return self.read_runs(rows, mint, maxt).to_csr(len(rows))

    def read_runs(
        self,
        rows: np.ndarray,
        mint: int | None = None,
        maxt: int | None = None,
        cache: GroupCache | None = None,
        lazy_values: bool = False,
    ) -> Runs:
        """Like ``read`` but without gathering: the samples of each chunk of
        ``rows`` in ``[mint, maxt]`` as a run in the decoded buffers, for
        callers that copy them once into their own output (``merge.assemble``).
        Only the pages overlapping the range are decoded, and of those only
        the groups holding a wanted chunk (taken from ``cache`` when there).
        With ``lazy_values`` the values are decoded only when the caller
        asks for them (``Runs.values()``)."""
        rows = np.asarray(rows, np.int64)
        n = len(rows)
        lo = _I64_MIN if mint is None else mint
        hi = _I64_MAX if maxt is None else maxt
        if n == 0 or lo > hi:
            return Runs.empty(n)
        pages = ((self.page_mint <= hi) & (self.page_maxt >= lo)).nonzero()[0]
        if len(pages) == 0:
            return Runs.empty(n)
        ch, pos = self._chunks_of(rows, pages)
        if len(ch) == 0:
            return Runs.empty(n)
        # timestamps first: the clip window is found once per unique timestamp
        # array, not per chunk and never per sample
        refs = self.chunk_tsref[ch]
        if len(refs) == 1 or (refs[1:] > refs[:-1]).all():
            # each chunk its own timestamp array, in order (series scraped
            # at their own phase): no sort (``np.unique`` ≈ 7 µs)
            urefs, inv = refs, np.arange(len(refs))
        else:
            urefs, inv = np.unique(refs, return_inverse=True)
            inv = inv.reshape(-1)
        ulen = self.uts_len[urefs].astype(np.int64)
        tbuf, ustart, added = self._load(
            TIMESTAMPS, urefs, self.uts_group[urefs], self.uts_off[urefs], ulen, cache, 0
        )
        ulo = None
        if lo > int(self.page_mint[pages[0]]) or hi < int(self.page_maxt[pages[-1]]):
            cut = ((tbuf[ustart] < lo) | (tbuf[ustart + ulen - 1] > hi)).nonzero()[0]
            if len(cut):
                s, k = ustart[cut], ulen[cut]
                a = search_segments(tbuf, s, k, lo, "left")
                b = search_segments(tbuf, s, k, hi, "right")
                ulo = np.zeros(len(urefs), np.int64)
                ulo[cut] = a
                ulen[cut] = b - a
                ustart = ustart + ulo
        counts = ulen[inv]
        tstart = ustart[inv]
        chunk_lo = ulo[inv] if ulo is not None else 0
        if ulo is not None:
            keep = counts > 0
            if not keep.all():
                ch, pos, counts, tstart, chunk_lo = ch[keep], pos[keep], counts[keep], tstart[keep], chunk_lo[keep]
                if len(ch) == 0:
                    return Runs.empty(n)
        vg = self.vg_chunk.searchsorted(ch, "right") - 1
        full = self.uts_len[self.chunk_tsref[ch]].astype(np.int64)
        voff = self.chunk_voff[ch]

        def load() -> tuple[np.ndarray, np.ndarray]:
            vbuf, cstart, _ = self._load(VALUES, ch, vg, voff, full, cache, added)
            return vbuf, cstart + chunk_lo

        if lazy_values:
            return Runs(counts, tbuf, tstart, None, None, pos, load)
        return Runs(counts, tbuf, tstart, *load(), pos)

    def _chunks_of(self, rows: np.ndarray, pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Chunks of ``rows`` in ``pages`` (page by page, rows ascending) and
        the position in ``rows`` of each one's row."""
        a = self.page_chunk[pages]
        b = self.page_chunk[pages + 1]
        scanned = int((b - a).sum())
        if self.num_rows + scanned <= 8 * len(rows) * len(pages):
            # many of the rows: one lookup table, one pass over the pages' chunks
            where = np.full(self.num_rows, -1, np.int64)
            where[rows] = np.arange(len(rows))
            cidx = ranges_index(a, b - a)
            p = where[self.chunk_row[cidx]]
            hit = p >= 0
            return cidx[hit], p[hit]
        if len(rows) == 1:
            # one series (a panel's query): a scalar bisection per page
            row = int(rows[0])
            found = []
            for a_, b_ in zip(a.tolist(), b.tolist()):
                seg = self.chunk_row[a_:b_]
                j = int(seg.searchsorted(row))
                if j < len(seg) and int(seg[j]) == row:
                    found.append(a_ + j)
            return np.array(found, np.int64), np.zeros(len(found), np.int64)
        # a few rows: binary search in each page's sorted rows
        order = np.argsort(rows, kind="stable")
        # searched in the table's own dtype: a cast of the keys, not a copy
        # of each page's rows (tens of µs on a page of 10,000 series)
        wanted = rows[order].astype(self.chunk_row.dtype)
        found_c, found_p = [], []
        for a_, b_ in zip(a.tolist(), b.tolist()):
            if a_ == b_:
                continue
            seg = self.chunk_row[a_:b_]
            j = np.minimum(seg.searchsorted(wanted), len(seg) - 1)
            hit = seg[j] == wanted
            found_c.append(j[hit] + a_)
            found_p.append(order[hit])
        if not found_c:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(found_c), np.concatenate(found_p)

    def _load(
        self,
        kind: int,
        items: np.ndarray,
        group: np.ndarray,
        pos: np.ndarray,
        length: np.ndarray,
        cache: GroupCache | None,
        added: int,
    ) -> tuple[np.ndarray, np.ndarray, int]:
        """Decoded data of ``items`` (ascending ids of chunks for VALUES or of
        unique timestamp arrays for TIMESTAMPS) with their ``group``, their
        ``pos``ition inside the decoded group and ``length``: one buffer,
        where each item starts in it, and the bytes this read has added to
        ``cache`` (``added`` before this call). The groups holding the items
        are decoded, or taken from ``cache``: a whole decoded group, or,
        where an earlier read wanted few of a group's items, just those (see
        groupcache.py)."""
        group = np.asarray(group, np.int64)
        pos = np.asarray(pos, np.int64)
        if len(group) == 1:
            first = np.zeros(1, np.int64)
        else:
            first = (group[1:] != group[:-1]).nonzero()[0] + 1
            first = np.concatenate((np.zeros(1, np.int64), first))
        gids = group[first]
        table = self.vgroups if kind == VALUES else self.tgroups
        sizes = table.n[gids].astype(np.int64)
        dtype = np.float64 if kind == VALUES else np.int64
        decode = self._decode_value_group if kind == VALUES else self._decode_timestamp_group
        if cache is None:
            base = offsets_from_counts(sizes)
            out = np.empty(int(base[-1]), dtype)
            for i, g in enumerate(gids.tolist()):
                decode(g, out[base[i] : base[i + 1]])
            return out, np.repeat(base[:-1], np.diff(np.append(first, len(items)))) + pos, added
        uid = self.uid
        bounds = first.tolist()
        bounds.append(len(items))
        glist = gids.tolist()
        found = cache.lookup([(uid, kind, g) for g in glist])
        # per group: what it contributes to the buffer (a cached array, the
        # wanted part of a partial entry, or None: decode it) and its length
        # per-group bookkeeping in Python lists, one numpy concatenation at
        # the end: a small read touches a few dozen groups, and numpy calls
        # per group (≈ 1 µs each) were most of its cost
        data: list[np.ndarray | None] = []
        lens: list[int] = []
        start_parts: list[np.ndarray] = []
        size_list = sizes.tolist()
        lacking: dict[int, PartialGroup] = {}  # partial entries without some of our items
        for j, hit in enumerate(found):
            a, b = bounds[j], bounds[j + 1]
            if isinstance(hit, PartialGroup):
                k = hit.find(items[a:b])
                if k is None:
                    lacking[j] = hit
                    hit = None
                else:
                    data.append(hit.data)
                    lens.append(len(hit.data))
                    start_parts.append(hit.offs[k])
                    continue
            data.append(hit)
            lens.append(len(hit) if hit is not None else size_list[j])
            start_parts.append(pos[a:b])
        base = [0, *itertools.accumulate(lens)]
        if len(glist) == 1:  # (the first group starts at 0)
            starts = np.array(start_parts[0], np.int64)
        else:
            starts = np.concatenate(start_parts)
            starts += np.repeat(np.array(base[:-1], np.int64), np.diff(bounds))
        if len(data) == 1 and data[0] is not None:
            return data[0], starts, added
        out = np.empty(base[-1], dtype)
        for j, g in enumerate(glist):
            seg = out[base[j] : base[j + 1]]
            if data[j] is not None:
                seg[:] = data[j]
                continue
            decode(g, seg)
            # keep what later reads of these items need: the whole group, or
            # only these items when they are a small share of it; one read
            # adds at most what the cache admits, so a wide one cannot
            # flush it
            a, b = bounds[j], bounds[j + 1]
            keep, keep_pos, keep_len = items[a:b], pos[a:b], length[a:b]
            if j in lacking:
                # another read's items of this group are kept: keep theirs
                # and ours, or two reads of one group (a / b) replace each
                # other's entry and both decode every time
                keep = np.union1d(lacking[j].items, keep)
                keep_pos, keep_len = self._layout(kind, keep)
            wanted = int(keep_len.sum())
            sparse = wanted * SPARSE_SHARE < len(seg)
            size = 8 * wanted + 16 * len(keep) if sparse else seg.nbytes
            key = (uid, kind, g)
            # every decode counts as one, also past this read's share
            if not cache.second_time(key) or not cache.admits(added + size):
                continue
            if sparse:
                cache.put(key, PartialGroup.of(keep, seg, keep_pos, keep_len))
            else:  # a lone group is the buffer itself: the cache takes it
                cache.put(key, out if len(glist) == 1 else seg.copy())
            added += size
        return out, starts, added

    def _layout(self, kind: int, items: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position inside its decoded group and length of each item (chunk
        ids for VALUES, unique timestamp arrays for TIMESTAMPS)."""
        if kind == VALUES:
            return self.chunk_voff[items].astype(np.int64), self.uts_len[self.chunk_tsref[items]].astype(np.int64)
        return self.uts_off[items].astype(np.int64), self.uts_len[items].astype(np.int64)

    def _decode_timestamp_group(self, g: int, out: np.ndarray) -> None:
        codec.decode_into(self._group_bytes(self.tgroups, g), out)

    def _group_bytes(self, table: GroupTable, g: int):
        off, size = int(table.off[g]), int(table.size[g])
        data = self.buf[off : off + size]
        if codec.crc32(data) != int(table.crc[g]):
            raise CorruptChunkError(f"checksum mismatch in chunk group {g} at byte {off}")
        return data

    def _decode_value_group(self, g: int, out: np.ndarray) -> None:
        c0, c1 = int(self.vg_chunk[g]), int(self.vg_chunk[g + 1])
        counts = self.uts_len[self.chunk_tsref[c0:c1]]
        codec.decode_values(self._group_bytes(self.vgroups, g), counts, out)

    # --- (de)serialization ---------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            f: np.asarray(getattr(self, f), _DTYPES[f])
            for f in ROW_FIELDS + CHUNK_FIELDS + PAGE_FIELDS + UTS_FIELDS
        }
        for prefix, g in (("vg", self.vgroups), ("tg", self.tgroups)):
            for f in ("off", "size", "n", "crc"):
                out[f"{prefix}_{f}"] = getattr(g, f)
        out["vg_chunk"] = np.asarray(self.vg_chunk, np.uint64)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], buf) -> ChunkTable:
        """The table over ``buf`` from its index arrays; also reads the
        version 1 layout (one chunk per row, no pages; see FORMAT.md)."""
        groups = {
            p: GroupTable(a[f"{p}_off"], a[f"{p}_size"], a[f"{p}_n"], a[f"{p}_crc"]) for p in ("vg", "tg")
        }
        if "chunk_row" not in a:
            a = _from_version1(a, len(groups["vg"]))
        t = cls(
            **{f: a[f] for f in ROW_FIELDS + CHUNK_FIELDS + UTS_FIELDS},
            page_mint=a["page_mint"],
            page_maxt=a["page_maxt"],
            page_chunk=a["page_chunk"].astype(np.int64),
            vgroups=groups["vg"],
            vg_chunk=a["vg_chunk"].astype(np.int64),
            tgroups=groups["tg"],
            buf=buf,
        )
        t._check()
        return t

    def _check(self) -> None:
        """Cheap consistency checks between sections (each has its own CRC)."""
        nc, nr = self.num_chunks, self.num_rows
        ok = (
            len(self.chunk_voff) == nc
            and len(self.chunk_tsref) == nc
            and len(self.page_chunk) == len(self.page_mint) + 1 == len(self.page_maxt) + 1
            and int(self.page_chunk[0]) == 0
            and int(self.page_chunk[-1]) == nc
            and len(self.vg_chunk) == len(self.vgroups) + 1
            and int(self.vg_chunk[0]) == 0
            and int(self.vg_chunk[-1]) == nc
            and len(self.row_mint) == nr == len(self.row_maxt)
            and len(self.uts_off) == len(self.uts_group) == len(self.uts_len)
        )
        if ok and nc:
            ok = (
                int(self.chunk_row.max()) < nr
                and int(self.chunk_tsref.max()) < len(self.uts_len)
                and int(self.uts_group.max()) < len(self.tgroups)
                and bool((np.diff(self.page_chunk) > 0).all())
                and bool((np.diff(self.vg_chunk) > 0).all())
            )
        if ok and nc:
            # rows ascend inside each page: lookups bisect them
            step = np.diff(self.chunk_row.astype(np.int64))
            step[self.page_chunk[1:-1] - 1] = 1
            ok = bool((step > 0).all())
        if not ok:
            raise StorageError("chunk table sections are inconsistent")


def _from_version1(a: dict[str, np.ndarray], n_vgroups: int) -> dict[str, np.ndarray]:
    """Version 1 index arrays as version 2 ones: every row is one chunk of a
    single page, and value groups are runs of consecutive rows."""
    n = len(a["row_count"])
    out = dict(a)
    out["chunk_row"] = np.arange(n, dtype=np.uint32)
    out["chunk_voff"] = a["row_voff"]
    out["chunk_tsref"] = a["row_tsref"]
    if n:
        out["page_mint"] = np.array([a["row_mint"].min()], np.int64)
        out["page_maxt"] = np.array([a["row_maxt"].max()], np.int64)
        out["page_chunk"] = np.array([0, n], np.int64)
    else:
        out["page_mint"] = out["page_maxt"] = np.empty(0, np.int64)
        out["page_chunk"] = np.zeros(1, np.int64)
    out["vg_chunk"] = np.searchsorted(a["row_vgroup"], np.arange(n_vgroups + 1)).astype(np.int64)
    return out


@dataclass(frozen=True, slots=True)
class PartialGroup:
    """Some items (chunks, or unique timestamp arrays) of a decoded group,
    cut out of it: item ``items[i]`` is ``data[offs[i]:offs[i] + its length]``."""

    items: np.ndarray  # int64, ascending
    offs: np.ndarray  # int64
    data: np.ndarray

    @classmethod
    def of(cls, items: np.ndarray, group: np.ndarray, pos: np.ndarray, length: np.ndarray) -> PartialGroup:
        """Items at ``pos``/``length`` of the decoded ``group``."""
        length = np.asarray(length, np.int64)
        data = group[ranges_index(pos, length)]
        return cls(np.array(items, np.int64), offsets_from_counts(length)[:-1], data)

    @property
    def nbytes(self) -> int:
        return self.items.nbytes + self.offs.nbytes + self.data.nbytes

    def find(self, items: np.ndarray) -> np.ndarray | None:
        """Positions of ``items`` (ascending) in this entry, or None unless all are here."""
        # called once per cached group of every read: ascending items give
        # ascending positions, so the last is the largest (no ``max``), and
        # one item is compared as a scalar
        own = self.items
        if len(own) == 0 or len(items) == 0:
            return None if len(own) == 0 else own.searchsorted(items)
        k = own.searchsorted(items)
        if int(k[-1]) >= len(own):
            return None
        if len(k) == 1:
            return k if own[int(k[0])] == items[0] else None
        return k if (own[k] == items).all() else None


@dataclass(frozen=True, slots=True)
class Runs:
    """Samples as runs in shared buffers: run *i* has
    ``ts_src[ts_start[i]:ts_start[i]+counts[i]]`` and likewise for values,
    and belongs to row ``row[i]`` of the read (row *i* when ``row`` is
    None). A row's runs are listed in time order and do not overlap; a read
    of paged data yields one run per chunk. A read may defer decoding the
    values (``load_values``; then ``val_src``/``val_start`` are None):
    ``values()`` decodes them, so that a merge of several sources holds one
    source's decoded values at a time, not all of them::

        val_src, val_start = runs.values()
    """

    counts: np.ndarray
    ts_src: np.ndarray
    ts_start: np.ndarray
    val_src: np.ndarray | None
    val_start: np.ndarray | None
    row: np.ndarray | None = None
    load_values: Callable[[], tuple[np.ndarray, np.ndarray]] | None = None

    def values(self) -> tuple[np.ndarray, np.ndarray]:
        """(val_src, val_start), decoded now when the read deferred them
        (each call decodes again: call it once)."""
        if self.load_values is not None:
            return self.load_values()
        return self.val_src, self.val_start

    @classmethod
    def empty(cls, n: int) -> Runs:
        z = np.zeros(n, np.int64)
        return cls(z, np.empty(0, np.int64), z, np.empty(0, np.float64), z)

    @classmethod
    def from_csr(cls, counts: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> Runs:
        starts = offsets_from_counts(counts)[:-1]
        return cls(np.asarray(counts, np.int64), ts, starts, vals, starts)

    @property
    def num_samples(self) -> int:
        return int(self.counts.sum())

    def to_csr(self, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(counts per row, timestamps, values) for rows ``0..n_rows-1``."""
        val_src, val_start = self.values()
        c, t0, v0 = self.counts, self.ts_start, val_start
        if self.row is None:
            per_row = np.zeros(n_rows, np.int64)
            per_row[: len(c)] = c
        else:
            order = np.argsort(self.row, kind="stable")  # keeps each row's runs in time order
            c, t0, v0 = c[order], t0[order], v0[order]
            per_row = np.bincount(self.row, weights=self.counts, minlength=n_rows).astype(np.int64)
        return per_row, gather_ranges(self.ts_src, t0, c), gather_ranges(val_src, v0, c)


def unique_rows(counts: np.ndarray, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Find rows with identical timestamp arrays.

    Returns ``(reps, ref)``: the sorted row numbers that carry a unique array,
    and for every row the index into ``reps`` of the row holding its array.
    Rows are keyed by (length, first, last, sum) in numpy; rows with equal
    keys are then compared element by element, so a key collision only costs
    a missed deduplication, never data.
    """
    r = len(counts)
    offs = offsets_from_counts(counts)
    starts = offs[:-1]
    keys = np.empty((r, 4), np.int64)
    keys[:, 0] = counts
    keys[:, 1] = ts[starts]
    keys[:, 2] = ts[offs[1:] - 1]
    with np.errstate(over="ignore"):
        keys[:, 3] = np.add.reduceat(ts, starts)
    # group equal keys; a stable sort keeps the first row of each group first
    order = np.lexsort((keys[:, 3], keys[:, 2], keys[:, 1], keys[:, 0]))
    sk = keys[order]
    new_group = np.ones(r, bool)
    new_group[1:] = (sk[1:] != sk[:-1]).any(axis=1)
    group_first = order[new_group]
    rep_of = np.empty(r, np.int64)
    rep_of[order] = group_first[np.cumsum(new_group) - 1]  # candidate representative row
    dup = np.flatnonzero(rep_of != np.arange(r))
    if len(dup):
        a = ts[ranges_index(starts[dup], counts[dup])]
        b = ts[ranges_index(starts[rep_of[dup]], counts[dup])]
        same = np.logical_and.reduceat(a == b, offsets_from_counts(counts[dup])[:-1])
        rep_of[dup[~same]] = dup[~same]  # key collision: keep its own array
    reps = np.unique(rep_of)
    return reps, np.searchsorted(reps, rep_of)


def _group_ids(counts: np.ndarray, target: int, breaks: np.ndarray | None = None) -> np.ndarray:
    """Split consecutive rows into groups of about ``target`` samples; returns
    the group number (0..k-1, non-decreasing) of each row. A row where
    ``breaks`` is True always starts a new group (a new page)."""
    before = offsets_from_counts(counts)[:-1]
    if breaks is not None:
        first = np.maximum.accumulate(np.where(breaks, np.arange(len(counts)), 0))
        before = before - before[first]
    raw = before // target
    new = np.ones(len(counts), bool)
    new[1:] = raw[1:] != raw[:-1]
    if breaks is not None:
        new |= breaks
    return np.cumsum(new) - 1


class ChunkTableBuilder:
    """Builds a ``ChunkTable`` from batches of rows appended in order.

    ``write`` receives each compressed group; by default groups are kept in
    memory and ``finish()`` returns a table over one ``bytes`` buffer. Block
    writers pass a file writer and attach the file afterwards. ``page_ms``
    fixes the page duration (0: one page); by default the first batch's
    sample interval chooses it (``choose_page_ms``). ``config`` is the
    pcodec effort (``codec.SEAL_CONFIG`` for freshly sealed head parts).
    """

    def __init__(
        self,
        write: Callable[[bytes], None] | None = None,
        group_samples: int = GROUP_SAMPLES,
        start_offset: int = 0,
        page_ms: int | None = None,
        config: ChunkConfig = codec.BLOCK_CONFIG,
    ):
        self._pieces: list[bytes] | None = [] if write is None else None
        self._write = write if write is not None else self._pieces.append
        # byte offset of the first group in the final buffer (a file header before it)
        self._pos = start_offset
        self._target = group_samples
        if page_ms is not None and page_ms < 0:
            raise ValueError("page_ms must not be negative")
        self.page_ms = page_ms
        self._config = config
        self._rows: dict[str, list[np.ndarray]] = {f: [] for f in ROW_FIELDS}
        # per chunk, in the order built; finish() sorts them by (page, row)
        self._chunks: dict[str, list[np.ndarray]] = {
            f: [] for f in ("row", "page", "voff", "tsref", "vgroup", "first", "last")
        }
        self._uts: dict[str, list[np.ndarray]] = {f: [] for f in UTS_FIELDS}
        self._groups = {"vg": [[], [], [], []], "tg": [[], [], [], []]}
        self._n_rows = 0
        self._n_vgroups = 0
        self._n_tgroups = 0
        self._n_uts = 0

    def _emit(self, kind: str, column: np.ndarray, data: bytes | None = None) -> None:
        if data is None:
            data = codec.encode(column, self._config)
        self._write(data)
        g = self._groups[kind]
        g[0].append(self._pos)
        g[1].append(len(data))
        g[2].append(len(column))
        g[3].append(codec.crc32(data))
        self._pos += len(data)

    def add(self, counts: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> None:
        """Append rows; every row has at least one sample, strictly increasing in time."""
        counts = np.asarray(counts, np.int64)
        if len(counts) == 0:
            return
        if (counts <= 0).any():
            raise ValueError("chunk table rows need at least one sample")
        ts = np.ascontiguousarray(ts, np.int64)
        vals = np.ascontiguousarray(vals, np.float64)
        n = len(counts)
        offs = offsets_from_counts(counts)
        rows = self._rows
        rows["row_mint"].append(ts[offs[:-1]])
        rows["row_maxt"].append(ts[offs[1:] - 1])
        rows["row_count"].append(counts.astype(np.uint32))
        if self.page_ms is None:
            self.page_ms = choose_page_ms(counts, ts)

        # chunks: each row cut at page boundaries, laid out page by page
        if self.page_ms:
            page = np.floor_divide(ts, self.page_ms)
            rid = np.repeat(np.arange(n), counts)
            brk = np.ones(len(ts), bool)
            brk[1:] = (rid[1:] != rid[:-1]) | (page[1:] != page[:-1])
            cstart = np.flatnonzero(brk)
            ccount = np.diff(np.append(cstart, len(ts)))
            crow, cpage = rid[cstart], page[cstart]
            order = np.lexsort((crow, cpage))
            if (order[1:] < order[:-1]).any():
                cstart, ccount, crow, cpage = cstart[order], ccount[order], crow[order], cpage[order]
                idx = ranges_index(cstart, ccount)
                ts, vals = ts[idx], vals[idx]
        else:
            ccount, crow, cpage = counts, np.arange(n), np.zeros(n, np.int64)
        coffs = offsets_from_counts(ccount)
        new_page = np.ones(len(ccount), bool)
        new_page[1:] = cpage[1:] != cpage[:-1]

        # values: consecutive chunks of one page into groups
        gid = _group_ids(ccount, self._target, new_page)
        edges = np.append(np.flatnonzero(np.diff(gid)) + 1, len(ccount))
        voff = np.empty(len(ccount), np.uint32)
        a = 0
        for b in edges.tolist():
            column = vals[coffs[a] : coffs[b]]
            data, pos = codec.encode_values(ccount[a:b], column, self._config)
            voff[a:b] = pos
            self._emit("vg", column, data)
            a = b

        # timestamps: deduplicate, then group the unique arrays of each page
        reps, ref = unique_rows(ccount, ts)
        ucounts = ccount[reps]
        uts = ts[ranges_index(coffs[reps], ucounts)]
        uoffs = offsets_from_counts(ucounts)
        upage = cpage[reps]
        ubreak = np.ones(len(reps), bool)
        ubreak[1:] = upage[1:] != upage[:-1]
        ugid = _group_ids(ucounts, self._target, ubreak)
        ufirst = np.flatnonzero(np.append(True, np.diff(ugid) != 0))
        self._uts["uts_group"].append((ugid + self._n_tgroups).astype(np.uint32))
        self._uts["uts_off"].append((uoffs[:-1] - uoffs[ufirst][ugid]).astype(np.uint32))
        self._uts["uts_len"].append(ucounts.astype(np.uint32))
        uedges = np.append(ufirst, len(reps))
        for a, b in zip(uedges[:-1].tolist(), uedges[1:].tolist()):
            self._emit("tg", uts[uoffs[a] : uoffs[b]])

        c = self._chunks
        c["row"].append(crow + self._n_rows)
        c["page"].append(cpage)
        c["voff"].append(voff)
        c["tsref"].append(ref + self._n_uts)
        c["vgroup"].append(gid + self._n_vgroups)
        c["first"].append(ts[coffs[:-1]])
        c["last"].append(ts[coffs[1:] - 1])
        self._n_rows += n
        self._n_vgroups += int(gid[-1]) + 1
        self._n_tgroups += len(ufirst)
        self._n_uts += len(reps)

    def finish(self, buf=None) -> ChunkTable:
        """The table; ``buf`` is the buffer the groups were written to (defaults
        to the in-memory pieces)."""
        if buf is None:
            buf = b"".join(self._pieces) if self._pieces is not None else b""

        def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
            return (np.concatenate(parts) if parts else np.empty(0, dtype)).astype(dtype, copy=False)

        cols = {f: cat(parts, _DTYPES[f]) for f, parts in {**self._rows, **self._uts}.items()}
        ch = {f: cat(parts, np.int64) for f, parts in self._chunks.items()}
        groups = {
            k: GroupTable(
                np.asarray(g[0], np.uint64),
                np.asarray(g[1], np.uint32),
                np.asarray(g[2], np.uint32),
                np.asarray(g[3], np.uint32),
            )
            for k, g in self._groups.items()
        }
        # chunks by (page, row); batches were laid out page by page each, so
        # every value group stays a run of consecutive chunks: renumber the
        # groups in that order
        order = np.lexsort((ch["row"], ch["page"]))
        if (order[1:] < order[:-1]).any():
            ch = {f: v[order] for f, v in ch.items()}
        nc = len(ch["row"])
        g = ch["vgroup"]
        gstart = np.flatnonzero(np.append(True, g[1:] != g[:-1])) if nc else np.empty(0, np.int64)
        old_ids = g[gstart]
        if len(old_ids) != len(groups["vg"]):
            raise RuntimeError("value groups are not contiguous in page order")
        pstart = np.flatnonzero(np.append(True, ch["page"][1:] != ch["page"][:-1])) if nc else np.empty(0, np.int64)
        return ChunkTable(
            **{f: cols[f] for f in ROW_FIELDS + UTS_FIELDS},
            chunk_row=ch["row"].astype(np.uint32),
            chunk_voff=ch["voff"].astype(np.uint32),
            chunk_tsref=ch["tsref"].astype(np.uint32),
            page_mint=np.minimum.reduceat(ch["first"], pstart) if nc else np.empty(0, np.int64),
            page_maxt=np.maximum.reduceat(ch["last"], pstart) if nc else np.empty(0, np.int64),
            page_chunk=np.append(pstart, nc).astype(np.int64),
            vgroups=groups["vg"].take(old_ids),
            vg_chunk=np.append(gstart, nc).astype(np.int64),
            tgroups=groups["tg"],
            buf=buf,
        )
