"""How one benchmark series' value moves from scrape to scrape (see ``_scrapedata``).

A ``Model`` is a few numbers; the constructors below draw the per-series
variation (uptime of a counter, the mean of a gauge) from a seeded
``random.Random`` so that a fleet is reproducible::

    counter(0.72 * 100, r, spread=0.4, div=100)   # node_cpu_seconds_total{mode="idle"} in USER_HZ ticks
    gauge(46, 0.7, 0.9, r)                        # a temperature, AR(1) around ~46 °C
    histogram(add, "rest_client_request_duration_seconds", 0.6, 0.012, buckets, r, verb="GET")
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

COUNTER, SPARSE, GAUGE, CLOCK, HIST = 0, 1, 2, 3, 4


class Model(NamedTuple):
    """How one series' value moves; the value is ``state × mul / div`` with an integer state.

    COUNTER: state grows by ``rate`` units/s × interval with lognormal noise of
    sigma ``spread``. SPARSE: with probability ``rate`` per scrape the state
    grows by 1..``spread`` units. GAUGE: AR(1) around ``mean`` with
    coefficient ``phi`` and step sd ``rate`` (phi = 1: random walk, floored at
    ``lo``). CLOCK: ``mean`` = 1 gives whole seconds, 0 ns-resolution seconds.
    HIST: a cumulative histogram bucket; the root (``parent`` = -1: the +Inf
    bucket) counts Poisson(``rate`` × interval) events per scrape, and each
    smaller bucket takes each of its ``parent``'s new events with probability
    ``phi``, so that buckets stay cumulative.
    """

    kind: int
    rate: float = 0.0
    spread: float = 0.0
    mean: float = 0.0
    phi: float = 0.0
    init: int = 0
    mul: float = 1.0
    div: float = 1.0
    lo: float = 0.0  # GAUGE floor, in units (-inf for signed gauges)
    parent: int = -1  # HIST: series index of the next larger bucket


def counter(rate: float, r: random.Random, spread: float = 0.3, div: float = 1.0, mul: float = 1.0) -> Model:
    uptime = r.uniform(1, 60) * 86_400  # seconds the exporter's source has been counting
    return Model(COUNTER, rate, spread, init=int(rate * uptime * r.uniform(0.5, 1.5)), mul=mul, div=div)


def sparse(p: float, jump: int, r: random.Random, div: float = 1.0) -> Model:
    return Model(SPARSE, p, jump, init=r.randrange(0, 50 * jump + 1), div=div)


def gauge(
    mean: float, sd: float, phi: float, r: random.Random, div: float = 1.0, mul: float = 1.0, lo: float = 0.0
) -> Model:
    m = mean * r.uniform(0.6, 1.4)
    return Model(GAUGE, sd, 0.0, m, phi, init=int(max(m, lo)), mul=mul, div=div, lo=lo)


def const(value: int, div: float = 1.0) -> Model:
    return Model(GAUGE, 0.0, 0.0, float(value), 1.0, init=value, div=div)


def _le(bound: float) -> str:
    text = repr(float(bound))  # shortest round-trip form, as Prometheus's client libraries print it
    return text.removesuffix(".0")


def histogram(
    a, name: str, rate: float, median_s: float, bounds: tuple[float, ...], r: random.Random, **labels: str
) -> None:
    """``name``_bucket/_sum/_count for latencies ~ lognormal(median, sigma 1)
    at ``rate`` events/s, added through ``a(name, model, **labels) -> index``."""
    cdf = [0.5 * math.erfc(-math.log(b / median_s) / math.sqrt(2)) for b in bounds]
    total = int(rate * r.uniform(1, 30) * 86_400)
    parent = a(f"{name}_bucket", Model(HIST, rate, init=total), le="+Inf", **labels)
    a(f"{name}_count", Model(HIST, phi=1.0, init=total, parent=parent), **labels)
    mean_s = median_s * math.exp(0.5)
    a(f"{name}_sum", counter(rate * mean_s * 1e9, r, 0.5, div=1e9), **labels)
    above = 1.0
    for b, f in sorted(zip(bounds, cdf, strict=True), reverse=True):
        parent = a(
            f"{name}_bucket",
            Model(HIST, phi=min(1.0, f / above) if above else 0.0, init=int(total * f), parent=parent),
            le=_le(b),
            **labels,
        )
        above = f
