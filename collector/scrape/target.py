"""Scrape targets: from discovered labels to a URL and a final label set.

``populate_labels`` follows Prometheus's ``PopulateLabels``: the group's labels,
then the target's, then the scrape config's defaults (``job``,
``__scheme__``, ``__metrics_path__``, ``__scrape_interval__``,
``__scrape_timeout__``, ``__param_*``) where not already set; then
``relabel_configs``; then checks; then ``__meta_*`` labels are removed and
``instance`` defaults to ``__address__``. Labels starting with ``__`` are
kept on the target (they shape its URL) but are not attached to samples::

    target, err = populate_labels(group_labels, target_labels, cfg)
    target.url()  # "http://host:9100/metrics"
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from urllib.parse import urlencode

from collector.relabel import relabel
from collector.relabel.config import ValidationScheme
from collector.scrape.config import ScrapeConfig
from spyglass.configtypes import format_duration_ms, parse_duration_ms
from storage.labels import Labels

ADDRESS = "__address__"
SCHEME = "__scheme__"
METRICS_PATH = "__metrics_path__"
SCRAPE_INTERVAL = "__scrape_interval__"
SCRAPE_TIMEOUT = "__scrape_timeout__"
PARAM_PREFIX = "__param_"
META_PREFIX = "__meta_"
JOB = "job"
INSTANCE = "instance"


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint to scrape: all its labels (incl. ``__*``) and the job's params."""

    labels: Labels  # after relabeling, meta labels removed
    discovered: Labels  # before relabeling
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def public_labels(self) -> Labels:
        """The labels attached to every sample (no ``__`` prefix)."""
        return Labels.from_sorted_flat(
            x for n, v in self.labels.items() if not n.startswith("__") for x in (n, v)
        )

    def url(self) -> str:
        params: dict[str, list[str]] = {k: list(v) for k, v in self.params}
        for n, v in self.labels.items():
            if n.startswith(PARAM_PREFIX):
                k = n[len(PARAM_PREFIX):]
                if params.get(k):
                    params[k][0] = v
                else:
                    params[k] = [v]
        query = urlencode(sorted((k, x) for k, vs in params.items() for x in vs))
        base = f"{self.labels.get(SCHEME)}://{self.labels.get(ADDRESS)}{self.labels.get(METRICS_PATH)}"
        return base + ("?" + query if query else "")

    @property
    def interval(self) -> float:
        return parse_duration_ms(self.labels.get(SCRAPE_INTERVAL)) / 1000.0

    @property
    def timeout(self) -> float:
        return parse_duration_ms(self.labels.get(SCRAPE_TIMEOUT)) / 1000.0

    def hash(self) -> int:
        """Stable across processes (unlike ``hash()``): labels and URL, as Prometheus hashes."""
        h = hashlib.blake2b(digest_size=8)
        for s in self.labels:
            h.update(s.encode())
            h.update(b"\xff")
        h.update(self.url().encode())
        return int.from_bytes(h.digest(), "big")

    def offset(self, interval: float, now: float, seed: int = 0) -> float:
        """Seconds to wait before the first scrape: each target gets a fixed phase
        within the interval (from its hash), so load spreads evenly and a target
        keeps its phase across restarts, like Prometheus's ``Target.offset``."""
        ns = max(1, int(interval * 1e9))
        now_ns = int(now * 1e9)
        base = ns - now_ns % ns
        nxt = base + (self.hash() ^ seed) % ns
        if nxt > ns:
            nxt -= ns
        return nxt / 1e9


def populate_labels(
    group_labels: Labels, target_labels: Labels, cfg: ScrapeConfig
) -> tuple[Target | None, Labels, str | None]:
    """(target, discovered, None) when kept; (None, discovered, None) when relabeling
    dropped it; (None, discovered, error) when the result is not scrapable.
    ``cfg`` must be resolved (``with_global``)."""
    d = group_labels.to_dict()
    d.update(target_labels.to_dict())
    defaults = {
        JOB: cfg.job_name,
        SCRAPE_INTERVAL: format_duration_ms(round(cfg.scrape_interval * 1000)),
        SCRAPE_TIMEOUT: format_duration_ms(round(cfg.scrape_timeout * 1000)),
        METRICS_PATH: cfg.metrics_path,
        SCHEME: cfg.scheme,
    }
    for k, v in defaults.items():
        if not d.get(k):
            d[k] = v
    for k, vs in cfg.params.items():
        name = PARAM_PREFIX + k
        if vs and not d.get(name):
            d[name] = vs[0]
    discovered = Labels.from_dict(d)
    scheme = ValidationScheme(cfg.metric_name_validation_scheme or "utf8")
    res = relabel(discovered, cfg.relabel_configs, scheme)
    if res is None:
        return None, discovered, None
    addr = res.get(ADDRESS)
    if not addr:
        return None, discovered, "no address"
    if "/" in addr:
        return None, discovered, f'"{addr}" is not a valid hostname'
    interval_s, timeout_s = res.get(SCRAPE_INTERVAL), res.get(SCRAPE_TIMEOUT)
    ms: dict[str, int] = {}
    for what, text in (("interval", interval_s), ("timeout", timeout_s)):
        try:
            ms[what] = parse_duration_ms(text)
        except ValueError as e:
            return None, discovered, f"error parsing scrape {what}: {e}"
        if ms[what] == 0:
            return None, discovered, f"scrape {what} cannot be 0"
    if ms["timeout"] > ms["interval"]:
        return None, discovered, f'scrape timeout cannot be greater than scrape interval ("{timeout_s}" > "{interval_s}")'
    final = {n: v for n, v in res.items() if not n.startswith(META_PREFIX)}
    if not final.get(INSTANCE):
        final[INSTANCE] = addr
    labels = Labels.from_dict(final)
    params = tuple(sorted((k, tuple(v)) for k, v in cfg.params.items()))
    return Target(labels, discovered, params), discovered, None
