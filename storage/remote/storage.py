"""The set of remote-write queues for a process, kept in step with the configuration.

On reload, a queue whose configuration (and external labels) did not change keeps
running; a changed one is stopped — its on-disk backlog stays and is sent by the
new queue of the same name — and removed ones are stopped::

    remote = RemoteStorage(os.path.join(data_dir, "remote_write"))
    remote.apply_config(cfg.remote_write, cfg.global_.external_labels)
    fanout = Fanout(tsdb, [remote])
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence

from prometheus_client import REGISTRY, CollectorRegistry

from storage.interface import AppendResult, SampleBatch
from storage.remote.config import RemoteWriteConfig
from storage.remote.queue import RemoteWriteQueue, queue_name


class RemoteStorage:
    name = "remote_write"

    def __init__(self, directory: str, registry: CollectorRegistry | None = REGISTRY):
        self.directory = directory
        self.registry = registry
        self._queues: dict[str, tuple[RemoteWriteConfig, dict[str, str], RemoteWriteQueue]] = {}
        self._lock = threading.Lock()

    @property
    def queues(self) -> list[RemoteWriteQueue]:
        return [q for _, _, q in self._queues.values()]

    def apply_config(self, configs: Sequence[RemoteWriteConfig], external_labels: Mapping[str, str]) -> None:
        names = [queue_name(c) for c in configs]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"duplicate remote write configs: {', '.join(sorted(dup))}")
        ext = dict(external_labels)
        with self._lock:
            old = self._queues
            new: dict[str, tuple[RemoteWriteConfig, dict[str, str], RemoteWriteQueue]] = {}
            for cfg, name in zip(configs, names):
                prev = old.get(name)
                if prev is not None and prev[0] == cfg and prev[1] == ext:
                    new[name] = prev
                    continue
                if prev is not None:
                    prev[2].stop()
                q = RemoteWriteQueue(cfg, os.path.join(self.directory, name), external_labels=ext,
                                     registry=self.registry)
                q.start()
                new[name] = (cfg, ext, q)
            for name, (_, _, q) in old.items():
                if name not in new:
                    q.stop()
            self._queues = new

    def append(self, batch: SampleBatch) -> AppendResult:
        result = AppendResult()
        for q in self.queues:
            result.merge(q.append(batch))
        return result

    def shutdown(self) -> None:
        with self._lock:
            for _, _, q in self._queues.values():
                q.stop()
            self._queues = {}
