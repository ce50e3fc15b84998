"""The ``data`` of Prometheus's ``/api/v1/rules`` and ``/api/v1/alerts``, in its exact JSON shapes.

The HTTP layer mounts the routes and wraps these in ``{"status": "success", "data": ...}``;
bad parameters raise ``BadParameter`` (HTTP 400, ``errorType: bad_data``)::

    rules_data(manager.rule_groups(), type="alert", rule_name=["Down"])
    alerts_data(manager.alerting_rules())
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from alerting.rules.alerting import Alert, AlertingRule, value_string
from alerting.rules.group import Group
from alerting.rules.recording import RecordingRule
from alerting.rules.rule import rfc3339
from storage.labels import Labels, Matcher, matches_all


class BadParameter(ValueError):
    """An invalid query parameter; ``param`` names it (Prometheus's invalidParamError)."""

    def __init__(self, param: str, message: str):
        super().__init__(f'invalid parameter "{param}": {message}')
        self.param = param


def _labels_json(ls: Labels) -> dict:
    return ls.to_dict()


def alert_json(a: Alert) -> dict:
    d = {
        "labels": _labels_json(a.labels),
        "annotations": _labels_json(a.annotations),
        "state": str(a.state),
        "activeAt": rfc3339(a.active_at),
        "value": value_string(a.value),
    }
    if a.keep_firing_since is not None:
        d = {**d}
        d["keepFiringSince"] = rfc3339(a.keep_firing_since)
        # Go's field order: keepFiringSince comes before value
        d = {k: d[k] for k in ("labels", "annotations", "state", "activeAt", "keepFiringSince", "value")}
    return d


def alerts_data(rules: Iterable[AlertingRule]) -> dict:
    """``/api/v1/alerts``: the pending and firing alerts of every alerting rule."""
    out = []
    for r in rules:
        out.extend(alert_json(a) for a in r.active_alerts())
    return {"alerts": out}


def _parse_matchers(match: Sequence[str]) -> list[list[Matcher]]:
    from storage.promql import Engine
    from storage.promql import ast as _ast

    sets = []
    for m in match:
        try:
            tree = Engine().parse(m)
        except Exception as e:  # noqa: BLE001 - any parse failure is the client's bad match[]
            raise BadParameter("match[]", str(e)) from None
        if not isinstance(tree, _ast.VectorSelector):
            raise BadParameter("match[]", f"invalid parameter 'match[]': {m} is not a series selector")
        sets.append(list(tree.matchers))
    return sets


def group_next_token(file: str, name: str) -> str:
    return hashlib.sha1(f"{file};{name}".encode()).hexdigest()


def rules_data(
    groups: Sequence[Group],
    type: str | None = None,
    rule_name: Sequence[str] = (),
    rule_group: Sequence[str] = (),
    file: Sequence[str] = (),
    match: Sequence[str] = (),
    exclude_alerts: str | bool | None = None,
    group_limit: str | int | None = None,
    group_next_token_param: str | None = None,
) -> dict:
    """``/api/v1/rules`` with its filters: ``type=alert|record``, ``rule_name[]``,
    ``rule_group[]``, ``file[]``, ``match[]``, ``exclude_alerts`` and pagination
    (``group_limit``, ``group_next_token``)."""
    typ = (type or "").lower()
    if typ not in ("", "alert", "record"):
        raise BadParameter("type", f'not supported value "{type}"')
    return_alerts = typ in ("", "alert")
    return_recording = typ in ("", "record")
    if isinstance(exclude_alerts, str):
        v = exclude_alerts.lower()
        if v in ("", "false", "0", "f"):
            exclude = False
        elif v in ("true", "1", "t"):
            exclude = True
        else:
            raise BadParameter(
                "exclude_alerts", f'error converting exclude_alerts: strconv.ParseBool: parsing "{exclude_alerts}": invalid syntax'
            )
    else:
        exclude = bool(exclude_alerts)
    max_groups = -1
    if group_next_token_param and group_limit in (None, ""):
        raise BadParameter("group_next_token", "group_limit needs to be present in order to paginate over the groups")
    if group_limit not in (None, ""):
        try:
            max_groups = int(group_limit)
        except (TypeError, ValueError):
            raise BadParameter("group_limit", f"group_limit needs to be a valid number: {group_limit}") from None
        if max_groups <= 0:
            raise BadParameter("group_limit", "group_limit needs to be greater than 0")
    matcher_sets = _parse_matchers(match)
    rn, rg, fs = set(rule_name), set(rule_group), set(file)

    res: dict = {"groups": []}
    found_token = False
    for g in groups:
        if max_groups > 0 and group_next_token_param and not found_token:
            if group_next_token_param != group_next_token(g.file, g.name):
                continue
            found_token = True
        if rg and g.name not in rg:
            continue
        if fs and g.file not in fs:
            continue
        rules_out = []
        for r in g.rules:
            if matcher_sets and not any(matches_all(ms, r.labels) for ms in matcher_sets):
                continue
            if rn and r.name not in rn:
                continue
            st = r.status
            if isinstance(r, AlertingRule):
                if not return_alerts:
                    continue
                d = {
                    "state": str(r.state()),
                    "name": r.name,
                    "query": r.expr,
                    "duration": r.for_ms / 1000.0,
                    "keepFiringFor": r.keep_firing_for_ms / 1000.0,
                    "labels": _labels_json(r.labels),
                    "annotations": _labels_json(r.annotations),
                    "alerts": [] if exclude else [alert_json(a) for a in r.active_alerts()],
                    "health": st.health.value,
                }
                if st.last_error:
                    d["lastError"] = st.last_error
                d["evaluationTime"] = st.eval_duration_s
                d["lastEvaluation"] = rfc3339(st.eval_timestamp_ms)
                d["type"] = "alerting"
            elif isinstance(r, RecordingRule):
                if not return_recording:
                    continue
                d = {"name": r.name, "query": r.expr, "labels": _labels_json(r.labels), "health": st.health.value}
                if st.last_error:
                    d["lastError"] = st.last_error
                d["evaluationTime"] = st.eval_duration_s
                d["lastEvaluation"] = rfc3339(st.eval_timestamp_ms)
                d["type"] = "recording"
            else:
                continue
            rules_out.append(d)
        if not rules_out:
            continue
        if max_groups > 0 and len(res["groups"]) == max_groups:
            res["groupNextToken"] = group_next_token(g.file, g.name)
            break
        res["groups"].append(
            {
                "name": g.name,
                "file": g.file,
                "rules": rules_out,
                "interval": g.interval_ms / 1000.0,
                "limit": g.limit,
                "evaluationTime": g.evaluation_time_s,
                "lastEvaluation": rfc3339(g.last_evaluation_ms),
            }
        )
    if max_groups > 0 and group_next_token_param and not found_token:
        raise BadParameter(
            "group_next_token", f"invalid group_next_token '{group_next_token_param}'. were rule groups changed?"
        )
    return res
