"""Test doubles for the notification pipeline: a fake clock, an in-process HTTP
capture (httpx MockTransport) and a Notifier wired to both."""

from __future__ import annotations

import asyncio
import json
import textwrap

import httpx
from prometheus_client import CollectorRegistry

from alerting.notify import FakeClock, Notifier, PostableAlert, parse_config

T0 = 1_714_557_600.0  # 2024-05-01T10:00:00Z, a Wednesday


class Capture:
    """Answers every request with ``status`` (or the next of ``script``) and records it."""

    def __init__(self, status: int = 200, body: bytes | str = b"ok"):
        self.requests: list[httpx.Request] = []
        self.status = status
        self.body = body
        self.script: list[tuple[int, bytes | str]] = []
        self.hold: dict[str, asyncio.Event] = {}  # url path -> block until set

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        ev = self.hold.get(request.url.path)
        if ev is not None:
            await ev.wait()
        self.requests.append(request)
        status, body = self.script.pop(0) if self.script else (self.status, self.body)
        return httpx.Response(status, content=body if isinstance(body, bytes) else body.encode())

    def payloads(self, path: str | None = None) -> list[dict]:
        return [json.loads(r.content) for r in self.requests if path is None or r.url.path == path]


async def fixed_resolver(host: str, port: int) -> list[str]:
    return ["10.0.0.1"]


async def start(yaml_text: str, data_dir=None, clock: FakeClock | None = None, capture: Capture | None = None,
                start_at: float = T0) -> tuple[Notifier, FakeClock, Capture]:
    clock = clock or FakeClock(start_at)
    capture = capture or Capture()
    n = Notifier(parse_config(textwrap.dedent(yaml_text)), str(data_dir) if data_dir else None, clock=clock,
                 registry=CollectorRegistry(), external_url="http://spyglass.test",
                 http_client=lambda cfg: httpx.AsyncClient(transport=httpx.MockTransport(capture)))
    n.guard._resolve = fixed_resolver
    await n.start_async()
    return n, clock, capture


async def step(n: Notifier, clock: FakeClock, seconds: float) -> None:
    """Advance the fake clock and wait for the flushes it started."""
    await clock.advance(seconds)
    await n.wait_idle()
    await clock.settle()


def alert(name: str = "Down", starts: float | None = None, ends: float | None = None, **labels) -> PostableAlert:
    return PostableAlert({"alertname": name, **labels}, {"summary": f"{name} happened"}, starts, ends,
                         "http://prom.test/graph")
