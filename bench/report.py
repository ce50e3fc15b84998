"""One shape for every benchmark's figures, so `make bench` can print and record them.

A benchmark module ``bench/bench_<name>.py`` has ``run(quick: bool) -> list[Row]``.
Each row is one figure measured for Spyglass and for the peer in the same run;
``ratio`` is Spyglass / peer, and ``goal`` says which way is better::

    Row("remote-write ingest, 2000 series x 1", "samples/s", 71000, 67000, goal=">= 1.0")
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

OUT_DIR = os.path.join(os.path.dirname(__file__), "out")


@dataclass
class Row:
    figure: str
    unit: str
    spyglass: float
    peer: float | None
    goal: str = ""  # e.g. ">= 1.0" (higher is better) or "<= 0.75"
    peer_name: str = "prometheus 2.42"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer in (None, 0):
            return None
        return self.spyglass / self.peer

    @property
    def met(self) -> bool | None:
        r = self.ratio
        if r is None or not self.goal:
            return None
        op, target = self.goal.split()
        return r >= float(target) if op == ">=" else r <= float(target)


def fmt(x: float | None) -> str:
    if x is None:
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.3g}"


def table(title: str, rows: list[Row]) -> str:
    lines = [
        f"### {title}",
        "",
        "| figure | unit | Spyglass | peer | ratio | goal | met |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = {True: "yes", False: "**no**", None: "–"}[r.met]
        lines.append(
            f"| {r.figure} | {r.unit} | {fmt(r.spyglass)} | {fmt(r.peer)} ({r.peer_name}) "
            f"| {fmt(r.ratio)} | {r.goal or '–'} | {met} |"
        )
        if r.note:
            lines[-1] += f" {r.note}"
    return "\n".join(lines) + "\n"


def save(name: str, rows: list[Row]) -> str:
    os.makedirs(OUT_DIR, exist_ok=True)
    path = os.path.join(OUT_DIR, f"{name}.json")
    with open(path, "w") as f:
        json.dump([asdict(r) | {"ratio": r.ratio, "met": r.met} for r in rows], f, indent=1)
    return path
