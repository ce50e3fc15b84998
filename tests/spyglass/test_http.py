"""The request path every HTTP request takes (``Stack.asgi()``): authentication,
request metrics, gzip, error shapes; driven in-process through the ASGI app."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
from pathlib import Path

import bcrypt
import httpx
import pytest
from prometheus_client import CollectorRegistry

from spyglass.config import load_config
from spyglass.server import RunOptions, Stack
from storage.interface import SampleBatch
from storage.labels import Labels

T0 = 1_700_000_000_000


def _stack(tmp_path: Path, **auth) -> tuple[Stack, CollectorRegistry]:
    options = RunOptions(data_dir=str(tmp_path / "data"), http="127.0.0.1:0", otlp_grpc="off",
                         otlp_http="off", host_metrics=False, roles=frozenset({"collector"}))
    config = load_config(None)
    config = config.model_copy(update={
        "builtin_rules": False,
        "server": config.server.model_copy(update={"auth": config.server.auth.model_copy(update=auth)}),
    })
    registry = CollectorRegistry()
    stack = Stack(config, options, registry=registry)
    stack.open()
    stack.started.set()  # the components after ready are not under test here
    # 300 series: a query for all of them answers with a body worth compressing
    stack.appendable.append(SampleBatch.from_samples(
        [(Labels.from_pairs([("__name__", "m"), ("i", f"{i:03d}")]), T0, float(i)) for i in range(300)]))
    return stack, registry


@pytest.fixture
def plain(tmp_path):
    stack, registry = _stack(tmp_path)
    yield stack, registry
    stack.close()


def _get(app, path: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://spyglass") as c:
            return await c.get(path, **kw)

    return asyncio.run(go())


def _count(registry: CollectorRegistry, name: str, **labels) -> float:
    v = registry.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_auth_is_off_by_default(plain):
    stack, _ = plain
    assert _get(stack.asgi(), "/api/v1/query", params={"query": "1"}).status_code == 200


def test_basic_and_bearer_auth_guard_everything_but_the_probes(tmp_path):
    pw_hash = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    stack, _ = _stack(tmp_path, basic_auth_users={"alice": pw_hash}, bearer_tokens=["tok-1"])
    try:
        app = stack.asgi()
        q = {"params": {"query": "1"}}
        r = _get(app, "/api/v1/query", **q)
        assert r.status_code == 401 and r.text == "Unauthorized\n"
        assert r.headers["www-authenticate"] == 'Basic realm="spyglass"'
        basic = "Basic " + base64.b64encode(b"alice:secret").decode()
        assert _get(app, "/api/v1/query", headers={"Authorization": basic}, **q).status_code == 200
        # a second time from the cache of successful checks
        assert _get(app, "/api/v1/query", headers={"Authorization": basic}, **q).status_code == 200
        wrong = "Basic " + base64.b64encode(b"alice:nope").decode()
        assert _get(app, "/api/v1/query", headers={"Authorization": wrong}, **q).status_code == 401
        assert _get(app, "/api/v1/query", headers={"Authorization": "Bearer tok-1"}, **q).status_code == 200
        assert _get(app, "/api/v1/query", headers={"Authorization": "Bearer tok-2"}, **q).status_code == 401
        assert _get(app, "/api/v1/query", headers={"Authorization": "Basic %%%"}, **q).status_code == 401
        # the UI's own calls to the APIs carry the internal token
        internal = {"Authorization": f"Bearer {stack._internal_token}"}
        assert _get(app, "/api/v1/query", headers=internal, **q).status_code == 200
        assert _get(app, "/metrics").status_code == 401
        for probe in ("/-/healthy", "/-/ready"):
            assert _get(app, probe).status_code == 200
    finally:
        stack.close()


def test_request_metrics_by_route_and_code(plain):
    stack, registry = plain
    app = stack.asgi()
    assert _get(app, "/api/v1/query", params={"query": "m"}).status_code == 200
    assert _get(app, "/api/v1/query", params={"query": "m"}).status_code == 200
    assert _get(app, "/api/v1/query", params={"query": "sum("}).status_code == 400
    assert _get(app, "/api/v1/label/i/values").status_code == 200
    assert _get(app, "/api/v1/status/buildinfo").status_code == 200
    assert _get(app, "/-/healthy").status_code == 200
    assert _get(app, "/api/v1/nothing-here").status_code == 404
    assert _get(app, "/no/such/page").status_code == 404
    c = "spyglass_http_requests_total"
    assert _count(registry, c, handler="/api/v1/query", code="200") == 2
    assert _count(registry, c, handler="/api/v1/query", code="400") == 1
    # a templated route is one handler, named by its template
    assert _count(registry, c, handler="/api/v1/label/{name}/values", code="200") == 1
    assert _count(registry, c, handler="/api/v1/status/buildinfo", code="200") == 1
    assert _count(registry, c, handler="/-/healthy", code="200") == 1
    assert _count(registry, c, handler="/api/v1/nothing-here", code="404") == 1
    assert _count(registry, c, handler="/ui", code="404") == 1
    h = "spyglass_http_request_duration_seconds_count"
    assert _count(registry, h, handler="/api/v1/query") == 3


def test_large_answers_are_gzipped_when_the_client_accepts_it(plain):
    stack, _ = plain
    app = stack.asgi()
    big = {"params": {"query": "m", "time": T0 / 1000}}
    r = _get(app, "/api/v1/query", headers={"Accept-Encoding": "gzip"}, **big)
    assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in r.headers["vary"]
    assert len(r.json()["data"]["result"]) == 300  # httpx decoded it
    raw = _get(app, "/api/v1/query", headers={"Accept-Encoding": "identity"}, **big)
    assert "content-encoding" not in raw.headers and len(raw.json()["data"]["result"]) == 300
    assert int(raw.headers["content-length"]) > int(r.headers["content-length"])
    small = _get(app, "/api/v1/query", headers={"Accept-Encoding": "gzip"}, params={"query": "1"})
    assert "content-encoding" not in small.headers and small.json()["data"]["result"][1] == "1"
    assert gzip.decompress(gzip.compress(raw.content)) == raw.content


def test_error_shapes(plain):
    stack, registry = plain
    app = stack.asgi()
    r = _get(app, "/api/v1/query", params={"query": "sum("})
    body = r.json()
    assert r.status_code == 400 and body["status"] == "error" and body["errorType"] == "bad_data"
    assert r.headers["content-type"] == "application/json"
    r = _get(app, "/api/v1/query_range", params={"query": "1", "start": "1", "end": "0", "step": "1"})
    assert r.status_code == 400 and "end timestamp must not be before start time" in r.json()["error"]
    # an unexpected exception in a handler: a plain 500, counted as such
    r = _get(app, "/api/v1/metadata", params={"limit": "not-a-number"})
    assert r.status_code == 500 and r.text == "Internal Server Error"
    assert _count(registry, "spyglass_http_requests_total", handler="/api/v1/metadata", code="500") == 1
    r = _get(app, "/api/v1/query", params={"query": "1"}, headers={"Accept": "*/*"})
    assert json.loads(r.content) == {"status": "success", "data": {"resultType": "scalar",
                                                                   "result": [r.json()["data"]["result"][0], "1"]}}
    # wrong method on a known route
    async def post_only() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://spyglass") as c:
            return await c.delete("/api/v1/query")

    assert asyncio.run(post_only()).status_code == 405


def _call(app, method: str, path: str, **kw) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://spyglass") as c:
            return await c.request(method, path, **kw)

    return asyncio.run(go())


REQUESTS = [
    ("GET", "/api/v1/query", {"params": {"query": "m", "time": T0 / 1000}}),
    ("POST", "/api/v1/query", {"data": {"query": "sum(m)", "time": T0 / 1000}}),
    ("POST", "/api/v1/query_range", {"data": {"query": "m", "start": "1700000000", "end": "1700000060", "step": "15"}}),
    ("GET", "/api/v1/query", {"params": {"query": "sum("}}),
    ("GET", "/api/v1/label/i/values", {"params": {"match[]": 'm{i=~"00.*"}'}}),
    ("GET", "/api/v1/labels", {}),
    ("GET", "/api/v1/metadata", {"params": {"limit": "x"}}),
    ("DELETE", "/api/v1/query", {}),
    ("POST", "/api/v1/status/buildinfo", {}),
    ("GET", "/api/v1/query/", {"params": {"query": "1"}}),
    ("POST", "/api/v1/query", {"content": b"--xx\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=xx"}}),
    ("GET", "/api/v1/status/flags", {}),
]


def test_the_route_table_answers_as_the_fastapi_app_does(plain):
    stack, _ = plain
    front = stack.asgi()
    for method, path, kw in REQUESTS:
        kw.setdefault("headers", {})["accept-encoding"] = "identity"
        direct = _call(stack.app, method, path, follow_redirects=False, **kw)
        ours = _call(front, method, path, follow_redirects=False, **kw)
        assert (ours.status_code, ours.content) == (direct.status_code, direct.content), (method, path)
        for h in ("content-type", "allow", "location"):
            assert ours.headers.get(h) == direct.headers.get(h), (method, path, h)


def test_the_route_table_serves_its_routes_and_passes_on_the_rest(plain):
    from spyglass.http import RouteTable

    stack, _ = plain
    passed: list[str] = []

    async def fallback(scope, receive, send):
        passed.append(f'{scope["method"]} {scope["path"]}')
        await stack.app(scope, receive, send)

    table = RouteTable(fallback)
    for r in stack.app.router.routes:  # the query API's router, as the collector role mounts it
        table.add(getattr(getattr(r, "original_router", None), "routes", []))
    assert _call(table, "GET", "/api/v1/query", params={"query": "1"}).status_code == 200
    assert _call(table, "GET", "/api/v1/label/i/values").json()["data"][:2] == ["000", "001"]
    assert _call(table, "POST", "/api/v1/query", data={"query": "1"}).status_code == 200
    assert passed == []
    _call(table, "DELETE", "/api/v1/query")
    _call(table, "POST", "/api/v1/query", content=b"x", headers={"content-type": "multipart/form-data; boundary=b"})
    _call(table, "GET", "/-/healthy")
    assert passed == ["DELETE /api/v1/query", "POST /api/v1/query", "GET /-/healthy"]
