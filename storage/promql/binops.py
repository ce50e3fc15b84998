"""Binary operators: arithmetic, comparisons and set operators, with vector matching.

Both sides are whole step grids. Series are matched by their signature (the
``on``/``ignoring`` labels); for every signature and step the "one" side has at
most one series, found with one scatter, so each "many"-side cell looks its
partner up in a (signature, step) table instead of looping over steps::

    out = vector_binop("/", lhs, rhs, matching, return_bool=False)
"""

from __future__ import annotations

import numpy as np

from storage.labels import METRIC_NAME, Labels
from storage.promql import ast
from storage.promql.errors import EvaluationError
from storage.promql.grid import (
    METADATA_LABELS,
    LabelProjector,
    StepVector,
    group_rows,
    merge_same_labels,
)


def arith(op: str, a, b):
    """Elementwise value of ``a op b`` for the arithmetic operators, as Go computes it."""
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return np.true_divide(a, b)
        if op == "%":
            return np.fmod(a, b)
        if op == "^":
            return go_pow(a, b)
        if op == "atan2":
            return np.arctan2(a, b)
    raise EvaluationError(f"operator {op!r} not allowed for vector/scalar arithmetic")


def go_pow(a, b):
    """``math.Pow`` of Go: like C ``pow`` except that pow(-1, ±Inf) is 1 in both,
    and 1 ** NaN is 1; numpy follows C99 here, so only NaN bases differ."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    out = np.power(a, b)
    # Go: Pow(x, 0) = 1 for any x (also NaN); Pow(1, y) = 1 for any y (also NaN).
    out = np.where(b == 0, 1.0, out)
    out = np.where(a == 1, 1.0, out)
    return out


def compare(op: str, a, b):
    with np.errstate(invalid="ignore"):
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
        if op == ">":
            return a > b
        if op == "<":
            return a < b
        if op == ">=":
            return a >= b
        if op == "<=":
            return a <= b
    raise EvaluationError(f"unknown comparison {op!r}")


def scalar_binop(op: str, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if op in ast.COMPARISON_OPS:
        return compare(op, a, b).astype(np.float64)
    return arith(op, a, b)


def vector_scalar_binop(
    op: str, v: StepVector, s: np.ndarray, scalar_left: bool, return_bool: bool
) -> StepVector:
    sv = s[None, :]
    if op in ast.COMPARISON_OPS:
        keep = compare(op, sv, v.values) if scalar_left else compare(op, v.values, sv)
        if return_bool:
            return StepVector(
                v.labels,
                keep.astype(np.float64),
                v.present.copy(),
                np.ones(len(v), bool),
                None,
                v.ordered,
            )
        return StepVector(
            v.labels, v.values, v.present & keep, v.drop_name, v.sample_ts, v.ordered
        ).nonempty()
    values = arith(op, sv, v.values) if scalar_left else arith(op, v.values, sv)
    return StepVector(v.labels, values, v.present.copy(), np.ones(len(v), bool), None, v.ordered)


class Signatures:
    """Signature ids of the series on both sides of a vector operation."""

    def __init__(self, lhs: list[Labels], rhs: list[Labels], m: ast.VectorMatching):
        index: dict[tuple, int] = {}
        names = set(m.labels)
        if not m.on:
            names.add(METRIC_NAME)
        sig = LabelProjector(names, keep=m.on)

        def ids(side: list[Labels]) -> np.ndarray:
            # a list and one conversion: numpy item assignment is the slow part
            out = [index.setdefault(sig(ls), len(index)) for ls in side]
            return np.fromiter(out, np.int64, len(out))

        self.lhs = ids(lhs)
        self.rhs = ids(rhs)
        self.count = len(index)
        self.keys = list(index)


def _presence(ids: np.ndarray, present: np.ndarray, count: int) -> np.ndarray:
    """How many series of each signature are present at each step."""
    return group_rows(np.add, ids, present.astype(np.int32), count)


def set_binop(op: str, lhs: StepVector, rhs: StepVector, m: ast.VectorMatching) -> StepVector:
    T = lhs.num_steps
    if len(lhs) == 0 and op in ("and", "unless") or len(rhs) == 0 and op == "and":
        return StepVector.empty(T)
    sig = Signatures(lhs.labels, rhs.labels, m)
    if op == "and":
        have = _presence(sig.rhs, rhs.present, sig.count) > 0
        present = lhs.present & have[sig.lhs]
        return StepVector(lhs.labels, lhs.values, present, lhs.drop_name, lhs.sample_ts).nonempty()
    if op == "unless":
        have = _presence(sig.rhs, rhs.present, sig.count) > 0
        present = lhs.present & ~have[sig.lhs]
        return StepVector(lhs.labels, lhs.values, present, lhs.drop_name, lhs.sample_ts).nonempty()
    if op == "or":
        have = _presence(sig.lhs, lhs.present, sig.count) > 0
        rpresent = rhs.present & ~have[sig.rhs]
        labels = list(lhs.labels) + list(rhs.labels)
        values = np.concatenate([lhs.values, rhs.values]) if len(labels) else np.empty((0, T))
        present = np.concatenate([lhs.present, rpresent]) if len(labels) else np.zeros((0, T), bool)
        drop = np.concatenate([lhs.drop_name, rhs.drop_name])
        ts = None
        if lhs.sample_ts is not None and rhs.sample_ts is not None:
            ts = np.concatenate([lhs.sample_ts, rhs.sample_ts])
        out = StepVector(labels, values, present, drop, ts).nonempty()
        return merge_same_labels(out)
    raise EvaluationError(f"unknown set operator {op}")


def _duplicate_error(
    side_labels: list[Labels], rows: np.ndarray, m: ast.VectorMatching, one_side: str
) -> EvaluationError:
    from storage.promql.annotations import go_labels

    a, b = (go_labels(side_labels[i]) for i in rows[:2])
    if a > b:
        a, b = b, a
    first = side_labels[rows[0]]
    if m.on:
        group = first.keep(*m.labels)
    else:
        group = first.without(METRIC_NAME, *m.labels)
    return EvaluationError(
        f"found duplicate series for the match group {go_labels(group)} on the {one_side} "
        "hand-side of the "
        f"operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique "
        "on one side"
    )


def _result_labels(many: Labels, one: Labels, op: str, m: ast.VectorMatching) -> Labels:
    d = many.to_dict()
    if op in ast.ARITHMETIC_OPS:
        for n in METADATA_LABELS:
            d.pop(n, None)
    if m.card == "one-to-one":
        if m.on:
            d = {n: v for n, v in d.items() if n in m.labels}
        else:
            for n in m.labels:
                d.pop(n, None)
    for n in m.include:
        v = one.get(n)
        if v:
            d[n] = v
        else:
            d.pop(n, None)
    return Labels.from_dict(d)


def _match_labels(ls: Labels, m: ast.VectorMatching) -> Labels:
    """Prometheus's ``MatchLabels``: the labels a fill value's stand-in series gets."""
    if m.on:
        return ls.keep(*m.labels)
    return ls.without(METRIC_NAME, *m.labels)


def vector_binop(
    op: str, lhs: StepVector, rhs: StepVector, m: ast.VectorMatching, return_bool: bool
) -> StepVector:
    """Arithmetic or comparison between two vectors (one-to-one, many-to-one,
    one-to-many), with the experimental ``fill()`` modifiers."""
    T = lhs.num_steps
    if (len(lhs) == 0 or len(rhs) == 0) and m.fill_lhs is None and m.fill_rhs is None:
        # nothing can match (and no duplicate can be found): most rule
        # expressions meet an empty side on a typical cluster
        return StepVector.empty(T)
    sig = Signatures(lhs.labels, rhs.labels, m)
    swap = m.card == "one-to-many"
    many, one = (rhs, lhs) if swap else (lhs, rhs)
    many_sig, one_sig = (sig.rhs, sig.lhs) if swap else (sig.lhs, sig.rhs)
    # As in Prometheus, an unmatched "many" element is paired with the right fill
    # and an unmatched "one" element with the left fill, also after group_right swaps.
    fill_many, fill_one = m.fill_rhs, m.fill_lhs
    many_any = many.present.any(axis=0)
    one_any = one.present.any(axis=0)
    if fill_many is None and fill_one is None:
        both = many_any & one_any  # Prometheus skips steps where a side is empty
    else:
        both = many_any | one_any

    one_count = _presence(one_sig, one.present, sig.count)
    dup = (one_count > 1) & both[None, :]
    if dup.any():
        g, t = np.argwhere(dup)[0]
        rows = np.flatnonzero((one_sig == g) & one.present[:, t])
        raise _duplicate_error(one.labels, rows, m, "left" if swap else "right")
    # partner[g, t]: the one-side row present for signature g at step t
    partner = np.full((sig.count, T), -1, dtype=np.int64)
    r_idx, t_idx = np.nonzero(one.present)
    partner[one_sig[r_idx], t_idx] = r_idx

    M, N = len(many), len(one)
    mate = partner[many_sig]  # (many rows, T)
    present_m = many.present & both[None, :]
    real = present_m & (mate >= 0)
    many_labels, many_values, many_drop, mates, matched, sigs = (
        list(many.labels),
        many.values,
        many.drop_name,
        mate,
        real,
        many_sig,
    )
    one_labels, one_values = list(one.labels), one.values
    if fill_many is not None:
        lonely = present_m & (mate < 0)
        one_labels += [_match_labels(ls, m) for ls in many.labels]
        one_values = np.vstack([one_values, np.full((M, T), fill_many)]) if M else one_values
        mates = np.where(lonely, N + np.arange(M)[:, None], mates)
        matched = real | lonely
    if fill_one is not None:
        taken = _presence(many_sig, real, sig.count) > 0
        lonely_one = one.present & both[None, :] & ~taken[one_sig]
        many_labels += [_match_labels(ls, m) for ls in one.labels]
        many_values = np.vstack([many_values, np.full((N, T), fill_one)]) if N else many_values
        many_drop = np.concatenate([many_drop, np.zeros(N, bool)])
        mates = np.vstack([mates, np.where(lonely_one, np.arange(N)[:, None], -1)])
        matched = np.vstack([matched, lonely_one])
        sigs = np.concatenate([many_sig, one_sig])

    if m.card == "one-to-one":
        per_sig = _presence(sigs, matched, sig.count)
        if (per_sig > 1).any():
            raise EvaluationError(
                "multiple matches for labels: many-to-one matching must be explicit "
                "(group_left/group_right)"
            )

    n_one = max(len(one_labels), 1)
    mate_safe = np.where(matched, mates, 0)
    rows_idx = np.arange(len(many_labels))[:, None]
    if len(one_labels):
        one_vals = one_values[mate_safe, np.arange(T)[None, :]]
    else:
        one_vals = np.zeros(many_values.shape)
    left, right = (one_vals, many_values) if swap else (many_values, one_vals)

    if op in ast.COMPARISON_OPS:
        keep = compare(op, left, right)
        # the left operand's value is kept, also when group_right swapped sides
        values = keep.astype(np.float64) if return_bool else left
        out_present = matched if return_bool else matched & keep
    else:
        values = arith(op, left, right)
        out_present = matched

    # Output series are keyed by their labels, which depend on the partner only
    # through group_x labels; find the distinct (many row, partner row) pairs.
    if m.include:
        pair = np.where(matched, rows_idx * n_one + mate_safe, -1)
    else:
        pair = np.where(matched, rows_idx * n_one, -1)
    uniq = np.unique(pair[matched])
    out_labels: list[Labels] = []
    out_index: dict[Labels, int] = {}
    pair_out = np.empty(len(uniq), dtype=np.int64)
    for i, pk in enumerate(uniq.tolist()):
        mr, orow = divmod(pk, n_one)
        other = one_labels[orow] if len(one_labels) else Labels.EMPTY
        ls = _result_labels(many_labels[mr], other, op, m)
        o = out_index.get(ls)
        if o is None:
            o = out_index[ls] = len(out_labels)
            out_labels.append(ls)
        pair_out[i] = o
    n_out = len(out_labels)
    if m.card != "one-to-one" and len(uniq):
        # grouping labels must make results unique within a match group and step
        cells_r, cells_t = np.nonzero(matched)
        out_of_cell = pair_out[np.searchsorted(uniq, pair[cells_r, cells_t])]
        key = out_of_cell * T + cells_t
        if len(np.unique(key)) < len(key):
            raise EvaluationError(
                "multiple matches for labels: grouping labels must ensure unique matches"
            )
    out_values = np.zeros((n_out, T))
    present = np.zeros((n_out, T), dtype=bool)
    drop = np.zeros(n_out, dtype=bool)
    if n_out:
        cells_r, cells_t = np.nonzero(out_present)
        o = pair_out[np.searchsorted(uniq, pair[cells_r, cells_t])]
        key = o * T + cells_t
        if len(np.unique(key)) < len(key):
            from storage.promql.grid import DUPLICATE_LABELSET

            raise EvaluationError(DUPLICATE_LABELSET)
        out_values[o, cells_t] = values[cells_r, cells_t]
        present[o, cells_t] = True
        if return_bool:
            drop[:] = True
        else:
            # comparisons keep the many side's pending name drop
            drop = group_rows(np.logical_or, o, many_drop[cells_r], n_out)
    out = StepVector(out_labels, out_values, present, drop)
    return out.nonempty()
