"""Remote-write config models: Prometheus defaults and wording."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from storage.remote.config import PROTOBUF_V2, RemoteWriteConfig


def rw(**kw) -> RemoteWriteConfig:
    return RemoteWriteConfig.model_validate({"url": "http://127.0.0.1:9/api/v1/write", **kw})


def test_defaults_are_prometheus():
    c = rw()
    q = c.queue_config
    assert (q.capacity, q.max_shards, q.min_shards, q.max_samples_per_send) == (10000, 50, 1, 2000)
    assert (q.batch_send_deadline, q.min_backoff, q.max_backoff, q.retry_on_http_429) == (5.0, 0.03, 5.0, False)
    assert c.remote_timeout == 30.0 and not c.enable_http2 and not c.is_v2
    assert c.metadata_config.send and c.metadata_config.send_interval == 60.0


def test_v2_and_headers():
    c = rw(protobuf_message=PROTOBUF_V2, headers={"X-Scope-OrgID": "team"}, basic_auth={"username": "u", "password": "p"})
    assert c.is_v2
    assert c.headers()["X-Scope-OrgID"] == "team"


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"url": ""}, "url for remote_write is empty"),
        ({"url": "not a url"}, "must be an absolute http(s) URL"),
        ({"headers": {"Authorization": "x"}}, "authorization header must be changed via the basic_auth"),
        ({"headers": {"Content-Type": "x"}}, "Content-Type is a reserved header. It must not be changed"),
        ({"protobuf_message": "foo"}, "invalid protobuf_message value"),
        ({"queue_config": {"max_shards": 0}}, "remote write queue max_shards must be positive"),
        ({"queue_config": {"min_shards": 5, "max_shards": 2}}, "min_shards must not be greater than max_shards"),
        ({"queue_config": {"min_backoff": "2s", "max_backoff": "1s"}}, "max_backoff must not be less than min_backoff"),
        ({"queue_config": {"capacity": 0}}, "capacity must be positive"),
        ({"sigv4": {"region": "x"}}, "sigv4 is not supported by Spyglass"),
        ({"round_robin_dns": True}, "round_robin_dns is not supported"),
        ({"write_relabel_configs": [None]}, "empty or null relabeling rule in remote write config"),
        ({"write_relabel_configs": [{"action": "keepequal", "target_label": "x", "regex": "a"}]}, "keepequal action requires only"),
        ({"unknown_thing": 1}, "unknown_thing"),
    ],
)
def test_rejections(extra, message):
    with pytest.raises(ValidationError) as e:
        rw(**extra)
    assert message in str(e.value)
