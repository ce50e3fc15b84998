"""The dispatcher's timeline on a fake clock: group_wait, group_interval,
repeat_interval, resolution, continue, and the notification log."""

import asyncio

from alerting.notify.dispatch import labels_string
from storage.labels import Labels
from tests.alerting.notify.harness import T0, Capture, alert, start, step

FAR = T0 + 10**7  # an endsAt far ahead, as Prometheus keeps re-sending firing alerts

HOOK = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
- name: hook
  webhook_configs:
  - url: http://10.0.0.1/hook
"""


def run(coro):
    return asyncio.run(coro)


def names(payload):
    return sorted(a["labels"].get("instance", "") + ":" + a["status"] for a in payload["alerts"])


def test_group_wait_then_group_interval_then_repeat():
    async def scenario():
        n, clock, cap = await start(HOOK)
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a")])
        await step(n, clock, 29.9)
        assert cap.requests == []
        await step(n, clock, 0.1)
        assert [names(p) for p in cap.payloads()] == [["a:firing"]]
        # A new alert joins the group but waits for the next group_interval tick.
        await step(n, clock, 10)
        n.put_alerts([alert(starts=clock.now(), ends=FAR, instance="b")])
        await step(n, clock, 289.9)
        assert len(cap.requests) == 1
        await step(n, clock, 0.1)
        assert names(cap.payloads()[-1]) == ["a:firing", "b:firing"]
        # Unchanged: nothing until repeat_interval has passed since the last send (at T0+330).
        for _ in range(12):
            await step(n, clock, 300)
        assert clock.now() == T0 + 330 + 3600
        assert len(cap.requests) == 2
        await step(n, clock, 300)
        assert len(cap.requests) == 3 and names(cap.payloads()[-1]) == ["a:firing", "b:firing"]
        await n.shutdown_async()

    run(scenario())


def test_resolved_alerts_are_sent_once_then_forgotten():
    async def scenario():
        n, clock, cap = await start(HOOK)
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a"), alert(starts=T0, ends=FAR, instance="b")])
        await step(n, clock, 30)
        # Prometheus resolves with endsAt = the resolution time (in the past).
        n.put_alerts([alert(starts=T0, ends=clock.now(), instance="b")])
        await step(n, clock, 300)
        last = cap.payloads()[-1]
        assert names(last) == ["a:firing", "b:resolved"] and last["status"] == "firing"
        resolved = next(a for a in last["alerts"] if a["status"] == "resolved")
        assert resolved["endsAt"] == "2024-05-01T10:00:30Z"
        assert next(a for a in last["alerts"] if a["status"] == "firing")["endsAt"] == "0001-01-01T00:00:00Z"
        # b left the group after the successful send; the next change resolves a.
        n.put_alerts([alert(starts=T0, ends=clock.now(), instance="a")])
        await step(n, clock, 300)
        assert names(cap.payloads()[-1]) == ["a:resolved"] and cap.payloads()[-1]["status"] == "resolved"
        await step(n, clock, 300)
        assert len(cap.requests) == 3
        assert n.groups()[0] == []  # empty groups are dropped by maintenance
        await n.shutdown_async()

    run(scenario())


def test_a_future_end_cannot_shorten_an_explicit_later_one():
    # Alertmanager's merge: a not-yet-resolved update keeps the older, later explicit endsAt.
    async def scenario():
        n, _clock, _cap = await start(HOOK)
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a")])
        n.put_alerts([alert(starts=T0, ends=T0 + 60, instance="a")])
        (stored,) = n.store.list()
        assert stored.ends_at.seconds() == FAR
        await n.shutdown_async()

    run(scenario())


def test_send_resolved_false_sends_nothing_on_resolution():
    async def scenario():
        n, clock, cap = await start(HOOK.replace("- url: http://10.0.0.1/hook",
                                                 "- url: http://10.0.0.1/hook\n    send_resolved: false"))
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a"), alert(starts=T0, ends=FAR, instance="b")])
        await step(n, clock, 30)
        n.put_alerts([alert(starts=T0, ends=clock.now(), instance="b")])
        await step(n, clock, 300)
        # Only a removal: a's set is unchanged and b is resolved, so nothing new to say.
        assert len(cap.requests) == 1
        n.put_alerts([alert(starts=T0, ends=clock.now(), instance="a")])
        await step(n, clock, 300)
        assert len(cap.requests) == 1
        # A new firing alert later starts a fresh notification.
        n.put_alerts([alert(starts=clock.now(), ends=FAR, instance="c")])
        await step(n, clock, 300)
        assert [names(p) for p in cap.payloads()][-1] == ["c:firing"]
        await n.shutdown_async()

    run(scenario())


def test_resolve_timeout_resolves_silent_alerts():
    async def scenario():
        n, clock, cap = await start("global: {resolve_timeout: 2m}\n" + HOOK)
        n.put_alerts([alert(starts=T0, instance="a")])  # no endsAt
        await step(n, clock, 30)
        await step(n, clock, 300)
        last = cap.payloads()[-1]
        assert names(last) == ["a:resolved"]
        assert last["alerts"][0]["endsAt"] == "2024-05-01T10:02:00Z"
        await n.shutdown_async()

    run(scenario())


def test_old_alerts_flush_without_waiting():
    async def scenario():
        n, clock, cap = await start(HOOK)
        n.put_alerts([alert(starts=T0 - 600, instance="a")])
        await step(n, clock, 0)
        assert len(cap.requests) == 1
        await n.shutdown_async()

    run(scenario())


def test_continue_notifies_every_matching_route_with_its_group_key():
    async def scenario():
        n, clock, cap = await start("""
        route:
          receiver: hook
          group_by: [alertname]
          group_wait: 10s
          routes:
          - matchers: ['team="db"']
            receiver: db
            continue: true
          - matchers: ['severity=~"crit.*"']
            receiver: pager
            group_by: [alertname, team]
        receivers:
        - name: hook
          webhook_configs: [{url: "http://10.0.0.1/hook"}]
        - name: db
          webhook_configs: [{url: "http://10.0.0.1/db"}]
        - name: pager
          webhook_configs: [{url: "http://10.0.0.1/pager"}]
        """)
        n.put_alerts([alert(starts=T0, team="db", severity="critical"), alert(starts=T0, team="web")])
        await step(n, clock, 10)
        got = {p["receiver"]: p["groupKey"] for p in cap.payloads()}
        assert got == {
            "db": '{}/{team="db"}:{alertname="Down"}',
            "pager": '{}/{severity=~"crit.*"}:{alertname="Down", team="db"}',
            "hook": '{}:{alertname="Down"}',
        }
        assert [len(p["alerts"]) for p in cap.payloads("/hook")] == [1]
        await n.shutdown_async()

    run(scenario())


def test_group_by_all_and_special_characters_in_group_keys():
    async def scenario():
        n, clock, cap = await start(HOOK.replace("group_by: [alertname]", "group_by: ['...']"))
        n.put_alerts([alert(starts=T0, instance='a"b\\c\n', a1="x")])
        await step(n, clock, 30)
        p = cap.payloads()[0]
        assert p["groupKey"] == '{}:{a1="x", alertname="Down", instance="a\\"b\\\\c\\n"}'
        assert p["groupLabels"] == {"a1": "x", "alertname": "Down", "instance": 'a"b\\c\n'}
        await n.shutdown_async()

    run(scenario())


def test_labels_string_sorts_like_alertmanager_025():
    # 0.25 sorts the printed pairs: `a1=...` sorts before `a=...`.
    assert labels_string(Labels.from_dict({"a": "1", "a1": "2"})) == '{a1="2", a="1"}'


def test_max_alerts_truncates_and_counts():
    async def scenario():
        n, clock, cap = await start(HOOK.replace("- url: http://10.0.0.1/hook",
                                                 "- url: http://10.0.0.1/hook\n    max_alerts: 2"))
        n.put_alerts([alert(starts=T0, instance=i, job="j") for i in "abcde"])
        await step(n, clock, 30)
        p = cap.payloads()[0]
        assert names(p) == ["a:firing", "b:firing"] and p["truncatedAlerts"] == 3
        await n.shutdown_async()

    run(scenario())


def test_notification_log_survives_restart(tmp_path):
    async def scenario():
        n, clock, cap = await start(HOOK, data_dir=tmp_path)
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a")])
        await step(n, clock, 30)
        assert len(cap.requests) == 1
        await n.shutdown_async()
        # A new process with the same data: the same alert (re-sent by Prometheus) is not re-notified.
        n2, clock2, cap2 = await start(HOOK, data_dir=tmp_path, start_at=clock.now() + 60)
        n2.put_alerts([alert(starts=T0, ends=FAR, instance="a")])
        await step(n2, clock2, 0)
        for _ in range(3):
            await step(n2, clock2, 300)
        assert cap2.requests == []
        # ...but a change is.
        n2.put_alerts([alert(starts=clock2.now(), ends=FAR, instance="b")])
        await step(n2, clock2, 300)
        assert names(cap2.payloads()[-1]) == ["a:firing", "b:firing"]
        await n2.shutdown_async()

    run(scenario())


def test_failed_sends_are_retried_with_backoff_then_the_next_tick():
    async def scenario():
        cap = Capture()
        cap.script = [(500, "boom"), (503, "busy"), (200, "ok")]
        n, clock, _ = await start(HOOK, capture=cap)
        n.put_alerts([alert(starts=T0, ends=FAR, instance="a")])
        await clock.advance(30)
        for _ in range(10):
            await clock.advance(1)
        await n.wait_idle()
        assert [r.url.path for r in cap.requests] == ["/hook"] * 3
        assert n.telemetry.requests_failed.labels("webhook")._value.get() == 2
        assert n.telemetry.notifications_failed.labels("webhook")._value.get() == 0
        # A 4xx is not retried; the group tries again at its next interval.
        cap.script = [(400, "bad")]
        n.put_alerts([alert(starts=clock.now(), ends=FAR, instance="b")])
        await step(n, clock, 300)
        assert len(cap.requests) == 4
        assert n.telemetry.notifications_failed.labels("webhook")._value.get() == 1
        await step(n, clock, 300)
        assert len(cap.requests) == 5 and names(cap.payloads()[-1]) == ["a:firing", "b:firing"]
        await n.shutdown_async()

    run(scenario())


def test_a_slow_receiver_does_not_delay_others():
    async def scenario():
        cap = Capture()
        cap.hold["/slow"] = asyncio.Event()
        n, clock, _ = await start("""
        route:
          receiver: slow
          group_wait: 10s
          routes:
          - matchers: [team=fast]
            receiver: fast
            continue: true
        receivers:
        - name: slow
          webhook_configs: [{url: "http://10.0.0.1/slow"}]
        - name: fast
          webhook_configs: [{url: "http://10.0.0.1/fast"}, {url: "http://10.0.0.1/slow"}]
        """, capture=cap)
        n.put_alerts([alert(starts=T0, team="fast"), alert("Other", starts=T0)])
        await clock.advance(10)
        for _ in range(50):
            await asyncio.sleep(0)
        assert [r.url.path for r in cap.requests] == ["/fast"]
        cap.hold["/slow"].set()
        await n.wait_idle()
        assert sorted(r.url.path for r in cap.requests) == ["/fast", "/slow", "/slow"]
        await n.shutdown_async()

    run(scenario())
