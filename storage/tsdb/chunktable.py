"""Grouped, compressed sample storage for many series: the body of a block and
of a sealed head part.

A ``ChunkTable`` holds rows (one per series, in the caller's order). Values of
consecutive rows are concatenated into *value groups* of about
``GROUP_SAMPLES`` samples and compressed together, so that reading 10,000
series costs a few hundred decoder calls rather than tens of thousands.
Timestamps are deduplicated first: all series of one scrape share one
timestamp array, which is stored once (a *unique timestamp array*, "uts") and
referenced by every row that has exactly those timestamps. Unique arrays are
grouped and compressed the same way. See FORMAT.md for the layout::

    b = ChunkTableBuilder()
    b.add(counts, timestamps, values)     # rows in order, samples concatenated
    table = b.finish()
    counts, ts, vs = table.read(np.array([0, 2]), mint, maxt)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from storage.tsdb import codec
from storage.tsdb.codec import CorruptChunkError, gather_ranges, offsets_from_counts, ranges_index

# Target samples per compressed group: big enough that pcodec's per-chunk
# header and the Python call cost vanish, small enough that a selective query
# does not decode much it does not need (measured in FORMAT.md).
GROUP_SAMPLES = 32_768


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


ROW_FIELDS = ("row_mint", "row_maxt", "row_count", "row_vgroup", "row_voff", "row_tsref")
UTS_FIELDS = ("uts_group", "uts_off", "uts_len")


@dataclass(frozen=True, slots=True)
class ChunkTable:
    """Compressed samples of ``num_rows`` series (see module docstring)."""

    row_mint: np.ndarray  # int64, first timestamp of the row
    row_maxt: np.ndarray  # int64, last timestamp of the row
    row_count: np.ndarray  # uint32 samples
    row_vgroup: np.ndarray  # uint32 value group
    row_voff: np.ndarray  # uint32 first value's position inside the group
    row_tsref: np.ndarray  # uint32 unique timestamp array
    uts_group: np.ndarray  # uint32 timestamp group of each unique array
    uts_off: np.ndarray  # uint32 position inside the group
    uts_len: np.ndarray  # uint32 length
    vgroups: GroupTable
    tgroups: GroupTable
    buf: object  # bytes or mmap holding the compressed groups

    @property
    def num_rows(self) -> int:
        return len(self.row_count)

    @property
    def num_samples(self) -> int:
        return int(self.row_count.sum(dtype=np.int64))

    @property
    def compressed_bytes(self) -> int:
        return int(self.vgroups.size.sum(dtype=np.int64) + self.tgroups.size.sum(dtype=np.int64))

    @property
    def memory_bytes(self) -> int:
        arrays = [getattr(self, f) for f in ROW_FIELDS + UTS_FIELDS]
        arrays += [getattr(g, f) for g in (self.vgroups, self.tgroups) for f in ("off", "size", "n", "crc")]
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
        run = self.read_runs(rows, mint, maxt)
        return run.counts, run.timestamps(), run.values()

    def read_runs(self, rows: np.ndarray, mint: int | None = None, maxt: int | None = None) -> Runs:
        """Like ``read`` but without gathering: each row's samples as a run in
        the decoded buffers, for callers that copy them once into their own
        output (``merge.assemble``)."""
        rows = np.asarray(rows, np.int64)
        counts = self.row_count[rows].astype(np.int64)
        if len(rows) == 0 or not counts.any():
            return Runs.empty(len(rows))
        # timestamps first: the clip window is found once per unique timestamp
        # array, not per row and never per sample
        refs = self.row_tsref[rows].astype(np.int64)
        urefs, ref_of_row = np.unique(refs, return_inverse=True)
        ref_of_row = ref_of_row.reshape(-1)
        tg = self.uts_group[urefs].astype(np.int64)
        need_t = np.unique(tg)
        tbuf, tbase = self._decode_groups(self.tgroups, need_t, np.int64)
        ustart = tbase[np.searchsorted(need_t, tg)] + self.uts_off[urefs]
        ulen = self.uts_len[urefs].astype(np.int64)
        lo = np.iinfo(np.int64).min if mint is None else mint
        hi = np.iinfo(np.int64).max if maxt is None else maxt
        row_lo = 0
        if lo > int(self.row_mint[rows].min()) or hi < int(self.row_maxt[rows].max()):
            ulo = np.zeros(len(urefs), np.int64)
            for u, (a, n) in enumerate(zip(ustart.tolist(), ulen.tolist())):
                arr = tbuf[a : a + n]
                first = int(np.searchsorted(arr, lo, "left"))
                ulo[u] = first
                ulen[u] = int(np.searchsorted(arr, hi, "right")) - first
            row_lo = ulo[ref_of_row]
            ustart = ustart + ulo
            counts = ulen[ref_of_row]
        tstart = ustart[ref_of_row]
        if not counts.any():
            return Runs.empty(len(rows))
        vg = self.row_vgroup[rows].astype(np.int64)
        need_v = np.unique(vg[counts > 0])
        vbuf, vbase = self._decode_groups(self.vgroups, need_v, np.float64, values=True)
        pos = np.minimum(np.searchsorted(need_v, vg), len(need_v) - 1)
        vstart = vbase[pos] + self.row_voff[rows] + row_lo
        return Runs(counts, tbuf, tstart, vbuf, vstart)

    def _decode_groups(
        self, table: GroupTable, gids: np.ndarray, dtype, values: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        n = table.n[gids].astype(np.int64)
        base = offsets_from_counts(n)
        out = np.empty(int(base[-1]), dtype)
        buf = self.buf
        for i, g in enumerate(gids.tolist()):
            off, size = int(table.off[g]), int(table.size[g])
            data = buf[off : off + size]
            if codec.crc32(data) != int(table.crc[g]):
                raise CorruptChunkError(f"checksum mismatch in chunk group {g} at byte {off}")
            if values:
                lo, hi = np.searchsorted(self.row_vgroup, [g, g + 1])
                codec.decode_values(data, self.row_count[lo:hi], out[base[i] : base[i + 1]])
            else:
                codec.decode_into(data, out[base[i] : base[i + 1]])
        return out, base[:-1]

    # --- (de)serialization ---------------------------------------------------
    def arrays(self) -> dict[str, np.ndarray]:
        out = {f: getattr(self, f) for f in ROW_FIELDS + UTS_FIELDS}
        for prefix, g in (("vg", self.vgroups), ("tg", self.tgroups)):
            for f in ("off", "size", "n", "crc"):
                out[f"{prefix}_{f}"] = getattr(g, f)
        return out

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray], buf) -> ChunkTable:
        groups = {
            p: GroupTable(a[f"{p}_off"], a[f"{p}_size"], a[f"{p}_n"], a[f"{p}_crc"]) for p in ("vg", "tg")
        }
        return cls(
            *(a[f] for f in ROW_FIELDS + UTS_FIELDS), vgroups=groups["vg"], tgroups=groups["tg"], buf=buf
        )


@dataclass(frozen=True, slots=True)
class Runs:
    """Samples of rows as runs in shared buffers: row *i* has
    ``ts_src[ts_start[i]:ts_start[i]+counts[i]]`` and likewise for values."""

    counts: np.ndarray
    ts_src: np.ndarray
    ts_start: np.ndarray
    val_src: np.ndarray
    val_start: np.ndarray

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

    def timestamps(self) -> np.ndarray:
        return gather_ranges(self.ts_src, self.ts_start, self.counts)

    def values(self) -> np.ndarray:
        c = self.counts
        v = self.val_src
        if len(c) and int(c.sum()) == len(v) and self.val_start[0] == 0 and (
            self.val_start[1:] == self.val_start[:-1] + c[:-1]
        ).all():
            return v  # already one contiguous CSR
        return gather_ranges(v, self.val_start, c)


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


def _group_ids(counts: np.ndarray, target: int) -> np.ndarray:
    """Split consecutive rows into groups of about ``target`` samples; returns
    the group number (0..k-1, non-decreasing) of each row."""
    before = offsets_from_counts(counts)[:-1]
    raw = before // target
    _, gid = np.unique(raw, return_inverse=True)
    return gid.reshape(-1).astype(np.int64)


class ChunkTableBuilder:
    """Builds a ``ChunkTable`` from batches of rows appended in order.

    ``write`` receives each compressed group; by default groups are kept in
    memory and ``finish()`` returns a table over one ``bytes`` buffer. Block
    writers pass a file writer and attach the file afterwards.
    """

    def __init__(
        self,
        write: Callable[[bytes], None] | None = None,
        group_samples: int = GROUP_SAMPLES,
        start_offset: int = 0,
    ):
        self._pieces: list[bytes] | None = [] if write is None else None
        self._write = write if write is not None else self._pieces.append
        # byte offset of the first group in the final buffer (a file header before it)
        self._pos = start_offset
        self._target = group_samples
        self._rows: dict[str, list[np.ndarray]] = {f: [] for f in ROW_FIELDS}
        self._uts: dict[str, list[np.ndarray]] = {f: [] for f in UTS_FIELDS}
        self._groups = {"vg": [[], [], [], []], "tg": [[], [], [], []]}
        self._n_vgroups = 0
        self._n_tgroups = 0
        self._n_uts = 0

    def _emit(self, kind: str, column: np.ndarray, data: bytes | None = None) -> None:
        if data is None:
            data = codec.encode(column)
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
        offs = offsets_from_counts(counts)
        rows = self._rows
        rows["row_mint"].append(ts[offs[:-1]])
        rows["row_maxt"].append(ts[offs[1:] - 1])
        rows["row_count"].append(counts.astype(np.uint32))

        # values: consecutive rows into groups
        gid = _group_ids(counts, self._target)
        bounds = np.flatnonzero(np.diff(gid)) + 1
        group_first_row = np.concatenate([[0], bounds])
        voff = np.empty(len(counts), np.uint32)
        row_edges = np.concatenate([group_first_row, [len(counts)]])
        for a, b in zip(row_edges[:-1].tolist(), row_edges[1:].tolist()):
            column = vals[offs[a] : offs[b]]
            data, row_pos = codec.encode_values(counts[a:b], column)
            voff[a:b] = row_pos
            self._emit("vg", column, data)
        rows["row_vgroup"].append((gid + self._n_vgroups).astype(np.uint32))
        rows["row_voff"].append(voff)
        self._n_vgroups += len(group_first_row)

        # timestamps: deduplicate, then group the unique arrays
        reps, ref = unique_rows(counts, ts)
        rows["row_tsref"].append((ref + self._n_uts).astype(np.uint32))
        ucounts = counts[reps]
        uts = ts[ranges_index(offs[reps], ucounts)]
        uoffs = offsets_from_counts(ucounts)
        ugid = _group_ids(ucounts, self._target)
        ubounds = np.flatnonzero(np.diff(ugid)) + 1
        ufirst = np.concatenate([[0], ubounds])
        self._uts["uts_group"].append((ugid + self._n_tgroups).astype(np.uint32))
        self._uts["uts_off"].append((uoffs[:-1] - uoffs[ufirst][ugid]).astype(np.uint32))
        self._uts["uts_len"].append(ucounts.astype(np.uint32))
        uedges = np.concatenate([ufirst, [len(reps)]])
        for a, b in zip(uedges[:-1].tolist(), uedges[1:].tolist()):
            self._emit("tg", uts[uoffs[a] : uoffs[b]])
        self._n_tgroups += len(ufirst)
        self._n_uts += len(reps)


    def finish(self, buf=None) -> ChunkTable:
        """The table; ``buf`` is the buffer the groups were written to (defaults
        to the in-memory pieces)."""
        if buf is None:
            buf = b"".join(self._pieces) if self._pieces is not None else b""
        dtypes = {
            "row_mint": np.int64,
            "row_maxt": np.int64,
            "row_count": np.uint32,
            "row_vgroup": np.uint32,
            "row_voff": np.uint32,
            "row_tsref": np.uint32,
            "uts_group": np.uint32,
            "uts_off": np.uint32,
            "uts_len": np.uint32,
        }
        cols = {
            f: (np.concatenate(parts) if parts else np.empty(0, dtypes[f])).astype(dtypes[f], copy=False)
            for f, parts in {**self._rows, **self._uts}.items()
        }
        groups = {
            k: GroupTable(
                np.asarray(g[0], np.uint64),
                np.asarray(g[1], np.uint32),
                np.asarray(g[2], np.uint32),
                np.asarray(g[3], np.uint32),
            )
            for k, g in self._groups.items()
        }
        return ChunkTable(
            *(cols[f] for f in ROW_FIELDS + UTS_FIELDS), vgroups=groups["vg"], tgroups=groups["tg"], buf=buf
        )
