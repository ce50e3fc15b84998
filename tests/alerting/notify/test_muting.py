"""Inhibition, silences and time intervals inside the pipeline (fake clock)."""

import asyncio

from alerting.notify.matchers import Matcher
from alerting.notify.silence import Silence
from alerting.notify.wire import GoTime
from tests.alerting.notify.harness import T0, alert, start, step

FAR = T0 + 10**7

CONF = """
route:
  receiver: hook
  group_by: [alertname, cluster]
  group_wait: 10s
  group_interval: 1m
  routes:
  - matchers: [team=night]
    receiver: hook
    mute_time_intervals: [offhours]
  - matchers: [team=day]
    receiver: hook
    active_time_intervals: [workhours]
inhibit_rules:
- source_matchers: [severity=critical]
  target_matchers: [severity=warning]
  equal: [cluster]
receivers:
- name: hook
  webhook_configs: [{url: "http://10.0.0.1/hook"}]
time_intervals:
- name: offhours
  time_intervals: [{times: [{start_time: "09:00", end_time: "10:30"}]}]
- name: workhours
  time_intervals: [{weekdays: ["monday:friday"], times: [{start_time: "11:00", end_time: "17:00"}]}]
"""


def sent_names(cap):
    return [sorted(a["labels"]["alertname"] + "/" + a["labels"].get("cluster", "") for a in p["alerts"])
            for p in cap.payloads()]


def test_inhibition_needs_equal_labels_and_a_firing_source():
    async def scenario():
        n, clock, cap = await start(CONF)
        n.put_alerts([
            alert("Crit", starts=T0, ends=FAR, severity="critical", cluster="eu"),
            alert("Warn", starts=T0, ends=FAR, severity="warning", cluster="eu"),
            alert("Warn", starts=T0, ends=FAR, severity="warning", cluster="us"),
        ])
        await step(n, clock, 10)
        assert sorted(map(tuple, sent_names(cap))) == [("Crit/eu",), ("Warn/us",)]
        warn_eu = next(a for a in n.store.list() if a.labels.get("cluster") == "eu" and a.name == "Warn")
        crit = next(a for a in n.store.list() if a.name == "Crit")
        assert n.update_status(warn_eu).inhibited_by == [crit.fingerprint_hex()]
        # The source resolves: the target is notified at its group's next interval.
        n.put_alerts([alert("Crit", starts=T0, ends=clock.now(), severity="critical", cluster="eu")])
        await step(n, clock, 60)
        assert ["Warn/eu"] in sent_names(cap)
        await n.shutdown_async()

    asyncio.run(scenario())


def test_an_alert_matching_both_sides_does_not_inhibit_itself():
    async def scenario():
        n, clock, cap = await start(CONF.replace("target_matchers: [severity=warning]",
                                                 'target_matchers: [severity=~"warning|critical"]'))
        n.put_alerts([alert("Crit", starts=T0, ends=FAR, severity="critical", cluster="eu")])
        await step(n, clock, 10)
        assert sent_names(cap) == [["Crit/eu"]]
        await n.shutdown_async()

    asyncio.run(scenario())


def test_silenced_alerts_are_dropped_until_the_silence_ends():
    async def scenario():
        n, clock, cap = await start(CONF)
        n.silences.set(Silence.new([Matcher("=", "cluster", "eu")], GoTime.from_seconds(T0, 0),
                                   GoTime.from_seconds(T0 + 90, 0), "me", "upgrade"))
        n.put_alerts([alert("A", starts=T0, ends=FAR, cluster="eu"), alert("B", starts=T0, ends=FAR, cluster="us")])
        await step(n, clock, 10)
        assert sent_names(cap) == [["B/us"]]
        await step(n, clock, 60)
        assert len(cap.requests) == 1
        await step(n, clock, 60)  # T0+130: the silence ended at T0+90
        assert sent_names(cap)[-1] == ["A/eu"]
        await n.shutdown_async()

    asyncio.run(scenario())


def test_mute_and_active_time_intervals():
    async def scenario():
        # T0 is Wednesday 10:00 UTC: inside offhours, outside workhours.
        n, clock, cap = await start(CONF)
        n.put_alerts([alert("N", starts=T0, ends=FAR, team="night"), alert("D", starts=T0, ends=FAR, team="day")])
        await step(n, clock, 10)
        assert cap.requests == []
        for _ in range(29):  # to 10:29:10: still offhours
            await step(n, clock, 60)
        assert cap.requests == []
        await step(n, clock, 60)  # 10:30:10: offhours is over
        assert sent_names(cap) == [["N/"]]
        for _ in range(31):  # to 11:01:10: workhours began
            await step(n, clock, 60)
        assert sent_names(cap)[-1] == ["D/"]
        await n.shutdown_async()

    asyncio.run(scenario())
