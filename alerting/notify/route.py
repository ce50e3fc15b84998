"""The routing tree: which receivers get an alert, and how it is grouped.

Built from the config's ``route:``. An alert descends into the first child
whose matchers match (and on to later siblings while the matched child has
``continue: true``); a node with no matching child is itself the match.
Options not set on a node come from its parent, except the time-interval
lists, which Alertmanager does not inherit::

    root = Route.build(cfg.route)
    [r.opts.receiver for r in root.match(labels)]
    root.routes[0].key        # '{}/{severity="critical"}', part of group keys
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from alerting.notify import config as cfgmod
from alerting.notify.matchers import Matcher, Matchers, MatchType
from storage.labels import Labels

DEFAULT_GROUP_WAIT = 30.0
DEFAULT_GROUP_INTERVAL = 300.0
DEFAULT_REPEAT_INTERVAL = 4 * 3600.0


@dataclass(frozen=True, slots=True)
class RouteOpts:
    receiver: str = ""
    group_by: frozenset[str] = frozenset()
    group_by_all: bool = False
    group_wait: float = DEFAULT_GROUP_WAIT
    group_interval: float = DEFAULT_GROUP_INTERVAL
    repeat_interval: float = DEFAULT_REPEAT_INTERVAL
    mute_time_intervals: tuple[str, ...] = ()
    active_time_intervals: tuple[str, ...] = ()


class Route:
    """One node of the tree, with its effective (inherited) options."""

    __slots__ = ("continue_", "id", "key", "matchers", "opts", "parent", "routes")

    def __init__(self, opts: RouteOpts, matchers: Matchers, continue_: bool, parent: Route | None,
                 id: str):
        self.parent = parent
        self.opts = opts
        self.matchers = matchers
        self.continue_ = continue_
        self.routes: list[Route] = []
        self.key = (parent.key + "/" if parent else "") + str(matchers)
        self.id = id

    @classmethod
    def build(cls, cr: cfgmod.Route, parent: Route | None = None, id: str = "0") -> Route:
        base = parent.opts if parent else RouteOpts()
        receiver = cr.receiver or base.receiver
        group_by, group_by_all = base.group_by, base.group_by_all
        if cr.group_by is not None:
            names = [g for g in cr.group_by if g != "..."]
            # Upstream quirk kept on purpose: `group_by: []` inherits the parent's.
            if names:
                group_by, group_by_all = frozenset(names), False
            elif "..." in cr.group_by:
                group_by_all = True
        opts = RouteOpts(
            receiver=receiver,
            group_by=group_by,
            group_by_all=group_by_all,
            group_wait=cr.group_wait if cr.group_wait is not None else base.group_wait,
            group_interval=cr.group_interval if cr.group_interval is not None else base.group_interval,
            repeat_interval=cr.repeat_interval if cr.repeat_interval is not None else base.repeat_interval,
            mute_time_intervals=tuple(cr.mute_time_intervals),
            active_time_intervals=tuple(cr.active_time_intervals),
        )
        ms: list[Matcher] = [Matcher(MatchType.EQUAL, k, v) for k, v in cr.match.items()]
        # Alertmanager keeps the compiled, anchored form of match_re values; it
        # shows in route keys and therefore in group keys.
        ms += [Matcher(MatchType.REGEX, k, f"^(?:{v})$") for k, v in cr.match_re.items()]
        ms += list(cr.matchers)
        node = cls(opts, Matchers(ms).sorted(), cr.continue_, parent, id)
        node.routes = [cls.build(sub, node, f"{id}.{i}") for i, sub in enumerate(cr.routes)]
        return node

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        if not self.matchers.matches(labels):
            return []
        out: list[Route] = []
        for child in self.routes:
            m = child.match(labels)
            out.extend(m)
            if m and not child.continue_:
                break
        if not out:
            out.append(self)
        return out

    def group_labels(self, labels: Labels) -> Labels:
        if self.opts.group_by_all:
            return labels
        gb = self.opts.group_by
        return Labels.from_sorted_flat(x for n, v in labels.items() if n in gb for x in (n, v))

    def walk(self) -> Iterator[Route]:
        yield self
        for r in self.routes:
            yield from r.walk()

    def __repr__(self) -> str:
        return f"Route({self.key} -> {self.opts.receiver})"
