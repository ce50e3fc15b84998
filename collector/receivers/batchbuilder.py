"""Accumulating the columns of one ``SampleBatch`` while decoding a request.

A series that appears more than once in a request gets one slot in
``series``; samples go into flat lists that become numpy columns once::

    b = BatchBuilder()
    b.add(labels, 1700000000000, 1.0)
    batch = b.batch(metadata)
"""

from __future__ import annotations

import numpy as np

from storage.interface import MetricMetadata, SampleBatch
from storage.labels import Labels


class BatchBuilder:
    """Columns of a batch under construction; hot loops may append to
    ``idx``/``ts``/``vs`` directly after :meth:`slot_of`."""

    __slots__ = ("idx", "series", "slot", "ts", "vs")

    def __init__(self):
        self.series: list[Labels] = []
        self.slot: dict[Labels, int] = {}
        self.idx: list[int] = []
        self.ts: list[int] = []
        self.vs: list[float] = []

    def slot_of(self, labels: Labels) -> int:
        i = self.slot.get(labels)
        if i is None:
            i = self.slot[labels] = len(self.series)
            self.series.append(labels)
        return i

    def add(self, labels: Labels, t: int, v: float) -> None:
        self.idx.append(self.slot_of(labels))
        self.ts.append(t)
        self.vs.append(v)

    def __len__(self) -> int:
        return len(self.ts)

    def batch(self, metadata: dict[str, MetricMetadata] | None = None) -> SampleBatch:
        return SampleBatch(
            self.series,
            np.array(self.idx, dtype=np.int64),
            np.array(self.ts, dtype=np.int64),
            np.array(self.vs, dtype=np.float64),
            metadata or {},
        )
