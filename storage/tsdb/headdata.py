"""The head's sample containers: the open log samples arrive in, the sealed
compressed parts, and the snapshot a query reads from.

``OpenLog`` is three preallocated columns written in arrival order; a prefix
once written never changes, so readers take ``view()`` under the head lock
and read it after. ``HeadPart`` is an immutable ``ChunkTable`` of head
samples, rows in series label order::

    snap = head.snapshot(matchers, mint, maxt)
    counts, ts, vals = snap.read(mint, maxt)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from storage.labels import Labels
from storage.tsdb.chunktable import ChunkTable, Runs
from storage.tsdb.merge import assemble


class SidColumn:
    """A growable per-sid numpy column."""

    __slots__ = ("a", "fill")

    def __init__(self, dtype, fill):
        self.fill = fill
        self.a = np.full(1024, fill, dtype)

    def ensure(self, n: int) -> None:
        if n > len(self.a):
            new = np.full(max(n, 2 * len(self.a)), self.fill, self.a.dtype)
            new[: len(self.a)] = self.a
            self.a = new


@dataclass(frozen=True, slots=True)
class HeadPart:
    """Sealed, compressed samples of the head; rows in series label order."""

    table: ChunkTable
    sids: np.ndarray  # int64 sid of each row
    sorted_sids: np.ndarray
    sorted_rows: np.ndarray
    mint: int
    maxt: int

    @classmethod
    def build(cls, table: ChunkTable, sids: np.ndarray) -> HeadPart:
        sids = sids.astype(np.int32)  # per-row arrays dominate a small part's memory
        order = np.argsort(sids, kind="stable").astype(np.int32)
        return cls(
            table,
            sids,
            sids[order],
            order,
            int(table.row_mint.min()),
            int(table.row_maxt.max()),
        )

    @property
    def num_samples(self) -> int:
        return self.table.num_samples

    @property
    def memory_bytes(self) -> int:
        return self.table.memory_bytes + self.sids.nbytes + self.sorted_sids.nbytes + self.sorted_rows.nbytes

    def rows_for(self, sids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(part rows, positions in ``sids``) of the given sorted sids present here."""
        if len(self.sorted_sids) == 0 or len(sids) == 0:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        pos = np.searchsorted(self.sorted_sids, sids)
        pos[pos >= len(self.sorted_sids)] = 0
        hit = self.sorted_sids[pos] == sids
        return self.sorted_rows[pos[hit]].astype(np.int64), np.flatnonzero(hit)


class OpenLog:
    """Append-only sample columns; a prefix once written never changes."""

    __slots__ = ("sid", "ts", "val", "n")

    def __init__(self, capacity: int):
        self.sid = np.empty(capacity, np.int32)
        self.ts = np.empty(capacity, np.int64)
        self.val = np.empty(capacity, np.float64)
        self.n = 0

    @property
    def room(self) -> int:
        return len(self.ts) - self.n

    def append(self, sid: np.ndarray, ts: np.ndarray, val: np.ndarray) -> None:
        a, b = self.n, self.n + len(ts)
        self.sid[a:b] = sid
        self.ts[a:b] = ts
        self.val[a:b] = val
        self.n = b

    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = self.n
        return self.sid[:n], self.ts[:n], self.val[:n]


@dataclass(frozen=True, slots=True)
class HeadSnapshot:
    """Series of the head matching a query, and the data to read them from."""

    sids: np.ndarray  # sorted
    labels: list[Labels]  # of each sid
    parts: list[HeadPart]
    logs: list[tuple[np.ndarray, np.ndarray, np.ndarray]]
    sid_space: int
    label_order: np.ndarray | None = None  # permutation of sids into label order

    def read(self, mint: int, maxt: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSR samples of ``self.sids`` (same order) within ``[mint, maxt]``."""
        return assemble(len(self.sids), self.pieces(mint, maxt))

    def pieces(self, mint: int, maxt: int) -> list[tuple[np.ndarray, Runs]]:
        """Samples within ``[mint, maxt]`` as ``merge.assemble`` pieces whose
        rows are positions in ``self.sids``; oldest source first."""
        n = len(self.sids)
        pieces = []
        for part in self.parts:
            if part.maxt < mint or part.mint > maxt:
                continue
            rows, which = part.rows_for(self.sids)
            if len(rows) == 0:
                continue
            keep = (part.table.row_mint[rows] <= maxt) & (part.table.row_maxt[rows] >= mint)
            rows, which = rows[keep], which[keep]
            pieces.append((which, part.table.read_runs(rows, mint, maxt)))
        if self.logs and n:
            lut = np.full(self.sid_space, -1, np.int64)
            lut[self.sids] = np.arange(n)
            for lsid, lts, lval in self.logs:
                if len(lsid) == 0:
                    continue
                idx = lut[lsid]
                sel = np.flatnonzero((idx >= 0) & (lts >= mint) & (lts <= maxt))
                if len(sel) == 0:
                    continue
                order = sel[np.lexsort((lts[sel], idx[sel]))]  # stable: arrival order breaks ties
                rows = idx[order]
                o_ts = lts[order]
                dup = np.flatnonzero((rows[1:] == rows[:-1]) & (o_ts[1:] == o_ts[:-1])) + 1
                if len(dup):  # keep the first-written sample of a timestamp
                    order, rows = np.delete(order, dup), np.delete(rows, dup)
                counts = np.bincount(rows, minlength=n)
                which = np.flatnonzero(counts)
                pieces.append((which, Runs.from_csr(counts[which], lts[order], lval[order])))
        return pieces
