"""Immutable blocks on disk: one directory per time range.

A block directory (named by a ULID) holds ``chunks`` (compressed sample
groups), ``index`` (symbols, series, chunk table, postings) and
``meta.json``. It is written under ``<ulid>.tmp-for-creation`` and renamed
into place, so a crash never leaves half a block visible; it is deleted by
renaming it to ``<ulid>.tmp-for-deletion`` first. FORMAT.md documents the
files::

    w = BlockWriter(data_dir, min_time=0, max_time=7_200_000)
    w.add(labels, counts, ts, vals)           # label-sorted series, in batches
    path = w.finish()
    block = Block.open(path)
"""

from __future__ import annotations

import bisect
import itertools
import json
import mmap
import os
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from storage.interface import StorageError
from storage.labels import Labels
from storage.tsdb import codec
from storage.tsdb.chunktable import ChunkTable, ChunkTableBuilder
from storage.tsdb.codec import offsets_from_counts, ranges_index
from storage.tsdb.fileio import FileIO

INDEX_MAGIC = b"SPYGIDX1"
CHUNKS_MAGIC = b"SPYGCHK1"
# Version 2 cut series into time pages (chunk_* and page_* sections);
# version 1 blocks (one chunk per series) are still read, and compaction
# rewrites them as version 2.
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
TMP_CREATION = ".tmp-for-creation"
TMP_DELETION = ".tmp-for-deletion"

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_ulid(now_ms: int | None = None) -> str:
    """A ULID: 48-bit millisecond time + 80 random bits, Crockford base32;
    sorts by creation time."""
    t = int(time.time() * 1000) if now_ms is None else now_ms
    value = (t & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in range(25, -1, -1))


def is_ulid(name: str) -> bool:
    return len(name) == 26 and all(c in _CROCKFORD for c in name)


# --- sectioned index file ------------------------------------------------------

_DTYPES = [np.int8, np.uint8, np.int32, np.uint32, np.int64, np.uint64, np.float64]
_DTYPE_CODE = {np.dtype(d): i for i, d in enumerate(_DTYPES)}
_HEAD = struct.Struct("<8sII")
_ENTRY = struct.Struct("<24sBxxxQQI4x")


def write_sections(io: FileIO, path: str, sections: dict[str, np.ndarray]) -> int:
    """Write named numpy arrays as one file: magic, a section table
    (name, dtype, offset, count, CRC-32) and the 8-byte-aligned data."""
    names = list(sections)
    pos = _HEAD.size + _ENTRY.size * len(names)
    entries, blobs = [], []
    for name in names:
        a = np.ascontiguousarray(sections[name])
        pad = (-pos) % 8
        if pad:
            blobs.append(b"\x00" * pad)
            pos += pad
        data = a.tobytes()
        entries.append(
            _ENTRY.pack(name.encode(), _DTYPE_CODE[a.dtype], pos, len(a), codec.crc32(data))
        )
        blobs.append(data)
        pos += len(data)
    header = _HEAD.pack(INDEX_MAGIC, FORMAT_VERSION, len(names)) + b"".join(entries)
    return io.write_file(path, [header, *blobs])


def read_sections(buf) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """The arrays of a sectioned file (views into ``buf``) and their byte offsets."""
    magic, version, n = _HEAD.unpack_from(buf, 0)
    if magic != INDEX_MAGIC:
        raise StorageError("not a Spyglass block index")
    if version not in READABLE_VERSIONS:
        raise StorageError(f"unsupported block index version {version} (this Spyglass reads {READABLE_VERSIONS})")
    out, offsets = {}, {}
    for i in range(n):
        raw_name, code, off, count, crc = _ENTRY.unpack_from(buf, _HEAD.size + i * _ENTRY.size)
        dtype = np.dtype(_DTYPES[code])
        end = off + count * dtype.itemsize
        if end > len(buf):
            raise StorageError("block index is truncated")
        name = raw_name.rstrip(b"\x00").decode()
        if codec.crc32(memoryview(buf)[off:end]) != crc:
            raise StorageError(f"block index section {name} fails its checksum")
        out[name] = np.frombuffer(buf, dtype, count, off)
        offsets[name] = off
    return out, offsets


# --- meta.json ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BlockMeta:
    """``meta.json``: the block's time range ``[min_time, max_time)`` and lineage."""

    ulid: str
    min_time: int
    max_time: int  # exclusive, as in Prometheus
    num_series: int = 0
    num_samples: int = 0
    num_groups: int = 0
    level: int = 1
    sources: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "ulid": self.ulid,
                "minTime": self.min_time,
                "maxTime": self.max_time,
                "stats": {
                    "numSeries": self.num_series,
                    "numSamples": self.num_samples,
                    "numChunks": self.num_groups,
                },
                "compaction": {
                    "level": self.level,
                    "sources": list(self.sources),
                    "parents": list(self.parents),
                },
                "version": FORMAT_VERSION,
                "format": "spyglass-tsdb",
                **self.extra,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> BlockMeta:
        d = json.loads(text)
        if d.get("version") not in READABLE_VERSIONS:
            raise StorageError(
                f"unsupported block format version {d.get('version')} (this Spyglass reads {READABLE_VERSIONS})"
            )
        st = d.get("stats", {})
        comp = d.get("compaction", {})
        return cls(
            ulid=d["ulid"],
            min_time=int(d["minTime"]),
            max_time=int(d["maxTime"]),
            num_series=int(st.get("numSeries", 0)),
            num_samples=int(st.get("numSamples", 0)),
            num_groups=int(st.get("numChunks", 0)),
            level=int(comp.get("level", 1)),
            sources=tuple(comp.get("sources", ())),
            parents=tuple(comp.get("parents", ())),
        )


# --- writing --------------------------------------------------------------------


class BlockWriter:
    """Writes one block from label-sorted batches of series (see module docstring)."""

    def __init__(
        self,
        data_dir: str,
        min_time: int,
        max_time: int,
        *,
        ulid: str | None = None,
        io: FileIO | None = None,
    ):
        self.io = io or FileIO()
        self.ulid = ulid or new_ulid()
        self.data_dir = data_dir
        # int64 bounds: a range reaching past the last representable millisecond ends there
        self.min_time, self.max_time = min_time, min(max_time, (1 << 63) - 1)
        self.tmp = os.path.join(data_dir, self.ulid + TMP_CREATION)
        self.io.remove_tree(self.tmp)
        self.io.mkdir(self.tmp)
        self._fd: int | None = None
        try:
            self._fd = self.io.open_write(os.path.join(self.tmp, "chunks"), truncate=True)
            self.io.write(self._fd, CHUNKS_MAGIC)
        except BaseException:
            self.abort()
            raise
        fd = self._fd
        self._builder = ChunkTableBuilder(write=lambda b: self.io.write(fd, b), start_offset=len(CHUNKS_MAGIC))
        self._labels: list[Labels] = []
        self._last: Labels | None = None

    def add(self, labels: Sequence[Labels], counts: np.ndarray, ts: np.ndarray, vals: np.ndarray) -> None:
        if not len(labels):
            return
        if self._last is not None and not labels[0] > self._last:
            raise ValueError("block series must be added in label order")
        self._labels.extend(labels)
        self._last = labels[-1]
        self._builder.add(counts, ts, vals)

    @property
    def num_series(self) -> int:
        return len(self._labels)

    def finish(self, level: int = 1, sources: Sequence[str] = (), parents: Sequence[str] = ()) -> str:
        """Write index and meta, fsync, and rename into place; returns the block directory."""
        try:
            self.io.fsync(self._fd)
            self.io.close(self._fd)
            self._fd = None
            table = self._builder.finish(buf=b"")
            sections = self._index_sections(table)
            write_sections(self.io, os.path.join(self.tmp, "index"), sections)
            meta = BlockMeta(
                ulid=self.ulid,
                min_time=self.min_time,
                max_time=self.max_time,
                num_series=len(self._labels),
                num_samples=table.num_samples,
                num_groups=len(table.vgroups) + len(table.tgroups),
                level=level,
                sources=tuple(sources) or (self.ulid,),
                parents=tuple(parents),
            )
            self.io.write_file(os.path.join(self.tmp, "meta.json"), [meta.to_json().encode()])
            self.io.fsync_dir(self.tmp)
            final = os.path.join(self.data_dir, self.ulid)
            self.io.rename(self.tmp, final)
            self.io.fsync_dir(self.data_dir)
            return final
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        if self._fd is not None:
            try:
                self.io.close(self._fd)
            except OSError:
                pass
            self._fd = None
        self.io.remove_tree(self.tmp)

    def _index_sections(self, table: ChunkTable) -> dict[str, np.ndarray]:
        labels = self._labels
        symbols = sorted(set(itertools.chain.from_iterable(labels)))
        sym_id = {s: i for i, s in enumerate(symbols)}
        npairs = np.fromiter((len(ls) // 2 for ls in labels), np.int64, len(labels))
        total = int(npairs.sum()) * 2
        refs = np.fromiter(
            map(sym_id.__getitem__, itertools.chain.from_iterable(labels)), np.uint32, total
        )
        encoded = [s.encode("utf-8") for s in symbols]
        sym_off = offsets_from_counts(np.fromiter(map(len, encoded), np.int64, len(encoded)))
        # postings: (name, value) pairs sorted by symbol id (= by string), rows ascending
        name_sym, val_sym = refs[0::2], refs[1::2]
        row = np.repeat(np.arange(len(labels), dtype=np.uint32), npairs)
        order = np.lexsort((row, val_sym, name_sym))
        n_s, v_s, r_s = name_sym[order], val_sym[order], row[order]
        new_pair = np.ones(len(n_s), bool)
        new_pair[1:] = (n_s[1:] != n_s[:-1]) | (v_s[1:] != v_s[:-1])
        pair_start = np.flatnonzero(new_pair)
        pair_name = n_s[pair_start]
        new_name = np.ones(len(pair_start), bool)
        new_name[1:] = pair_name[1:] != pair_name[:-1]
        name_start = np.flatnonzero(new_name)
        sections = {
            "symbols_off": sym_off.astype(np.uint64),
            "symbols": np.frombuffer(b"".join(encoded), np.uint8),
            "series_lbl_off": offsets_from_counts(npairs * 2).astype(np.uint64),
            "series_lbl": refs,
            "pn_sym": pair_name[name_start].astype(np.uint32),
            "pn_voff": np.append(name_start, len(pair_start)).astype(np.uint64),
            "pv_sym": v_s[pair_start].astype(np.uint32),
            "pv_off": np.append(pair_start, len(n_s)).astype(np.uint64),
            "postings": r_s.astype(np.uint32),
        }
        sections.update(table.arrays())
        return sections


# --- reading --------------------------------------------------------------------


def _mmap(path: str):
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return b""
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)


class BlockIndex:
    """Symbols, series labels and postings of a block (a ``LabelIndex``):
    ``rows = select_postings(block.index, matchers); block.index.labels_for(rows)``."""

    # Values of label names are kept as Python strings (for regex matching and
    # binary search) up to this many per block; past it the cache starts over.
    VALUE_CACHE_LIMIT = 100_000
    # Symbols decoded once and shared by every label set built from them,
    # for blocks with at most this many symbols (a few dozen bytes each).
    SYMBOL_CACHE_LIMIT = 1_000_000

    def __init__(self, sections: dict[str, np.ndarray], offsets: dict[str, int], buf):
        self._buf = buf
        s = sections
        self._sym_off = s["symbols_off"]
        self._sym_base = offsets["symbols"]
        n_sym = len(self._sym_off) - 1
        cached = n_sym <= self.SYMBOL_CACHE_LIMIT
        # a slot is set before its flag, so a reader that sees the flag sees the string
        self._sym_str = np.empty(n_sym if cached else 0, object)
        self._sym_have = np.zeros(n_sym if cached else 0, bool)
        self._lbl_off = s["series_lbl_off"]
        self._lbl = s["series_lbl"]
        self._pn_sym = s["pn_sym"]
        self._pn_voff = s["pn_voff"]
        self._pv_sym = s["pv_sym"]
        self._pv_off = s["pv_off"]
        self._postings = s["postings"]
        self.num_series = len(self._lbl_off) - 1
        self.names = [self.symbol(int(i)) for i in self._pn_sym]
        self._name_pos = {n: i for i, n in enumerate(self.names)}
        self._values: dict[str, list[str]] = {}
        self._cached_values = 0

    def symbol(self, i: int) -> str:
        if len(self._sym_have) and self._sym_have[i]:
            return self._sym_str[i]
        a = self._sym_base + int(self._sym_off[i])
        b = self._sym_base + int(self._sym_off[i + 1])
        return self._buf[a:b].decode("utf-8")

    def _symbols(self, refs: np.ndarray) -> list[str]:
        """The strings of symbol ids ``refs``, decoding each distinct one once."""
        if len(self._sym_have):
            miss = refs[~self._sym_have[refs]]
            if len(miss):
                miss = np.unique(miss)
                for i in miss.tolist():
                    self._sym_str[i] = self.symbol(i)
                self._sym_have[miss] = True
            return self._sym_str[refs].tolist()
        uniq, inv = np.unique(refs, return_inverse=True)
        strs = np.array([self.symbol(int(i)) for i in uniq] + [None], dtype=object)[:-1]
        return strs[inv.reshape(-1)].tolist()

    def _value_range(self, name: str) -> tuple[int, int]:
        i = self._name_pos.get(name)
        if i is None:
            return 0, 0
        return int(self._pn_voff[i]), int(self._pn_voff[i + 1])

    # LabelIndex
    def all_postings(self) -> np.ndarray:
        return np.arange(self.num_series, dtype=np.int64)

    def label_values(self, name: str) -> list[str]:
        vals = self._values.get(name)
        if vals is None:
            lo, hi = self._value_range(name)
            vals = [self.symbol(int(i)) for i in self._pv_sym[lo:hi]]
            if hi - lo <= self.VALUE_CACHE_LIMIT:
                if self._cached_values + len(vals) > self.VALUE_CACHE_LIMIT:
                    self._values.clear()
                    self._cached_values = 0
                self._values[name] = vals
                self._cached_values += len(vals)
        return vals

    def _find_value(self, name: str, value: str) -> int:
        """Pair index of ``name=value`` or -1, by binary search over the symbols."""
        lo, hi = self._value_range(name)
        vals = self._values.get(name)  # one lookup: another query may clear the cache
        if vals is not None:
            k = bisect.bisect_left(vals, value)
            return lo + k if k < len(vals) and vals[k] == value else -1
        a, b = lo, hi
        while a < b:
            mid = (a + b) // 2
            if self.symbol(int(self._pv_sym[mid])) < value:
                a = mid + 1
            else:
                b = mid
        return a if a < hi and self.symbol(int(self._pv_sym[a])) == value else -1

    def _pair_postings(self, pair: int) -> np.ndarray:
        return self._postings[int(self._pv_off[pair]) : int(self._pv_off[pair + 1])].astype(np.int64)

    def postings_for(self, name: str, values: Sequence[str]) -> np.ndarray:
        if name not in self._name_pos:
            return np.empty(0, np.int64)
        if len(values) > 8:
            self.label_values(name)  # many lookups: decode the name's values once
        pairs = [p for p in (self._find_value(name, v) for v in values) if p >= 0]
        if not pairs:
            return np.empty(0, np.int64)
        if len(pairs) == 1:
            return self._pair_postings(pairs[0])
        pairs = np.asarray(pairs, np.int64)
        idx = ranges_index(self._pv_off[pairs].astype(np.int64), (self._pv_off[pairs + 1] - self._pv_off[pairs]).astype(np.int64))
        return np.unique(self._postings[idx]).astype(np.int64)

    def postings_for_range(self, name: str, lo: int, hi: int) -> np.ndarray:
        vlo, _ = self._value_range(name)
        if hi <= lo:
            return np.empty(0, np.int64)
        a, b = int(self._pv_off[vlo + lo]), int(self._pv_off[vlo + hi])
        ids = self._postings[a:b].astype(np.int64)
        return ids if hi - lo == 1 else np.unique(ids)

    # series labels
    def labels_for(self, rows: np.ndarray) -> list[Labels]:
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return []
        starts = self._lbl_off[rows].astype(np.int64)
        counts = self._lbl_off[rows + 1].astype(np.int64) - starts
        flat = self._symbols(self._lbl[ranges_index(starts, counts)])
        bounds = offsets_from_counts(counts).tolist()
        # all in C: slice objects, list slices, label tuples
        return list(map(Labels.from_sorted_flat, map(flat.__getitem__, map(slice, bounds[:-1], bounds[1:]))))

    def find_row(self, labels: Labels) -> int:
        """Row of a series by binary search (rows are sorted by labels), or -1."""
        a, b = 0, self.num_series
        while a < b:
            mid = (a + b) // 2
            if self.labels_for(np.array([mid]))[0] < labels:
                a = mid + 1
            else:
                b = mid
        if a < self.num_series and self.labels_for(np.array([a]))[0] == labels:
            return a
        return -1


class Block:
    """A loaded block: meta, index and chunk table over memory-mapped files:
    ``Block.open(path).table.read(rows, mint, maxt)``."""

    def __init__(self, path: str, meta: BlockMeta, index: BlockIndex, table: ChunkTable, size: int):
        self.path = path
        self.meta = meta
        self.index = index
        self.table = table
        self.size_bytes = size

    @classmethod
    def open(cls, path: str) -> Block:
        try:
            with open(os.path.join(path, "meta.json"), encoding="utf-8") as f:
                meta = BlockMeta.from_json(f.read())
            ibuf = _mmap(os.path.join(path, "index"))
            sections, offsets = read_sections(ibuf)
            cbuf = _mmap(os.path.join(path, "chunks"))
            if bytes(cbuf[: len(CHUNKS_MAGIC)]) != CHUNKS_MAGIC:
                raise StorageError("chunks file has no Spyglass header")
            table = ChunkTable.from_arrays(sections, cbuf)
            index = BlockIndex(sections, offsets, ibuf)
        except (OSError, ValueError, KeyError, struct.error, StorageError) as e:
            raise StorageError(f"cannot load block {path}: {e}") from None
        size = sum(
            os.path.getsize(os.path.join(path, f)) for f in ("meta.json", "index", "chunks")
        )
        return cls(path, meta, index, table, size)

    @property
    def ulid(self) -> str:
        return self.meta.ulid

    @property
    def min_time(self) -> int:
        return self.meta.min_time

    @property
    def max_time(self) -> int:
        """Exclusive end."""
        return self.meta.max_time

    def overlaps(self, mint: int, maxt: int) -> bool:
        """Whether ``[mint, maxt]`` (inclusive) meets the block's range."""
        return self.meta.min_time <= maxt and self.meta.max_time > mint

    def __repr__(self) -> str:
        return f"Block({self.meta.ulid}, [{self.meta.min_time}, {self.meta.max_time}), level {self.meta.level})"
