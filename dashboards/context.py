"""The collaborators every page uses, injected once by ``create_dash_app``."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from dashboards.client import AlertmanagerClient, PrometheusClient
from dashboards.grafana.timerange import DEFAULT_SCRAPE_INTERVAL_MS
from dashboards.querycache import QueryCache
from dashboards.store import DashboardStore
from dashboards.telemetry import DashboardsTelemetry
from dashboards.variables import VariableCache


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class AppContext:
    """What pages and callbacks share; usage: ``ctx.api.query("up")``."""

    api: PrometheusClient
    alertmanager: AlertmanagerClient
    store: DashboardStore
    cache: VariableCache
    executor: ThreadPoolExecutor
    telemetry: DashboardsTelemetry
    prefix: str = "/"
    scrape_interval_ms: int = DEFAULT_SCRAPE_INTERVAL_MS
    clock_ms: Callable[[], int] = field(default=_now_ms)
    # panel range queries, kept and extended as time moves on (set by create_dash_app)
    query_cache: QueryCache | None = None

    def href(self, path: str) -> str:
        return self.prefix.rstrip("/") + path

    def strip(self, pathname: str) -> str:
        """A browser path without the mount prefix."""
        p = self.prefix.rstrip("/")
        if p and pathname.startswith(p):
            pathname = pathname[len(p):]
        return pathname or "/"
