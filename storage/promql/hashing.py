"""Prometheus's label-set hash (xxHash64 of ``name\\xffvalue\\xff...``), for ``limit_ratio``.

``limit_ratio`` keeps a series when its hash, scaled to [0, 1), falls under the
ratio, so that the same series are kept at every step and by every engine
that follows Prometheus. Label sets are few (one per series), so a plain
Python XXH64 is fast enough and saves a dependency::

    xxh64(b"")  # 0xEF46DB3751D8E999
"""

from __future__ import annotations

import struct

import numpy as np

from storage.labels import Labels

_M = (1 << 64) - 1
P1 = 11400714785074694791
P2 = 14029467366897019727
P3 = 1609587929392839161
P4 = 9650029242287828579
P5 = 2870177450012600261


def _rotl(x: int, r: int) -> int:
    return ((x << r) | (x >> (64 - r))) & _M


def _round(acc: int, lane: int) -> int:
    acc = (acc + lane * P2) & _M
    acc = _rotl(acc, 31)
    return (acc * P1) & _M


def _merge(acc: int, val: int) -> int:
    acc ^= _round(0, val)
    return (acc * P1 + P4) & _M


def xxh64(data: bytes, seed: int = 0) -> int:
    n = len(data)
    i = 0
    if n >= 32:
        v1 = (seed + P1 + P2) & _M
        v2 = (seed + P2) & _M
        v3 = seed & _M
        v4 = (seed - P1) & _M
        while i + 32 <= n:
            a, b, c, d = struct.unpack_from("<4Q", data, i)
            v1, v2, v3, v4 = _round(v1, a), _round(v2, b), _round(v3, c), _round(v4, d)
            i += 32
        h = (_rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)) & _M
        for v in (v1, v2, v3, v4):
            h = _merge(h, v)
    else:
        h = (seed + P5) & _M
    h = (h + n) & _M
    while i + 8 <= n:
        (k,) = struct.unpack_from("<Q", data, i)
        h ^= _round(0, k)
        h = (_rotl(h, 27) * P1 + P4) & _M
        i += 8
    if i + 4 <= n:
        (k,) = struct.unpack_from("<I", data, i)
        h ^= (k * P1) & _M
        h = (_rotl(h, 23) * P2 + P3) & _M
        i += 4
    while i < n:
        h ^= (data[i] * P5) & _M
        h = (_rotl(h, 11) * P1) & _M
        i += 1
    h ^= h >> 33
    h = (h * P2) & _M
    h ^= h >> 29
    h = (h * P3) & _M
    h ^= h >> 32
    return h


def labels_hash(labels: Labels) -> int:
    buf = bytearray()
    for name, value in labels.items():
        buf += name.encode()
        buf += b"\xff"
        buf += value.encode()
        buf += b"\xff"
    return xxh64(bytes(buf))


def ratio_offsets(labels: list[Labels]) -> np.ndarray:
    """Each series' place in [0, 1] for ``limit_ratio`` (hash / MaxUint64)."""
    return np.array([labels_hash(ls) / float(_M) for ls in labels], dtype=np.float64)
