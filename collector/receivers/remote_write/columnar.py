"""The vectorized remote-write 1.0 decoder: a whole request in array operations.

``framing`` finds each series' label fields and samples with numpy; the
label-field bytes are looked up in the label cache all at once (``map`` over
dictionary lookups); only series the cache does not know are decoded, and
those together (``labelfields``). A known series thus costs a bytes slice and
a dictionary lookup, with no protobuf object, per series or per sample::

    cols = decode_columns(data, series_bytes, cache, limits)   # None: use protobuf

None means the request is not laid out the way this decoder verifies
(exemplars, native histograms, fields out of the usual order, label messages
of unusual layout): the caller decodes it message by message instead, with
the same results.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from google.protobuf.message import DecodeError

from collector.protos import remote_write_view_pb2 as view
from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write.framing import frame_series, probe_samples, uniform_samples
from collector.receivers.remote_write.labelfields import Normalised, label_sets
from collector.receivers.telemetry import DROP_INVALID_LABELS
from storage.labels import LabelLimits, Labels


class Columns(NamedTuple):
    """A decoded request: ``series`` (each label set once), a series index,
    timestamp and value per sample, and what was left out (reason → samples,
    with a few messages)."""

    series: list[Labels]
    series_index: np.ndarray
    timestamps: np.ndarray
    values: np.ndarray
    dropped: dict[str, int]
    errors: list[str]


def decode_columns(
    data: bytes, series: list[bytes], cache: LabelCache, limits: LabelLimits, max_errors: int = 10
) -> Columns | None:
    """Decode a request whose series are ``series`` (the ``SeriesBytesV1`` view of ``data``)."""
    frames = frame_series(series)
    if frames is None:
        return None
    samples = uniform_samples(frames)
    if samples is None:
        try:
            probe = view.ProbeV1.FromString(data).timeseries
        except DecodeError:
            return None
        samples = probe_samples(frames, list(probe.samples))
        if samples is None:
            return None
    counts, ts, vs = samples
    keys = frames.keys()
    found = cache.get_many(keys)
    if None in found:
        missing = list(dict.fromkeys(k for k, f in zip(keys, found) if f is None))
        decoded = label_sets(missing, limits)
        if decoded is None:
            return None
        new = dict(zip(missing, decoded))
        for k, v in new.items():
            cache.put(k, v)
        found = [new[k] if f is None else f for k, f in zip(keys, found)]
    if set(map(type, found)) == {Labels}:
        if counts.all() and len(set(keys)) == len(keys):  # the usual request: nothing to sort out
            idx = np.repeat(np.arange(len(found), dtype=np.int64), counts)
            return Columns(found, idx, ts, vs, {}, [])
        # series repeated or without samples: canonical keys are one object per label set
        return _assemble(found, counts, ts, vs, id, max_errors)
    return _assemble(found, counts, ts, vs, None, max_errors)


def _assemble(found, counts, ts, vs, identity, max_errors: int) -> Columns:
    """Slots for series that repeat or have no samples, invalid label sets
    dropped; series are compared by ``identity`` (``id``) or, when some label
    set came from a non-canonical key, by value."""
    slot: dict = {}
    series: list[Labels] = []
    slot_ids: list[int] = []
    dropped: dict[str, int] = {}
    errors: list[str] = []
    for f, n in zip(found, counts.tolist()):
        if not n:
            slot_ids.append(-1)
            continue
        if type(f) is Normalised:
            f = f.labels
        elif type(f) is not Labels:
            dropped[DROP_INVALID_LABELS] = dropped.get(DROP_INVALID_LABELS, 0) + n
            if len(errors) < max_errors:
                errors.append(str(f))
            slot_ids.append(-1)
            continue
        key = identity(f) if identity else f
        i = slot.get(key)
        if i is None:
            i = slot[key] = len(series)
            series.append(f)
        slot_ids.append(i)
    idx = np.repeat(np.array(slot_ids, np.int64), counts)
    if len(idx) and idx.min() < 0:
        keep = idx >= 0
        idx, ts, vs = idx[keep], ts[keep], vs[keep]
    return Columns(series, idx, ts, vs, dropped, errors)
