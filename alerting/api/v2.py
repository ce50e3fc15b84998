"""Alertmanager API v2 over a ``Notifier``, with the JSON shapes of its OpenAPI spec.

Enough of the API for ``amtool`` and Prometheus's notifier to work against
Spyglass: alerts (post, list with filters, groups), silences (create/update,
list, get, expire), receivers and status. Times are written as go-openapi
does (RFC 3339 with milliseconds), errors as JSON strings::

    app.include_router(router(notifier))        # serves /api/v2/...
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from alerting.notify.alert import Alert
from alerting.notify.matchers import Matcher, MatcherError, MatchType, compile_regex, parse_matcher
from alerting.notify.notifier import Notifier
from alerting.notify.silence import (
    STATE_ACTIVE,
    STATE_EXPIRED,
    STATE_PENDING,
    InvalidSilence,
    Silence,
    SilenceNotFound,
)
from alerting.notify.store import STATE_ACTIVE as ALERT_ACTIVE
from alerting.notify.wire import GoTime

_STATE_ORDER = {STATE_ACTIVE: 1, STATE_PENDING: 2, STATE_EXPIRED: 3}


def _json(v: Any, status: int = 200) -> Response:
    return Response(json.dumps(v, ensure_ascii=False, separators=(",", ":")), status_code=status,
                    media_type="application/json")


def _error(msg: str, status: int) -> Response:
    return _json(msg, status)


def _bool(request: Request, name: str, default: bool = True) -> bool:
    v = request.query_params.get(name)
    if v is None or v == "":
        return default
    lv = v.lower()
    if lv in ("true", "1", "t"):
        return True
    if lv in ("false", "0", "f"):
        return False
    raise ValueError(f"{name} in query must be of type boolean: \"{v}\"")


def _filter_matchers(request: Request) -> list[Matcher]:
    return [parse_matcher(f) for f in request.query_params.getlist("filter")]


def _matches_filter(matchers: list[Matcher], labels) -> bool:
    # Alertmanager's matchFilterLabels: an empty value tests presence/absence.
    for m in matchers:
        present = labels.has(m.name)
        v = labels.get(m.name, "")
        if m.type in (MatchType.NOT_REGEX, MatchType.NOT_EQUAL):
            if m.value == "" and present:
                continue
        elif m.value == "" and not present:
            continue
        if not m.matches(v):
            return False
    return True


def alert_json(a: Alert, status, receivers: list[str]) -> dict[str, Any]:
    out = {
        "annotations": dict(sorted(a.annotations.items())),
        "endsAt": a.ends_at.rfc3339millis(),
        "fingerprint": a.fingerprint_hex(),
        "receivers": [{"name": r} for r in receivers],
        "startsAt": a.starts_at.rfc3339millis(),
        "status": {"inhibitedBy": list(status.inhibited_by), "silencedBy": list(status.silenced_by),
                   "state": status.state},
        "updatedAt": a.updated_at.rfc3339millis(),
    }
    if a.generator_url:
        out["generatorURL"] = a.generator_url
    out["labels"] = dict(a.labels.items())
    return out


def silence_json(s: Silence, now_ns: int) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now_ns)},
        "updatedAt": s.updated_at.rfc3339millis(),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": s.ends_at.rfc3339millis(),
        "matchers": [
            {"isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
             "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
             "name": m.name, "value": m.value}
            for m in s.matchers
        ],
        "startsAt": s.starts_at.rfc3339millis(),
    }


def _parse_silence(body: Any) -> Silence:
    if not isinstance(body, dict):
        raise InvalidSilence("silence in body must be an object")
    for key in ("matchers", "startsAt", "endsAt", "createdBy", "comment"):
        if key not in body:
            raise InvalidSilence(f"{key} in body is required")
    ms = body["matchers"]
    if not isinstance(ms, list) or not ms:
        raise InvalidSilence("matchers in body should have at least 1 items")
    matchers = []
    for i, m in enumerate(ms):
        if not isinstance(m, dict):
            raise InvalidSilence(f"matchers.{i} must be an object")
        for key in ("name", "value", "isRegex"):
            if key not in m:
                raise InvalidSilence(f"matchers.{i}.{key} in body is required")
        name, value = m["name"], m["value"]
        is_regex = m["isRegex"]
        is_equal = m.get("isEqual", True)
        if not isinstance(name, str) or not isinstance(value, str) or not isinstance(is_regex, bool) \
                or not isinstance(is_equal, bool):
            raise InvalidSilence(f"matchers.{i} has fields of the wrong type")
        t = {(True, False): MatchType.EQUAL, (False, False): MatchType.NOT_EQUAL,
             (True, True): MatchType.REGEX, (False, True): MatchType.NOT_REGEX}[(is_equal, is_regex)]
        try:
            matchers.append(Matcher(t, name, value))
        except ValueError as e:
            raise InvalidSilence(f"silence invalid: invalid label matcher {i}: {e}") from None
    try:
        starts = GoTime.parse(str(body["startsAt"])).in_utc()
        ends = GoTime.parse(str(body["endsAt"])).in_utc()
    except ValueError as e:
        raise InvalidSilence(str(e)) from None
    sid = body.get("id") or ""
    if not isinstance(sid, str):
        raise InvalidSilence("id must be a string")
    for key in ("createdBy", "comment"):
        if not isinstance(body[key], str):
            raise InvalidSilence(f"{key} in body must be of type string")
    return Silence(sid, tuple(matchers), starts, ends, GoTime(0), body["createdBy"], body["comment"])


def router(notifier: Notifier, prefix: str = "/api/v2") -> APIRouter:
    """The API v2 routes over ``notifier``, mounted at ``prefix``."""
    r = APIRouter(prefix=prefix)

    def alert_filter(matchers, silenced, inhibited, active) -> Callable[[Alert], bool]:
        now = notifier.clock.now_ns()

        def f(a: Alert) -> bool:
            if not a.ends_at.is_zero() and a.ends_at.ns < now:
                return False
            st = notifier.update_status(a)
            if not active and st.state == ALERT_ACTIVE:
                return False
            if not silenced and st.silenced_by:
                return False
            if not inhibited and st.inhibited_by:
                return False
            return _matches_filter(matchers, a.labels)

        return f

    def common_params(request: Request):
        matchers = _filter_matchers(request)
        receiver = request.query_params.get("receiver")
        rx = None
        if receiver is not None:
            try:
                rx = compile_regex(f"^(?:{receiver})$")
            except ValueError as e:
                raise ValueError(f"failed to parse receiver param: {e}") from None
        return (matchers, rx, _bool(request, "silenced"), _bool(request, "inhibited"),
                _bool(request, "active"))

    @r.get("/status")
    def get_status() -> Response:
        return _json({
            "cluster": {"peers": [], "status": "disabled"},
            "config": {"original": notifier.config.redacted_yaml()},
            "uptime": notifier.started_at.rfc3339millis(),
            "versionInfo": notifier.version_info(),
        })

    @r.get("/receivers")
    def get_receivers() -> Response:
        return _json([{"name": rc.name} for rc in notifier.config.receivers])

    @r.get("/alerts")
    def get_alerts(request: Request) -> Response:
        try:
            matchers, rx, silenced, inhibited, active = common_params(request)
        except (MatcherError, ValueError) as e:
            return _error(str(e), 400)
        keep = alert_filter(matchers, silenced, inhibited, active)
        res = []
        for a in notifier.store.list():
            receivers = notifier.receivers_of(a)
            if rx is not None and not any(rx.search(x) for x in receivers):
                continue
            if not keep(a):
                continue
            res.append(alert_json(a, notifier.marker.status(a.fingerprint), receivers))
        res.sort(key=lambda x: x["fingerprint"])
        return _json(res)

    @r.post("/alerts")
    async def post_alerts(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError as e:
            return _error(f"parsing alerts body: {e}", 400)
        if not isinstance(body, list):
            return _error("alerts in body must be of type array", 400)
        errors = notifier.put_alerts(body)
        if errors:
            return _error("; ".join(errors), 400)
        return Response(status_code=200)

    @r.get("/alerts/groups")
    def get_groups(request: Request) -> Response:
        try:
            matchers, rx, silenced, inhibited, active = common_params(request)
        except (MatcherError, ValueError) as e:
            return _error(str(e), 400)
        keep = alert_filter(matchers, silenced, inhibited, active)
        groups, receivers = notifier.groups(
            (lambda route: rx.search(route.opts.receiver) is not None) if rx is not None else None, keep)
        out = []
        for g in groups:
            out.append({
                "alerts": [alert_json(a, notifier.marker.status(a.fingerprint), receivers.get(a.fingerprint, []))
                           for a in g.alerts],
                "labels": dict(g.labels.items()),
                "receiver": {"name": g.receiver},
            })
        return _json(out)

    @r.get("/silences")
    def get_silences(request: Request) -> Response:
        try:
            matchers = _filter_matchers(request)
        except MatcherError as e:
            return _error(str(e), 400)
        sils, _ = notifier.silences.query()
        now = notifier.clock.now_ns()
        keep = []
        for s in sils:
            if all(any(fm.name == m.name and fm.type == m.type and fm.value == m.value for m in s.matchers)
                   for fm in matchers):
                keep.append(s)

        def key(s: Silence):
            st = s.state(now)
            if st == STATE_ACTIVE:
                k = s.ends_at.ns
            elif st == STATE_PENDING:
                k = s.starts_at.ns
            else:
                k = -s.ends_at.ns
            return (_STATE_ORDER[st], k)

        keep.sort(key=key)
        return _json([silence_json(s, now) for s in keep])

    @r.post("/silences")
    async def post_silences(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"null")
            sil = _parse_silence(body)
        except ValueError as e:
            return _error(str(e), 400)
        if sil.starts_at.ns >= sil.ends_at.ns:
            return _error("Failed to create silence: start time must be before end time", 400)
        if sil.ends_at.ns < notifier.clock.now_ns():
            return _error("Failed to create silence: end time can't be in the past", 400)
        try:
            # Setting a silence fsyncs its record: keep that off the event loop.
            sid = await run_in_threadpool(notifier.silences.set, sil)
        except SilenceNotFound as e:
            return _error(str(e), 404)
        except InvalidSilence as e:
            return _error(f"silence invalid: {e}", 400)
        return _json({"silenceID": sid})

    @r.get("/silence/{silence_id}")
    def get_silence(silence_id: str) -> Response:
        s = notifier.silences.get(silence_id)
        if s is None:
            return Response(status_code=404)
        return _json(silence_json(s, notifier.clock.now_ns()))

    @r.delete("/silence/{silence_id}")
    def delete_silence(silence_id: str) -> Response:
        try:
            notifier.silences.expire(silence_id)
        except SilenceNotFound as e:
            return _error(str(e), 404)
        return Response(status_code=200)

    return r
