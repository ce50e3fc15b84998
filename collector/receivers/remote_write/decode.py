"""Remote-write 1.0 and 2.0 request bodies (uncompressed protobuf) → ``SampleBatch``.

This is the ingestion hot path. A 1.0 request as real senders lay it out is
decoded in array operations (:mod:`columnar`): protobuf's C parser hands
over the series as byte strings, numpy finds their label fields and samples,
and a series' label-field bytes are its key in a :class:`LabelCache`, so a
series seen before costs a slice and one lookup. Everything else — 1.0
requests with exemplars, native histograms or unusual layouts, and 2.0 —
goes through protobuf decoding views
(``collector/protos/remote_write_view.proto``) that hand over a series'
``Label`` messages as byte strings (1.0) or resolved symbol strings (2.0) for
the cache key, and a "probe" parse hands over every sample of the request in
wire order for :mod:`samples` to decode at once into numpy columns. No
object is built per sample, nor per label of a known series::

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

from collector.protos import remote_write_v1_pb2 as rw1  # metadata and labels of odd requests
from collector.protos import remote_write_view_pb2 as view
from collector.receivers.errors import IngestError
from collector.receivers.labelcache import LabelCache
from collector.receivers.remote_write.columnar import decode_columns
from collector.receivers.remote_write.labelfields import checked
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


def _labels_v1(messages: tuple[bytes, ...], limits: LabelLimits) -> Labels | InvalidLabels:
    """Labels from a series' ``Label`` messages, parsed by protobuf."""
    try:
        labels = [rw1.Label.FromString(m) for m in messages]
    except DecodeError as e:
        return InvalidLabels(f"series has labels that are not valid protobuf/UTF-8 ({e})")
    return checked([(lab.name, lab.value) for lab in labels], limits)


def _labels_v2(strings: tuple[str, ...], limits: LabelLimits) -> Labels | InvalidLabels:
    if len(strings) % 2:
        return InvalidLabels("series has an odd number of labels_refs")
    return checked(list(zip(strings[0::2], strings[1::2])), limits)


def _check_series_count(n: int, max_series: int) -> None:
    if max_series and n > max_series:
        raise IngestError(
            413, f"request has {n} series, more than the limit of {max_series}", "too_large"
        )


class _Columns:
    """Which series slot each series of the request goes to (-1: left out) and
    how many samples it has; the samples themselves come from the probe, all
    of them in wire order, and are decoded at once (:mod:`samples`)."""

    __slots__ = ("counts", "series", "slot", "slot_ids")

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
    """Decode a ``prometheus.WriteRequest``; IngestError 400 when it is not one.

    Requests laid out as real senders write them go through the vectorized
    decoder (``columnar``); others (exemplars, native histograms, unusual
    field order or label layout) through protobuf, message by message."""
    try:
        top = view.SeriesBytesV1.FromString(data)
    except DecodeError as e:
        raise IngestError(400, f"cannot decode prometheus.WriteRequest: {e}", "malformed") from None
    series = list(top.timeseries)
    _check_series_count(len(series), max_series)
    cache = cache if cache is not None else LabelCache(0)
    metadata = _metadata_v1(top.metadata)
    cols = decode_columns(data, series, cache, limits, MAX_ERRORS)
    if cols is None:
        return _decode_v1_messages(data, cache, limits, metadata)
    # every label set of the vectorized decoder is validated against ``limits`` and
    # its strings interned (labelfields): the storage need not do either again
    out = Decoded(SampleBatch(cols.series, cols.series_index, cols.timestamps, cols.values, metadata,
                              labels_checked=limits))
    for reason, n in cols.dropped.items():
        out.drop(reason, n)
    out.errors = cols.errors
    return out


def _metadata_v1(blobs) -> dict[str, MetricMetadata]:
    metadata: dict[str, MetricMetadata] = {}
    for blob in blobs:
        try:
            m = rw1.MetricMetadata.FromString(blob)
        except DecodeError as e:
            raise IngestError(400, f"cannot decode prometheus.MetricMetadata: {e}", "malformed") from None
        if m.metric_family_name:
            metadata[m.metric_family_name] = MetricMetadata(_metric_type(m.type), m.help, m.unit)
    return metadata


def _decode_v1_messages(
    data: bytes, cache: LabelCache, limits: LabelLimits, metadata: dict[str, MetricMetadata]
) -> Decoded:
    """The general 1.0 decoder: protobuf views, one series at a time."""
    try:
        req = view.WriteRequestV1.FromString(data)
        probe = view.ProbeV1.FromString(data).timeseries
    except DecodeError as e:
        raise IngestError(400, f"cannot decode prometheus.WriteRequest: {e}", "malformed") from None
    series_list = req.timeseries
    check_histograms = bool(probe.histograms)
    out = Decoded(batch=None)  # type: ignore[arg-type]
    out.exemplars = len(probe.exemplars)
    cols = _Columns()
    slot, slots, slot_ids, counts = cols.slot, cols.series, cols.slot_ids, cols.counts
    cache_get, cache_put = cache.get, cache.put
    for s in series_list:
        # a tuple of the Label messages: it never equals a key of the
        # vectorized decoder (bytes) nor of 2.0 (strings; only the empty
        # tuple is shared, and both read it as the same empty label set)
        key = tuple(s.labels)
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
