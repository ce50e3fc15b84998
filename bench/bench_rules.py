"""Rule evaluation: the kube-prometheus rules over the same data in Spyglass and Prometheus 2.42.

The 234 rules of the corpus's kube-prometheus manifests (their ``spec.groups``,
extracted to a plain rule file) are evaluated every 30 s over 10,000 series
(``bench_promql``'s node-exporter / cAdvisor / API-server-like data, generated
to end just before the run so that evaluations at "now" see it). Prometheus gets
the data by ``promtool tsdb create-blocks-from openmetrics`` and the rules in
its config; its figure is the sum of ``prometheus_rule_group_last_duration_seconds``
over the groups once they have all run. Spyglass gets the same data in its
embedded TSDB and evaluates the same groups with ``alerting.rules`` at the
same timestamps; its figure is the time of one round of all groups (the groups
run one after another here, so it is also the CPU of a round).

    python -m bench rules [--quick]
"""

from __future__ import annotations

import glob
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from bench.report import Row

INTERVAL_S = 30


def _corpus_dir() -> Path:
    from tests.util import SHARED

    return SHARED / "corpus" / "alert-rules" / "kube-prometheus" / "manifests"


def write_rules(path: Path) -> int:
    groups = []
    for f in sorted(glob.glob(str(_corpus_dir() / "*.yaml"))):
        doc = yaml.safe_load(Path(f).read_text())
        groups.extend(doc["spec"]["groups"])
    for g in groups:
        g["interval"] = f"{INTERVAL_S}s"
    path.write_text(yaml.safe_dump({"groups": groups}))
    return sum(len(g["rules"]) for g in groups)


def _shifted(series, shift_ms: int):
    for labels, ts, vs in series:
        yield labels, ts + shift_ms, vs


def run(quick: bool) -> list[Row]:
    from bench._procs import ServerProcess
    from bench.bench_promql import HOUR, _promtool, generate, load_spyglass, write_openmetrics

    series_target, hours, rounds = (1_000, 1, 3) if quick else (10_000, 1, 5)
    # bench_promql's data starts at a fixed time: move it to end a minute ago
    t0 = 1_700_000_000_000 - (1_700_000_000_000 % (2 * HOUR))
    now_ms = int(time.time() * 1000)
    shift = (now_ms - 60_000) - (t0 + hours * HOUR)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-rules-") as tmp:
        tmp = Path(tmp)
        rules = tmp / "rules.yml"
        n_rules = write_rules(rules)
        n_groups = len(yaml.safe_load(rules.read_text())["groups"])

        # --- Spyglass: the same groups over its TSDB, evaluated at "now" ---------------------
        load_spyglass(tmp / "spyglass", _shifted(generate(series_target, hours), shift))
        ours = _spyglass_rounds(tmp / "spyglass", rules, rounds)

        # --- Prometheus: same data, rules in its config ---------------------------------------
        prom = ServerProcess.prometheus(tmp / "prometheus")
        om = tmp / "data.om"
        write_openmetrics(om, _shifted(generate(series_target, hours), shift))
        subprocess.run([_promtool(), "tsdb", "create-blocks-from", "openmetrics", "-q", str(om),
                        str(prom.tsdb_dir)], check=True, capture_output=True)
        om.unlink()
        cfg = prom.workdir / "prometheus.yml"
        cfg.write_text(
            f"global:\n  scrape_interval: 1h\n  evaluation_interval: {INTERVAL_S}s\n"
            f"rule_files: [{rules}]\n"
        )
        with prom:
            theirs = _prometheus_rounds(prom, rounds)
    note = f"{n_rules} rules in {n_groups} groups, {series_target:,} series, every {INTERVAL_S} s, {rounds} rounds"
    rows.append(Row("kube-prometheus rules, one evaluation round (median)", "ms",
                    statistics.median(ours) * 1000, statistics.median(theirs) * 1000, goal="<= 1.0",
                    note=note))
    rows.append(Row("kube-prometheus rules, one evaluation round (max)", "ms",
                    max(ours) * 1000, max(theirs) * 1000, goal="<= 1.0"))
    return rows


def _spyglass_rounds(db_path: Path, rules: Path, rounds: int) -> list[float]:
    from prometheus_client import CollectorRegistry

    from alerting.rules.manager import Manager, ManagerOptions
    from alerting.rules.rule import engine_query_func
    from storage.promql import Engine, EngineOptions
    from storage.tsdb import TSDB, TSDBOptions

    db = TSDB.open(str(db_path), TSDBOptions(max_future_skew_ms=0, retention_ms=0))
    try:
        engine = Engine(EngineOptions(), registry=CollectorRegistry())
        mgr = Manager(ManagerOptions(query_func=engine_query_func(engine, db), appendable=db, queryable=db,
                                     registry=CollectorRegistry()))
        mgr.update([str(rules)])
        groups = mgr.rule_groups()
        out = []
        ts = int(time.time() * 1000)
        for i in range(rounds):
            t = time.perf_counter()
            for g in groups:
                g.eval(ts + i * INTERVAL_S * 1000)
            out.append(time.perf_counter() - t)
        return out
    finally:
        db.close()


def _prometheus_rounds(prom, rounds: int) -> list[float]:
    """Sum of the groups' last evaluation durations, sampled once per round after all ran."""
    out = []
    seen_eval = None
    deadline = time.monotonic() + (rounds + 3) * INTERVAL_S + 60
    while len(out) < rounds and time.monotonic() < deadline:
        body = prom.get_json("/api/v1/rules")
        groups = body["data"]["groups"]
        last = [g["lastEvaluation"] for g in groups]
        # count a round once every group has run again since the previous sample
        ran = bool(groups) and all(not x.startswith("0001") for x in last) and last != seen_eval
        if ran and (seen_eval is None or all(a != b for a, b in zip(last, seen_eval))):
            out.append(sum(float(g["evaluationTime"]) for g in groups))
            seen_eval = last
        time.sleep(1.0)
    if not out:
        raise RuntimeError("Prometheus evaluated no rules in time")
    return out


if __name__ == "__main__":
    from bench.report import table

    print(table("rules", run("--quick" in sys.argv)))
