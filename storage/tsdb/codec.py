"""Column compression and compressed-sparse-row helpers shared by the WAL, the
head and blocks.

Columns are compressed with pcodec (see FORMAT.md for the measurements behind
the choice); an empty column is stored as zero bytes because pcodec cannot
describe an empty array's type. The CSR helpers turn "rows of varying length"
operations into single numpy calls, so no code path loops over samples.
"""

from __future__ import annotations

import zlib

import numpy as np
from pcodec import ChunkConfig, DeltaSpec, ModeSpec
from pcodec import standalone as _pco

from storage.interface import StorageError

# Blocks and merged head parts: pcodec's defaults (level 8, modes and delta
# order chosen per column), the sizes measured in FORMAT.md.
BLOCK_CONFIG = ChunkConfig()
# Freshly sealed head parts (about 8-32 samples per series, merged or cut
# into blocks within minutes, so re-encoded with BLOCK_CONFIG anyway): a
# lower level and fixed choices, which pcodec then need not search.
# Measured on 8,000 series x 32 samples: 2-3x cheaper to encode (building a
# part: 97 -> 62 ns/sample), node-exporter-like parts 14 % smaller (1.50 ->
# 1.29 B/sample), random-walk floats 3 % larger (5.30 -> 5.48).
SEAL_CONFIG = ChunkConfig(
    compression_level=4, mode_spec=ModeSpec.classic(), delta_spec=DeltaSpec.try_consecutive(1)
)


class CorruptChunkError(StorageError):
    """Compressed data failed its checksum or could not be decoded."""


def encode(column: np.ndarray, config: ChunkConfig = BLOCK_CONFIG) -> bytes:
    """Compress a 1-D int64 or float64 column (any length)."""
    if len(column) == 0:
        return b""
    return _pco.simple_compress(np.ascontiguousarray(column), config)


def decode(data: bytes, dtype: type, n: int) -> np.ndarray:
    """Decompress ``n`` values of ``dtype`` written by :func:`encode`."""
    if n == 0:
        return np.empty(0, dtype)
    out = np.empty(n, dtype)
    decode_into(data, out)
    return out


def decode_into(data: bytes, out: np.ndarray) -> None:
    """Decompress into a preallocated contiguous slice; its length must match."""
    if len(out) == 0:
        return
    try:
        progress = _pco.simple_decompress_into(bytes(data), out)
    except (RuntimeError, TypeError) as e:
        raise CorruptChunkError(f"cannot decode chunk: {e}") from None
    if progress.n_processed != len(out) or not progress.finished:
        raise CorruptChunkError(
            f"chunk holds {progress.n_processed} values, expected {len(out)}"
        )


def crc32(data) -> int:
    return zlib.crc32(data) & 0xFFFFFFFF


# --- value groups --------------------------------------------------------------
#
# Values of many series are compressed together, but series differ: a byte
# counter is integral, a CPU counter has two decimals, a duration is a full
# float. Each row (series) gets a class: k = 0..MAX_DECIMALS when all its
# values are exactly v = n / 10**k for integers n (bit for bit), else RAW.
# Decimal rows become integers and pcodec delta-encodes them (its own delta
# decoding is ~2x faster than a cumsum over our deltas, for the same size);
# RAW rows go to pcodec as floats. Measured in FORMAT.md.

MAX_DECIMALS = 4
RAW = -1
# 1: an interleaved layout from before the first release (refused);
# 2: classed, decimal classes stored as our own delta stream (read, not written);
# 3: classed, decimal classes stored as integers.
_PLAIN, _CLASSED_DELTAS, _CLASSED = 0, 2, 3
_EXACT_LIMIT = float(2**53)


_NEG_ZERO_BITS = 0x8000000000000000


def _exact(v: np.ndarray, k: int) -> np.ndarray:
    """Per value: ``v`` is exactly ``n / 10**k`` for an integer ``|n| < 2**53``,
    bit for bit as decoding rebuilds it (so ``-0.0``, NaN and infinities are not)."""
    scale = 10.0**k
    with np.errstate(invalid="ignore", over="ignore"):
        n = np.round(v * scale) if k else np.round(v)
        ok = np.abs(n) < _EXACT_LIMIT
        back = n / scale if k else n  # what int64(n) / 10**k decodes to
        ok &= back.view(np.uint64) == v.view(np.uint64)
    ok &= v.view(np.uint64) != _NEG_ZERO_BITS
    return ok


def value_classes(counts: np.ndarray, vals: np.ndarray) -> np.ndarray:
    """Class of each CSR row (see above): the smallest k for which every
    value of the row is exact."""
    counts = np.asarray(counts, np.int64)
    cls = np.full(len(counts), RAW, np.int8)
    if len(vals) == 0:
        return cls
    starts = offsets_from_counts(counts)[:-1]
    # A row's class is at least the smallest k its first value passes: that
    # screen, over one value per row, rules out rows of full-precision floats
    # (and the small k of decimal rows) before any pass over all values.
    first = vals[starts]
    lowest = np.full(len(counts), MAX_DECIMALS + 1, np.int64)
    for k in range(MAX_DECIMALS, -1, -1):
        lowest[_exact(first, k)] = k
    todo = lowest <= MAX_DECIMALS
    for k in range(MAX_DECIMALS + 1):
        cand = todo & (lowest <= k)
        if not cand.any():
            if not todo.any():
                break
            continue
        if cand.all():
            rows, v, row_starts = None, vals, starts
        else:
            rows = np.flatnonzero(cand)
            v = vals[ranges_index(starts[rows], counts[rows])]
            row_starts = offsets_from_counts(counts[rows])[:-1]
        row_ok = np.logical_and.reduceat(_exact(v, k), row_starts)
        hit = np.flatnonzero(row_ok) if rows is None else rows[row_ok]
        cls[hit] = k
        todo[hit] = False
    return cls


def encode_values(
    counts: np.ndarray, vals: np.ndarray, config: ChunkConfig = BLOCK_CONFIG
) -> tuple[bytes, np.ndarray]:
    """Compress the values of consecutive rows (a value group). Rows are laid
    out class by class, so each class decodes into one contiguous slice;
    returns the data and the position of each row's first value in that layout."""
    counts = np.asarray(counts, np.int64)
    offs = offsets_from_counts(counts)
    if len(vals) == 0:
        return bytes((_PLAIN,)), offs[:-1]
    cls = value_classes(counts, vals)
    if (cls == RAW).all():
        return bytes((_PLAIN,)) + encode(vals, config), offs[:-1]
    order = np.argsort(cls, kind="stable")
    layout_counts = counts[order]
    layout_offs = offsets_from_counts(layout_counts)
    row_pos = np.empty(len(counts), np.int64)
    row_pos[order] = layout_offs[:-1]
    v = vals[ranges_index(offs[order], layout_counts)]
    sorted_cls = cls[order]
    out = [bytes((_CLASSED,)), np.uint32(len(counts)).tobytes(), cls.tobytes()]
    bounds = np.flatnonzero(np.diff(sorted_cls)) + 1
    for a, b in zip([0, *bounds.tolist()], [*bounds.tolist(), len(order)]):
        c = int(sorted_cls[a])
        seg = v[layout_offs[a] : layout_offs[b]]
        # decimal classes: the integers of all its rows as one stream
        blob = encode(seg if c == RAW else np.round(seg * 10.0**c).astype(np.int64), config)
        out.append(np.uint32(len(blob)).tobytes())
        out.append(blob)
    return b"".join(out), row_pos


def decode_values(data: bytes, counts: np.ndarray, out: np.ndarray) -> None:
    """Decompress a value group into ``out`` in its layout (rows class by
    class, see ``encode_values``); its rows have ``counts``."""
    if len(out) == 0:
        return
    data = bytes(data)
    if not data:
        raise CorruptChunkError("empty value group")
    if data[0] == _PLAIN:
        decode_into(data[1:], out)
        return
    kind = data[0]
    if kind not in (_CLASSED, _CLASSED_DELTAS):
        raise CorruptChunkError(f"unknown value group encoding {kind}")
    counts = np.asarray(counts, np.int64)
    if len(data) < 5:
        raise CorruptChunkError("value group is truncated")
    n_rows = int(np.frombuffer(data, np.uint32, 1, 1)[0])
    if n_rows != len(counts) or len(data) < 5 + n_rows:
        raise CorruptChunkError("value group row count mismatch")
    cls = np.frombuffer(data, np.int8, n_rows, 5)
    if n_rows and (int(cls.min()) < RAW or int(cls.max()) > MAX_DECIMALS):
        raise CorruptChunkError("value group has an unknown value class")
    pos = 5 + n_rows
    seg = 0
    per_class = np.bincount(cls.astype(np.int64) - RAW, weights=counts).astype(np.int64)
    for c in np.flatnonzero(per_class).tolist():
        n = int(per_class[c])
        c += RAW
        if pos + 4 > len(data):
            raise CorruptChunkError("value group is truncated")
        size = int(np.frombuffer(data, np.uint32, 1, pos)[0])
        blob = data[pos + 4 : pos + 4 + size]
        pos += 4 + size
        target = out[seg : seg + n]
        seg += n
        if c == RAW:
            decode_into(blob, target)
            continue
        d = decode(blob, np.int64, n)
        if kind == _CLASSED_DELTAS:
            np.cumsum(d, out=d)
        if c == 0:
            np.copyto(target, d, casting="unsafe")  # n / 1.0 is n: a conversion, 3x cheaper
        else:
            np.divide(d, 10.0**c, out=target)
    if seg != len(out):
        raise CorruptChunkError("value group holds fewer values than its rows")


# --- CSR helpers -------------------------------------------------------------


def offsets_from_counts(counts: np.ndarray) -> np.ndarray:
    """``[0, c0, c0+c1, ...]`` as int64."""
    out = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def ranges_index(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s+c)`` for each (s, c), in one vectorized pass."""
    counts = np.asarray(counts, np.int64)
    starts = np.asarray(starts, np.int64)
    ends = np.cumsum(counts)
    total = int(ends[-1]) if len(ends) else 0
    if total == 0:
        return np.empty(0, np.int64)
    # element j of range i is s_i + (j - first output position of range i):
    # one repeat of a per-range shift onto an arange (a repeat is several
    # times cheaper than the cumulative sum of jumps this once used)
    idx = np.arange(total, dtype=np.int64)
    idx += np.repeat(starts - (ends - counts), counts)
    return idx


# Mean run length from which runs are copied slice by slice rather than
# through a per-element index: a slice costs ≈ 0.3 µs of Python, an index
# ≈ 3.5 ns per element (measured on this 2-core machine: even at 128).
SLICE_RUN = 128


def gather_ranges(src: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``src[s:s+c]`` for each (s, c). Long ranges are copied
    slice by slice (no per-element index array, which would cost more than
    the data); short ones through one index array."""
    counts = np.asarray(counts, np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, src.dtype)
    if total >= SLICE_RUN * len(counts):
        return np.concatenate(
            [src[a : a + c] for a, c in zip(np.asarray(starts).tolist(), counts.tolist()) if c]
        )
    return src[ranges_index(starts, counts)]


# Up to this many segments, ``search_segments`` calls ``np.searchsorted`` once
# per segment (≈ 1.5 µs each) instead of bisecting all of them together (about
# seven numpy calls per halving: ≈ 60 µs for a few 1,000-sample segments);
# the small queries of a dashboard usually clip one shared timestamp array.
FEW_SEGMENTS = 16


def search_segments(
    src: np.ndarray, starts: np.ndarray, lens: np.ndarray, x: int | np.ndarray, side: str = "left"
) -> np.ndarray:
    """``np.searchsorted(src[s:s+n], x, side)`` for every sorted segment
    (s, n) at once (``x`` one value, or one per segment): a bisection run on
    all segments together, so the cost is log2(longest segment) numpy passes
    over the segments, not one Python call per segment, and it never reads
    the segments' other elements."""
    starts = np.asarray(starts, np.int64)
    lo = np.zeros(len(starts), np.int64)
    hi = np.asarray(lens, np.int64).copy()
    if len(hi) == 0 or len(src) == 0:
        return lo
    if len(hi) <= FEW_SEGMENTS:
        xs = [x] * len(hi) if np.ndim(x) == 0 else np.asarray(x).tolist()
        for i, (s, n) in enumerate(zip(starts.tolist(), hi.tolist())):
            lo[i] = np.searchsorted(src[s : s + n], xs[i], side)
        return lo
    for _ in range(int(hi.max()).bit_length()):
        active = lo < hi
        mid = (lo + hi) >> 1
        v = src.take(starts + mid, mode="clip")  # inactive segments read garbage, masked below
        go_right = (v < x) if side == "left" else (v <= x)
        go_right &= active
        lo = np.where(go_right, mid + 1, lo)
        hi = np.where(active & ~go_right, mid, hi)
    return lo


def sort_dedup_rows(
    counts: np.ndarray, ts: np.ndarray, vals: np.ndarray, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Make every CSR row strictly increasing in time. Rows already in order
    are left alone; in the others the first-listed sample of a timestamp wins
    (callers list older sources first). ``rows``, when known, are the only
    rows that may be out of order; otherwise they are found by a scan."""
    if len(ts) < 2:
        return counts, ts, vals
    offs = offsets_from_counts(counts)
    if rows is None:
        bad_pos = np.flatnonzero(ts[1:] <= ts[:-1]) + 1
        if len(bad_pos) == 0:
            return counts, ts, vals
        # a violation at position p belongs to a row only when p is not that row's start
        rows_of_bad = np.searchsorted(offs, bad_pos, side="right") - 1
        real = bad_pos != offs[rows_of_bad]
        if not real.any():
            return counts, ts, vals
        bad_rows = np.unique(rows_of_bad[real])
    else:
        bad_rows = np.asarray(rows, np.int64)
        if len(bad_rows) == 0:
            return counts, ts, vals
    # sort only the offending rows: by row, time, then listing order
    bad_idx = ranges_index(offs[bad_rows], counts[bad_rows])
    sub_rid = np.repeat(bad_rows, counts[bad_rows])
    order = np.lexsort((bad_idx, ts[bad_idx], sub_rid))
    s_idx, s_rid = bad_idx[order], sub_rid[order]
    s_ts = ts[s_idx]
    keep = np.ones(len(s_idx), bool)
    keep[1:] = (s_ts[1:] != s_ts[:-1]) | (s_rid[1:] != s_rid[:-1])
    s_idx, s_rid = s_idx[keep], s_rid[keep]
    new_counts = np.asarray(counts, np.int64).copy()
    new_counts[bad_rows] = np.bincount(s_rid, minlength=len(counts))[bad_rows]
    # source index of every output element: good rows as they were, bad rows re-sorted
    new_offs = offsets_from_counts(new_counts)
    src = np.empty(int(new_offs[-1]), np.int64)
    good = np.ones(len(counts), bool)
    good[bad_rows] = False
    good_rows = np.flatnonzero(good)
    src[ranges_index(new_offs[good_rows], new_counts[good_rows])] = ranges_index(
        offs[good_rows], new_counts[good_rows]
    )
    src[ranges_index(new_offs[bad_rows], new_counts[bad_rows])] = s_idx
    return new_counts, ts[src], vals[src]
