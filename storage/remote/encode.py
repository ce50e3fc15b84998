"""Queue records and remote-write request bodies.

A queue record is a msgpack array ``[labels, series_index, timestamps, values]``
(labels: one flat ``[name, value, ...]`` list per series; the three columns as
raw little-endian int32/int64/float64 bytes), so a batch goes to disk and back
without a Python object per sample. Requests are remote-write 1.0
(``prometheus.WriteRequest``) or 2.0 (``io.prometheus.write.v2.Request``,
with its symbols table and inline metadata), protobuf then snappy block format::

    body = encode_v1(series, index, ts, vs, metadata)   # snappy-compressed bytes
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cramjam
import msgpack
import numpy as np

from collector.protos import remote_write_v1_pb2 as rw1
from collector.protos import remote_write_v2_pb2 as rw2
from storage.interface import MetricMetadata, MetricType
from storage.labels import Labels

CONTENT_TYPE_V1 = "application/x-protobuf"
CONTENT_TYPE_V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"
VERSION_V1 = "0.1.0"
VERSION_V2 = "2.0.0"


def pack_record(series: Sequence[Labels], index: np.ndarray, ts: np.ndarray, vs: np.ndarray) -> bytes:
    return msgpack.packb(
        [
            [list(s) for s in series],
            np.ascontiguousarray(index, dtype="<i4").tobytes(),
            np.ascontiguousarray(ts, dtype="<i8").tobytes(),
            np.ascontiguousarray(vs, dtype="<f8").tobytes(),
        ],
        use_bin_type=True,
    )


def unpack_record(data: bytes) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]:
    labels, idx, ts, vs = msgpack.unpackb(data, raw=False)
    return (
        [Labels.from_sorted_flat(x) for x in labels],
        np.frombuffer(idx, dtype="<i4"),
        np.frombuffer(ts, dtype="<i8"),
        np.frombuffer(vs, dtype="<f8"),
    )


def _runs(series: Sequence[Labels], index: np.ndarray, ts: np.ndarray, vs: np.ndarray):
    """The samples grouped by series, by time within a series (stable):
    ``(labels, timestamps, values)`` per series, the columns as lists."""
    if not len(index):
        return
    order = np.lexsort((ts, index))
    idx_sorted = index[order]
    bounds = np.flatnonzero(np.diff(idx_sorted)) + 1
    starts = np.concatenate(([0], bounds)).tolist()
    ends = np.concatenate((bounds, [len(order)])).tolist()
    tsl, vsl = ts[order].tolist(), vs[order].tolist()
    for a, b in zip(starts, ends):
        yield series[int(idx_sorted[a])], tsl[a:b], vsl[a:b]


def encode_v1(series: Sequence[Labels], index: np.ndarray, ts: np.ndarray, vs: np.ndarray) -> bytes:
    req = rw1.WriteRequest()
    for lab, run_ts, run_vs in _runs(series, index, ts, vs):
        out = req.timeseries.add()
        out.labels.extend(rw1.Label(name=n, value=v) for n, v in lab.items())
        out.samples.extend(rw1.Sample(value=v, timestamp=t) for t, v in zip(run_ts, run_vs))
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


_V1_TYPES = {t: rw1.MetricMetadata.MetricType.Value(t.value.upper()) for t in MetricType}
_V2_TYPES = {
    t: rw2.Metadata.MetricType.Value("METRIC_TYPE_" + t.value.upper())
    if t is not MetricType.UNKNOWN
    else rw2.Metadata.METRIC_TYPE_UNSPECIFIED
    for t in MetricType
}


def encode_metadata_v1(metadata: Mapping[str, MetricMetadata]) -> bytes:
    req = rw1.WriteRequest()
    for name, m in metadata.items():
        req.metadata.add(type=_V1_TYPES[m.type], metric_family_name=name, help=m.help, unit=m.unit)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString()))


def _family(name: str, metadata: Mapping[str, MetricMetadata]) -> MetricMetadata | None:
    m = metadata.get(name)
    if m is not None:
        return m
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created", "_info"):
        if name.endswith(suffix):
            m = metadata.get(name[: -len(suffix)])
            if m is not None:
                return m
    return None


def encode_v2(
    series: Sequence[Labels], index: np.ndarray, ts: np.ndarray, vs: np.ndarray,
    metadata: Mapping[str, MetricMetadata] | None = None,
) -> tuple[bytes, int]:
    """Body and number of samples. Symbols: index 0 is the empty string (the spec)."""
    req = rw2.Request()
    symbols: dict[str, int] = {"": 0}

    def ref(s: str) -> int:
        r = symbols.get(s)
        if r is None:
            r = symbols[s] = len(symbols)
        return r

    for lab, run_ts, run_vs in _runs(series, index, ts, vs):
        out = req.timeseries.add()
        out.labels_refs.extend(ref(x) for x in lab)
        out.samples.extend(rw2.Sample(value=v, timestamp=t) for t, v in zip(run_ts, run_vs))
        m = _family(lab.name, metadata or {})
        if m is not None:
            out.metadata.type = _V2_TYPES[m.type]
            if m.help:
                out.metadata.help_ref = ref(m.help)
            if m.unit:
                out.metadata.unit_ref = ref(m.unit)
    req.symbols.extend(symbols)
    return bytes(cramjam.snappy.compress_raw(req.SerializeToString())), len(index)
