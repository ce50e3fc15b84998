"""The differential check against real Prometheus: data, query corpus, comparison.

The data imitates the PromLabs demo service that the PromQL compliance corpus
(``shared/conformance/promql-compliance/promql-test-queries.yml``) queries:
three instances scraped every 5 s, with CPU counters (one of them reset),
memory gauges, disk growth, batch-job timestamps, an intermittent metric and a
classic request-duration histogram. Sample timestamps sit off the 10 s query
grid, so that Prometheus 2.42's left-closed range windows and 3.x's left-open
ones select the same samples.

The corpus is a list of Go ``text/template`` strings with ``variant_args``; the
expander below renders their cross product (the ``{{.name}}`` actions are all
the corpus uses) into the 539 queries that upstream's tester runs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from storage.interface import SampleBatch
from storage.labels import Labels

# The tester's variant values (prometheus/compliance promql/testcases/expand.go).
VARIANT_VALUES: dict[str, list[str]] = {
    "range": ["1s", "15s", "1m", "5m", "15m", "1h"],
    "offset": ["1m", "5m", "10m"],
    "simpleAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar"],
    "simpleTimeAggrOp": ["sum", "avg", "max", "min", "count", "stddev", "stdvar", "absent", "last"],
    "topBottomOp": ["topk", "bottomk"],
    "quantile": ["-0.5", "0.1", "0.5", "0.75", "0.95", "0.90", "0.99", "1", "1.5"],
    "arithBinOp": ["+", "-", "*", "/", "%", "^"],
    "compBinOp": ["==", "!=", "<", ">", "<=", ">="],
    "binOp": ["+", "-", "*", "/", "%", "^", "==", "!=", "<", ">", "<=", ">="],
    "simpleMathFunc": ["abs", "ceil", "floor", "exp", "sqrt", "ln", "log2", "log10", "round"],
    "extrapolatedRateFunc": ["delta", "rate", "increase"],
    "clampFunc": ["clamp_min", "clamp_max"],
    "instantRateFunc": ["idelta", "irate"],
    "dateFunc": ["day_of_month", "day_of_week", "days_in_month", "hour", "minute", "month", "year"],
    "smoothingFactor": ["0.1", "0.5", "0.8"],
    "trendFactor": ["0.1", "0.5", "0.8"],
}

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)


class TemplateError(ValueError):
    pass


def render(template: str, data: dict[str, str]) -> str:
    """Render a Go ``text/template`` made of text and ``{{.field}}`` actions."""

    def sub(m: re.Match) -> str:
        action = m.group(1)
        if not re.fullmatch(r"\.[A-Za-z_][A-Za-z0-9_]*", action):
            raise TemplateError(f"unsupported template action {{{{{action}}}}}")
        name = action[1:]
        if name not in data:
            # Go renders a missing map key as "<no value>"
            return "<no value>"
        return data[name]

    return _ACTION.sub(sub, template)


@dataclass(frozen=True)
class Case:
    query: str
    should_fail: bool


def expand(cases: list[dict]) -> list[Case]:
    out: list[Case] = []
    for tc in cases:
        names = list(tc.get("variant_args") or [])
        combos: list[dict[str, str]] = [{}]
        for name in names:
            combos = [{**c, name: v} for c in combos for v in VARIANT_VALUES[name]]
        for c in combos:
            out.append(Case(render(tc["query"], c), bool(tc.get("should_fail", False))))
    return out


def load_corpus(shared: Path) -> list[Case]:
    data = yaml.safe_load(
        (shared / "conformance" / "promql-compliance" / "promql-test-queries.yml").read_text()
    )
    return expand(data["test_cases"])


# --- data -------------------------------------------------------------------------

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
SCRAPE_MS = 5_000
DURATION_MS = 100 * 60_000
# Query window: 10 minutes ending 90 minutes after T0, every 10 s (the tester's defaults).
QUERY_END = T0 + 90 * 60_000
QUERY_START = QUERY_END - 10 * 60_000
QUERY_STEP = 10_000
INSTANCES = ["demo.promlabs.com:10000", "demo.promlabs.com:10001", "demo.promlabs.com:10002"]
# Off-grid phases: never a multiple of the 10 s step, so window edges never hit a sample.
PHASES = [1_234, 2_345, 3_456]
BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, math.inf]
API_COMBOS = [
    ("GET", "/api/foo", "200"),
    ("GET", "/api/foo", "500"),
    ("POST", "/api/bar", "200"),
    ("GET", "/api/bar", "200"),
]


@dataclass
class DemoData:
    """Series as (labels, timestamps ms, values) triples."""

    series: list[tuple[Labels, np.ndarray, np.ndarray]]

    @property
    def num_samples(self) -> int:
        return sum(len(t) for _, t, _ in self.series)

    def batch(self) -> SampleBatch:
        labels = [s[0] for s in self.series]
        idx = np.concatenate(
            [np.full(len(t), i, np.int64) for i, (_, t, _) in enumerate(self.series)]
        )
        ts = np.concatenate([t for _, t, _ in self.series])
        vs = np.concatenate([v for _, _, v in self.series])
        return SampleBatch(labels, idx, ts, vs)

    def write_openmetrics(self, path: Path) -> None:
        """The data as an OpenMetrics text file for ``promtool tsdb create-blocks-from``,
        ordered by time as the tool expects."""
        rows = []
        for labels, ts, vs in self.series:
            name = labels.name
            rest = ",".join(f'{n}="{v}"' for n, v in labels.items() if n != "__name__")
            prefix = f"{name}{{{rest}}} "
            for t, v in zip(ts.tolist(), vs.tolist()):
                rows.append((t, f"{prefix}{v!r} {t // 1000}.{t % 1000:03d}\n"))
        rows.sort(key=lambda r: r[0])
        with open(path, "w") as f:
            names = sorted({lb.name for lb, _, _ in self.series})
            f.writelines(f"# TYPE {n} unknown\n" for n in names)
            f.writelines(r[1] for r in rows)
            f.write("# EOF\n")


def demo_data(seed: int = 42) -> DemoData:
    rng = np.random.default_rng(seed)
    n = DURATION_MS // SCRAPE_MS
    out: list[tuple[Labels, np.ndarray, np.ndarray]] = []

    def add(name: str, labels: dict, ts: np.ndarray, vs: np.ndarray) -> None:
        out.append(
            (
                Labels.from_dict({"__name__": name, **labels}),
                ts.astype(np.int64),
                np.asarray(vs, np.float64),
            )
        )

    for i, inst in enumerate(INSTANCES):
        ts = T0 + PHASES[i] + np.arange(n, dtype=np.int64) * SCRAPE_MS
        base = {"instance": inst, "job": "demo"}
        add("demo_num_cpus", base, ts, np.full(n, [4, 8, 2][i]))
        for j, typ in enumerate(["buffers", "cached", "free", "used"]):
            level = [1.2e8, 3.5e8, 8.0e8, 2.1e9][j] * (1 + 0.1 * i)
            walk = np.cumsum(rng.normal(0, level * 0.002, n))
            add("demo_memory_usage_bytes", {**base, "type": typ}, ts, np.round(level + walk))
        for j, mode in enumerate(["idle", "system", "user"]):
            rate = [3.2, 0.4, 1.1][j] * (i + 1)
            inc = rate * 5 * (1 + rng.normal(0, 0.1, n)).clip(0.2)
            counter = np.round(np.cumsum(inc) + 1000 * (j + 1), 3)
            if i == 2:  # a process restart: the counter starts again from zero
                k = n // 2 + 17
                counter[k:] = np.round(np.cumsum(inc[k:]), 3)
            add("demo_cpu_usage_seconds_total", {**base, "mode": mode}, ts, counter)
        disk = 5e10 * (i + 1) + np.cumsum(rng.normal(3e5, 1e5, n))
        add("demo_disk_usage_bytes", base, ts, np.round(disk))
        add("demo_disk_total_bytes", base, ts, np.full(n, 1e11 * (i + 1)))
        # batch job: succeeds every 3-5 minutes; the gauge holds the last success time
        last = np.empty(n)
        t_success = (T0 - 90_000) / 1000.0
        next_run = T0
        for k, t in enumerate(ts.tolist()):
            if t >= next_run:
                t_success = round(t / 1000.0, 3)
                next_run = t + int(rng.integers(180, 300)) * 1000
            last[k] = t_success
        add("demo_batch_last_success_timestamp_seconds", base, ts, last)
        # present for 3 minutes out of every 10 (no stale markers: the backfill cannot write them)
        on = ((ts - T0) // 60_000 + 2 * i) % 10 < 3
        add("demo_intermittent_metric", base, ts[on], np.full(int(on.sum()), float(i + 1)))
        for method, path, status in API_COMBOS:
            lab = {**base, "method": method, "path": path, "status": status}
            per_scrape = rng.poisson(30 if status == "200" else 3, n)
            mu = -3.0 if status == "200" else -1.0
            counts = np.zeros((n, len(BUCKETS)))
            total_sum = np.zeros(n)
            for k in range(n):
                obs = rng.lognormal(mu, 1.0, per_scrape[k])
                counts[k] = [np.count_nonzero(obs <= b) for b in BUCKETS]
                total_sum[k] = obs.sum()
            cum = np.cumsum(counts, axis=0)
            cum_sum = np.round(np.cumsum(total_sum), 6)
            if i == 2:
                k = n // 2 + 17
                cum[k:] = np.cumsum(counts[k:], axis=0)
                cum_sum[k:] = np.round(np.cumsum(total_sum[k:]), 6)
            for b, le in enumerate(BUCKETS):
                le_text = "+Inf" if le == math.inf else repr(float(le)) if le < 1 else f"{le:g}"
                add(
                    "demo_api_request_duration_seconds_bucket",
                    {**lab, "le": le_text},
                    ts,
                    cum[:, b],
                )
            add("demo_api_request_duration_seconds_sum", lab, ts, cum_sum)
            add("demo_api_request_duration_seconds_count", lab, ts, cum[:, -1])
    return DemoData(out)


# --- comparison --------------------------------------------------------------------

REL_TOLERANCE = 1e-5


@dataclass
class Outcome:
    """What one system answered: an error text, or series {labels: (ts, values)}."""

    error: str | None
    series: dict | None = None


def from_prometheus_json(body: dict) -> Outcome:
    if body.get("status") != "success":
        return Outcome(body.get("error", "error"))
    data = body["data"]
    series = {}
    for s in data["result"]:
        labels = Labels.from_dict(s["metric"])
        ts = np.array([round(float(p[0]) * 1000) for p in s["values"]], np.int64)
        vs = np.array([float(p[1]) for p in s["values"]], np.float64)
        series[labels] = (ts, vs)
    return Outcome(None, series)


def from_result(res) -> Outcome:
    return Outcome(
        None, {s.labels: (np.asarray(s.timestamps), np.asarray(s.values)) for s in res.value}
    )


def values_equal(a: np.ndarray, b: np.ndarray) -> bool:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        exact = a == b
        close = np.abs(a - b) <= REL_TOLERANCE * np.maximum(np.abs(a), np.abs(b))
    return bool(np.all(both_nan | exact | close))


def compare(ref: Outcome, got: Outcome, should_fail: bool) -> str | None:
    """None when equal, else what differs."""
    if should_fail and (ref.error is None or got.error is None):
        return (
            "expected both to fail: "
            + (f"Prometheus: {ref.error}" if ref.error else "Prometheus succeeded")
            + "; "
            + (f"Spyglass: {got.error}" if got.error else "Spyglass succeeded")
        )
    if ref.error is not None or got.error is not None:
        if ref.error is not None and got.error is not None:
            return None
        return f"only one failed: Prometheus: {ref.error!r}, Spyglass: {got.error!r}"
    if set(ref.series) != set(got.series):
        only_ref = sorted(set(ref.series) - set(got.series))[:3]
        only_got = sorted(set(got.series) - set(ref.series))[:3]
        return f"label sets differ: only in Prometheus {only_ref}, only in Spyglass {only_got}"
    for labels, (rt, rv) in ref.series.items():
        gt, gv = got.series[labels]
        if len(rt) != len(gt) or not np.array_equal(rt, gt):
            return f"{labels}: timestamps differ ({len(rt)} vs {len(gt)} points)"
        if not values_equal(rv, gv):
            k = int(
                np.flatnonzero(
                    ~(
                        (np.isnan(rv) & np.isnan(gv))
                        | np.isclose(rv, gv, rtol=REL_TOLERANCE, atol=0)
                    )
                )[0]
            )
            return f"{labels}: at t={int(rt[k])} Prometheus {rv[k]!r} vs Spyglass {gv[k]!r}"
    return None
