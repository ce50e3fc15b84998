"""The Prometheus HTTP API, side by side with real Prometheus on the same data.

The same remote-write requests go to Spyglass and to Debian's Prometheus; then the
same API calls, and the same `promtool query` commands, must give the same answers.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import time

import httpx
import pytest

from tests.e2e.peers import PrometheusProcess
from tests.e2e.rwdata import demo_series, send, write_request
from tests.e2e.server import SpyglassProcess
from tests.util import peer_binary

pytestmark = [pytest.mark.peer, pytest.mark.slow]

NOW_MS = (int(time.time() * 1000) // 60_000) * 60_000


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("api")
    prom = PrometheusProcess(base / "prom").start()
    spy = SpyglassProcess(base / "spy", extra_args=["--no-host-metrics"]).start()
    try:
        data = demo_series(NOW_MS)
        for i in range(0, len(data), 7):  # several requests, like a real sender
            body = write_request(data[i : i + 7])
            for url in (prom.url, spy.url):
                r = send(url + "/api/v1/write", body)
                assert r.status_code in (200, 204), (url, r.status_code, r.text)
        yield prom, spy
    finally:
        spy.stop()
        prom.stop()


# Evaluation times sit off the sample grid and off the subquery grid, so that
# Prometheus 2.42's left-closed windows and 3.x's left-open ones agree.
T = NOW_MS / 1000 - 60.5
START, END = NOW_MS / 1000 - 25 * 60 - 0.5, NOW_MS / 1000 - 60.5


INSTANT = [
    "up",
    "node_load1",
    "node_load1 offset 5m",
    'rate(node_cpu_seconds_total{mode!="idle"}[5m])',
    "sum by (instance) (rate(node_cpu_seconds_total[5m]))",
    "topk(2, node_memory_MemAvailable_bytes)",
    "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))",
    "1 + 1",
    "scalar(sum(node_load1))",
    "node_memory_MemAvailable_bytes / 1e9 > 1.02",
    "count_values(\"v\", round(node_load1))",
    "max_over_time(node_load1[10m:1m])",
]


def _get(base: str, path: str, params) -> httpx.Response:
    return httpx.get(base + path, params=params, timeout=60)


def _data(resp: httpx.Response):
    body = resp.json()
    assert body["status"] == "success", body
    return body["data"]


def _canon(data):
    """Result with series sorted (Prometheus does not sort instant vectors)."""
    if isinstance(data, dict) and data.get("resultType") in ("vector", "matrix"):
        data = dict(data, result=sorted(data["result"], key=lambda s: json.dumps(s["metric"], sort_keys=True)))
    return data


def _close(a: str, b: str) -> bool:
    """Sample values as strings: equal, or equal within 1e-12 relative (Prometheus 3.x sums
    with Kahan compensation, 2.42 naively, so the last digit of a sum may differ)."""
    if a == b:
        return True
    x, y = float(a), float(b)
    return math.isclose(x, y, rel_tol=1e-12, abs_tol=0)


def assert_same_result(got: dict, want: dict) -> None:
    got, want = _canon(got), _canon(want)
    assert got["resultType"] == want["resultType"]
    if want["resultType"] in ("scalar", "string"):
        assert got["result"][0] == want["result"][0] and _close(got["result"][1], want["result"][1])
        return
    assert [s["metric"] for s in got["result"]] == [s["metric"] for s in want["result"]]
    key = "value" if want["resultType"] == "vector" else "values"
    for g, w in zip(got["result"], want["result"]):
        gp, wp = ([g[key]], [w[key]]) if key == "value" else (g[key], w[key])
        assert [p[0] for p in gp] == [p[0] for p in wp], g["metric"]
        bad = [(p, q) for p, q in zip(gp, wp) if not _close(p[1], q[1])]
        assert not bad, (g["metric"], bad[:3])


@pytest.mark.parametrize("expr", INSTANT)
def test_instant_query_matches_prometheus(pair, expr):
    prom, spy = pair
    params = {"query": expr, "time": f"{T:.3f}"}
    want = _get(prom.url, "/api/v1/query", params)
    got = _get(spy.url, "/api/v1/query", params)
    assert got.status_code == want.status_code
    assert_same_result(_data(got), _data(want))


@pytest.mark.parametrize("expr", INSTANT)
def test_range_query_matches_prometheus(pair, expr):
    prom, spy = pair
    params = {"query": expr, "start": f"{START:.3f}", "end": f"{END:.3f}", "step": "30"}
    want = _get(prom.url, "/api/v1/query_range", params)
    got = _get(spy.url, "/api/v1/query_range", params)
    assert got.status_code == want.status_code
    assert_same_result(_data(got), _data(want))
    # the JSON text itself: same shape, same number and timestamp formatting
    if all(_close(a, b) and a == b for a, b in zip(re.findall(r'"(-?[0-9.e+-]+|NaN|[+-]Inf)"', got.text),
                                                 re.findall(r'"(-?[0-9.e+-]+|NaN|[+-]Inf)"', want.text))):
        assert got.text == want.text


@pytest.mark.parametrize(
    "path,params",
    [
        ("/api/v1/series", {"match[]": "node_load1"}),
        ("/api/v1/series", [("match[]", "node_load1"), ("match[]", '{__name__=~"http_.*",code="500"}')]),
        ("/api/v1/labels", {}),
        ("/api/v1/labels", {"match[]": "http_requests_total"}),
        ("/api/v1/label/instance/values", {}),
        ("/api/v1/label/mode/values", {"match[]": 'node_cpu_seconds_total{cpu="1"}'}),
        ("/api/v1/label/nonexistent/values", {}),
        ("/api/v1/series", [("match[]", "node_load1"), ("start", f"{START}"), ("end", f"{END}")]),
    ],
)
def test_metadata_endpoints_match_prometheus(pair, path, params):
    prom, spy = pair
    want = _get(prom.url, path, params)
    got = _get(spy.url, path, params)
    assert got.status_code == want.status_code == 200
    w, g = _data(want), _data(got)
    if path == "/api/v1/labels" or path.endswith("/values"):
        assert g == w
    else:
        key = lambda d: json.dumps(d, sort_keys=True)
        assert sorted(g, key=key) == sorted(w, key=key)


@pytest.mark.parametrize(
    "path,params,status,error_type",
    [
        ("/api/v1/query", {"query": "sum(", "time": "1"}, 400, "bad_data"),
        ("/api/v1/query", {"query": "up", "time": "yesterday"}, 400, "bad_data"),
        ("/api/v1/query_range", {"query": "up", "start": "10", "end": "1", "step": "1"}, 400, "bad_data"),
        ("/api/v1/query_range", {"query": "up", "start": "1", "end": "10", "step": "0"}, 400, "bad_data"),
        ("/api/v1/query_range", {"query": "up", "start": "0", "end": "100000", "step": "1"}, 400, "bad_data"),
        ("/api/v1/series", {}, 400, "bad_data"),
        ("/api/v1/series", {"match[]": '{job=~".*"}'}, 400, "bad_data"),
        ("/api/v1/query", {"query": 'label_replace(vector(1), "x", "$1", "job", "(")', "time": "1"}, 422, "execution"),
    ],
)
def test_errors_have_prometheus_status_and_type(pair, path, params, status, error_type):
    prom, spy = pair
    want = _get(prom.url, path, params)
    got = _get(spy.url, path, params)
    assert (want.status_code, want.json()["errorType"]) == (status, error_type), want.text
    assert got.status_code == status, got.text
    body = got.json()
    assert body["status"] == "error" and body["errorType"] == error_type and body["error"]


def test_execution_error_is_422(pair):
    _, spy = pair
    # many-to-many matching is an execution error in both engines
    expr = "node_cpu_seconds_total + on(instance) node_cpu_seconds_total"
    r = _get(spy.url, "/api/v1/query", {"query": expr, "time": f"{T}"})
    assert r.status_code == 422 and r.json()["errorType"] == "execution"


def test_post_form_equals_get(pair):
    _, spy = pair
    params = {"query": "sum(node_load1)", "time": f"{T}"}
    g = _get(spy.url, "/api/v1/query", params)
    p = httpx.post(spy.url + "/api/v1/query", data=params, timeout=30)
    assert p.status_code == 200 and p.text == g.text


def test_grafana_datasource_calls(pair):
    """What Grafana's Prometheus data source sends when a user adds and browses it."""
    _, spy = pair
    r = _get(spy.url, "/api/v1/query", {"query": "1+1", "time": str(int(time.time()))})
    assert _data(r)["resultType"] == "scalar" and _data(r)["result"][1] == "2"
    info = _data(_get(spy.url, "/api/v1/status/buildinfo", {}))
    assert info["version"]
    labels = _data(httpx.post(spy.url + "/api/v1/labels", data={"start": START, "end": END}))
    assert "instance" in labels and "__name__" in labels
    series = _data(_get(spy.url, "/api/v1/series", {"match[]": "node_load1", "start": START, "end": END}))
    assert len(series) == 3
    values = _data(_get(spy.url, "/api/v1/label/__name__/values", {"start": START, "end": END}))
    assert "node_load1" in values
    meta = _data(_get(spy.url, "/api/v1/metadata", {}))
    assert isinstance(meta, dict)


def _promtool(*args: str) -> str:
    out = subprocess.run([peer_binary("promtool"), "query", *args], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("expr", ["node_load1", "sum by (instance) (rate(node_cpu_seconds_total[5m]))", "1+2"])
def test_promtool_query_same_output(pair, expr):
    prom, spy = pair
    t = f"{T:.3f}"
    want = sorted(_promtool("instant", f"--time={t}", prom.url, expr).splitlines())
    got = sorted(_promtool("instant", f"--time={t}", spy.url, expr).splitlines())
    _same_lines(got, want)
    rng = ["range", f"--start={START:.3f}", f"--end={END:.3f}", "--step=1m"]
    _same_lines(_promtool(*rng, spy.url, expr).splitlines(), _promtool(*rng, prom.url, expr).splitlines())


def _same_lines(got: list[str], want: list[str]) -> None:
    """promtool lines, equal but for the last digit of compensated sums."""
    assert len(got) == len(want), (got, want)
    num = re.compile(r"(?:=> )?(\S+) @\[")
    for g, w in zip(got, want):
        if g == w:
            continue
        gm, wm = num.search(g), num.search(w)
        assert gm and wm and _close(gm.group(1), wm.group(1)), (g, w)
        assert num.sub("", g) == num.sub("", w), (g, w)


def test_promtool_series_and_labels(pair):
    prom, spy = pair
    for args, tail in ((["series", "--match=node_load1"], []), (["labels"], ["instance"]), (["labels"], ["mode"])):
        got = _promtool(*args, spy.url, *tail).splitlines()
        want = _promtool(*args, prom.url, *tail).splitlines()
        assert sorted(got) == sorted(want) and got


def test_spyglass_query_cli_prints_what_promtool_prints(pair):
    prom, spy = pair
    import sys

    expr = "sum by (instance) (node_load1)"
    out = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "query", expr, "--server", spy.url, "--time", f"{T:.3f}",
         "--format", "promtool"], capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.returncode == 0, out.stderr
    want = _promtool("instant", f"--time={T:.3f}", prom.url, expr)
    assert sorted(out.stdout.splitlines()) == sorted(want.splitlines())
    table = subprocess.run(
        [sys.executable, "-m", "spyglass.cli", "query", expr, "--server", spy.url, "--time", f"{T:.3f}"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert table.returncode == 0 and "SERIES" in table.stdout and "10.0.0.1:9100" in table.stdout
