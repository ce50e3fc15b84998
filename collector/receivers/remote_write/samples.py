"""Vectorized decoding of remote-write ``Sample`` messages.

Both specs encode a sample as ``{1: double value, 2: int64 timestamp}``, and
proto3 leaves out a field that is zero, so on the wire a sample is one of::

    09 <8 bytes> 10 <varint>     value and timestamp
    10 <varint>                  value 0
    09 <8 bytes>                 timestamp 0
    (nothing)                    both 0
    10 <varint> 09 <8 bytes>     the same fields in the other order

Given every sample of a request as its own byte string (what the decoding
view hands over, one C-made ``bytes`` each), numpy reads all values and
timestamps at once instead of building a message object per sample::

    ts, vs = decode_samples(raw)     # int64 ms, float64; None if any sample
                                     # has another layout (caller falls back)
"""

from __future__ import annotations

import numpy as np

_TAG_VALUE = 0x09  # field 1, wire type 1 (64-bit)
_TAG_TIME = 0x10  # field 2, wire type 0 (varint)


def _varints(buf: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray | None:
    """The varints that occupy exactly ``buf[start:end]`` each (uint64), or None.

    Samples of one request have timestamps of nearly the same size, so the
    varints are decoded one width at a time (usually one or two widths), each
    as a plain (count x width) byte matrix."""
    width = end - start
    out = np.empty(len(width), np.uint64)
    if len(width) == 0:
        return out
    lo, hi = int(width.min()), int(width.max())
    if lo < 1 or hi > 10:
        return None
    for w in range(lo, hi + 1):
        sel = np.flatnonzero(width == w) if lo != hi else slice(None)
        b = buf[start[sel][:, None] + np.arange(w)]
        if b.shape[0] == 0:
            continue
        # every byte but the last has its continuation bit, the last has not
        if w > 1 and not (b[:, :-1] >= 0x80).all():
            return None
        if (b[:, -1] >= 0x80).any():
            return None
        v = (b[:, 0] & 0x7F).astype(np.uint64)
        for k in range(1, w):
            v |= (b[:, k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
        out[sel] = v
    return out


def _doubles(buf: np.ndarray, start: np.ndarray) -> np.ndarray:
    pos = start[:, None] + np.arange(8)
    return np.ascontiguousarray(buf[pos]).view("<f8").reshape(-1)


def _uniform(buf: np.ndarray, lens: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The common case in one pass: every sample is ``09 <8> 10 <varint>`` with
    varints of one width, so the bytes are simply an (n x width) matrix."""
    size = int(lens[0])
    if size < 11 or len(buf) != n * size or lens.min() != lens.max():
        return None
    m = buf.reshape(n, size)
    if not ((m[:, 0] == _TAG_VALUE).all() and (m[:, 9] == _TAG_TIME).all()):
        return None
    t = m[:, 10:]
    if (size > 11 and not (t[:, :-1] >= 0x80).all()) or (t[:, -1] >= 0x80).any():
        return None
    v = (t[:, 0] & 0x7F).astype(np.uint64)
    for k in range(1, size - 10):
        v |= (t[:, k] & 0x7F).astype(np.uint64) << np.uint64(7 * k)
    return v.view(np.int64), np.ascontiguousarray(m[:, 1:9]).view("<f8").reshape(-1)


def decode_samples(raw: list[bytes]) -> tuple[np.ndarray, np.ndarray] | None:
    """Timestamps (int64) and values (float64) of encoded samples, or None
    when one of them is laid out otherwise (unknown or repeated fields)."""
    n = len(raw)
    ts = np.zeros(n, np.int64)
    vs = np.zeros(n, np.float64)
    if n == 0:
        return ts, vs
    lens = np.fromiter(map(len, raw), np.int64, n)
    blob = b"".join(raw)
    buf = np.frombuffer(blob, np.uint8)
    uniform = _uniform(buf, lens, n)
    if uniform is not None:
        return uniform
    start = np.zeros(n, np.int64)
    np.cumsum(lens[:-1], out=start[1:])
    end = start + lens
    nonempty = lens > 0
    first = np.zeros(n, np.uint8)
    first[nonempty] = buf[start[nonempty]]

    value_first = nonempty & (first == _TAG_VALUE)
    time_first = nonempty & (first == _TAG_TIME)
    if np.any(nonempty & ~value_first & ~time_first):
        return None
    # 09 <8>: value only, or value then 10 <varint>
    vf_only = value_first & (lens == 9)
    vf_both = value_first & (lens > 9)
    if np.any(value_first & (lens < 9)):
        return None
    if np.any(vf_both):
        i = np.flatnonzero(vf_both)
        if np.any(lens[i] < 11) or np.any(buf[start[i] + 9] != _TAG_TIME):
            return None
        t = _varints(buf, start[i] + 10, end[i])
        if t is None:
            return None
        ts[i] = t.view(np.int64)
    if np.any(value_first):
        i = np.flatnonzero(value_first)
        vs[i] = _doubles(buf, start[i] + 1)
    del vf_only
    # 10 <varint>: timestamp only, or timestamp then 09 <8>
    if np.any(time_first):
        i = np.flatnonzero(time_first)
        # the value comes last when the sample's 9th byte from the end is 09
        # and what precedes it is a well-formed varint; else the varint runs to the end
        tail = lens[i] >= 11
        tail_at = np.where(tail, end[i] - 9, 0)
        has_value = tail & (buf[np.where(tail, tail_at, 0)] == _TAG_VALUE)
        t_end = np.where(has_value, tail_at, end[i])
        t = _varints(buf, start[i] + 1, t_end)
        if t is None:
            return None
        ts[i] = t.view(np.int64)
        j = i[has_value]
        if len(j):
            vs[j] = _doubles(buf, end[j] - 8)
    return ts, vs
