"""The HTTP server itself (uvicorn with httptools, as ``spyglass up`` runs it): what
clients send beyond a plain GET — long URLs, chunked bodies, ``Expect: 100-continue``,
many requests on one kept-alive connection."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.spyglass.test_startup import Running, _stack
from tests.util import wait_http


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp: Path = tmp_path_factory.mktemp("http-server")
    stack, port = _stack(tmp, frozenset({"collector"}))
    with Running(stack, port) as run:
        wait_http(run.url + "/-/ready")
        yield run, port


def test_a_long_query_in_the_url_is_served(server):
    # Prometheus (Go) takes up to 1 MB of request headers: long PromQL in a GET URL works there
    run, _ = server
    long = "x" * 30_000
    expr = f'label_replace(vector(1), "long", "{long}", "", "")'
    r = httpx.get(run.url + "/api/v1/query", params={"query": expr, "time": "100"}, timeout=30)
    assert r.status_code == 200, r.text[:200]
    assert r.json()["data"]["result"] == [{"metric": {"long": long}, "value": [100, "1"]}]


def test_a_chunked_form_body_is_read_whole(server):
    run, _ = server

    def body():
        yield b"query=sum%28"
        yield b"vector%282%29%29&time=100"

    r = httpx.post(run.url + "/api/v1/query", content=body(),
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert r.status_code == 200 and r.json()["data"]["result"] == [{"metric": {}, "value": [100, "2"]}]


def test_expect_100_continue_gets_a_continue_before_the_body(server):
    _, port = server
    body = b"query=7&time=100"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /api/v1/query HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 100 ")
        s.sendall(body)
        answer = b""
        while b'"7"]' not in answer:
            chunk = s.recv(4096)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")


def test_many_requests_on_one_kept_alive_connection(server):
    _, port = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        for i in range(50):
            conn.request("GET", "/api/v1/query?" + urlencode({"query": f"{i} + 1", "time": "100"}))
            r = conn.getresponse()
            assert r.status == 200 and f'"{i + 1}"'.encode() in r.read()
        conn.request("GET", "/api/v1/status/buildinfo")
        assert conn.getresponse().read().startswith(b'{"status":"success"')
        conn.request("GET", "/no/such/api")
        r = conn.getresponse()
        r.read()
        assert r.status == 404
        conn.request("GET", "/-/healthy")
        assert conn.getresponse().read() == b"Spyglass is Healthy.\n"
    finally:
        conn.close()
