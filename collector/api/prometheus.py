"""The Prometheus HTTP API (``/api/v1/...``) over any ``Storage`` and the PromQL engine.

Shapes, error types and status codes are Prometheus's, so Grafana's Prometheus
data source, ``promtool query`` and other clients work unchanged::

    api = PrometheusAPI(storage=db, engine=Engine(EngineOptions()))
    app.include_router(api.router())
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match, Route

from collector.api import jsonfmt
from collector.api.lanes import Lanes
from collector.api.params import (
    MAX_TIME_MS,
    MIN_TIME_MS,
    BadParam,
    parse_duration_param,
    parse_limit,
    parse_selector,
    parse_time,
)
from spyglass.version import build_info
from storage.interface import SelectHints, Storage
from storage.labels import Labels
from storage.promql import Engine, PromQLError
from storage.promql.errors import QueryTimeoutError

# Prometheus's errorType → HTTP status.
_STATUS = {
    "bad_data": 400,
    "execution": 422,
    "canceled": 499,
    "timeout": 503,
    "internal": 500,
    "not_found": 404,
    "unavailable": 503,
}


class _Route(Route):
    """A plain Starlette route: the endpoints take the request and answer with
    ready JSON text, so FastAPI's parameter and response machinery (≈ 20 µs
    a request, measured in-process) is skipped. Like FastAPI's routes it
    names itself in the scope, where request metrics find the route's path."""

    def matches(self, scope):
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self
        return match, child


class APIError(Exception):
    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type = error_type


def _dumps(obj) -> str:
    """Compact JSON, as Prometheus writes it."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _json(text: str, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(content=text, status_code=status, media_type="application/json", headers=headers)


def success(data_json: str, warnings: list[str] = (), infos: list[str] = ()) -> Response:
    out = '{"status":"success","data":' + data_json
    if warnings:
        out += ',"warnings":' + json.dumps(list(warnings), ensure_ascii=False)
    if infos:
        out += ',"infos":' + json.dumps(list(infos), ensure_ascii=False)
    return _json(out + "}")


def error(error_type: str, message: str, data_json: str | None = None) -> Response:
    body = {"status": "error", "errorType": error_type, "error": message}
    text = json.dumps(body, ensure_ascii=False)
    if data_json is not None:
        text = text[:-1] + ',"data":' + data_json + "}"
    return _json(text, _STATUS.get(error_type, 500))


async def _params(request: Request) -> dict[str, list[str]]:
    """Query string and, for POST, the form body, merged (Prometheus's r.ParseForm)."""
    out: dict[str, list[str]] = {}
    if request.method == "POST":
        ctype = request.headers.get("content-type", "")
        if ctype.startswith(("application/x-www-form-urlencoded", "multipart/")):
            form = await request.form()
            for k, v in form.multi_items():
                out.setdefault(k, []).append(str(v))
    for k, v in request.query_params.multi_items():
        out.setdefault(k, []).append(v)
    return out


def _one(params: dict[str, list[str]], name: str) -> str | None:
    v = params.get(name)
    return v[0] if v else None


@dataclass
class PrometheusAPI:
    """Collaborators are injected; the optional ones answer with empty data when absent."""

    storage: Storage
    engine: Engine
    # () -> {"activeTargets": [...], "droppedTargets": [...]} (the scrape manager)
    targets: Callable[[dict[str, list[str]]], dict] | None = None
    # (params) -> data dicts for /rules and /alerts (the rule manager)
    rules: Callable[[dict[str, list[str]]], dict] | None = None
    alerts: Callable[[], dict] | None = None
    alertmanagers: Callable[[], dict] | None = None
    # () -> the running configuration as YAML, secrets redacted
    config_yaml: Callable[[], str] = lambda: ""
    flags: dict[str, str] = field(default_factory=dict)
    # () -> (success, last reload time ms) of the last config reload
    reload_status: Callable[[], tuple[bool, int]] = lambda: (True, int(time.time() * 1000))
    start_time_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    clock: Callable[[], float] = time.time
    storage_retention: str = "15d"
    # which queries are quick enough to answer on the event loop (see ``lanes``)
    lanes: Lanes = field(default_factory=Lanes)

    def router(self) -> APIRouter:
        r = APIRouter()
        both = ["GET", "POST"]

        def add(path: str, handler, methods: list[str], lane: str = "pool") -> None:
            r.routes.append(_Route(path, self._wrap(handler, lane), methods=methods))

        # lanes: "inline" answers from memory in microseconds; "learned" runs inline
        # once known to be quick (``Lanes``); "pool" always runs in a worker thread
        add("/api/v1/query", self.query, both, "learned")
        add("/api/v1/query_range", self.query_range, both, "learned")
        add("/api/v1/format_query", self.format_query, both)
        add("/api/v1/series", self.series, both)
        add("/api/v1/labels", self.label_names, both)
        add("/api/v1/label/{name}/values", self.label_values, ["GET"])
        add("/api/v1/metadata", self.metadata, ["GET"])
        add("/api/v1/query_exemplars", self.query_exemplars, both)
        add("/api/v1/targets", self.targets_api, ["GET"])
        add("/api/v1/rules", self.rules_api, ["GET"])
        add("/api/v1/alerts", self.alerts_api, ["GET"])
        add("/api/v1/alertmanagers", self.alertmanagers_api, ["GET"])
        add("/api/v1/status/buildinfo", self.buildinfo, ["GET"], "inline")
        add("/api/v1/status/runtimeinfo", self.runtimeinfo, ["GET"], "inline")
        add("/api/v1/status/flags", self.flags_api, ["GET"], "inline")
        add("/api/v1/status/config", self.config_api, ["GET"])
        add("/api/v1/status/tsdb", self.tsdb_status, ["GET"])
        return r

    def _wrap(self, handler, lane: str = "pool"):
        lanes, name = self.lanes, handler.__name__

        def timed(params: dict[str, list[str]], key: tuple | None) -> Response:
            t = time.perf_counter()
            try:
                return handler(params)
            finally:
                lanes.record(key, time.perf_counter() - t)

        async def run(params: dict[str, list[str]]) -> Response:
            if lane == "inline":
                return handler(params)
            key = lanes.key(name, params) if lane == "learned" else None
            if lanes.quick(key):
                t = time.perf_counter()
                try:
                    resp = handler(params, timeout_s=lanes.budget_s)
                except QueryTimeoutError:
                    # quick last time, not now: the pool runs it with the full timeout
                    lanes.record(key, float("inf"))
                else:
                    lanes.record(key, time.perf_counter() - t)
                    return resp
            return await run_in_threadpool(timed, params, key)

        async def endpoint(request: Request) -> Response:
            params = await _params(request)
            params.update({k: [v] for k, v in request.path_params.items()})
            try:
                return await run(params)
            except BadParam as e:
                return error("bad_data", str(e))
            except APIError as e:
                return error(e.error_type, str(e))
            except PromQLError as e:
                return error(e.error_type, str(e))

        endpoint.__name__ = name
        return endpoint

    # --- queries --------------------------------------------------------------
    def _result(self, res, limit: int = 0, want_stats: bool = False) -> Response:
        kind = res.result_type
        value = res.value
        warnings = list(res.warnings)
        if kind == "scalar":
            payload = jsonfmt.scalar_json(value.t, value.v)
        elif kind == "string":
            payload = jsonfmt.string_json(value.t, value.v)
        elif kind == "vector":
            if limit and len(value) > limit:
                value = value[:limit]
                warnings.append("results truncated due to limit")
            payload = jsonfmt.vector_json(value)
        else:
            if limit and len(value) > limit:
                value = value[:limit]
                warnings.append("results truncated due to limit")
            payload = jsonfmt.matrix_json(value)
        data = f'{{"resultType":"{kind}","result":{payload}'
        if want_stats and res.stats is not None:
            data += ',"stats":' + json.dumps(_stats_json(res.stats))
        return success(data + "}", warnings, res.infos)

    def query(self, p, timeout_s: float | None = None):
        expr = _one(p, "query")
        if expr is None or expr == "":
            raise BadParam('invalid parameter "query": query must not be empty' if expr == "" else
                           'invalid parameter "query": no query provided')
        t = _one(p, "time")
        ts = parse_time(t, "time") if t else int(self.clock() * 1000)
        self._check_timeout(p)
        limit = parse_limit(_one(p, "limit"))
        res = self.engine.instant_query(self.storage, expr, ts, timeout_s=timeout_s)
        return self._result(res, limit, _one(p, "stats") == "all")

    def query_range(self, p, timeout_s: float | None = None):
        expr = _one(p, "query")
        for name in ("start", "end", "step"):
            if not _one(p, name):
                raise BadParam(f'invalid parameter "{name}": cannot parse "" to a valid '
                               + ("duration" if name == "step" else "timestamp"))
        start = parse_time(_one(p, "start"), "start")
        end = parse_time(_one(p, "end"), "end")
        if end < start:
            raise BadParam('invalid parameter "end": end timestamp must not be before start time')
        step = parse_duration_param(_one(p, "step"), "step")
        if step <= 0:
            raise BadParam(
                'invalid parameter "step": zero or negative query resolution step widths are not '
                "accepted. Try a positive integer"
            )
        if (end - start) / step > 11000:
            raise BadParam(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
                "query resolution (?step=XX)"
            )
        self._check_timeout(p)
        if not expr:
            raise BadParam('invalid parameter "query": no query provided')
        limit = parse_limit(_one(p, "limit"))
        res = self.engine.range_query(self.storage, expr, start, end, step, timeout_s=timeout_s)
        return self._result(res, limit, _one(p, "stats") == "all")

    def _check_timeout(self, p) -> None:
        t = _one(p, "timeout")
        if t:
            parse_duration_param(t, "timeout")

    def format_query(self, p):
        import promql_parser

        expr = _one(p, "query") or ""
        try:
            parsed = promql_parser.parse(expr)
        except Exception as e:  # noqa: BLE001  whatever the parser raises, the query is bad data
            raise APIError("bad_data", f'invalid parameter "query": {e}') from None
        return success(json.dumps(parsed.prettify(), ensure_ascii=False))

    # --- metadata queries -----------------------------------------------------
    def _range(self, p) -> tuple[int, int]:
        s, e = _one(p, "start"), _one(p, "end")
        start = parse_time(s, "start") if s else MIN_TIME_MS
        end = parse_time(e, "end") if e else MAX_TIME_MS
        if end < start:
            raise BadParam('invalid parameter "end": end timestamp must not be before start time')
        return start, end

    def series(self, p):
        if not p.get("match[]"):
            raise BadParam("no match[] parameter provided")
        start, end = self._range(p)
        limit = parse_limit(_one(p, "limit"))
        sets = [s for text in p["match[]"] for s in parse_selector(text)]
        q = self.storage.querier(start, end)
        try:
            found: set[Labels] = set()
            for ms in sets:
                found.update(q.select(ms, SelectHints(series_only=True)).labels)
        finally:
            q.close()
        out = sorted(found)
        warnings = []
        if limit and len(out) > limit:
            out = out[:limit]
            warnings.append("results truncated due to limit")
        return success(
            "[" + ",".join(jsonfmt.labels_json(ls) for ls in out) + "]", warnings
        )

    def label_names(self, p):
        start, end = self._range(p)
        limit = parse_limit(_one(p, "limit"))
        sets = [s for text in p.get("match[]", []) for s in parse_selector(text)] or [[]]
        q = self.storage.querier(start, end)
        try:
            names: set[str] = set()
            for ms in sets:
                names.update(q.label_names(ms))
        finally:
            q.close()
        return self._string_list(sorted(names), limit)

    def label_values(self, p):
        name = _one(p, "name")
        if name.startswith("U__"):
            name = _unescape_utf8_name(name)
        start, end = self._range(p)
        limit = parse_limit(_one(p, "limit"))
        sets = [s for text in p.get("match[]", []) for s in parse_selector(text)] or [[]]
        q = self.storage.querier(start, end)
        try:
            values: set[str] = set()
            for ms in sets:
                values.update(q.label_values(name, ms))
        finally:
            q.close()
        return self._string_list(sorted(values), limit)

    def _string_list(self, items: list[str], limit: int) -> Response:
        warnings = []
        if limit and len(items) > limit:
            items = items[:limit]
            warnings.append("results truncated due to limit")
        return success(_dumps(items), warnings)

    def metadata(self, p):
        metric = _one(p, "metric") or None
        limit = int(_one(p, "limit") or -1)
        per_metric = int(_one(p, "limit_per_metric") or -1)
        md = self.storage.metadata(metric)
        out: dict[str, list[dict]] = {}
        for name, entries in md.items():
            if limit >= 0 and len(out) >= limit:
                break
            items = [
                {"type": m.type.value if hasattr(m.type, "value") else str(m.type), "help": m.help, "unit": m.unit}
                for m in entries
            ]
            if per_metric > 0:
                items = items[:per_metric]
            out[name] = items
        return success(_dumps(out))

    def query_exemplars(self, p):
        # Spyglass accepts exemplars on ingestion but does not store them (documented);
        # the answer to "which exemplars are in this range" is therefore always none.
        expr = _one(p, "query")
        if not expr:
            raise BadParam('invalid parameter "query": no query provided')
        self.engine.parse(expr)
        self._range(p)
        return success("[]")

    # --- state of other components -------------------------------------------
    def targets_api(self, p):
        data = self.targets(p) if self.targets else {"activeTargets": [], "droppedTargets": []}
        return success(_dumps(data))

    def rules_api(self, p):
        data = self.rules(p) if self.rules else {"groups": []}
        return success(_dumps(data))

    def alerts_api(self, p):
        data = self.alerts() if self.alerts else {"alerts": []}
        return success(_dumps(data))

    def alertmanagers_api(self, p):
        data = (
            self.alertmanagers()
            if self.alertmanagers
            else {"activeAlertmanagers": [], "droppedAlertmanagers": []}
        )
        return success(_dumps(data))

    def buildinfo(self, p):
        return success(_dumps(build_info()))

    def runtimeinfo(self, p):
        ok, reload_ms = self.reload_status()
        data = {
            "startTime": _rfc3339(self.start_time_ms),
            "CWD": __import__("os").getcwd(),
            "reloadConfigSuccess": ok,
            "lastConfigTime": _rfc3339(reload_ms),
            "corruptionCount": 0,
            "goroutineCount": __import__("threading").active_count(),
            "GOMAXPROCS": __import__("os").cpu_count() or 1,
            "GOMEMLIMIT": 0,
            "GOGC": "",
            "GODEBUG": "",
            "storageRetention": self.storage_retention,
        }
        return success(_dumps(data))

    def flags_api(self, p):
        return success(_dumps(self.flags))

    def config_api(self, p):
        return success(_dumps({"yaml": self.config_yaml()}))

    def tsdb_status(self, p):
        limit = int(_one(p, "limit") or 10)
        if limit < 1:
            raise BadParam("limit must be a positive number")
        st = self.storage.status(limit)

        def stats(items):
            return [{"name": s.name, "value": s.value} for s in items]

        data = {
            "headStats": {
                "numSeries": st.num_series,
                "numLabelPairs": st.num_label_pairs,
                "chunkCount": st.chunk_count,
                "minTime": st.min_time,
                "maxTime": st.max_time,
            },
            "seriesCountByMetricName": stats(st.series_count_by_metric_name),
            "labelValueCountByLabelName": stats(st.label_value_count_by_label_name),
            "memoryInBytesByLabelName": stats(st.memory_in_bytes_by_label_name),
            "seriesCountByLabelValuePair": stats(st.series_count_by_label_value_pair),
        }
        return success(_dumps(data))


def _rfc3339(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat().replace("+00:00", "Z")


def _unescape_utf8_name(name: str) -> str:
    """Prometheus 3's ``U__`` label-name escaping in URL paths (``U__my_2e_label`` → ``my.label``)."""
    out, i, body = [], 0, name[3:]
    while i < len(body):
        if body[i] == "_" and i + 1 < len(body) and body[i + 1] == "_":
            out.append("_")
            i += 2
        elif body[i] == "_":
            j = body.find("_", i + 1)
            if j < 0:
                return name
            try:
                out.append(chr(int(body[i + 1 : j], 16)))
            except ValueError:
                return name
            i = j + 1
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def _stats_json(stats: Any) -> dict:
    if hasattr(stats, "to_json"):
        return stats.to_json()
    return dict(getattr(stats, "__dict__", {}) or {})

