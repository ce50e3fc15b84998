"""Read metrics from any Prometheus-compatible HTTP API: a Spyglass collector,
Prometheus, Thanos, Mimir, VictoriaMetrics.

Two ways to evaluate over a remote backend, as Thanos Ruler and Mimir's ruler do:

- ``remote_query_func`` hands a whole expression to the backend's ``/api/v1/query``
  (the backend's engine evaluates it) and is a rule manager's ``QueryFunc``.
- ``PrometheusAPIQueryable`` is a ``storage.interface.Queryable`` whose queriers
  fetch raw samples, so Spyglass's own PromQL engine runs over remote data and
  the rule manager restores ``ALERTS_FOR_STATE`` from it.

Usage::

    remote = PrometheusAPIQueryable("http://prometheus:9090", http=cfg, timeout=30)
    Engine().instant_query(remote, "sum(rate(x[5m]))", t_ms)
    query = remote_query_func(remote.client)     # share one connection pool
    query("sum(up)", t_ms)                        # -> [Sample(labels, t, v)]

How raw samples are read. The standard API has no raw-read endpoint, but an
instant query of a range selector returns the raw samples of every matching
series: ``{matchers}[R]`` at ``time=maxt``. Prometheus 3.x windows are left-open,
``(maxt-R, maxt]``, and 2.x ones left-closed, ``[maxt-R, maxt]``; with
``R = maxt-mint+1 ms`` both cover ``[mint, maxt]`` and the one extra millisecond
2.x may return is filtered out here, so a select returns exactly the samples in
``[mint, maxt]``. Long ranges go in requests of at most
``max_range_per_request_ms`` each, and a range the backend refuses with its
sample limit (Prometheus/Thanos ``--query.max-samples``, VictoriaMetrics
``-search.maxSamplesPerQuery``, Mimir's chunk limits) is split in two and retried,
down to ``min_range_per_request_ms``; the pieces are merged per series.
``series_only`` selects use ``/api/v1/series``; label names and values use
``/api/v1/labels`` and ``/api/v1/label/<name>/values`` with ``match[]``,
``start`` and ``end``. The samples of a matrix answer are cut out of the JSON
text and read by numpy in one pass, never as a Python object each
(``promapi_wire.loads_matrix``: about 3.6M samples/s on one core here, against
0.9M through ``orjson`` lists).

Limits, by the nature of the API:

- No stale markers. The API leaves them out of range-selector results (a stale
  NaN ends a series; it is not a sample), so a select never returns them. For
  Spyglass's engine over this queryable, an instant selector therefore keeps
  returning a series' last sample for up to the lookback delta (5 min) after
  the series ended, where over local storage it disappears at its stale marker.
  Range functions are unaffected (they skip stale markers anyway), and
  ``remote_query_func`` is unaffected (the backend evaluates with its markers).
- The backend's sample limit bounds one request; splitting by time cannot help
  when a single ``min_range_per_request_ms`` slice is over it, nor with limits
  on series counts: those surface as ``PrometheusAPILimitError``.
- ``/api/v1/series`` and ``/api/v1/labels`` answer from the backend's index, which
  may include series without samples in the exact range (Prometheus's
  head/block granularity).
- Exemplars, metadata and native-histogram samples are not read (native
  histograms are skipped and counted in
  ``spyglass_promapi_native_histogram_samples_ignored_total``).
- Label names outside the legacy character set are sent in Prometheus 3.x
  syntax (quoted in selectors, ``U__``-escaped in paths); 2.x backends refuse them.
- Regex matchers are evaluated by the backend and again here (RE2, fully
  anchored): a backend with looser semantics cannot add series, but one with
  stricter ones (Prometheus 2.x: ``.`` does not match a newline) can miss some.
- No retries: a failed request raises at once (rule evaluation retries on its
  next interval, as Prometheus's does).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import numpy as np
from prometheus_client import REGISTRY, CollectorRegistry

from spyglass.configtypes import HTTPClientConfig
from storage.interface import QueryLimitError, SelectHints, SeriesSet
from storage.labels import Labels, Matcher, matches_all
from storage.promql.value import Sample
from storage.remote.promapi_client import (
    PrometheusAPIClient,
    PrometheusAPIError,
    PrometheusAPILimitError,
    PrometheusAPIResultError,
    PrometheusAPITimeoutError,
    PrometheusAPIUnavailableError,
    client_for,
)
from storage.remote.promapi_wire import (
    MAX_RANGE_MS,
    WireError,
    decode_scalar,
    decode_vector,
    render_selector,
)

__all__ = [
    "PrometheusAPIClient",
    "PrometheusAPIError",
    "PrometheusAPILimitError",
    "PrometheusAPIQuerier",
    "PrometheusAPIQueryable",
    "PrometheusAPIResultError",
    "PrometheusAPITimeoutError",
    "PrometheusAPIUnavailableError",
    "remote_query_func",
]

# --- Queryable -----------------------------------------------------------------------


class PrometheusAPIQueryable:
    """A ``Queryable`` over a remote Prometheus-compatible API (see the module doc)::

        remote = PrometheusAPIQueryable("http://prometheus:9090", timeout=30)
        remote.querier(mint, maxt).select([Matcher("=", "__name__", "up")])

    ``base_url`` is a URL or a ``PrometheusAPIClient`` to share; ``http``,
    ``timeout`` and ``transport`` are the client's when one is built here."""

    def __init__(
        self,
        base_url: str | PrometheusAPIClient,
        http: HTTPClientConfig | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        *,
        # Longest time range one select request covers; longer selects are cut
        # into pieces this long (bounds the size of one answer). 0: only the
        # backend's own limits cut.
        max_range_per_request_ms: int = 86_400_000,
        # A range the backend refuses with its sample limit is halved until it
        # is this short; then the refusal is the select's error.
        min_range_per_request_ms: int = 1_000,
        # Most requests one select may make (pieces plus retries after splits).
        max_requests_per_select: int = 10_000,
        registry: CollectorRegistry | None = REGISTRY,
        logger: logging.Logger | None = None,
    ):
        if max_range_per_request_ms < 0 or min_range_per_request_ms < 1 or max_requests_per_select < 1:
            raise ValueError("request range limits must be positive (max_range_per_request_ms may be 0)")
        self.client, self._owns_client = client_for(base_url, http, timeout, transport, registry, logger)
        self.max_range_per_request_ms = min(max_range_per_request_ms or MAX_RANGE_MS, MAX_RANGE_MS)
        self.min_range_per_request_ms = min_range_per_request_ms
        self.max_requests_per_select = max_requests_per_select

    def querier(self, mint: int, maxt: int) -> PrometheusAPIQuerier:
        return PrometheusAPIQuerier(self, int(mint), int(maxt))

    def close(self) -> None:
        """Close the HTTP client if this queryable made it."""
        if self._owns_client:
            self.client.close()


class PrometheusAPIQuerier:
    """Reads ``[mint, maxt]`` (ms, inclusive) from the remote API; holds no resources."""

    def __init__(self, queryable: PrometheusAPIQueryable, mint: int, maxt: int):
        self.q = queryable
        self.client = queryable.client
        self.mint, self.maxt = mint, maxt

    def select(self, matchers: Sequence[Matcher], hints: SelectHints | None = None) -> SeriesSet:
        hints = hints or SelectHints()
        matchers = list(matchers)
        if self.maxt < self.mint:
            return SeriesSet.empty()
        selector = render_selector(matchers)
        if hints.series_only:
            found = self.client.series([selector], self.mint, self.maxt)
            labels = sorted({ls for ls in found if matches_all(matchers, ls)})
            return SeriesSet(labels, np.zeros(len(labels) + 1, np.int64), np.empty(0, np.int64),
                             np.empty(0, np.float64))
        return self._select_samples(selector, matchers, hints.max_samples)

    def _plan(self) -> list[tuple[int, int]]:
        """The select's pieces, as a stack (earliest piece last, popped first)."""
        step = self.q.max_range_per_request_ms
        span = self.maxt - self.mint + 1
        n = -(-span // step)
        if n > self.q.max_requests_per_select:
            raise PrometheusAPILimitError(
                f"selecting {span} ms from {self.client.backend} in requests of at most {step} ms "
                f"would take {n} requests, more than max_requests_per_select="
                f"{self.q.max_requests_per_select}",
                error_type="execution", url=self.client.backend,
            )
        pieces = [(a, min(a + step - 1, self.maxt)) for a in range(self.mint, self.maxt + 1, step)]
        pieces.reverse()
        return pieces

    def _select_samples(self, selector: str, matchers: list[Matcher], max_samples: int) -> SeriesSet:
        client, t = self.client, self.client.telemetry
        pending = self._plan()
        parts: dict[Labels, list[tuple[np.ndarray, np.ndarray]]] = {}
        requests = total = 0
        while pending:
            a, b = pending.pop()
            requests += 1
            if requests > self.q.max_requests_per_select:
                raise PrometheusAPILimitError(
                    f"select from {client.backend} took more than max_requests_per_select="
                    f"{self.q.max_requests_per_select} requests (its sample limit kept refusing)",
                    error_type="execution", url=client.backend,
                )
            try:
                labels, offsets, ts, vs = client.query_matrix(f"{selector}[{b - a + 1}ms]", b)
            except PrometheusAPILimitError:
                if b - a + 1 <= self.q.min_range_per_request_ms:
                    raise
                mid = a + (b - a) // 2
                pending.append((mid + 1, b))
                pending.append((a, mid))
                t.select_splits.labels(client.backend).inc()
                continue
            # Prometheus 2.x windows are left-closed: drop the sample at a-1 it may add
            keep = (ts >= a) & (ts <= b)
            if not keep.all():
                kept = np.zeros(len(keep) + 1, np.int64)
                np.cumsum(keep, out=kept[1:])
                offsets, ts, vs = kept[offsets], ts[keep], vs[keep]
            off = offsets.tolist()
            for i, ls in enumerate(labels):
                lo, hi = off[i], off[i + 1]
                if lo == hi or not matches_all(matchers, ls):
                    continue
                parts.setdefault(ls, []).append((ts[lo:hi], vs[lo:hi]))
                total += hi - lo
            if max_samples and total > max_samples:
                raise QueryLimitError(
                    f"select from {client.backend} would return more than {max_samples} samples "
                    "(the query's max_samples)"
                )
        t.samples_read.labels(client.backend).inc(total)
        return SeriesSet.from_series([
            (ls, p[0][0], p[0][1]) if len(p) == 1
            else (ls, np.concatenate([x[0] for x in p]), np.concatenate([x[1] for x in p]))
            for ls, p in parts.items()
        ])

    def label_names(self, matchers: Sequence[Matcher] = ()) -> list[str]:
        selectors = [render_selector(matchers)] if matchers else []
        return sorted(self.client.label_names(selectors, self.mint, self.maxt))

    def label_values(self, name: str, matchers: Sequence[Matcher] = ()) -> list[str]:
        selectors = [render_selector(matchers)] if matchers else []
        values = set(self.client.label_values(name, selectors, self.mint, self.maxt))
        values.discard("")
        return sorted(values)

    def close(self) -> None:
        pass


# --- rule queries --------------------------------------------------------------------


def remote_query_func(
    base_url: str | PrometheusAPIClient,
    http: HTTPClientConfig | None = None,
    *,
    timeout: float = 30.0,
    transport: httpx.BaseTransport | None = None,
    registry: CollectorRegistry | None = REGISTRY,
    logger: logging.Logger | None = None,
):
    """A rule manager ``QueryFunc`` (``(expr, t_ms) -> vector``) evaluated by the
    backend's ``/api/v1/query``, like Prometheus's EngineQueryFunc: a vector as
    is, a scalar as one sample without labels, anything else an error::

        query = remote_query_func("http://prometheus:9090", timeout=10)
        query("sum(up)", 1_700_000_000_000)   # -> [Sample(Labels(), 1700000000000, 3.0)]

    Errors raise ``PrometheusAPIError`` subclasses carrying the backend's
    ``errorType`` and ``error``; warnings are logged."""
    client, _ = client_for(base_url, http, timeout, transport, registry, logger)

    def query(expr: str, t_ms: int) -> list[Sample]:
        kind, result = client.query(expr, int(t_ms))
        try:
            if kind == "vector":
                samples, ignored = decode_vector(result)
                if ignored:
                    client.telemetry.histogram_samples_ignored.labels(client.backend).inc(ignored)
                return [Sample(ls, t, v) for ls, t, v in samples]
            if kind == "scalar":
                t, v = decode_scalar(result)
                return [Sample(Labels.EMPTY, t, v)]
        except WireError as e:
            raise client.malformed("api/v1/query", str(e)) from None
        raise PrometheusAPIResultError(
            "rule result is not a vector or scalar", error_type="bad_data", url=f"{client.backend}/api/v1/query"
        )

    query.client = client  # type: ignore[attr-defined]  # for closing and telemetry
    return query
