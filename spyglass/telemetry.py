"""One metric set per prometheus_client registry.

prometheus_client refuses to register a metric name twice in one registry, and
components are re-created on reload and in tests. Each component declares its
metrics in one class deriving from ``PerRegistry`` and gets them with
``for_registry``, which builds them the first time for a registry and returns
the same object afterwards::

    class ScrapeTelemetry(PerRegistry):
        def __init__(self, registry):
            self.scrapes = Counter("spyglass_scrape_scrapes_total", "...", registry=registry)

    tel = ScrapeTelemetry.for_registry(registry)   # None: the global registry
"""

from __future__ import annotations

import threading
import weakref
from typing import Self

from prometheus_client import REGISTRY, CollectorRegistry

_LOCK = threading.Lock()
_INSTANCES: dict[type, weakref.WeakKeyDictionary] = {}


class PerRegistry:
    """Base of a component's metric set; the subclass's ``__init__(registry)`` declares them."""

    @classmethod
    def for_registry(cls, registry: CollectorRegistry | None = None) -> Self:
        """The one instance of ``cls`` for ``registry`` (default: prometheus_client's global one)."""
        registry = REGISTRY if registry is None else registry
        with _LOCK:
            per_class = _INSTANCES.setdefault(cls, weakref.WeakKeyDictionary())
            got = per_class.get(registry)
            if got is None:
                got = per_class[registry] = cls(registry)
            return got
