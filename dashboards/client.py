"""The UI's only way to data: the Prometheus HTTP API and the Alertmanager API v2.

Any Prometheus-compatible backend works (Spyglass's own API on loopback, a real
Prometheus, Thanos, Mimir…). The transport is injectable, so tests can answer from
fixture JSON with ``httpx.MockTransport``::

    api = PrometheusClient("http://127.0.0.1:9700")
    result = api.query_range('rate(node_cpu_seconds_total[5m])', start, end, step=60)
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import httpx
import numpy as np

from dashboards.grafana.model import EMPTY
from dashboards.telemetry import DashboardsTelemetry


class APIError(Exception):
    """An API answered with an error (or not at all); ``error_type`` is Prometheus's
    ``errorType`` ("bad_data", "execution", "timeout", …) or "unavailable"."""

    def __init__(self, message: str, *, status: int = 0, error_type: str = ""):
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_type = error_type


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a result, in columns: timestamps (float seconds) and values."""

    labels: Mapping[str, str]
    timestamps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, slots=True)
class QueryResult:
    """A ``/query`` or ``/query_range`` answer; ``elapsed_s`` is the round trip."""

    result_type: str
    series: tuple[Series, ...]
    warnings: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    url: str = ""

    @property
    def samples(self) -> int:
        return sum(len(s.values) for s in self.series)


def _series(items: list[dict[str, Any]], matrix: bool) -> tuple[Series, ...]:
    out = []
    for item in items:
        labels = MappingProxyType(item.get("metric") or {})
        if matrix:
            vals = item.get("values") or []
            if vals:
                arr = np.array(vals, dtype=object)
                ts = arr[:, 0].astype(np.float64)
                vs = arr[:, 1].astype(np.float64)
            else:
                ts = vs = np.empty(0, dtype=np.float64)
        else:
            v = item.get("value")
            if not v:
                continue
            ts = np.array([float(v[0])])
            vs = np.array([float(v[1])])
        out.append(Series(labels, ts, vs))
    return tuple(out)


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


class _Base:
    """Requests go to the transport directly: ``httpx.Client``'s machinery (cookies,
    auth flows, redirects, hooks) costs about half a millisecond a request, which a
    dashboard of 270 queries pays in the same process as the API answering them."""

    def __init__(self, base_url: str, *, transport: httpx.BaseTransport | None = None,
                 timeout: float = 30.0, headers: Mapping[str, str] | None = None,
                 telemetry: DashboardsTelemetry | None = None):
        self.base_url = base_url.rstrip("/")
        self._transport = transport or httpx.HTTPTransport()
        self._timeout = httpx.Timeout(timeout).as_dict()
        # Over loopback a compressed answer costs the server (and us) more than the
        # bytes it saves; from a remote backend it is worth it.
        loopback = urllib.parse.urlsplit(self.base_url).hostname in _LOOPBACK
        self._headers = {"Accept": "application/json", "User-Agent": "spyglass-ui",
                         "Accept-Encoding": "identity" if loopback else "gzip",
                         **dict(headers or {})}
        self._t = telemetry or DashboardsTelemetry.for_registry()

    def close(self) -> None:
        self._transport.close()

    def _request(self, method: str, path: str, endpoint: str, *, params: Any = None,
                 data: Any = None, json: Any = None) -> Any:
        t0 = time.perf_counter()
        try:
            request = httpx.Request(method, self.base_url + path, params=params, data=data, json=json,
                                    headers=self._headers, extensions={"timeout": self._timeout})
            r = self._transport.handle_request(request)
            r.read()
        except httpx.HTTPError as e:
            self._t.api_requests.labels(endpoint, "unavailable").inc()
            raise APIError(f"{self.base_url}{path}: {e}", error_type="unavailable") from None
        finally:
            self._t.api_duration.labels(endpoint).observe(time.perf_counter() - t0)
        body: Any = None
        if r.content:
            try:
                body = r.json()
            except ValueError:
                body = None
        if r.status_code >= 400 or (isinstance(body, dict) and body.get("status") == "error"):
            self._t.api_requests.labels(endpoint, "error").inc()
            if isinstance(body, dict):
                msg = body.get("error") or body.get("message") or r.text[:300]
                etype = body.get("errorType", "")
            else:
                msg, etype = (r.text[:300] or r.reason_phrase), ""
            raise APIError(str(msg), status=r.status_code, error_type=str(etype))
        self._t.api_requests.labels(endpoint, "ok").inc()
        return body


class PrometheusClient(_Base):
    """The Prometheus HTTP API (``/api/v1``) of any compatible backend."""

    def _get(self, path: str, endpoint: str, params: Any = None) -> Any:
        body = self._request("GET", f"/api/v1/{path}", endpoint, params=params)
        return body.get("data") if isinstance(body, dict) else body

    def _post_form(self, path: str, endpoint: str, data: Any) -> dict[str, Any]:
        # POST keeps long PromQL (Grafana dashboards have some) out of URL limits.
        return self._request("POST", f"/api/v1/{path}", endpoint, data=data)

    def query(self, expr: str, time_s: float | None = None, timeout: str | None = None) -> QueryResult:
        params: dict[str, Any] = {"query": expr}
        if time_s is not None:
            params["time"] = f"{time_s:.3f}"
        if timeout:
            params["timeout"] = timeout
        t0 = time.perf_counter()
        body = self._post_form("query", "query", params)
        return self._result(body, time.perf_counter() - t0, "/api/v1/query")

    def query_range(self, expr: str, start_s: float, end_s: float, step_s: float,
                    timeout: str | None = None) -> QueryResult:
        params: dict[str, Any] = {"query": expr, "start": f"{start_s:.3f}", "end": f"{end_s:.3f}",
                                  "step": f"{step_s:g}"}
        if timeout:
            params["timeout"] = timeout
        t0 = time.perf_counter()
        body = self._post_form("query_range", "query_range", params)
        return self._result(body, time.perf_counter() - t0, "/api/v1/query_range")

    @staticmethod
    def _result(body: Any, elapsed: float, url: str) -> QueryResult:
        data = body.get("data") or {}
        rtype = data.get("resultType", "")
        raw = data.get("result")
        if rtype in ("scalar", "string"):
            series: tuple[Series, ...] = ()
            if rtype == "scalar" and raw:
                series = (Series(EMPTY, np.array([float(raw[0])]), np.array([float(raw[1])])),)
        else:
            series = _series(raw or [], rtype == "matrix")
        return QueryResult(rtype, series, tuple(body.get("warnings") or ()), elapsed, url)

    def series(self, matches: Iterable[str], start_s: float | None = None,
               end_s: float | None = None) -> list[dict[str, str]]:
        params: list[tuple[str, str]] = [("match[]", m) for m in matches]
        params += self._range(start_s, end_s)
        return list(self._get("series", "series", params) or [])

    def labels(self, match: str | None = None, start_s: float | None = None,
               end_s: float | None = None) -> list[str]:
        params = ([("match[]", match)] if match else []) + self._range(start_s, end_s)
        return list(self._get("labels", "labels", params) or [])

    def label_values(self, name: str, match: str | None = None, start_s: float | None = None,
                     end_s: float | None = None) -> list[str]:
        params = ([("match[]", match)] if match else []) + self._range(start_s, end_s)
        return list(self._get(f"label/{name}/values", "label_values", params) or [])

    def metadata(self, metric: str | None = None) -> dict[str, list[dict[str, str]]]:
        return dict(self._get("metadata", "metadata", {"metric": metric} if metric else None) or {})

    def tsdb_status(self) -> dict[str, Any]:
        return dict(self._get("status/tsdb", "status_tsdb") or {})

    def buildinfo(self) -> dict[str, Any]:
        return dict(self._get("status/buildinfo", "status_buildinfo") or {})

    def config(self) -> str:
        return str((self._get("status/config", "status_config") or {}).get("yaml", ""))

    def flags(self) -> dict[str, str]:
        return dict(self._get("status/flags", "status_flags") or {})

    def targets(self, state: str = "any") -> dict[str, Any]:
        return dict(self._get("targets", "targets", {"state": state}) or {})

    def rules(self) -> list[dict[str, Any]]:
        return list((self._get("rules", "rules") or {}).get("groups") or [])

    def alerts(self) -> list[dict[str, Any]]:
        return list((self._get("alerts", "alerts") or {}).get("alerts") or [])

    @staticmethod
    def _range(start_s: float | None, end_s: float | None) -> list[tuple[str, str]]:
        out = []
        if start_s is not None:
            out.append(("start", f"{start_s:.3f}"))
        if end_s is not None:
            out.append(("end", f"{end_s:.3f}"))
        return out


@dataclass(frozen=True, slots=True)
class SilenceMatcher:
    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "isRegex": self.is_regex,
                "isEqual": self.is_equal}

    def __str__(self) -> str:
        op = ("=~" if self.is_regex else "=") if self.is_equal else ("!~" if self.is_regex else "!=")
        return f'{self.name}{op}"{self.value}"'


@dataclass(frozen=True, slots=True)
class Silence:
    """An Alertmanager silence (``/api/v2/silences``); ``id`` empty for a new one."""

    matchers: tuple[SilenceMatcher, ...]
    starts_at: str
    ends_at: str
    created_by: str
    comment: str
    id: str = ""
    state: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "matchers": [m.to_json() for m in self.matchers], "startsAt": self.starts_at,
            "endsAt": self.ends_at, "createdBy": self.created_by, "comment": self.comment}
        if self.id:
            out["id"] = self.id
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Silence:
        return cls(
            matchers=tuple(SilenceMatcher(m.get("name", ""), m.get("value", ""),
                                          bool(m.get("isRegex")), m.get("isEqual", True) is not False)
                           for m in d.get("matchers") or ()),
            starts_at=d.get("startsAt", ""), ends_at=d.get("endsAt", ""),
            created_by=d.get("createdBy", ""), comment=d.get("comment", ""),
            id=d.get("id", ""), state=(d.get("status") or {}).get("state", ""))


class AlertmanagerClient(_Base):
    """The Alertmanager API v2 (``/api/v2``): alerts and silences."""

    def alerts(self, *, silenced: bool = True, inhibited: bool = True,
               filters: Iterable[str] = ()) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [("silenced", str(silenced).lower()),
                                         ("inhibited", str(inhibited).lower())]
        params += [("filter", f) for f in filters]
        return list(self._request("GET", "/api/v2/alerts", "am_alerts", params=params) or [])

    def silences(self) -> list[Silence]:
        body = self._request("GET", "/api/v2/silences", "am_silences") or []
        return [Silence.from_json(s) for s in body]

    def silence(self, silence_id: str) -> Silence:
        return Silence.from_json(self._request("GET", f"/api/v2/silence/{silence_id}", "am_silence"))

    def create_silence(self, silence: Silence) -> str:
        """Create (or, with ``id`` set, replace) a silence; returns its id."""
        body = self._request("POST", "/api/v2/silences", "am_silences_post", json=silence.to_json())
        return str((body or {}).get("silenceID", ""))

    def expire_silence(self, silence_id: str) -> None:
        self._request("DELETE", f"/api/v2/silence/{silence_id}", "am_silence_delete")

    def status(self) -> dict[str, Any]:
        return dict(self._request("GET", "/api/v2/status", "am_status") or {})
