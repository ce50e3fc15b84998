"""Inhibition: a firing source alert mutes target alerts that share its `equal` labels.

Each rule keeps a cache of the alerts matching its source matchers (fed by the
alert store), so a check is one pass over the firing sources. As upstream, an
alert that matches both sides of a rule cannot inhibit itself through it, a
label missing on both sides counts as equal, and the marker records which
alert inhibits which::

    inhibitor = Inhibitor(cfg.inhibit_rules, marker, clock)
    store.subscribe(inhibitor.on_alerts)
    inhibitor.mutes(alert.labels, alert.fingerprint)
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence

from alerting.notify import config as cfgmod
from alerting.notify.alert import Alert
from alerting.notify.clock import Clock
from alerting.notify.matchers import Matcher, Matchers, MatchType
from alerting.notify.store import Marker


class InhibitRule:
    """One compiled rule with its source-alert cache."""

    __slots__ = ("_cache", "equal", "source", "target")

    def __init__(self, source: Matchers, target: Matchers, equal: Sequence[str]):
        self.source = source
        self.target = target
        self.equal = tuple(equal)
        self._cache: dict[int, Alert] = {}

    @classmethod
    def from_config(cls, r: cfgmod.InhibitRule) -> InhibitRule:
        def side(match, match_re, matchers) -> Matchers:
            ms = [Matcher(MatchType.EQUAL, k, v) for k, v in match.items()]
            ms += [Matcher(MatchType.REGEX, k, f"^(?:{v})$") for k, v in match_re.items()]
            return Matchers(ms + list(matchers))

        return cls(side(r.source_match, r.source_match_re, r.source_matchers),
                   side(r.target_match, r.target_match_re, r.target_matchers), r.equal)

    def find_source(self, labels: Mapping[str, str], exclude_two_sided: bool, now_ns: int) -> Alert | None:
        get = labels.get
        for a in list(self._cache.values()):
            if a.resolved_at(now_ns):
                continue
            if any(a.labels.get(n, "") != get(n, "") for n in self.equal):
                continue
            if exclude_two_sided and self.target.matches(a.labels):
                continue
            return a
        return None


class Inhibitor:
    """Applies all inhibit rules; thread-safe."""

    def __init__(self, rules: Iterable[cfgmod.InhibitRule], marker: Marker, clock: Clock):
        self.rules = [InhibitRule.from_config(r) for r in rules]
        self._marker = marker
        self._clock = clock
        self._lock = threading.Lock()

    def on_alerts(self, alerts: list[Alert]) -> None:
        """Alert-store subscriber: keep each rule's source cache current."""
        with self._lock:
            for a in alerts:
                for r in self.rules:
                    if r.source.matches(a.labels):
                        r._cache[a.fingerprint] = a

    def mutes(self, labels: Mapping[str, str], fp: int) -> bool:
        now = self._clock.now_ns()
        with self._lock:
            for r in self.rules:
                if not r.target.matches(labels):
                    continue
                src = r.find_source(labels, r.source.matches(labels), now)
                if src is not None:
                    self._marker.set_inhibited(fp, [src.fingerprint_hex()])
                    return True
        self._marker.set_inhibited(fp, [])
        return False

    def gc(self) -> None:
        """Drop resolved alerts from the source caches."""
        now = self._clock.now_ns()
        with self._lock:
            for r in self.rules:
                for fp in [fp for fp, a in r._cache.items() if a.resolved_at(now)]:
                    del r._cache[fp]
