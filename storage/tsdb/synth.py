"""Synthetic node-exporter-like metrics, for TSDB tests and benchmarks.

Real node-exporter scrapes (measured on this machine: 507 series, 15 s apart)
are mostly constant (74 % of series unchanged between scrapes), mostly
integer-valued (85 %: byte and packet counters, memory gauges in 4 KiB pages),
with a minority of 2–3 decimal counters (CPU seconds) and ~9 % full-precision
floats (collector durations). Every series of one scrape shares its timestamp,
and scrape timestamps jitter by a few milliseconds. This generator reproduces
those proportions, vectorized over series, so compression and speed figures
measured on it mean something::

    w = NodeLikeWorkload(targets=20, seed=1)
    for batch in w.batches(scrapes=240):   # 1 h at 15 s
        db.append(batch)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from storage.interface import SampleBatch
from storage.labels import Labels

# Series kinds and their share of a target's series.
CONST, RARE_COUNTER, INT_COUNTER, MEM_GAUGE, CPU_COUNTER, LOAD_GAUGE, NOISY_FLOAT = range(7)
_KIND_SHARE = {
    CONST: 0.58,
    RARE_COUNTER: 0.12,
    INT_COUNTER: 0.08,
    MEM_GAUGE: 0.07,
    CPU_COUNTER: 0.05,
    LOAD_GAUGE: 0.02,
    NOISY_FLOAT: 0.08,
}
_KIND_METRIC = {
    CONST: "info",
    RARE_COUNTER: "errors_total",
    INT_COUNTER: "bytes_total",
    MEM_GAUGE: "memory_bytes",
    CPU_COUNTER: "cpu_seconds_total",
    LOAD_GAUGE: "load",
    NOISY_FLOAT: "duration_seconds",
}


@dataclass(frozen=True, slots=True)
class NodeLikeWorkload:
    """``targets`` scrape targets of ``series_per_target`` series each."""

    targets: int = 10
    series_per_target: int = 500
    interval_ms: int = 15_000
    jitter_ms: float = 2.0  # standard deviation of the scrape timestamp jitter
    start_ms: int = 1_700_000_000_000
    seed: int = 0
    job: str = "node"

    @property
    def num_series(self) -> int:
        return self.targets * self.series_per_target

    def _layout(self) -> tuple[np.ndarray, list[str]]:
        """Kind and metric name of each series of one target (the same for
        every target): families of 1–8 series share a name and a kind, like
        ``node_network_receive_bytes_total{device=...}``, and kinds alternate
        between families the way they do in a real exposition."""
        rng = np.random.default_rng([self.seed, 7])
        counts = {k: round(share * self.series_per_target) for k, share in _KIND_SHARE.items()}
        counts[CONST] += self.series_per_target - sum(counts.values())
        families: list[tuple[int, int]] = []  # (kind, size): shares exactly as declared
        for k, n in counts.items():
            while n > 0:
                size = min(int(rng.integers(1, 9)), n)
                families.append((k, size))
                n -= size
        families = [families[i] for i in rng.permutation(len(families))]
        kinds: list[int] = []
        names: list[str] = []
        for family, (k, size) in enumerate(families):
            kinds.extend([k] * size)
            names.extend([f"node_f{family:04d}_{_KIND_METRIC[k]}"] * size)
        return np.array(kinds, np.int8), names

    def kinds(self) -> np.ndarray:
        """Kind of each series of one target."""
        return self._layout()[0]

    def series(self) -> list[Labels]:
        _, names = self._layout()
        out = []
        for t in range(self.targets):
            instance = f"10.0.{t // 250}.{t % 250}:9100"
            for i, name in enumerate(names):
                out.append(
                    Labels.from_dict(
                        {"__name__": name, "job": self.job, "instance": instance, "idx": str(i)}
                    )
                )
        return out

    def scrapes(self, count: int, first: int = 0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield (timestamps, values) per scrape round, one entry per series,
        for scrape rounds ``first .. first+count-1``. Deterministic in the seed
        and the round number, so two runs (Spyglass and a peer) see the same data."""
        rng = np.random.default_rng(self.seed)
        n = self.num_series
        kinds = np.tile(self.kinds(), self.targets)
        offsets = rng.integers(0, self.interval_ms, self.targets)
        base = np.where(
            kinds == CONST,
            rng.choice([0.0, 1.0, 4.0, 1024.0, 8.0e9], n),
            np.where(kinds == MEM_GAUGE, rng.integers(1_000, 4_000_000, n) * 4096.0, 0.0),
        )
        base = np.where(kinds == CPU_COUNTER, np.round(rng.uniform(100, 1e6, n), 2), base)
        base = np.where(kinds == INT_COUNTER, rng.integers(0, 2**40, n).astype(np.float64), base)
        base = np.where(kinds == RARE_COUNTER, rng.integers(0, 50, n).astype(np.float64), base)
        base = np.where(kinds == LOAD_GAUGE, np.round(rng.uniform(0, 8, n), 2), base)
        rate = rng.lognormal(8, 2, n)  # bytes per interval of an INT_COUNTER
        busy = rng.uniform(0.01, 0.3, n)  # CPU busy share of a CPU_COUNTER
        value = base.copy()
        for r in range(first + count):
            step = np.random.default_rng([self.seed, r])
            inc = np.zeros(n)
            inc = np.where(kinds == RARE_COUNTER, (step.random(n) < 0.03) * step.integers(1, 4, n), inc)
            inc = np.where(kinds == INT_COUNTER, np.floor(step.lognormal(0, 0.5, n) * rate), inc)
            cpu = np.round(self.interval_ms / 1000 * busy * step.lognormal(0, 0.3, n), 2)
            inc = np.where(kinds == CPU_COUNTER, cpu, inc)
            mem = step.integers(-64, 65, n) * 4096.0 * (step.random(n) < 0.5)
            inc = np.where(kinds == MEM_GAUGE, mem, inc)
            load = np.round(step.normal(0, 0.05, n), 2)
            inc = np.where(kinds == LOAD_GAUGE, load, inc)
            value = value + inc
            value = np.where(kinds == CPU_COUNTER, np.round(value, 2), value)
            value = np.where(kinds == LOAD_GAUGE, np.abs(np.round(value, 2)), value)
            if r < first:
                continue
            noisy = step.lognormal(-7, 1, n)
            out = np.where(kinds == NOISY_FLOAT, noisy, value)
            jitter = np.round(step.normal(0, self.jitter_ms, self.targets)).astype(np.int64)
            ts_t = self.start_ms + offsets + r * self.interval_ms + jitter
            yield np.repeat(ts_t, self.series_per_target), out

    def batches(
        self, scrapes: int, first: int = 0, samples_per_series: int = 1, series_per_batch: int = 0
    ) -> Iterator[SampleBatch]:
        """Remote-write-like batches: ``series_per_batch`` series (0 = all) with
        ``samples_per_series`` consecutive samples each."""
        labels = self.series()
        n = len(labels)
        spb = series_per_batch or n
        rounds = list(self.scrapes(scrapes, first))
        for r0 in range(0, len(rounds), samples_per_series):
            chunk = rounds[r0 : r0 + samples_per_series]
            ts = np.stack([c[0] for c in chunk], axis=1)  # series x k
            vs = np.stack([c[1] for c in chunk], axis=1)
            k = len(chunk)
            for s0 in range(0, n, spb):
                s1 = min(n, s0 + spb)
                idx = np.repeat(np.arange(s1 - s0, dtype=np.int64), k)
                yield SampleBatch(
                    labels[s0:s1], idx, ts[s0:s1].ravel().copy(), vs[s0:s1].ravel().copy()
                )
