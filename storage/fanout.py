"""Fanout: write to the local store first, then to secondary appendables.

The local TSDB is the primary: its answer is the answer to the client (an
error there means nothing was acknowledged). Secondaries — remote-write queues
with their own on-disk buffers — get the batch when the primary accepted any of
it (samples the primary refused one by one, say out of order, still go out: the
remote receiver applies its own rules). A failure in a secondary is counted and
logged, never turned into a client error for data the primary made durable::

    fanout = Fanout(tsdb, [remote_queue])
    fanout.append(batch)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from prometheus_client import REGISTRY, CollectorRegistry, Counter

from storage.interface import Appendable, AppendResult, SampleBatch

log = logging.getLogger("spyglass.fanout")


class Fanout:
    def __init__(
        self,
        primary: Appendable,
        secondaries: Sequence[Appendable] = (),
        registry: CollectorRegistry | None = REGISTRY,
    ):
        self.primary = primary
        self.secondaries = list(secondaries)
        self._failures = Counter(
            "spyglass_fanout_secondary_failures_total",
            "Batches a secondary appendable (a remote-write queue) failed to take.",
            ["secondary"],
            registry=registry,
        )

    def append(self, batch: SampleBatch) -> AppendResult:
        result = self.primary.append(batch)
        if self.secondaries and result.accepted:
            for sec in self.secondaries:
                try:
                    sec.append(batch)
                except Exception as e:  # noqa: BLE001  the local write is durable; report, don't fail the client
                    name = getattr(sec, "name", type(sec).__name__)
                    self._failures.labels(name).inc()
                    log.error("secondary append failed", extra={"secondary": name, "err": repr(e)})
        return result

    def __getattr__(self, name):
        # reads, metadata and status go to the primary
        return getattr(self.primary, name)
