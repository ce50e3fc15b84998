"""Remote-write 1.0 and 2.0 request bodies (uncompressed protobuf) → ``SampleBatch``.

This is the ingestion hot path. Protobuf's C parser (upb) does the parsing
against decoding views (``collector/protos/remote_write_view.proto``) that
hand over a series' labels as one byte string; those bytes (1.0) or the
resolved symbol strings (2.0) are the key of a :class:`LabelCache`, so a
series seen before costs one lookup. A second, "probe" parse hands over every
sample of the request in wire order, and :mod:`samples` decodes them all at
once into numpy columns; no object is built per sample or per label::

    decoded = decode_v1(body, LabelCache(100_000), LabelLimits())
    storage.append(decoded.batch)

Series that cannot be stored (invalid labels, native histograms) are left out
of the batch and counted in ``dropped`` with a few ``errors`` to tell the
sender; everything else in the request is still stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from google.protobuf.message import DecodeError

from collector.protos import remote_write_v1_pb2 as rw1  # metadata only
from collector.protos import remote_write_view_pb2 as view
from collector.receivers.errors import IngestError
from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write.samples import decode_samples
from collector.receivers.telemetry import DROP_INVALID_LABELS, DROP_NATIVE_HISTOGRAM
from storage.interface import MetricMetadata, MetricType, SampleBatch
from storage.labels import DEFAULT_LABEL_LIMITS, InvalidLabels, LabelLimits, Labels

MAX_ERRORS = 10

# Both specs number the metric types the same way.
METRIC_TYPES = (
    MetricType.UNKNOWN,
    MetricType.COUNTER,
    MetricType.GAUGE,
    MetricType.HISTOGRAM,
    MetricType.GAUGE_HISTOGRAM,
    MetricType.SUMMARY,
    MetricType.INFO,
    MetricType.STATESET,
)

_FAMILY_SUFFIXES = {
    MetricType.HISTOGRAM: ("_bucket", "_sum", "_count", "_created"),
    MetricType.GAUGE_HISTOGRAM: ("_bucket", "_gsum", "_gcount"),
    MetricType.SUMMARY: ("_sum", "_count", "_created"),
}


@dataclass(slots=True)
class Decoded:
    """What a request holds: the batch to append and what was left out of it."""

    batch: SampleBatch
    # reason → count of samples / histogram points left out of ``batch``.
    dropped: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    exemplars: int = 0
    histograms: int = 0  # native histogram points received (all dropped)

    def drop(self, reason: str, n: int, message: str | None = None) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + n
        if message and len(self.errors) < MAX_ERRORS:
            self.errors.append(message)


def _metric_type(code: int) -> MetricType:
    return METRIC_TYPES[code] if 0 <= code < len(METRIC_TYPES) else MetricType.UNKNOWN


def _checked(pairs: list[tuple[str, str]], limits: LabelLimits) -> Labels | InvalidLabels:
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names):
        dup = sorted(n for n in set(names) if names.count(n) > 1)
        return InvalidLabels(f"series has duplicate label names {dup}")
    labels = Labels.from_pairs(pairs)
    try:
        labels.validate(limits)
    except InvalidLabels as e:
        return e
    return labels


def _varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("truncated varint")
        c = b[i]
        result |= (c & 0x7F) << shift
        i += 1
        if c < 0x80:
            return result, i
        shift += 7


def _labels_v1(blob: bytes, limits: LabelLimits) -> Labels | InvalidLabels:
    """Labels from a series' concatenated Label fields (see LabelsBlob in
    remote_write_view.proto): a value (field 2) belongs to the name (field 1)
    before it; a name followed by another name has an empty value, as proto3
    omits empty strings. Unknown fields are skipped, as protobuf would."""
    pairs: list[tuple[str, str]] = []
    name: str | None = None
    i, n = 0, len(blob)
    try:
        while i < n:
            tag, i = _varint(blob, i)
            field, wire = tag >> 3, tag & 7
            if wire == 2:
                size, i = _varint(blob, i)
                if i + size > n:
                    raise ValueError("truncated field")
                raw = blob[i:i + size]
                i += size
                if field == 1:
                    if name is not None:
                        pairs.append((name, ""))
                    name = raw.decode("utf-8")
                elif field == 2:
                    if name is None:
                        return InvalidLabels("series has a label value without a name")
                    pairs.append((name, raw.decode("utf-8")))
                    name = None
            elif wire == 0:
                _, i = _varint(blob, i)
            elif wire == 1:
                i += 8
            elif wire == 5:
                i += 4
            else:
                raise ValueError(f"bad wire type {wire}")
            if i > n:
                raise ValueError("truncated field")
    except (ValueError, UnicodeDecodeError) as e:
        return InvalidLabels(f"series has labels that are not valid protobuf/UTF-8 ({e})")
    if name is not None:
        pairs.append((name, ""))
    return _checked(pairs, limits)


def _labels_v2(strings: tuple[str, ...], limits: LabelLimits) -> Labels | InvalidLabels:
    if len(strings) % 2:
        return InvalidLabels("series has an odd number of labels_refs")
    return _checked(list(zip(strings[0::2], strings[1::2])), limits)


def _check_series_count(n: int, max_series: int) -> None:
    if max_series and n > max_series:
        raise IngestError(
            413, f"request has {n} series, more than the limit of {max_series}", "too_large"
        )


class _Columns:
    """Which series slot each series of the request goes to (-1: left out) and
    how many samples it has; the samples themselves come from the probe, all
    of them in wire order, and are decoded at once (:mod:`samples`)."""

    __slots__ = ("series", "slot", "slot_ids", "counts")

    def __init__(self):
        self.series: list[Labels] = []
        self.slot: dict[Labels, int] = {}
        self.slot_ids: list[int] = []  # one per series with samples, -1 if dropped
        self.counts: list[int] = []  # its number of samples

    def batch(self, raw, metadata: dict[str, MetricMetadata]) -> SampleBatch:
        raw = list(raw)
        decoded = decode_samples(raw)
        if decoded is None:  # an unusual encoding somewhere: decode one by one
            msgs = [view.Sample.FromString(b) for b in raw]
            decoded = (
                np.array([m.timestamp for m in msgs], dtype=np.int64),
                np.array([m.value for m in msgs], dtype=np.float64),
            )
        ts, vs = decoded
        counts = np.array(self.counts, dtype=np.int64)
        if int(counts.sum()) != len(ts):
            raise IngestError(400, "samples do not add up across the request's series", "malformed")
        idx = np.repeat(np.array(self.slot_ids, dtype=np.int64), counts)
        if len(idx) and idx.min() < 0:
            keep = idx >= 0
            idx, ts, vs = idx[keep], ts[keep], vs[keep]
        return SampleBatch(self.series, idx, ts, vs, metadata)


def decode_v1(
    data: bytes,
    cache: LabelCache | None = None,
    limits: LabelLimits = DEFAULT_LABEL_LIMITS,
    max_series: int = 0,
) -> Decoded:
    """Decode a ``prometheus.WriteRequest``; IngestError 400 when it is not one."""
    try:
        req = view.WriteRequestV1.FromString(data)
        probe = view.ProbeV1.FromString(data).timeseries
    except DecodeError as e:
        raise IngestError(400, f"cannot decode prometheus.WriteRequest: {e}", "malformed") from None
    series_list = req.timeseries
    _check_series_count(len(series_list), max_series)
    check_histograms = bool(probe.histograms)
    cache = cache if cache is not None else LabelCache(0)
    out = Decoded(batch=None)  # type: ignore[arg-type]
    out.exemplars = len(probe.exemplars)
    cols = _Columns()
    slot, slots, slot_ids, counts = cols.slot, cols.series, cols.slot_ids, cols.counts
    cache_get, cache_put = cache.get, cache.put
    for s in series_list:
        key = s.labels.SerializeToString()
        labels = cache_get(key)
        if labels is None:
            labels = cache_put(key, _labels_v1(key, limits))
        if check_histograms and s.histograms:
            n = len(s.histograms)
            out.histograms += n
            out.drop(DROP_NATIVE_HISTOGRAM, n, _histogram_message(labels, n))
        n = len(s.samples)
        if not n:
            continue
        counts.append(n)
        if type(labels) is not Labels:
            out.drop(DROP_INVALID_LABELS, n, str(labels))
            slot_ids.append(-1)
            continue
        i = slot.get(labels)
        if i is None:
            i = slot[labels] = len(slots)
            slots.append(labels)
        slot_ids.append(i)
    metadata: dict[str, MetricMetadata] = {}
    for blob in req.metadata:
        try:
            m = rw1.MetricMetadata.FromString(blob)
        except DecodeError as e:
            raise IngestError(400, f"cannot decode prometheus.MetricMetadata: {e}", "malformed") from None
        if m.metric_family_name:
            metadata[m.metric_family_name] = MetricMetadata(_metric_type(m.type), m.help, m.unit)
    out.batch = _batch(cols, probe.samples, metadata)
    return out


def _batch(cols: _Columns, raw, metadata: dict[str, MetricMetadata]) -> SampleBatch:
    try:
        return cols.batch(raw, metadata)
    except DecodeError as e:
        raise IngestError(400, f"cannot decode a sample: {e}", "malformed") from None


def decode_v2(
    data: bytes,
    cache: LabelCache | None = None,
    limits: LabelLimits = DEFAULT_LABEL_LIMITS,
    max_series: int = 0,
) -> Decoded:
    """Decode an ``io.prometheus.write.v2.Request``; IngestError 400 when it is not one."""
    try:
        req = view.RequestV2.FromString(data)
        probe = view.ProbeV2.FromString(data).timeseries
    except DecodeError as e:
        raise IngestError(
            400, f"cannot decode io.prometheus.write.v2.Request: {e}", "malformed"
        ) from None
    series_list = req.timeseries
    _check_series_count(len(series_list), max_series)
    symbols = list(req.symbols)
    sym = symbols.__getitem__
    nsym = len(symbols)
    check_histograms = bool(probe.histograms)
    cache = cache if cache is not None else LabelCache(0)
    out = Decoded(batch=None)  # type: ignore[arg-type]
    out.exemplars = len(probe.exemplars)
    cols = _Columns()
    slot, slots, slot_ids, counts = cols.slot, cols.series, cols.slot_ids, cols.counts
    cache_get, cache_put = cache.get, cache.put
    metadata: dict[str, MetricMetadata] = {}
    for s in series_list:
        refs = s.labels_refs
        try:
            key = tuple(map(sym, refs))
        except IndexError:
            bad = [r for r in refs if r >= nsym][:3]
            raise IngestError(
                400, f"labels_refs {bad} point past the {nsym} symbols of the request", "malformed"
            ) from None
        labels = cache_get(key)
        if labels is None:
            labels = cache_put(key, _labels_v2(key, limits))
        if check_histograms and s.histograms:
            n = len(s.histograms)
            out.histograms += n
            out.drop(DROP_NATIVE_HISTOGRAM, n, _histogram_message(labels, n))
        n = len(s.samples)
        if type(labels) is not Labels:
            if n:
                counts.append(n)
                slot_ids.append(-1)
                out.drop(DROP_INVALID_LABELS, n, str(labels))
            continue
        if s.HasField("metadata"):
            m = s.metadata
            if m.type or m.help_ref or m.unit_ref:
                try:
                    meta = MetricMetadata(_metric_type(m.type), sym(m.help_ref), sym(m.unit_ref))
                except IndexError:
                    raise IngestError(
                        400, f"metadata of {labels} refers past the {nsym} symbols", "malformed"
                    ) from None
                metadata[_family(labels.name, meta.type)] = meta
        if not n:
            continue
        i = slot.get(labels)
        if i is None:
            i = slot[labels] = len(slots)
            slots.append(labels)
        slot_ids.append(i)
        counts.append(n)
    out.batch = _batch(cols, probe.samples, metadata)
    return out


def _family(name: str, typ: MetricType) -> str:
    """The metric family a 2.0 series' metadata describes (``foo`` for ``foo_bucket``)."""
    for suffix in _FAMILY_SUFFIXES.get(typ, ()):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _histogram_message(labels: Labels | InvalidLabels, n: int) -> str:
    what = str(labels) if type(labels) is Labels else "a series with invalid labels"
    return (
        f"{what}: {n} native histogram sample(s) not stored: Spyglass stores float samples "
        f"only; send classic histograms (_bucket/_sum/_count) instead"
    )


__all__ = ["Decoded", "decode_v1", "decode_v2"]
