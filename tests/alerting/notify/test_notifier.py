"""The Notifier's lifecycle in its background thread: start, reload, shutdown,
thread-safe input and its telemetry."""

import textwrap
import threading
import time

import pytest
from prometheus_client import CollectorRegistry

from alerting.notify import Notifier, PostableAlert, parse_config
from alerting.notify.matchers import Matcher
from alerting.notify.silence import Silence
from alerting.notify.wire import GoTime
from tests.alerting.notify.capture_server import CaptureServer

CONF = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 100ms
  group_interval: 1s
receivers:
- name: hook
  webhook_configs: [{{url: "{url}/one"}}]
"""


def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_start_reload_shutdown_keep_state(tmp_path):
    reg = CollectorRegistry()
    with CaptureServer() as srv:
        n = Notifier(parse_config(CONF.format(url=srv.url)), str(tmp_path), registry=reg, external_url="http://sg")
        n.start()
        try:
            sid = n.silences.set(Silence.new([Matcher("=", "alertname", "Muted")], GoTime.from_seconds(time.time()),
                                             GoTime.from_seconds(time.time() + 600), "me", "x"))
            # Many threads at once, as the rule manager and API handlers do.
            threads = [threading.Thread(target=n.put_alerts, args=([PostableAlert({"alertname": f"A{i}"})],))
                       for i in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            n.put_alerts([PostableAlert({"alertname": "Muted"})])
            wait_for(lambda: len(srv.at("/one")) == 20)
            assert reg.get_sample_value("spyglass_notify_alerts_received_total", {"status": "firing"}) == 21
            assert reg.get_sample_value("spyglass_notify_notifications_total", {"integration": "webhook"}) == 20
            assert reg.get_sample_value("spyglass_notify_aggregation_groups") == 21
            assert reg.get_sample_value("spyglass_notify_silences", {"state": "active"}) == 1
            assert reg.get_sample_value("spyglass_notify_alerts", {"state": "suppressed"}) == 1

            # A broken config is refused and the running one stays.
            # (model_copy skips validation, so building the route tree fails.)
            with pytest.raises(AttributeError):
                n.reload(parse_config(CONF.format(url=srv.url)).model_copy(update={"route": None}))
            assert reg.get_sample_value("spyglass_notify_config_last_reload_successful") == 0
            # A new config: groups are rebuilt, the log prevents re-sending, silences stay.
            n.reload(parse_config(textwrap.dedent(CONF.format(url=srv.url)).replace("/one", "/two")))
            assert reg.get_sample_value("spyglass_notify_config_last_reload_successful") == 1
            n.put_alerts([PostableAlert({"alertname": "New"})])
            wait_for(lambda: len(srv.at("/two")) >= 1)
            time.sleep(0.5)
            assert [r.json()["alerts"][0]["labels"]["alertname"] for r in srv.at("/two")] == ["New"]
        finally:
            n.shutdown()
        # After a restart the silence is still there.
        n2 = Notifier(parse_config(CONF.format(url=srv.url)), str(tmp_path), registry=CollectorRegistry())
        assert n2.silences.get(sid).created_by == "me"
        assert len(n2.nflog) >= 20


def test_put_alerts_validates_like_alertmanager():
    n = Notifier(parse_config("route: {receiver: r}\nreceivers: [{name: r}]"), None, registry=CollectorRegistry())
    errs = n.put_alerts([
        {"labels": {"alertname": "ok"}},
        {"labels": {"": "x"}},
        {"labels": {"a": "b"}, "startsAt": "not a time"},
        {"labels": {"a": "b"}, "annotations": {"x": 1}},
    ])
    assert len(errs) == 3 and len(n.store) == 1
    (a,) = n.store.list()
    assert a.timeout and a.ends_at.ns - a.starts_at.ns == 300 * 10**9


def test_rule_manager_alerts_are_accepted_as_they_come():
    from alerting.rules.rule import NotifierAlert
    from storage.labels import Labels

    n = Notifier(parse_config("route: {receiver: r}\nreceivers: [{name: r}]"), None, registry=CollectorRegistry())
    n.notify("up == 0", [NotifierAlert(Labels.from_dict({"alertname": "Down"}), Labels.from_dict({"s": "x"}),
                                       1_714_557_600_000, 1_714_557_900_000, "http://prom/graph")])
    (a,) = n.store.list()
    assert a.starts_at.rfc3339nano() == "2024-05-01T10:00:00Z" and a.ends_at.rfc3339nano() == "2024-05-01T10:05:00Z"
    assert dict(a.annotations) == {"s": "x"} and a.generator_url == "http://prom/graph" and not a.timeout
