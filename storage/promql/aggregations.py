"""Aggregation operators (``sum``, ``avg``, ``topk``, ``quantile``, ...) over every step at once.

Series are put in groups (``by``/``without``); each group's result is computed
for all steps in numpy. Sums use Prometheus's Kahan-Neumaier summation, visiting
the members of every group in input order, one member rank at a time; a group
larger than ``CHUNK`` is summed in chunks of ``CHUNK`` members whose
compensated partial sums are then combined, which keeps the number of Python
iterations near ``CHUNK + size / CHUNK``::

    out = aggregate("sum", vec, grouping=("job",), without=False, param=None, notes, pos)
"""

from __future__ import annotations

import math

import numpy as np

from storage.labels import METRIC_NAME, Labels
from storage.promql import annotations as notes_
from storage.promql.errors import EvaluationError
from storage.promql.grid import LabelProjector, StepVector, group_rows
from storage.promql.quantile import quantile_of_sorted, sorted_nan_first
from storage.promql.windows import kahan_inc

CHUNK = 64
# Sums whose output has at most this many cells (groups x steps: instant
# queries, short ranges) add each rank's members on a dense (rank, group)
# grid, where numpy's per-call cost dominates; bigger ones gather and scatter
# the members of each rank (measured: 2,800 series into 50 groups, 1 step
# 1.19 -> 0.63 ms; 721 steps 28 -> 32 ms dense, so not there).
DENSE_CELLS = 4096


class Groups:
    """Which output group each input series belongs to, and the groups' labels."""

    def __init__(self, labels: list[Labels], grouping: tuple[str, ...], without: bool):
        index: dict[tuple, int] = {}
        self.labels: list[Labels] = []
        if without:
            project = LabelProjector(set(grouping) | {METRIC_NAME}, keep=False)
        else:
            project = LabelProjector(grouping, keep=True)
        ids: list[int] = []
        for ls in labels:
            key = project(ls)
            g = index.get(key)
            if g is None:
                g = index[key] = len(self.labels)
                self.labels.append(Labels.from_sorted_flat(key))
            ids.append(g)
        # one conversion: setting numpy elements one by one costs more than the dict work
        self.ids = np.fromiter(ids, np.int64, len(ids))
        self.count = len(self.labels)
        order = np.argsort(self.ids, kind="stable")
        self.order = order
        sizes = np.bincount(self.ids, minlength=self.count)
        self.sizes = sizes
        starts = np.zeros(self.count, np.int64)
        if self.count:
            np.cumsum(sizes[:-1], out=starts[1:])
        self.starts = starts
        # rank of each series inside its group (input order)
        self.rank = np.empty(len(labels), dtype=np.int64)
        self.rank[order] = np.arange(len(labels)) - np.repeat(starts, sizes)
        self.max_size = int(sizes.max()) if self.count else 0

    def by_rank(self):
        """Yield (series rows, their group ids) for rank 0, 1, ... within groups."""
        sorted_rank = self.rank[self.order]
        bounds = np.argsort(sorted_rank, kind="stable")
        ranks = sorted_rank[bounds]
        cuts = np.searchsorted(ranks, np.arange(self.max_size + 1))
        for r in range(self.max_size):
            rows = self.order[bounds[cuts[r] : cuts[r + 1]]]
            yield rows, self.ids[rows]


def _group_counts(v: StepVector, groups: Groups) -> np.ndarray:
    return group_rows(np.add, groups.ids, v.present.astype(np.int32), groups.count)


def _kahan_sum(
    values: np.ndarray,
    present: np.ndarray,
    ids: np.ndarray,
    rank: np.ndarray,
    count: int,
    max_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (sum, compensation) of present values, members in rank order."""
    T = values.shape[1]
    if T == 1 and len(ids) < _SCALAR_PER_RANK * max_size:
        return _kahan_sum_instant(values[:, 0], present[:, 0], ids, count)
    if max_size > CHUNK:
        chunk = rank // CHUNK
        n_chunks = (max_size + CHUNK - 1) // CHUNK
        virtual = ids * n_chunks + chunk
        uniq, vid = np.unique(virtual, return_inverse=True)
        vrank = rank % CHUNK
        s, c = _kahan_sum(values, present, vid, vrank, len(uniq), CHUNK)
        # combine chunk partial sums of each group, chunk by chunk in order
        real = uniq // n_chunks
        order_chunk = uniq % n_chunks
        total = np.zeros((count, T))
        comp = np.zeros((count, T))
        for k in range(n_chunks):
            sel = np.flatnonzero(order_chunk == k)
            g = real[sel]
            total[g], comp[g] = kahan_inc(s[sel], total[g], comp[g])
            comp[g] = comp[g] + c[sel]
        return total, comp
    if len(ids) and count * T <= DENSE_CELLS and max_size * count <= 2 * len(ids):
        return _kahan_sum_dense(values, present, ids, rank, count, max_size)
    total = np.zeros((count, T))
    comp = np.zeros((count, T))
    order = np.lexsort((np.arange(len(ids)), rank))
    ranks = rank[order]
    cuts = np.searchsorted(ranks, np.arange(max_size + 1))
    with np.errstate(invalid="ignore", over="ignore"):
        for r in range(max_size):
            rows = order[cuts[r] : cuts[r + 1]]
            g = ids[rows]
            p = present[rows]
            x = np.where(p, values[rows], 0.0)
            if r == 0:
                # the first member: adding it to (0, 0) gives (x, 0)
                total[g] = x
                continue
            t, cc = kahan_inc(x, total[g], comp[g])
            total[g] = np.where(p, t, total[g])
            comp[g] = np.where(p, cc, comp[g])
    return total, comp


# One rank of the array loops costs about as much as this many scalar
# additions: an instant sum over few large groups (``sum(rate(x[5m]))`` over
# hundreds of series) adds its members one by one in plain floats instead.
_SCALAR_PER_RANK = 48


def _kahan_sum_instant(
    values: np.ndarray, present: np.ndarray, ids: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """``_kahan_sum`` of one step, member by member in input order (which is
    rank order): exactly Prometheus's sequence of ``kahansum.Inc``, the first
    present member of a group taken as is."""
    rows = np.flatnonzero(present)
    total = [0.0] * count
    comp = [0.0] * count
    seen = [False] * count
    isinf = math.isinf
    for g, x in zip(ids[rows].tolist(), values[rows].tolist()):
        if not seen[g]:
            seen[g] = True
            total[g] = x
            continue
        s = total[g]
        t = s + x
        if isinf(t):
            comp[g] = 0.0
        elif abs(s) >= abs(x):
            comp[g] += (s - t) + x
        else:
            comp[g] += (x - t) + s
        total[g] = t
    return np.array(total, np.float64).reshape(count, 1), np.array(comp, np.float64).reshape(count, 1)


def _kahan_sum_dense(
    values: np.ndarray, present: np.ndarray, ids: np.ndarray, rank: np.ndarray, count: int, max_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``_kahan_sum`` for groups of similar sizes (``by (instance)`` over CPUs
    and modes): members laid on a (rank, group) grid, so that each rank's
    step is plain array arithmetic, not a gather and scatter by group id
    (same additions in the same order: the same bits)."""
    T = values.shape[1]
    x = np.zeros((max_size, count, T))
    p = np.zeros((max_size, count, T), bool)
    x[rank, ids] = np.where(present, values, 0.0)
    p[rank, ids] = present
    total = x[0].copy()  # the first member: adding it to (0, 0) gives (x, 0)
    comp = np.zeros((count, T))
    for r in range(1, max_size):
        t, cc = kahan_inc(x[r], total, comp)
        total = np.where(p[r], t, total)
        comp = np.where(p[r], cc, comp)
    return total, comp


def _sum(v: StepVector, groups: Groups):
    s, c = _kahan_sum(v.values, v.present, groups.ids, groups.rank, groups.count, groups.max_size)
    with np.errstate(invalid="ignore"):
        return s + c


def _avg(v: StepVector, groups: Groups, counts: np.ndarray):
    s, c = _kahan_sum(v.values, v.present, groups.ids, groups.rank, groups.count, groups.max_size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = s / counts + c / counts
    overflow = np.isinf(s)
    if overflow.any():
        # Inputs with infinities legitimately give an infinite mean; only an
        # overflowing sum of finite values needs the incremental mean.
        has_inf = group_rows(
            np.logical_or, groups.ids, np.isinf(v.values) & v.present, groups.count
        )
        redo = overflow & ~has_inf
        if redo.any():
            exact = _incremental_avg(v, groups)
            out = np.where(redo, exact, out)
    return out


def _incremental_avg(v: StepVector, groups: Groups) -> np.ndarray:
    """Prometheus's exact avg: Kahan sum until it would overflow, then incremental mean."""
    G, T = groups.count, v.num_steps
    total = np.zeros((G, T))
    comp = np.zeros((G, T))
    mean = np.zeros((G, T))
    n = np.zeros((G, T))
    incremental = np.zeros((G, T), bool)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for rows, g in groups.by_rank():
            x = v.values[rows]
            p = v.present[rows]
            first = p & (n[g] == 0)
            later = p & ~first
            cnt = n[g] + p
            n[g] = cnt
            tot, cc, mn, inc = total[g], comp[g], mean[g], incremental[g]
            tot = np.where(first, x, tot)
            new_sum, new_c = kahan_inc(x, tot, cc)
            switch = later & ~inc & np.isinf(new_sum)
            plain = later & ~inc & ~switch
            tot = np.where(plain, new_sum, tot)
            cc = np.where(plain, new_c, cc)
            mn = np.where(switch, tot / (cnt - 1), mn)
            cc = np.where(switch, cc / (cnt - 1), cc)
            inc = inc | switch
            q = (cnt - 1) / cnt
            m2, c2 = kahan_inc(x / cnt, q * mn, q * cc)
            upd = later & inc
            mn = np.where(upd, m2, mn)
            cc = np.where(upd, c2, cc)
            total[g], comp[g], mean[g], incremental[g] = tot, cc, mn, inc
        return np.where(incremental, mean + comp, total / n + comp / n)


def _extreme(v: StepVector, groups: Groups, larger: bool):
    x = np.where(v.present, v.values, np.nan)
    return group_rows(np.fmax if larger else np.fmin, groups.ids, x, groups.count, np.nan)


def _variance(v: StepVector, groups: Groups):
    G, T = groups.count, v.num_steps
    n = np.zeros((G, T))
    mean = np.zeros((G, T))
    aux = np.zeros((G, T))
    with np.errstate(invalid="ignore", over="ignore"):
        for rows, g in groups.by_rank():
            x = v.values[rows]
            p = v.present[rows]
            cnt = n[g] + p
            delta = x - mean[g]
            m2 = mean[g] + delta / np.where(p, cnt, 1)
            a2 = aux[g] + delta * (x - m2)
            n[g] = cnt
            mean[g] = np.where(p, m2, mean[g])
            aux[g] = np.where(p, a2, aux[g])
        return aux / n


def _quantile(v: StepVector, groups: Groups, q: np.ndarray):
    G, T = groups.count, v.num_steps
    # absent members sort last as +Inf; only the first n (present) are used
    x_all = np.where(v.present, v.values, np.inf)
    if G * groups.max_size * T <= _PADDED_CELLS:
        # all groups at once, padded to the largest group
        M = groups.max_size
        x = np.full((G, M, T), np.inf)
        x[groups.ids, groups.rank] = x_all
        n = np.zeros((G, T))
        n += group_rows(np.add, groups.ids, v.present.astype(np.int32), G)
        rows = np.ascontiguousarray(x.transpose(0, 2, 1)).reshape(G * T, M)
        xs = sorted_nan_first(rows)
        qq = np.broadcast_to(q[None, :], (G, T)).ravel()
        return quantile_of_sorted(qq, xs, n.ravel()).reshape(G, T)
    out = np.full((G, T), np.nan)
    for g in range(G):
        rows = groups.order[groups.starts[g] : groups.starts[g] + groups.sizes[g]]
        n = v.present[rows].sum(axis=0).astype(np.float64)
        xs = sorted_nan_first(x_all[rows].T)
        out[g] = quantile_of_sorted(q, xs, n)
    return out


# Largest padded (group, member, step) array the vectorized quantile builds.
_PADDED_CELLS = 1 << 24


def _sortable(values: np.ndarray) -> np.ndarray:
    """int64 keys ordered like the floats; NaN below every number."""
    b = values.view(np.int64)
    key = b ^ ((b >> 63) & np.int64(0x7FFFFFFFFFFFFFFF))
    return np.where(np.isnan(values), np.iinfo(np.int64).min + 1, key)


def _go_heap_select(
    vals: np.ndarray, present: np.ndarray, k: np.ndarray, larger: bool
) -> np.ndarray:
    """Which members (rows, in input order) Prometheus's topk/bottomk keeps, per
    column, replaying its bounded heap (Go's ``container/heap``) exactly, so that
    ties are broken as Prometheus breaks them. Used only for steps with ties at
    the k-th place; all columns advance together."""
    m, C = vals.shape
    K = int(k.max()) if C else 0
    hv = np.zeros((K, C))
    hi = np.full((K, C), -1, np.int64)
    size = np.zeros(C, np.int64)
    cols = np.arange(C)

    def less(a, b):
        with np.errstate(invalid="ignore"):
            return np.isnan(a) | ((a < b) if larger else (a > b))

    def swap(i, j, c):
        hv[i, c], hv[j, c] = hv[j, c], hv[i, c].copy()
        hi[i, c], hi[j, c] = hi[j, c], hi[i, c].copy()

    for r in range(m):
        x, pr = vals[r], present[r]
        push = pr & (size < k)
        if push.any():
            c = cols[push]
            pos = size[push].copy()
            hv[pos, c] = x[push]
            hi[pos, c] = r
            size[push] += 1
            while True:  # up(): sift the new element toward the root
                par = np.maximum((pos - 1) // 2, 0)
                go = (pos > 0) & less(hv[pos, c], hv[par, c])
                if not go.any():
                    break
                c, pos, par = c[go], pos[go], par[go]
                swap(pos, par, c)
                pos = par
        with np.errstate(invalid="ignore"):
            worse = (hv[0] < x) if larger else (hv[0] > x)
        rep = pr & ~push & (size == k) & (k > 0) & (worse | (np.isnan(hv[0]) & ~np.isnan(x)))
        if rep.any():
            c = cols[rep]
            hv[0, c] = x[rep]
            hi[0, c] = r
            n = k[rep]
            i = np.zeros(len(c), np.int64)
            while True:  # down(): Fix(heap, 0)
                j1 = 2 * i + 1
                live = j1 < n
                j2 = j1 + 1
                right = live & (j2 < n)
                jj1, jj2 = np.minimum(j1, K - 1), np.minimum(j2, K - 1)
                j = np.where(right & less(hv[jj2, c], hv[jj1, c]), jj2, jj1)
                go = live & less(hv[j, c], hv[i, c])
                if not go.any():
                    break
                c, i, j, n = c[go], i[go], j[go], n[go]
                swap(i, j, c)
                i = j
    sel = np.zeros((m, C), bool)
    filled = hi >= 0
    sel[hi[filled], np.nonzero(filled)[1]] = True
    return sel


def _select_k(v: StepVector, groups: Groups, k: np.ndarray, mode: str) -> np.ndarray:
    """Selection mask (series, steps): topk/bottomk/limitk with ``k[j]`` per step.
    Where values tie at the k-th place, Prometheus's heap decides (replayed)."""
    S, T = v.values.shape
    sel = np.zeros((S, T), dtype=bool)
    kk = k[None, :]
    for g in range(groups.count):
        rows = groups.order[groups.starts[g] : groups.starts[g] + groups.sizes[g]]
        p = v.present[rows]
        if mode == "limitk":
            sel[rows] = p & (np.cumsum(p, axis=0) <= kk)
            continue
        key = _sortable(v.values[rows])
        if mode == "bottomk":
            key = np.where(np.isnan(v.values[rows]), key, -key - 1)
        key = np.where(p, key, np.iinfo(np.int64).min)
        m = len(rows)
        kth_pos = np.clip(m - np.minimum(k, m), 0, m - 1)
        part = np.partition(key, np.unique(kth_pos), axis=0) if m > 1 else key
        kth = part[kth_pos, np.arange(T)][None, :]
        above = key > kth
        tie = key == kth
        need = kk - above.sum(axis=0)[None, :]
        s = above | (tie & (np.cumsum(tie, axis=0) <= need))
        s &= p & (kk >= 1)
        ambiguous = ((tie & p).sum(axis=0) > need[0]) & (need[0] > 0)
        if ambiguous.any():
            cols = np.flatnonzero(ambiguous)
            s[:, cols] = _go_heap_select(
                v.values[rows][:, cols], p[:, cols], np.minimum(k[cols], m), mode == "topk"
            )
        sel[rows] = s
    return sel


def _k_param(param: np.ndarray, op: str) -> np.ndarray:
    if np.isnan(param).any():
        raise EvaluationError("Parameter value is NaN")
    lo, hi = float(param.min()), float(param.max())
    if lo <= -9.223372036854775e18:
        raise EvaluationError(f"Scalar value {lo!r} underflows int64")
    if hi >= 9.223372036854775e18:
        raise EvaluationError(f"Scalar value {hi!r} overflows int64")
    return np.trunc(param).astype(np.int64)


def _order_rows(v: StepVector, groups: Groups, sel: np.ndarray, op: str) -> np.ndarray:
    """Row order of an instant topk/bottomk result: groups in order of first
    appearance, values descending (topk) or ascending (bottomk), NaN last."""
    rows = np.flatnonzero(sel[:, 0])
    vals = v.values[rows, 0]
    g = groups.ids[rows]
    first_seen = np.full(groups.count, len(v.labels), np.int64)
    np.minimum.at(first_seen, groups.ids, np.arange(len(v.labels)))
    nan = np.isnan(vals)
    key = -vals if op == "topk" else vals
    key = np.where(nan, 0, key)
    order = np.lexsort((rows, key, nan, first_seen[g]))
    return rows[order]


# Aggregations whose result over no series is no series, with nothing to
# report (quantile warns about its parameter, count_values checks its label).
_EMPTY_IN_EMPTY_OUT = frozenset(
    {"sum", "avg", "count", "group", "max", "min", "stddev", "stdvar"}
)


def aggregate(
    op: str,
    v: StepVector,
    grouping: tuple[str, ...],
    without: bool,
    param,
    notes: notes_.Annotations,
    param_pos: int,
    instant: bool,
) -> StepVector:
    """Evaluate aggregation ``op`` of ``v``. ``param`` is a per-step array (topk's k,
    quantile's q) or the label name of ``count_values``."""
    T = v.num_steps
    if len(v) == 0 and op in _EMPTY_IN_EMPTY_OUT:
        return StepVector.empty(T)
    if op == "count_values":
        return _count_values(v, param, grouping, without)
    groups = Groups(v.labels, grouping, without)
    if op in ("topk", "bottomk", "limitk", "limit_ratio"):
        return _aggregate_k(op, v, groups, param, notes, param_pos, instant)
    counts = _group_counts(v, groups)
    present = counts > 0
    if op == "sum":
        values = _sum(v, groups)
    elif op == "avg":
        values = _avg(v, groups, counts)
    elif op == "count":
        values = counts.astype(np.float64)
    elif op == "group":
        values = np.ones((groups.count, T))
    elif op == "max":
        values = _extreme(v, groups, True)
    elif op == "min":
        values = _extreme(v, groups, False)
    elif op in ("stddev", "stdvar"):
        values = _variance(v, groups)
        if op == "stddev":
            with np.errstate(invalid="ignore"):
                values = np.sqrt(values)
    elif op == "quantile":
        q = param
        if np.isnan(q).any():
            notes.warn(notes_.invalid_quantile(math.nan), param_pos)
        if (q > 1).any():
            notes.warn(notes_.invalid_quantile(float(q.max())), param_pos)
        if (q < 0).any():
            notes.warn(notes_.invalid_quantile(float(q.min())), param_pos)
        values = _quantile(v, groups, q)
    else:
        raise EvaluationError(f"unknown aggregation {op}")
    drop = np.zeros(groups.count, dtype=bool)
    if v.drop_name.any():
        # A group drops the name when one of its members at that step wants it
        # (Prometheus sets the flag at the last step; members rarely disagree).
        drop = group_rows(
            np.logical_or, groups.ids, v.drop_name & v.present.any(axis=1), groups.count
        )
    out = StepVector(groups.labels, values, present, drop)
    return out.nonempty()


def _aggregate_k(op, v: StepVector, groups: Groups, param, notes, param_pos, instant) -> StepVector:
    T = v.num_steps
    if op == "limit_ratio":
        from storage.promql.hashing import ratio_offsets

        r = param
        if (r == 0).all():
            return StepVector.empty(T)
        if np.isnan(r).any():
            raise EvaluationError("Ratio value is NaN")
        if (r > 1).any():
            notes.warn(notes_.invalid_ratio(float(r.max()), 1.0), param_pos)
        if (r < -1).any():
            notes.warn(notes_.invalid_ratio(float(r.min()), -1.0), param_pos)
        r = np.clip(r, -1.0, 1.0)
        off = ratio_offsets(v.labels)[:, None]
        rr = r[None, :]
        sel = ((rr >= 0) & (off < rr)) | ((rr < 0) & (off >= 1.0 + rr))
        sel &= v.present & (rr != 0)
        return _selected(v, sel, None)
    if float(param.max()) < 1:
        return StepVector.empty(T)
    k = _k_param(param, op)
    k = np.minimum(k, len(v.labels))
    sel = _select_k(v, groups, k, op)
    order = None
    if instant and op in ("topk", "bottomk"):
        order = _order_rows(v, groups, sel, op)
    return _selected(v, sel, order)


def _selected(v: StepVector, sel: np.ndarray, order) -> StepVector:
    if order is None:
        rows = np.flatnonzero(sel.any(axis=1))
        out = v.take(rows)
        out.present = sel[rows]
        out.ordered = False
        return out
    out = v.take(order)
    out.present = sel[order]
    out.ordered = True
    return out


def _format_value(x: float) -> str:
    """Go's ``strconv.FormatFloat(x, 'f', -1, 64)``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "+Inf" if x > 0 else "-Inf"
    return np.format_float_positional(x, unique=True, trim="-")


def _count_values(v: StepVector, label: str, grouping, without) -> StepVector:
    """``count_values``: per group and distinct value (formatted as Go formats it),
    how many series have that value. The value label replaces a label of the same
    name; with ``without`` it is kept unless listed."""
    from storage.promql.lexer import valid_utf8

    if not label or not valid_utf8(label):
        raise EvaluationError(f"invalid label name {_go_quoted(label)}")
    T = v.num_steps
    rows, cols = np.nonzero(v.present)
    vals = v.values[rows, cols]
    # identical values (any NaN with any NaN) count together
    canon = np.where(np.isnan(vals), np.nan, vals)
    uniq, value_id = np.unique(canon.view(np.int64), return_inverse=True)
    value_id = value_id.reshape(-1)
    texts = [_format_value(x) for x in uniq.view(np.float64).tolist()]
    # the group of a series, on its labels without the value label
    base = [ls.without(label) if ls.has(label) else ls for ls in v.labels]
    if without:
        groups = Groups(base, tuple(grouping), True)
        with_value = label not in grouping
    else:
        groups = Groups(base, tuple(n for n in grouping if n != label), False)
        with_value = True
    gid = groups.ids[rows]
    key = gid * len(uniq) + value_id if with_value else gid
    combos, combo_of_cell = np.unique(key, return_inverse=True)
    combo_of_cell = combo_of_cell.reshape(-1)
    out_labels: list[Labels] = []
    for ck in combos.tolist():
        g, u = divmod(ck, len(uniq)) if with_value else (ck, None)
        ls = groups.labels[g]
        out_labels.append(ls.updated({label: texts[u]}) if u is not None else ls)
    counts = np.bincount(combo_of_cell * T + cols, minlength=len(combos) * T)
    counts = counts.reshape(len(combos), T).astype(np.float64)
    return StepVector(out_labels, counts, counts > 0)


def _go_quoted(s: str) -> str:
    return notes_.go_quote(s)
