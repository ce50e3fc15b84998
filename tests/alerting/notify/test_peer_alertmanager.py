"""The same alerts, config and silences pushed into Debian's prometheus-alertmanager
and into Spyglass: the webhook notifications (group keys, alert sets, firing and
resolved messages, byte for byte) and the alert states must be the same."""

import contextlib
import json
import textwrap
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerting.api import create_app
from alerting.notify import Notifier, parse_config
from tests.alerting.notify.capture_server import AppServer, CaptureServer, PeerAlertmanager

CONF = """
route:
  receiver: hook
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 3s
  repeat_interval: 1h
  routes:
  - matchers: ['team="db"']
    receiver: db
    group_by: [alertname]
    continue: true
  - matchers: ['severity=~"page|critical"']
    receiver: pager
    group_by: [alertname]
inhibit_rules:
- source_matchers: [severity="critical"]
  target_matchers: [severity="warning"]
  equal: [cluster]
receivers:
- name: hook
  webhook_configs: [{{url: "{hook}/hook"}}]
- name: db
  webhook_configs: [{{url: "{hook}/db", max_alerts: 1}}]
- name: pager
  webhook_configs: [{{url: "{hook}/pager", send_resolved: false}}, {{url: "{hook}/pager2"}}]
"""


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def a(name, starts, ends, **labels):
    return {"labels": {"alertname": name, **labels}, "annotations": {"summary": f"{name} on {labels.get('cluster')}"},
            "startsAt": iso(starts), "endsAt": iso(ends), "generatorURL": "http://prom.test/graph?g0.expr=up"}


def by_group(cap: CaptureServer):
    out: dict[tuple[str, str], list[str]] = {}
    for r in cap.requests:
        out.setdefault((r.path, json.loads(r.body)["groupKey"]), []).append(r.body.decode())
    return out


def states(base: str):
    alerts = httpx.get(base + "/api/v2/alerts").json()
    return sorted((x["fingerprint"], x["status"]["state"], tuple(x["status"]["inhibitedBy"]),
                   len(x["status"]["silencedBy"]), tuple(r["name"] for r in x["receivers"])) for x in alerts)


def groups(base: str):
    gs = httpx.get(base + "/api/v2/alerts/groups").json()
    return sorted((json.dumps(g["labels"], sort_keys=True), g["receiver"]["name"],
                   tuple(sorted(x["fingerprint"] for x in g["alerts"]))) for g in gs)


@contextlib.contextmanager
def side_by_side(tmp_path, conf: str):
    """Alertmanager and Spyglass on the same config, each notifying its own capture
    server: yields (Alertmanager URL, Spyglass URL, its hook, Spyglass's hook); the
    hooks keep what they received after the block."""
    with CaptureServer() as am_hook, CaptureServer() as sg_hook:
        (tmp_path / "am").mkdir()
        with PeerAlertmanager(textwrap.dedent(conf.format(hook=am_hook.url)), tmp_path / "am") as am:
            notifier = Notifier(parse_config(textwrap.dedent(conf.format(hook=sg_hook.url))), str(tmp_path / "sg"),
                                registry=CollectorRegistry(), external_url="http://sg.test")
            notifier.start()
            try:
                with AppServer(create_app(notifier)) as sg:
                    yield am.url, sg.url, am_hook, sg_hook
            finally:
                notifier.shutdown()


@pytest.mark.peer
@pytest.mark.slow
def test_same_notifications_as_alertmanager(tmp_path):
    with side_by_side(tmp_path, CONF) as (am_url, sg_url, am_hook, sg_hook):
        run_scenario([am_url, sg_url])
        assert states(am_url) == states(sg_url)
        assert groups(am_url) == groups(sg_url)
    am_got, sg_got = by_group(am_hook), by_group(sg_hook)
    assert sorted(am_got) == sorted(sg_got)
    for key in am_got:
        assert am_got[key] == sg_got[key], key
    # The scenario exercised what it should: resolved messages, inhibition lifted,
    # truncation, the silenced alert never notified.
    bodies = [json.loads(b) for v in sg_got.values() for b in v]
    assert any(b["status"] == "resolved" for b in bodies)
    assert any(x["status"] == "resolved" for b in bodies if b["status"] == "firing" for x in b["alerts"])
    assert any(b["truncatedAlerts"] for b in bodies)
    assert not any(x["labels"]["alertname"] == "Quiet" for b in bodies for x in b["alerts"])
    assert len(bodies) >= 7


def run_scenario(bases):
    # startsAt = the moment of posting: an older start would flush at once on
    # receipt, which races the second boundary between the two servers.
    now = datetime.now(UTC)
    later = now + timedelta(hours=1)
    for base in bases:
        r = httpx.post(base + "/api/v2/silences", json={
            "matchers": [{"name": "alertname", "value": "Quiet", "isRegex": False, "isEqual": True}],
            "startsAt": iso(now - timedelta(seconds=5)), "endsAt": iso(later), "createdBy": "test", "comment": "x"})
        assert r.status_code == 200, r.text
    first = [
        a("Disk", now, later, cluster="eu", severity="warning", team="db"),
        a("Disk", now, later, cluster="us", severity="warning", team="db"),
        a("Crit", now, later, cluster="eu", severity="critical"),
        a("Load", now, later, cluster="eu", severity="page", instance="a"),
        a("Load", now, later, cluster="eu", severity="page", instance="b"),
        a("Quiet", now, later, cluster="us"),
    ]
    post_all(bases, first)
    # Groups were created during the post (t0 - a moment): ticks at ~1, ~4, ~7 s.
    t0 = time.monotonic()
    time.sleep(2.5)
    t2 = datetime.now(UTC).replace(microsecond=0)
    second = [
        a("Crit", now, t2, cluster="eu", severity="critical"),  # resolved: Disk/eu is no longer inhibited
        a("Load", now, t2, cluster="eu", severity="page", instance="b"),  # resolved (pager: no send_resolved)
        a("Load", t2, later, cluster="eu", severity="page", instance="c"),
    ]
    post_all(bases, second)
    time.sleep(max(0.0, t0 + 8.5 - time.monotonic()))  # see the ticks at ~4 and ~7 s, not ~10 s


def post_all(bases, alerts):
    for base in bases:
        r = httpx.post(base + "/api/v2/alerts", json=alerts)
        assert r.status_code == 200, r.text


CONF2 = """
global: {{resolve_timeout: 8s}}
route:
  receiver: hook
  group_by: ['...']
  group_wait: 2s
  group_interval: 4s
  repeat_interval: 10s
receivers:
- name: hook
  webhook_configs: [{{url: "{hook}/hook"}}]
"""


def normalized(cap: CaptureServer):
    # An endsAt from resolve_timeout is "receipt + 8s": the two servers received
    # the post a few ms apart, so that one field is compared to the second.
    out = {}
    for key, bodies in by_group(cap).items():
        seq = []
        for b in bodies:
            d = json.loads(b)
            for x in d["alerts"]:
                if x["labels"]["alertname"] == "Timeout" and x["status"] == "resolved":
                    x["endsAt"] = x["endsAt"][:19]
            seq.append(d)
        out[key] = seq
    return out


@pytest.mark.peer
@pytest.mark.slow
def test_repeat_interval_resolve_timeout_and_silence_expiry_as_alertmanager(tmp_path):
    with side_by_side(tmp_path, CONF2) as (am_url, sg_url, am_hook, sg_hook):
        bases = [am_url, sg_url]
        # startsAt = the moment of posting (see run_scenario).
        now = datetime.now(UTC)
        later = now + timedelta(hours=1)
        sids = []
        for base in bases:
            r = httpx.post(base + "/api/v2/silences", json={
                "matchers": [{"name": "alertname", "value": "Muted", "isRegex": False}],
                "startsAt": iso(now), "endsAt": iso(later), "createdBy": "t", "comment": "c"})
            sids.append(r.json()["silenceID"])
        timeout_alert = a("Timeout", now, now, cluster="eu")
        del timeout_alert["endsAt"]  # resolves by resolve_timeout (8s)
        post_all(bases, [timeout_alert, a("Steady", now, later, cluster="eu"),
                         a("Muted", now, later, cluster="eu")])
        # Groups were created during the post, so their first tick is at most 2 s away.
        # (Timings are seconds apart so that a loaded machine does not move an event
        # across a tick of either server.)
        t0 = time.monotonic()
        time.sleep(max(0.0, t0 + 3.0 - time.monotonic()))
        for base, sid in zip(bases, sids):
            assert httpx.delete(f"{base}/api/v2/silence/{sid}").status_code == 200
        # Ticks at ~2, 6, 10, 14 s; stop before the one at ~18 s.
        time.sleep(max(0.0, t0 + 16.0 - time.monotonic()))
        assert states(am_url) == states(sg_url)
    am_got, sg_got = normalized(am_hook), normalized(sg_hook)
    summary = {k: [(d["status"], [x["status"] for x in d["alerts"]]) for d in v] for k, v in am_got.items()}
    assert am_got == sg_got, (summary, {k: [(d["status"], [x["status"] for x in d["alerts"]]) for d in v]
                                        for k, v in sg_got.items()},
                              [(r.path, round(r.t - t0, 2)) for r in am_hook.requests],
                              [(r.path, round(r.t - t0, 2)) for r in sg_hook.requests])
    seqs = {key[1]: [(d["status"], len(d["alerts"])) for d in v] for key, v in sg_got.items()}
    timeout_key = next(k for k in seqs if "Timeout" in k)
    steady_key = next(k for k in seqs if "Steady" in k)
    muted_key = next(k for k in seqs if "Muted" in k)
    assert seqs[timeout_key] == [("firing", 1), ("resolved", 1)]
    assert seqs[steady_key] == [("firing", 1), ("firing", 1)]  # repeated after repeat_interval
    assert seqs[muted_key] == [("firing", 1)]  # only once the silence expired
