"""Differential check: the PromQL compliance corpus against real Prometheus (Debian 2.42).

The same demo-service data goes into Prometheus (``promtool tsdb
create-blocks-from openmetrics``, then ``prometheus`` on a free port over that
data directory) and into ``MemoryStorage``; each of the 539 expanded queries
runs as a range query on both and the matrices are compared (labels exact,
values within 1e-5 relative, NaN equal to NaN). Every remaining difference is
listed with its cause in ``compliance_differences.json``; the test fails on
any other difference, on a listed one that went away, or below 99% equal.
"""

from __future__ import annotations

import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from storage.memstore import MemoryStorage
from storage.promql import Engine, EngineOptions, PromQLError
from tests.storage.promql import compliance as c
from tests.util import free_port, peer_binary, wait_http

DIFFERENCES = Path(__file__).with_name("compliance_differences.json")


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory, shared_dir):
    data = c.demo_data()
    tmp = tmp_path_factory.mktemp("prom")
    om = tmp / "data.om"
    data.write_openmetrics(om)
    db = tmp / "tsdb"
    db.mkdir()
    subprocess.run(
        [
            peer_binary("promtool"),
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "-q",
            str(om),
            str(db),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    om.unlink()
    cfg = tmp / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 15s\n")
    port = free_port()
    proc = subprocess.Popen(
        [
            peer_binary("prometheus"),
            f"--config.file={cfg}",
            f"--storage.tsdb.path={db}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=100y",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=60)
        yield f"http://127.0.0.1:{port}", data
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def _ask_prometheus(client: httpx.Client, url: str, query: str) -> c.Outcome:
    r = client.get(
        f"{url}/api/v1/query_range",
        params={
            "query": query,
            "start": c.QUERY_START / 1000,
            "end": c.QUERY_END / 1000,
            "step": c.QUERY_STEP / 1000,
        },
    )
    return c.from_prometheus_json(r.json())


def _ask_spyglass(engine: Engine, store, query: str) -> c.Outcome:
    try:
        res = engine.range_query(store, query, c.QUERY_START, c.QUERY_END, c.QUERY_STEP)
    except PromQLError as e:
        return c.Outcome(str(e))
    return c.from_result(res)


@pytest.mark.peer
@pytest.mark.slow
def test_compliance_corpus_matches_prometheus(prometheus, shared_dir, capsys):
    url, data = prometheus
    cases = c.load_corpus(shared_dir)
    assert len(cases) == 539
    store = MemoryStorage()
    store.append(data.batch())
    engine = Engine(EngineOptions())
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(8) as pool:
        t0 = time.monotonic()
        refs = list(pool.map(lambda q: _ask_prometheus(client, url, q.query), cases))
        t_prom = time.monotonic() - t0
    t0 = time.monotonic()
    ours = [_ask_spyglass(engine, store, q.query) for q in cases]
    t_ours = time.monotonic() - t0
    differences = {}
    for case, ref, got in zip(cases, refs, ours):
        problem = c.compare(ref, got, case.should_fail)
        if problem:
            differences[case.query] = problem
    known = json.loads(DIFFERENCES.read_text())
    equal = len(cases) - len(differences)
    with capsys.disabled():
        print(
            f"\ncompliance corpus: {equal}/{len(cases)} equal ({100 * equal / len(cases):.1f}%), "
            f"{len(differences)} known differences; "
            f"Prometheus {t_prom:.1f}s, Spyglass {t_ours:.1f}s"
        )
    unexpected = {q: p for q, p in differences.items() if q not in known}
    gone = [q for q in known if q not in differences]
    assert not unexpected, "differences not listed in compliance_differences.json:\n" + "\n".join(
        f"{q}\n    {p}" for q, p in unexpected.items()
    )
    assert not gone, f"listed differences that no longer differ (remove them): {gone}"
    assert all(v.strip() for v in known.values()), "every listed difference needs its cause"
    assert equal / len(cases) >= 0.99


def test_template_expander():
    assert (
        c.render("{{.a}}_over_time(x[{{ .b }}])", {"a": "sum", "b": "5m"}) == "sum_over_time(x[5m])"
    )
    assert c.render("{{.missing}}", {}) == "<no value>"
    with pytest.raises(c.TemplateError):
        c.render("{{if .a}}x{{end}}", {"a": "1"})
    cases = c.expand([{"query": "{{.x}}({{.y}})", "variant_args": ["simpleAggrOp", "range"]}])
    assert len(cases) == 7 * 6


def test_corpus_expands_to_539_queries(shared_dir):
    cases = c.load_corpus(shared_dir)
    assert len(cases) == 539
    assert sum(x.should_fail for x in cases) == 5
    assert "rate(demo_cpu_usage_seconds_total[1h])" in {x.query for x in cases}
