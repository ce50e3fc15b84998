"""A small client of the Prometheus HTTP API for reads, and the errors it raises.

It makes the few calls remote reads need (``/api/v1/query``, ``/series``,
``/labels``, ``/label/<name>/values``), maps every failure to a
``PrometheusAPIError`` subclass (a ``storage.interface.StorageError``)
and keeps its own telemetry::

    client = PrometheusAPIClient("https://mimir.example/prometheus", http=cfg, timeout=30)
    kind, result = client.query("up", t_ms)     # ("vector", [...raw JSON...])

``storage.remote.promapi`` builds the ``Queryable`` and the rule ``QueryFunc`` on it.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import numpy as np
import orjson
from prometheus_client import REGISTRY, CollectorRegistry

from spyglass.configtypes import HTTPClientConfig
from spyglass.version import VERSION
from storage.interface import QueryLimitError, StorageError
from storage.labels import Labels
from storage.remote.promapi_telemetry import PromAPITelemetry
from storage.remote.promapi_wire import (
    API_MAX_TIME_MS,
    API_MIN_TIME_MS,
    WireError,
    decode_matrix,
    decode_series,
    decode_strings,
    escape_label_name_path,
    format_time,
    loads_matrix,
)

__all__ = [
    "PrometheusAPIClient",
    "PrometheusAPIError",
    "PrometheusAPILimitError",
    "PrometheusAPIResultError",
    "PrometheusAPITimeoutError",
    "PrometheusAPIUnavailableError",
    "client_for",
]

log = logging.getLogger("storage.remote.promapi")

# --- errors --------------------------------------------------------------------------


class PrometheusAPIError(StorageError):
    """The remote API failed or refused a request.

    ``str(e)`` is the backend's own ``error`` text when it sent one (so a rule's
    last error reads as it would on the backend), else what went wrong and
    where. ``error_type`` is the API's ``errorType`` (``bad_data``,
    ``execution``, ``timeout``, ``internal``…, ``unavailable`` when no answer
    came), ``status`` the HTTP status (0 without an answer), ``url`` the
    request's URL without credentials."""

    def __init__(self, message: str, *, error_type: str = "", status: int = 0, url: str = ""):
        super().__init__(message)
        self.error_type = error_type
        self.status = status
        self.url = url


class PrometheusAPIUnavailableError(PrometheusAPIError):
    """No usable answer: connection failure, HTTP 429/502/503 or another 5xx
    without an API error body. Retrying later may work."""


class PrometheusAPITimeoutError(PrometheusAPIError):
    """The request ran past the client's timeout, or the backend's query timed out."""


class PrometheusAPILimitError(PrometheusAPIError, QueryLimitError):
    """The backend's sample limit refused the smallest range we split down to,
    or a select would take more requests than allowed."""


class PrometheusAPIResultError(PrometheusAPIError):
    """A rule query returned something else than a vector or a scalar."""


# Substrings (lower case) of the errors backends give when a query would load
# too many samples: splitting the time range helps with these and only these.
_SAMPLE_LIMIT_MESSAGES = (
    "too many samples",  # Prometheus, Thanos: --query.max-samples
    "maxsamplesperquery",  # VictoriaMetrics: -search.maxSamplesPerQuery
    "maximum number of chunks",  # Mimir: -querier.max-fetched-chunks-per-query
    "estimated number of chunks",  # Mimir: max-estimated-fetched-chunks-per-query
    "aggregated chunks size limit",  # Mimir: -querier.max-fetched-chunk-bytes-per-query
)


def _loads(content: bytes) -> tuple[Any, None]:
    return orjson.loads(content), None


def _is_sample_limit(message: str) -> bool:
    low = message.lower()
    return any(s in low for s in _SAMPLE_LIMIT_MESSAGES)


def _backend_name(base_url: str) -> str:
    """The base URL without credentials, query or fragment (metric label, messages)."""
    u = urllib.parse.urlsplit(base_url)
    host = u.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{u.port}" if u.port else "")
    return urllib.parse.urlunsplit((u.scheme, netloc, u.path.rstrip("/"), "", ""))


# --- the HTTP client -----------------------------------------------------------------


class PrometheusAPIClient:
    """The few Prometheus HTTP API calls that reads need, with errors mapped to
    ``PrometheusAPIError`` subclasses and its own telemetry::

        client = PrometheusAPIClient("https://mimir.example/prometheus", http=cfg, timeout=30)
        kind, result = client.query("up", t_ms)

    ``base_url`` may carry a path prefix; ``http`` is Prometheus's HTTP client
    block (auth, TLS, proxy, headers); ``timeout`` (seconds) bounds every request
    and is also sent as the query's ``timeout``; ``transport`` replaces the
    network (``httpx.MockTransport`` in tests)."""

    def __init__(
        self,
        base_url: str,
        http: HTTPClientConfig | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        *,
        registry: CollectorRegistry | None = REGISTRY,
        logger: logging.Logger | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"remote API URL must be http:// or https://, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.backend = _backend_name(self.base_url)
        self.timeout = float(timeout)
        self.log = logger or log
        self.telemetry = PromAPITelemetry.for_registry(registry)
        kw: dict[str, Any] = http.httpx_kwargs() if http is not None else {}
        headers = {"User-Agent": f"Spyglass/{VERSION}", "Accept": "application/json"}
        headers.update(kw.pop("headers", {}))
        if http is not None and transport is None:
            kw["http2"] = http.enable_http2
        self._client = httpx.Client(
            base_url=self.base_url + "/", timeout=self.timeout, transport=transport, headers=headers, **kw
        )

    def close(self) -> None:
        self._client.close()

    # --- endpoints ----------------------------------------------------------------------
    def query(self, expr: str, t_ms: int) -> tuple[str, Any]:
        """``/api/v1/query`` at ``t_ms`` → (resultType, raw result JSON)."""
        data, _ = self._call("query", "POST", "api/v1/query", self._query_form(expr, t_ms))
        if not isinstance(data, dict) or not isinstance(data.get("resultType"), str):
            raise self.malformed("api/v1/query", "data has no resultType")
        return data["resultType"], data.get("result")

    def query_matrix(self, expr: str, t_ms: int) -> tuple[list[Labels], np.ndarray, np.ndarray, np.ndarray]:
        """``/api/v1/query`` of a range-vector expression → (labels, offsets,
        timestamps ms, values) in columns (see ``promapi_wire.decode_matrix``);
        its telemetry endpoint is ``select``."""
        path = "api/v1/query"
        data, lifted = self._call("select", "POST", path, self._query_form(expr, t_ms), loads=loads_matrix)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            kind = data.get("resultType") if isinstance(data, dict) else None
            raise self.malformed(path, f"expected a matrix, got a {kind}")
        try:
            labels, offsets, ts, vs, ignored = decode_matrix(data.get("result"), lifted)
        except WireError as e:
            raise self.malformed(path, str(e)) from None
        if ignored:
            self.telemetry.histogram_samples_ignored.labels(self.backend).inc(ignored)
        return labels, offsets, ts, vs

    def _query_form(self, expr: str, t_ms: int) -> dict[str, str]:
        return {"query": expr, "time": format_time(t_ms), "timeout": f"{self.timeout:g}"}

    def series(self, selectors: Sequence[str], start_ms: int, end_ms: int) -> list[Labels]:
        path = "api/v1/series"
        data, _ = self._call("series", "POST", path, self._match_form(selectors, start_ms, end_ms))
        return self._decode(path, decode_series, data)

    def label_names(self, selectors: Sequence[str], start_ms: int, end_ms: int) -> list[str]:
        path = "api/v1/labels"
        data, _ = self._call("labels", "POST", path, self._match_form(selectors, start_ms, end_ms))
        return self._decode(path, decode_strings, data)

    def label_values(self, name: str, selectors: Sequence[str], start_ms: int, end_ms: int) -> list[str]:
        # Prometheus serves this one on GET only
        path = f"api/v1/label/{escape_label_name_path(name)}/values"
        data, _ = self._call("label_values", "GET", path, self._match_form(selectors, start_ms, end_ms))
        return self._decode(path, decode_strings, data)

    # --- machinery ----------------------------------------------------------------------
    @staticmethod
    def _match_form(selectors: Sequence[str], start_ms: int, end_ms: int) -> dict[str, Any]:
        form: dict[str, Any] = {}
        if selectors:
            form["match[]"] = list(selectors)
        if start_ms > API_MIN_TIME_MS:
            form["start"] = format_time(start_ms)
        if end_ms < API_MAX_TIME_MS:
            form["end"] = format_time(end_ms)
        return form

    def _decode(self, path: str, fn, data):
        try:
            return fn(data)
        except WireError as e:
            raise self.malformed(path, str(e)) from None

    def malformed(self, path: str, why: str) -> PrometheusAPIError:
        """The error for a successful answer whose data has the wrong shape."""
        return PrometheusAPIError(
            f"{self.backend}/{path}: malformed answer: {why}",
            error_type="internal", status=200, url=f"{self.backend}/{path}",
        )

    def _call(
        self, endpoint: str, method: str, path: str, form: Mapping[str, Any], loads=_loads
    ) -> tuple[Any, Any]:
        """One request → (the answer's ``data``, what ``loads`` returned beside the document)."""
        url = f"{self.backend}/{path}"
        t = self.telemetry
        t0 = time.perf_counter()
        try:
            if method == "GET":
                r = self._client.get(path, params=form)
            else:
                r = self._client.post(path, data=form)
        except httpx.TimeoutException as e:
            t.requests.labels(self.backend, endpoint, "timeout").inc()
            raise PrometheusAPITimeoutError(
                f"{url}: no answer within {self.timeout:g}s ({type(e).__name__})", error_type="timeout", url=url
            ) from None
        except httpx.HTTPError as e:
            t.requests.labels(self.backend, endpoint, "unavailable").inc()
            raise PrometheusAPIUnavailableError(
                f"{url}: {type(e).__name__}: {e}", error_type="unavailable", url=url
            ) from None
        finally:
            t.request_duration.labels(self.backend, endpoint).observe(time.perf_counter() - t0)
        body: Any = None
        extra: Any = None
        if r.content:
            try:
                body, extra = loads(r.content)
            except orjson.JSONDecodeError:
                body = None
        if r.status_code >= 400 or (isinstance(body, dict) and body.get("status") == "error"):
            raise self._api_error(endpoint, url, r, body)
        if not isinstance(body, dict) or body.get("status") != "success" or "data" not in body:
            t.requests.labels(self.backend, endpoint, "error").inc()
            raise PrometheusAPIError(
                f"{url}: malformed answer (HTTP {r.status_code}): {r.text[:200]!r}",
                error_type="internal", status=r.status_code, url=url,
            )
        t.requests.labels(self.backend, endpoint, "success").inc()
        for w in body.get("warnings") or ():
            t.warnings.labels(self.backend, endpoint).inc()
            self.log.warning("remote API %s warned: %s", url, w)
        for i in body.get("infos") or ():
            self.log.debug("remote API %s info: %s", url, i)
        return body["data"], extra

    def _api_error(self, endpoint: str, url: str, r: httpx.Response, body: Any) -> PrometheusAPIError:
        status = r.status_code
        if isinstance(body, dict):
            etype = str(body.get("errorType") or "")
            # VictoriaMetrics and some proxies put the text in "message"
            msg = str(body.get("error") or body.get("message") or "")
        else:
            etype, msg = "", r.text[:500].strip()
        if not msg:
            msg = f"{url}: HTTP {status} {r.reason_phrase}"
        if _is_sample_limit(msg):
            cls, outcome = PrometheusAPILimitError, "limit"
        elif etype == "timeout" or status == 504:
            cls, outcome = PrometheusAPITimeoutError, "timeout"
        elif status in (429, 502, 503) or etype == "unavailable" or (status >= 500 and not etype):
            cls, outcome = PrometheusAPIUnavailableError, "unavailable"
        else:
            cls, outcome = PrometheusAPIError, "error"
        self.telemetry.requests.labels(self.backend, endpoint, outcome).inc()
        return cls(msg, error_type=etype or outcome, status=status, url=url)


def client_for(
    base_url: str | PrometheusAPIClient, http, timeout, transport, registry, logger
) -> tuple[PrometheusAPIClient, bool]:
    if isinstance(base_url, PrometheusAPIClient):
        return base_url, False
    return PrometheusAPIClient(base_url, http, timeout, transport, registry=registry, logger=logger), True
