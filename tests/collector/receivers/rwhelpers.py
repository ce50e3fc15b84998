"""Building remote-write requests by hand for tests."""

from __future__ import annotations

import cramjam

from collector.protos import remote_write_v1_pb2 as rw1
from collector.protos import remote_write_v2_pb2 as rw2

V1_HEADERS = {
    "Content-Type": "application/x-protobuf",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}
V2_HEADERS = {
    "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    "Content-Encoding": "snappy",
    "X-Prometheus-Remote-Write-Version": "2.0.0",
}


def snappy(data: bytes) -> bytes:
    return bytes(cramjam.snappy.compress_raw(data))


def v1_request(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> rw1.WriteRequest:
    req = rw1.WriteRequest()
    for labels, samples in series:
        ts = req.timeseries.add()
        for n, v in sorted(labels.items()):
            ts.labels.add(name=n, value=v)
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
    return req


class V2Builder:
    """Builds an io.prometheus.write.v2.Request with its symbols table."""

    def __init__(self):
        self.req = rw2.Request()
        self.refs: dict[str, int] = {}
        self.ref("")

    def ref(self, s: str) -> int:
        if s not in self.refs:
            self.refs[s] = len(self.req.symbols)
            self.req.symbols.append(s)
        return self.refs[s]

    def series(self, labels: dict[str, str], samples=(), *, type=0, help="", unit="",
               histograms=0, exemplars=()) -> rw2.TimeSeries:
        ts = self.req.timeseries.add()
        for n, v in sorted(labels.items()):
            ts.labels_refs.extend([self.ref(n), self.ref(v)])
        for t, v in samples:
            ts.samples.add(timestamp=t, value=v)
        if type or help or unit:
            ts.metadata.type = type
            ts.metadata.help_ref = self.ref(help)
            ts.metadata.unit_ref = self.ref(unit)
        for i in range(histograms):
            h = ts.histograms.add(count_int=3, sum=1.5, schema=0, timestamp=1000 + i)
            h.positive_spans.add(offset=0, length=1)
            h.positive_deltas.append(3)
        for t, v, trace in exemplars:
            e = ts.exemplars.add(value=v, timestamp=t)
            e.labels_refs.extend([self.ref("trace_id"), self.ref(trace)])
        return ts

    def body(self) -> bytes:
        return snappy(self.req.SerializeToString())
