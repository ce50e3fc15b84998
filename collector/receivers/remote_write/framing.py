"""Where each series' label fields and samples lie in a remote-write 1.0 request.

Real senders write a ``TimeSeries`` as its ``Label`` fields followed by its
``Sample`` fields. Protobuf's C parser hands over the series as byte strings
(the ``SeriesBytesV1`` view); numpy then walks the label fields of *all*
series at once — step *j* reads the *j*-th field of every series — so a
request costs a few array operations per label position instead of Python
work per series or per label::

    frames = frame_series(list(view.SeriesBytesV1.FromString(data).timeseries))
    keys = frames.keys()                     # each series' label-field bytes
    counts, ts, vs = uniform_samples(frames) or probe_samples(frames, probe)

A series' label-field bytes are the label-cache key. What follows them is
trusted as the series' samples only once it checks out: either every sample
field has the one fixed layout real senders use (``uniform_samples``), or the
bytes after the labels add up, series by series, to exactly the sample fields
protobuf found in the request (``probe_samples``). Anything else — exemplars,
histograms, fields out of order, unknown fields — returns None and the caller
decodes the request with protobuf message by message.

Several bytes are read at once through overlapping views of the buffer
(``wide``: element *j* is the little-endian integer starting at byte *j*), so
a tag and its length, or a whole sample header, is one gather.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from collector.receivers.remote_write.samples import decode_samples

TAG_LABEL = 0x0A  # TimeSeries field 1 (labels), length-delimited
TAG_SAMPLE = 0x12  # TimeSeries field 2 (samples), length-delimited
_TAG_VALUE = 0x09  # Sample field 1 (double)
_TAG_TIME = 0x10  # Sample field 2 (varint)
# Reads past a series' last byte (a truncated length, wide views) land here
# rather than outside the buffer; the bounds checks then refuse the series.
PAD = bytes(16)
MAX_VARINT = 5  # lengths are below 2**32


def wide(buf: bytes, dtype: str) -> np.ndarray:
    """Overlapping view of ``buf``: element *j* is the ``dtype`` (little-endian)
    value of the bytes starting at ``buf[j]``."""
    size = np.dtype(dtype).itemsize
    return np.ndarray((len(buf) - size + 1,), dtype, buffer=buf, strides=(1,))


def read_varints(arr: np.ndarray, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The varints starting at ``arr[pos]`` (value, byte size), or None when
    one runs longer than ``MAX_VARINT`` bytes."""
    b = arr[pos].astype(np.int64)
    value = b & 0x7F
    size = np.ones(len(pos), np.int64)
    more = np.flatnonzero(b >= 0x80)
    shift = 7
    while len(more):
        if shift >= 7 * MAX_VARINT:
            return None
        nb = arr[pos[more] + size[more]].astype(np.int64)
        value[more] |= (nb & 0x7F) << shift
        size[more] += 1
        more = more[nb >= 0x80]
        shift += 7
    return value, size


@dataclass(frozen=True, slots=True)
class SeriesFrames:
    """The series of one request back to back in ``buf`` (followed by
    ``PAD``); series *i* is ``buf[starts[i]:ends[i]]`` and its label fields
    end at ``label_ends[i]``; ``fields[i]`` counts them (when asked for)."""

    buf: bytes
    starts: np.ndarray  # int64, per series
    label_ends: np.ndarray
    ends: np.ndarray
    fields: np.ndarray | None

    def __len__(self) -> int:
        return len(self.starts)

    def keys(self) -> list[bytes]:
        """Each series' label-field bytes (its label-cache key)."""
        buf = self.buf
        return [buf[a:b] for a, b in zip(self.starts.tolist(), self.label_ends.tolist())]


def frame_series(series: Sequence[bytes], count_fields: bool = False) -> SeriesFrames | None:
    """Find the leading label fields of every series; None when a field is
    malformed (protobuf then reports it)."""
    n = len(series)
    lens = np.fromiter(map(len, series), np.int64, n)
    ends = np.cumsum(lens)
    starts = ends - lens
    buf = b"".join([*series, PAD])
    head = wide(buf, "<u2")  # a field's tag and (first byte of its) length
    pos = starts.copy()
    fields = np.zeros(n, np.int64) if count_fields else None
    live = lens > 0  # series whose next field may be a label
    # Whole arrays every step: nearly all series have about as many labels,
    # so masking costs less than gathering and scattering the live ones.
    while True:
        h = head[pos]
        is_label = ((h & 0xFF) == TAG_LABEL) & live
        if not is_label.any():
            break
        length = h >> 8
        if (length >= 0x80).any():  # a label of 128 bytes or more: a longer length
            at = np.flatnonzero(is_label)
            got = read_varints(np.frombuffer(buf, np.uint8), pos[at] + 1)
            if got is None:
                return None
            nxt = pos.copy()
            nxt[at] += 1 + got[1] + got[0]
        else:
            nxt = pos + 2 + length
        pos = np.where(is_label, nxt, pos)
        if (pos > ends).any():
            return None
        if fields is not None:
            fields += is_label
        live = is_label & (pos < ends)
    return SeriesFrames(buf, starts, pos, ends, fields)


def uniform_samples(frames: SeriesFrames) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(samples per series, timestamps, values) when the bytes after every
    series' labels are sample fields that all have the layout of real senders
    — ``12 <len> 09 <8-byte value> 10 <timestamp varint>`` with varints of one
    width, up to 7 bytes (timestamps up to 2**49 ms) — else None. Each field
    is checked where the previous one ends, so a series whose tail is not
    exactly such fields is never misread."""
    buf, label_ends = frames.buf, frames.label_ends
    tail = frames.ends - label_ends
    has = np.flatnonzero(tail)
    if not len(has):
        return np.zeros(len(tail), np.int64), np.empty(0, np.int64), np.empty(0, np.float64)
    body = buf[int(label_ends[has[0]]) + 1]  # the first sample's length: 10 + varint width
    width = body - 10
    if not 1 <= width <= 7:
        return None
    size = body + 2
    if (tail % size).any():
        return None
    counts = tail // size
    # where each sample field starts: series after series, in wire order
    if (tail == tail[0]).all():  # the usual request: as many samples in every series
        first = (label_ends[:, None] + np.arange(0, int(tail[0]), size)).reshape(-1)
    else:
        before = np.cumsum(counts) - counts
        nth = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(before, counts)
        first = np.repeat(label_ends, counts) + nth * size
    # 12 <len> 09: the field's tag and length, the value's tag
    if not (wide(buf, "<u4")[first] & 0xFFFFFF == TAG_SAMPLE | body << 8 | _TAG_VALUE << 16).all():
        return None
    t = wide(buf, "<u8")[first + 11]  # 10 <varint> and what follows
    # continuation bits: set on every varint byte but the last
    cont = sum(0x80 << 8 * k for k in range(1, width))
    last = 0x80 << 8 * width
    if not ((t & np.uint64(0xFF | cont | last)) == np.uint64(_TAG_TIME | cont)).all():
        return None
    ts = _septets((t >> np.uint64(8)) & np.uint64((1 << 8 * width) - 1))
    vs = wide(buf, "<f8")[first + 3]
    return counts, ts.view(np.int64), vs


_U = np.uint64


def _septets(x: np.ndarray) -> np.ndarray:
    """Varint payloads packed from the low 7 bits of each of (up to) 7 bytes:
    pairs of septets, then pairs of those, then the two halves, are merged
    by masks and shifts (a vectorised bit-extract)."""
    x = x & _U(0x007F7F7F7F7F7F7F)
    x = (x & _U(0x007F007F007F007F)) | ((x & _U(0x7F007F007F007F00)) >> _U(1))
    x = (x & _U(0x00003FFF00003FFF)) | ((x & _U(0x3FFF00003FFF0000)) >> _U(2))
    return (x & _U(0x000000000FFFFFFF)) | ((x & _U(0x0FFFFFFF00000000)) >> _U(4))


def probe_samples(
    frames: SeriesFrames, raw: list[bytes]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(samples per series, timestamps, values) from ``raw``, every sample
    field of the request in wire order (the probe parse), when the bytes after
    the series' labels are exactly those fields — nothing else in between —
    else None."""
    lens = np.fromiter(map(len, raw), np.int64, len(raw))
    size = 2 + lens + (lens >= 0x80) + (lens >= 1 << 14) + (lens >= 1 << 21) + (lens >= 1 << 28)
    tail = frames.ends - frames.label_ends
    if int(size.sum()) != int(tail.sum()):
        return None
    cum = np.cumsum(size)
    bounds = np.cumsum(tail)
    upto = np.searchsorted(cum, bounds, side="right")
    # every series' tail must end exactly where one of its sample fields does
    ok = np.where(upto > 0, cum[np.maximum(upto - 1, 0)], 0) == bounds
    if not ok.all():
        return None
    counts = np.diff(upto, prepend=0)
    decoded = decode_samples(raw)
    if decoded is None:
        return None
    return counts, decoded[0], decoded[1]
