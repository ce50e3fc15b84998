"""Node-exporter, kubelet and cAdvisor-like scrape data for the storage benchmarks.

A ``Fleet`` is the series of a number of Kubernetes nodes, each scraped as
three targets (``_exporters``): its node-exporter (CPU, memory, network,
disks, filesystems, load, hwmon, collector timings, the exporter's own
go/process metrics), the kubelet's own metrics (mostly latency histograms)
and the kubelet's cAdvisor endpoint (per-container CPU, memory, filesystem,
spec, threads; per-pod network), with the label sets kube-prometheus-stack
gives them (8–13 labels, 11 on average). Per-series properties are numpy
columns (``_valuemodels.Model`` fields), not one object per series.

A ``ScrapeStream`` produces the values scrape after scrape. What matters for
compression is modelled after what real exporters emit:

- timestamps are what a Prometheus 2.42 server scraping these targets (and
  forwarding by remote-write) records: each target has its own offset in
  the 15 s cycle; the scrape timer fires late by an exponentially
  distributed 0.7 ms on average, and 1 % of scrapes start 5–150 ms late (a
  busy scraper, a GC pause); Prometheus snaps a scrape's timestamp back onto
  the schedule when it is at most 2 ms late (``--scrape.timestamp-tolerance``),
  so most samples sit exactly 15 s apart and the rest a few ms off;
- counters grow by ``rate × interval`` with multiplicative noise, in the unit
  the exporter reads: CPU seconds in 1/100 s (USER_HZ), cAdvisor CPU in ns,
  disk times in ms, bytes and packets as integers; some barely ever move
  (errors, drops, throttling) and some never do (``steal`` on bare metal);
- gauges are AR(1) processes around a mean (load averages in 1/100, integer
  temperatures, scrape durations at ns resolution) or random walks (memory in
  kB or 4 KiB pages, filesystem free space in blocks);
- histograms are cumulative: +Inf counts Poisson arrivals, each smaller
  bucket keeps each new event with the latency distribution's odds;
- constants (sizes, limits, ``*_info``, ``up``) are present as in real data;
- ``node_time_seconds`` and ``container_last_seen`` follow the clock.

No churn and no counter resets: every series lives for the whole run::

    fleet = Fleet.build(series=5_000, seed=1)
    stream = ScrapeStream(fleet, start_ms=t0, seed=1)
    scrapes = stream.next(20)   # 20 scrapes of every target
    scrapes.series_ts(fleet)    # int64[series, 20]; scrapes.values: float64[series, 20]
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from bench._exporters import cadvisor, kubelet, node_exporter
from bench._valuemodels import CLOCK, COUNTER, GAUGE, HIST, SPARSE, Model

INTERVAL_MS = 15_000


@dataclass(frozen=True, slots=True)
class Fleet:
    """The series of Kubernetes nodes (node-exporter, kubelet, cAdvisor), as columns.

    ``labels[i]`` is series i's sorted (name, value) pairs (``__name__``
    first); ``target[i]`` the scrape target it belongs to (three per node);
    the other columns are the fields of its ``Model``; ``level`` is a
    histogram bucket's depth below its +Inf bucket::

        fleet = Fleet.build(series=100_000, seed=7)
    """

    labels: tuple[tuple[tuple[str, str], ...], ...]
    target: np.ndarray  # int32[S]
    kind: np.ndarray  # int8[S]
    rate: np.ndarray  # float64[S]
    spread: np.ndarray
    mean: np.ndarray
    phi: np.ndarray
    init: np.ndarray  # int64[S]
    mul: np.ndarray
    div: np.ndarray
    lo: np.ndarray
    parent: np.ndarray  # int64[S]
    level: np.ndarray  # int16[S]
    n_targets: int

    @property
    def n_series(self) -> int:
        return len(self.labels)

    @classmethod
    def build(cls, series: int, seed: int = 1, pods_per_node: int = 30) -> Fleet:
        """At least ``series`` series from as many nodes as it takes, cut to exactly ``series``."""
        r = random.Random(seed)
        labels: list[tuple[tuple[str, str], ...]] = []
        models: list[Model] = []
        targets: list[int] = []
        node = 0
        makers = (node_exporter, kubelet, lambda n, rr, add: cadvisor(n, rr, add, pods_per_node))
        per_node = len(makers)
        while len(labels) < series:
            for t, make in enumerate(makers):

                def add(name: str, lab: dict[str, str], model: Model, _t=per_node * node + t) -> int:
                    labels.append((("__name__", name), *sorted((k, v) for k, v in lab.items() if v)))
                    models.append(model)
                    targets.append(_t)
                    return len(labels) - 1

                make(node, r, add)
            node += 1
        del labels[series:], models[series:], targets[series:]
        if len(set(labels)) != len(labels):
            raise AssertionError("fleet label sets are not distinct")
        cols = np.array([m[1:] for m in models], dtype=np.float64).reshape(-1, 9)
        parent = cols[:, 8].astype(np.int64)
        level = np.zeros(len(models), np.int16)
        for i in np.flatnonzero(parent >= 0).tolist():  # parents come before their children
            level[i] = level[parent[i]] + 1
        return cls(
            labels=tuple(labels),
            target=np.asarray(targets, np.int32),
            kind=np.array([m.kind for m in models], np.int8),
            rate=cols[:, 0].copy(),
            spread=cols[:, 1].copy(),
            mean=cols[:, 2].copy(),
            phi=cols[:, 3].copy(),
            init=np.array([m.init for m in models], np.int64),
            mul=cols[:, 5].copy(),
            div=cols[:, 6].copy(),
            lo=cols[:, 7].copy(),
            parent=parent,
            level=level,
            n_targets=int(max(targets)) + 1 if targets else 0,
        )


@dataclass(frozen=True, slots=True)
class Scrapes:
    """``k`` consecutive scrapes: per-target timestamps and per-series values."""

    ts: np.ndarray  # int64[targets, k], milliseconds
    values: np.ndarray  # float64[series, k]

    def series_ts(self, fleet: Fleet) -> np.ndarray:
        return self.ts[fleet.target]


def _uniform(x: np.ndarray) -> np.ndarray:
    """splitmix64 of each key, as a float in [0, 1)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) * 2.0**-53


class ScrapeStream:
    """The fleet's values scrape by scrape, from ``start_ms`` on (see module docstring)::

    stream = ScrapeStream(fleet, start_ms=t0)
    first, second = stream.next(10), stream.next(10)  # continues where it stopped
    """

    def __init__(self, fleet: Fleet, start_ms: int, interval_ms: int = INTERVAL_MS, seed: int = 1):
        self.fleet = fleet
        self.interval_ms = interval_ms
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.offset = self.rng.integers(0, interval_ms, fleet.n_targets)
        # the earliest sample lands exactly on start_ms, so that a start on a
        # block boundary gives block-aligned data (no sliver in the block before)
        self.offset += start_ms - int(self.timestamps(0, 1).min())
        self.scrape = 0  # index of the next scrape
        self.state = fleet.init.astype(np.float64)  # integer-valued; float so AR steps stay vectorized
        k = fleet.kind
        self._counter, self._sparse = np.flatnonzero(k == COUNTER), np.flatnonzero(k == SPARSE)
        self._gauge, self._clock = np.flatnonzero(k == GAUGE), np.flatnonzero(k == CLOCK)
        self._hist_levels = [
            np.flatnonzero((k == HIST) & (fleet.level == lv))
            for lv in range(int(fleet.level.max(initial=0)) + 1)
        ]

    def timestamps(self, first: int, k: int) -> np.ndarray:
        """Timestamps of scrapes ``first .. first+k-1`` of every target. The
        jitter is a hash of (seed, target, scrape), so it does not depend on
        how the scrapes are split into ``next()`` calls."""
        t = self.fleet.n_targets
        key = (
            (np.arange(t, dtype=np.uint64)[:, None] << np.uint64(32))
            | (first + np.arange(k, dtype=np.uint64))[None, :]
        ) * np.uint64(4)
        key ^= np.uint64(self.seed * 0x2545F4914F6CDD1D & 0xFFFFFFFFFFFFFFFF)
        u1, u2, u3 = (_uniform(key + np.uint64(i)) for i in range(3))
        jitter = np.floor(-0.7 * np.log1p(-u1))  # timer lateness, truncated to ms
        jitter = np.where(u2 < 0.01, 5 + np.floor(u3 * 145), jitter)
        jitter[jitter <= 2] = 0  # Prometheus's timestamp alignment (2 ms tolerance)
        slots = (first + np.arange(k, dtype=np.int64)) * self.interval_ms
        return self.offset[:, None] + slots[None, :] + jitter.astype(np.int64)

    def next(self, k: int) -> Scrapes:
        f, rng, dt = self.fleet, self.rng, self.interval_ms / 1000.0
        ts = self.timestamps(self.scrape, k)
        self.scrape += k
        out = np.zeros((f.n_series, k))
        c = self._counter
        if len(c):
            sigma = f.spread[c][:, None]
            noise = rng.lognormal(-(sigma**2) / 2, sigma, (len(c), k))  # mean 1
            inc = np.floor(f.rate[c][:, None] * dt * noise + rng.random((len(c), k)))
            out[c] = self.state[c][:, None] + np.cumsum(inc, axis=1)
        s = self._sparse
        if len(s):
            hit = rng.random((len(s), k)) < f.rate[s][:, None]
            jump = np.floor(rng.random((len(s), k)) * f.spread[s][:, None]) + 1
            out[s] = self.state[s][:, None] + np.cumsum(np.where(hit, jump, 0.0), axis=1)
        g = self._gauge
        if len(g):
            x, mean, phi, sd, lo = self.state[g], f.mean[g], f.phi[g], f.rate[g], f.lo[g]
            steps = rng.normal(0.0, 1.0, (len(g), k)) * sd[:, None]
            for j in range(k):
                x = np.maximum(np.rint(mean + phi * (x - mean) + steps[:, j]), lo)
                out[g, j] = x
        hist = any(len(idx) for idx in self._hist_levels)
        if hist:
            events = np.zeros((f.n_series, k), np.int64)  # new events per bucket, parents first
            for lv, idx in enumerate(self._hist_levels):
                if lv == 0:
                    events[idx] = rng.poisson(np.repeat(f.rate[idx, None] * dt, k, axis=1))
                elif len(idx):
                    events[idx] = rng.binomial(events[f.parent[idx]], f.phi[idx, None])
                out[idx] = self.state[idx][:, None] + np.cumsum(events[idx], axis=1)
        if len(c) or len(s) or len(g) or hist:
            self.state = out[:, -1].copy()
        out = out * f.mul[:, None] / f.div[:, None]
        cl = self._clock
        if len(cl):
            t = ts[f.target[cl]]
            ns = (t * 1_000_000 + rng.integers(0, 1_000_000, t.shape)) / 1e9
            out[cl] = np.where(f.mean[cl][:, None] == 1.0, np.floor(t / 1000.0), ns)
        return Scrapes(ts, out)
