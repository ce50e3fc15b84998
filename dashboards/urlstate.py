"""URL state: every view is a shareable link (``?from=now-6h&to=now&var-ns=x&refresh=30s``)."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field


def parse_query(search: str | None) -> dict[str, list[str]]:
    return urllib.parse.parse_qs((search or "").lstrip("?"), keep_blank_values=True)


def first(q: Mapping[str, list[str]], key: str, default: str = "") -> str:
    v = q.get(key)
    return v[0] if v else default


@dataclass(frozen=True, slots=True)
class ViewState:
    """A dashboard view's URL state."""

    raw_from: str
    raw_to: str
    refresh: str = ""
    variables: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    expand_rows: bool = False

    def to_search(self, skip: frozenset[str] = frozenset()) -> str:
        pairs: list[tuple[str, str]] = [("from", self.raw_from), ("to", self.raw_to)]
        for name, values in self.variables.items():
            if name in skip:
                continue
            pairs.extend((f"var-{name}", v) for v in values)
        if self.refresh:
            pairs.append(("refresh", self.refresh))
        if self.expand_rows:
            pairs.append(("rows", "expanded"))
        return "?" + urllib.parse.urlencode(pairs)

    def to_json(self) -> dict:
        return {"from": self.raw_from, "to": self.raw_to, "refresh": self.refresh,
                "vars": {k: list(v) for k, v in self.variables.items()},
                "expand": self.expand_rows}

    @classmethod
    def from_json(cls, d: Mapping) -> ViewState:
        return cls(d.get("from") or "now-6h", d.get("to") or "now", d.get("refresh") or "",
                   {k: tuple(v) for k, v in (d.get("vars") or {}).items()},
                   bool(d.get("expand")))

    @classmethod
    def from_query(cls, q: Mapping[str, list[str]], default_from: str, default_to: str,
                   default_refresh: str = "") -> ViewState:
        variables = {k[4:]: tuple(v) for k, v in q.items() if k.startswith("var-")}
        return cls(first(q, "from", default_from) or default_from,
                   first(q, "to", default_to) or default_to,
                   first(q, "refresh", default_refresh),
                   variables, first(q, "rows") == "expanded")
