"""The experimental ``info()`` function: enrich series with the data labels of
info metrics (``target_info`` by default) that share their identifying labels
(``instance``, ``job``).

    info(http_requests_total, {k8s_cluster_name=~".+"})

For every step, each info metric contributes the series with the newest sample
for the base series' identifying labels; its labels other than ``__name__``
(only those named in the selector, when one is given) are added unless the base
series already has them. Info series themselves pass through unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import re2

from storage.labels import METRIC_NAME, Labels, Matcher, MatchOp
from storage.promql import ast
from storage.promql.errors import EvaluationError
from storage.promql.grid import StepVector, merge_same_labels

if TYPE_CHECKING:
    from storage.promql.evaluator import Evaluator

TARGET_INFO = "target_info"
IDENTIFYING_LABELS = ("instance", "job")


def effective_name_matchers(matchers: list[Matcher]) -> list[Matcher]:
    """Which metric names count as info metrics: the given ``__name__`` matchers when
    one of them is positive (= or =~); only negative ones are narrowed to ``*_info``."""
    if any(m.op in (MatchOp.EQUAL, MatchOp.REGEX) for m in matchers):
        return matchers
    if matchers:
        return [Matcher(MatchOp.REGEX, METRIC_NAME, ".+_info"), *matchers]
    return [Matcher(MatchOp.EQUAL, METRIC_NAME, TARGET_INFO)]


def _time_and_offset(expr: ast.Expr) -> tuple[ast.AtModifier | None, int]:
    """The ``@`` and offset of the first selector of the base expression (plus the
    offsets of subqueries around it while no ``@`` is found), which the info
    series are read with."""

    def find(node, path):
        if isinstance(node, ast.VectorSelector):
            return node, path
        for child in ast.children(node):
            hit = find(child, path + [node])
            if hit is not None:
                return hit
        return None

    hit = find(expr, [])
    if hit is None:
        return None, 0
    vs, path = hit
    at, offset = vs.at, vs.offset_ms
    for node in reversed(path):
        if at is not None:
            break
        if isinstance(node, ast.Subquery):
            offset += node.offset_ms
            at = node.at
    return at, offset


def _identity(ls: Labels, name: str) -> tuple:
    return (name,) + tuple(ls.get(n) for n in IDENTIFYING_LABELS)


def evaluate_info(ev: Evaluator, c: ast.Call) -> StepVector:
    base = ev.vector(c.args[0])
    T = ev.T
    selector = c.args[1] if len(c.args) > 1 else None
    data_matchers: dict[str, list[Matcher]] = {}
    if selector is not None:
        for m in selector.matchers:
            data_matchers.setdefault(m.name, []).append(m)
        name_matchers = data_matchers.get(METRIC_NAME, [])
    else:
        name_matchers = [Matcher(MatchOp.EQUAL, METRIC_NAME, TARGET_INFO)]
    effective = effective_name_matchers(name_matchers)
    ignored = np.array([all(m.matches(ls.name) for m in effective) for ls in base.labels], bool)
    label_filters = {n: ms for n, ms in data_matchers.items() if n != METRIC_NAME}

    # the info series that can match: same identifying label values, selected data labels
    id_values: dict[str, set[str]] = {}
    has_points = base.present.any(axis=1)
    for ls, ign, h in zip(base.labels, ignored.tolist(), has_points.tolist()):
        if ign or not h:
            continue
        for n in IDENTIFYING_LABELS:
            v = ls.get(n)
            if v:
                id_values.setdefault(n, set()).add(v)
    info = StepVector.empty(T)
    if id_values:
        matchers = [
            Matcher(MatchOp.REGEX, n, "|".join(re2.escape(v) for v in sorted(vs)))
            for n, vs in sorted(id_values.items())
        ]
        matchers += [m for ms in label_filters.values() for m in ms]
        matchers += effective_name_matchers(name_matchers)
        at, offset = _time_and_offset(c.args[0])
        info = ev.vector_selector(ast.VectorSelector(c.pos, "", tuple(matchers), offset, at))

    # per identity (info metric name + identifying labels) and step: the info
    # series with the newest sample
    ident_index: dict[tuple, int] = {}
    ident_of = np.empty(len(info), np.int64)
    for i, ls in enumerate(info.labels):
        ident_of[i] = ident_index.setdefault(_identity(ls, ls.name), len(ident_index))
    chosen = np.full((len(ident_index), T), -1, np.int64)
    newest = np.full((len(ident_index), T), np.iinfo(np.int64).min)
    sample_ts = (
        info.sample_ts if info.sample_ts is not None else np.zeros(info.values.shape, np.int64)
    )
    for i in range(len(info)):
        g = ident_of[i]
        p = info.present[i]
        t = sample_ts[i]
        tie = p & (chosen[g] >= 0) & (t == newest[g])
        if tie.any():
            j = int(np.flatnonzero(tie)[0])
            other = info.labels[chosen[g, j]]
            raise EvaluationError(
                f"found duplicate series for info metric: existing {other} @ {int(t[j])}, "
                f"new {info.labels[i]} @ {int(t[j])}"
            )
        newer = p & (t > newest[g])
        chosen[g] = np.where(newer, i, chosen[g])
        newest[g] = np.where(newer, t, newest[g])

    info_names = sorted({ls.name for ls in info.labels})
    accept_missing = all(m.matches("") for ms in label_filters.values() for m in ms)
    out_labels: list[Labels] = []
    rows: list[tuple[int, np.ndarray]] = []
    for b, ls in enumerate(base.labels):
        if ignored[b]:
            out_labels.append(ls)
            rows.append((b, base.present[b]))
            continue
        idents = [ident_index.get(_identity(ls, n)) for n in info_names]
        idents = [g for g in idents if g is not None]
        picks = chosen[idents] if idents else np.full((0, T), -1, np.int64)
        combos, which = (
            np.unique(picks.T, axis=0, return_inverse=True) if T else (np.zeros((0, 0)), [])
        )
        which = np.asarray(which).reshape(-1)
        for k, combo in enumerate(combos):
            steps = (which == k) & base.present[b]
            if not steps.any():
                continue
            added: dict[str, str] = {}
            for i in combo.tolist():
                if i < 0:
                    continue
                for n, v in info.labels[i].items():
                    if n == METRIC_NAME or (label_filters and n not in label_filters):
                        continue
                    if added.get(n, v) != v:
                        raise EvaluationError(f"conflicting label: {n}")
                    if ls.has(n):
                        continue
                    added[n] = v
            if (combo < 0).all() and not accept_missing:
                continue
            out_labels.append(ls.updated(added) if added else ls)
            rows.append((b, steps))
    if not rows:
        return StepVector.empty(T)
    idx = np.array([b for b, _ in rows], np.int64)
    present = np.stack([p for _, p in rows])
    out = StepVector(out_labels, base.values[idx], present, base.drop_name[idx])
    if len(set(out_labels)) < len(out_labels):
        out = merge_same_labels(out)
    return out.nonempty()
