"""Start-up order: /-/ready only once the WAL is replayed (and then every sample is
queryable); components started after ready make the requests that need them wait."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Self

import httpx
import pytest
from prometheus_client import CollectorRegistry

from spyglass.config import load_config
from spyglass.server import RunOptions, Stack
from storage.interface import SampleBatch
from storage.labels import Labels
from storage.tsdb import TSDB
from tests.util import free_port, wait_http

RULES = """
groups:
  - name: startup-group
    rules:
      - record: job:up:sum
        expr: sum(up)
"""


class Running:
    """A Stack serving in a thread, as ``spyglass up`` runs it (storage opened first)."""

    def __init__(self, stack: Stack, port: int):
        self.stack, self.url = stack, f"http://127.0.0.1:{port}"
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            asyncio.run(self.stack.serve())
        except BaseException as e:  # noqa: BLE001 - reported to the test
            self.error = e

    def __enter__(self) -> Self:
        self.stack.start_storage()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        deadline = time.monotonic() + 30
        while self.stack.stopping is None and time.monotonic() < deadline:
            time.sleep(0.01)
        self.stack.request_stop()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the stack did not stop"


def _stack(tmp_path: Path, roles: frozenset[str], rules: list[str] = ()) -> tuple[Stack, int]:
    port = free_port()
    options = RunOptions(data_dir=str(tmp_path / "data"), http=f"127.0.0.1:{port}", otlp_grpc="off",
                         otlp_http="off", host_metrics=False, roles=roles, rules=list(rules))
    config = load_config(None).model_copy(update={"builtin_rules": False})
    return Stack(config, options, registry=CollectorRegistry()), port


def _write_wal(tmp_path: Path, n_series: int, n_samples: int, t0: int) -> int:
    db = TSDB.open(str(tmp_path / "data" / "tsdb"))
    try:
        for k in range(n_samples):
            db.append(SampleBatch.from_samples(
                [(Labels.from_pairs([("__name__", "startup_metric"), ("i", str(i))]), t0 + k * 15_000, float(k))
                 for i in range(n_series)]))
    finally:
        db.close()
    return n_series * n_samples


def _count(url: str, at_ms: int) -> int:
    r = httpx.get(url + "/api/v1/query", params={"query": "sum(count_over_time(startup_metric[1h]))",
                                                  "time": at_ms / 1000}, timeout=10)
    assert r.status_code == 200, r.text
    res = r.json()["data"]["result"]
    return int(float(res[0]["value"][1])) if res else 0


def test_ready_only_after_wal_replay_and_then_every_sample_is_queryable(tmp_path):
    t0 = int(time.time() * 1000) - 600_000
    written = _write_wal(tmp_path, 50, 20, t0)
    stack, port = _stack(tmp_path, frozenset({"collector"}))
    replay_may_run = threading.Event()
    open_storage = stack._open_storage
    stack._open_storage = lambda: (replay_may_run.wait(30), open_storage())
    with Running(stack, port) as run:
        wait_http(run.url + "/-/healthy")  # listening, while the WAL is not replayed yet
        assert httpx.get(run.url + "/-/ready").status_code == 503
        replay_may_run.set()
        wait_http(run.url + "/-/ready")
        # the first query after ready sees every sample of the WAL
        assert _count(run.url, t0 + 20 * 15_000) == written


def test_requests_for_components_started_after_ready_wait_for_them(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    stack, port = _stack(tmp_path, frozenset({"collector", "alerting"}), rules=[str(rules)])
    rules_may_start = threading.Event()
    start_rules = stack._start_rules
    stack._start_rules = lambda: (rules_may_start.wait(30), start_rules())
    with Running(stack, port) as run:
        wait_http(run.url + "/-/ready")
        answer: list[httpx.Response] = []
        waiter = threading.Thread(target=lambda: answer.append(httpx.get(run.url + "/api/v1/rules", timeout=30)))
        waiter.start()
        # writes and queries are served meanwhile
        q = httpx.get(run.url + "/api/v1/query", params={"query": "1+1"})
        assert q.status_code == 200 and q.json()["data"]["result"][1] == "2"
        waiter.join(0.5)
        assert waiter.is_alive() and not answer, "the rules answer did not wait for the rules"
        rules_may_start.set()
        waiter.join(30)
        groups = answer[0].json()["data"]["groups"]
        assert [g["name"] for g in groups] == ["startup-group"]


def test_a_component_that_cannot_start_does_not_stop_a_ready_server(tmp_path):
    stack, port = _stack(tmp_path, frozenset({"collector", "alerting"}))

    def broken() -> None:
        raise OSError(28, "No space left on device")

    stack._start_notifications = broken
    with Running(stack, port) as run:
        wait_http(run.url + "/-/ready")
        deadline = time.monotonic() + 30
        while not stack.started.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stack.started.is_set()
        assert httpx.get(run.url + "/api/v1/rules").status_code == 200  # started after the broken one
        assert httpx.get(run.url + "/api/v1/query", params={"query": "1"}).status_code == 200
    assert run.error is None


def test_a_bad_rule_file_stops_the_process(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text("groups:\n  - name: g\n    rules:\n      - record: x\n        expr: sum(\n")
    stack, port = _stack(tmp_path, frozenset({"collector", "alerting"}), rules=[str(rules)])
    run = Running(stack, port)
    run.__enter__()
    run.thread.join(60)
    assert not run.thread.is_alive()
    from alerting.rules.manager import RuleLoadError

    with pytest.raises(RuleLoadError):
        raise run.error
