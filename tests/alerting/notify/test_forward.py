"""Forwarding alerts to an existing Alertmanager, like Prometheus's notifier."""

import json
import threading
import time
from types import SimpleNamespace

import httpx
import pytest
from prometheus_client import CollectorRegistry

from alerting.notify import PostableAlert
from alerting.notify.forward import AlertmanagerForwarder, ForwardTarget, targets_from_prometheus
from tests.alerting.notify.capture_server import PeerAlertmanager


def test_batches_external_labels_and_at_least_one_success():
    got: dict[str, list] = {"a": [], "b": []}
    gate = threading.Event()

    def handler(name, status):
        def h(request):
            gate.wait(5)
            got[name].append(json.loads(request.content))
            return httpx.Response(status)
        return h

    reg = CollectorRegistry()
    fwd = AlertmanagerForwarder(
        [ForwardTarget("http://am-a:9093"), ForwardTarget("http://am-b:9093/prefix")], queue_capacity=100,
        external_labels={"cluster": "eu", "alertname": "ignored"}, registry=reg,
        client_factory=lambda t: httpx.Client(transport=httpx.MockTransport(
            handler("a" if "am-a" in t.url else "b", 200 if "am-a" in t.url else 500))))
    fwd.send([PostableAlert({"alertname": f"A{i}"}, {"s": "x"}, starts_at="2024-05-01T10:00:00Z")
              for i in range(150)])
    assert fwd.queue_length() == 100  # the 50 oldest were dropped
    assert reg.get_sample_value("spyglass_notify_forward_alerts_dropped_total") == 50
    fwd.start()
    gate.set()
    fwd.stop(drain_timeout=5)
    batches = got["a"]
    assert [len(b) for b in batches] == [64, 36]
    first = batches[0][0]
    assert first == {"labels": {"alertname": "A50", "cluster": "eu"}, "annotations": {"s": "x"},
                     "startsAt": "2024-05-01T10:00:00Z"}
    assert len(got["b"]) == 2
    assert reg.get_sample_value("spyglass_notify_forward_alerts_sent_total", {"alertmanager": "http://am-a:9093"}) == 100
    assert reg.get_sample_value("spyglass_notify_forward_errors_total",
                                {"alertmanager": "http://am-b:9093/prefix"}) == 2


def test_targets_from_prometheus_style_config():
    am = SimpleNamespace(static_configs=[SimpleNamespace(targets=["am1:9093", "am2:9093"])], scheme="https",
                         path_prefix="/alertmanager/", timeout=3.0)
    ts = targets_from_prometheus([am])
    assert [t.alerts_url for t in ts] == ["https://am1:9093/alertmanager/api/v2/alerts",
                                          "https://am2:9093/alertmanager/api/v2/alerts"]
    assert ts[0].timeout == 3.0


@pytest.mark.peer
def test_forward_to_a_real_alertmanager(tmp_path):
    with PeerAlertmanager("route: {receiver: r}\nreceivers: [{name: r}]\n", tmp_path) as am:
        fwd = AlertmanagerForwarder([ForwardTarget(am.url)], registry=CollectorRegistry())
        fwd.start()
        fwd.send([PostableAlert({"alertname": "Fwd", "job": "x"}, {"summary": "s"},
                                starts_at=time.time() - 5, ends_at=time.time() + 600, generator_url="http://p/g")])
        fwd.stop()
        alerts = httpx.get(am.url + "/api/v2/alerts").json()
    assert [(a["labels"], a["annotations"], a["generatorURL"]) for a in alerts] == [
        ({"alertname": "Fwd", "job": "x"}, {"summary": "s"}, "http://p/g")]
