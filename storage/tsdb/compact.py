"""Block compaction: which blocks to merge (the planner) and merging them.

The planner follows Prometheus's leveled scheme: overlapping blocks (from
out-of-order samples) are merged first; then, for each span in
``TSDBOptions.compaction_ranges()`` (2h, 6h, 18h, ... up to the maximum block
duration), blocks that fall inside one aligned span are merged once the span
is complete or time has moved past it. The newest block is left alone, as
Prometheus does, so a block just cut from the head is not rewritten at once::

    group = plan([b.meta for b in blocks], options)
    if group: path = compact(blocks_in(group), data_dir)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from storage.labels import Labels
from storage.tsdb.block import Block, BlockMeta, BlockWriter
from storage.tsdb.fileio import FileIO
from storage.tsdb.merge import assemble
from storage.tsdb.options import TSDBOptions

BATCH_SAMPLES = 1 << 20


def plan(metas: Sequence[BlockMeta], options: TSDBOptions) -> list[BlockMeta]:
    """The blocks to compact next (empty when there is nothing to do)."""
    metas = sorted(metas, key=lambda m: (m.min_time, m.max_time))
    # 1. overlapping blocks
    group: list[BlockMeta] = []
    group_max = None
    for m in metas:
        if group and m.min_time < group_max:
            group.append(m)
            group_max = max(group_max, m.max_time)
            continue
        if len(group) > 1:
            return group
        group, group_max = [m], m.max_time
    if len(group) > 1:
        return group
    if len(metas) < 2:
        return []
    # 2. leveled ranges, without the newest block
    candidates = metas[:-1]
    high = candidates[-1].min_time
    for span in options.compaction_ranges()[1:]:
        buckets: dict[int, list[BlockMeta]] = {}
        for m in candidates:
            start = (m.min_time // span) * span
            if m.max_time > start + span:
                continue  # does not fit inside one span of this size
            buckets.setdefault(start, []).append(m)
        for start in sorted(buckets):
            g = buckets[start]
            if len(g) < 2:
                continue
            mint, maxt = g[0].min_time, max(m.max_time for m in g)
            if maxt - mint == span or maxt <= high:
                return g
    return []


def compact(blocks: Sequence[Block], data_dir: str, io: FileIO | None = None) -> str:
    """Merge ``blocks`` into one new block; returns its directory. Sources are
    read oldest first, so for a timestamp present twice the older sample wins."""
    blocks = sorted(blocks, key=lambda b: (b.min_time, b.ulid))
    mint = min(b.min_time for b in blocks)
    maxt = max(b.max_time for b in blocks)
    # every series of every source, merged in label order
    per_block_labels = [b.index.labels_for(np.arange(b.index.num_series)) for b in blocks]
    union: dict[Labels, None] = {}
    for lbls in per_block_labels:
        union.update(dict.fromkeys(lbls))
    out_labels = sorted(union)
    out_pos = {lbl: i for i, lbl in enumerate(out_labels)}
    del union
    out_of = [
        np.fromiter(map(out_pos.__getitem__, lbls), np.int64, len(lbls)) for lbls in per_block_labels
    ]
    del per_block_labels, out_pos
    totals = np.zeros(len(out_labels), np.int64)
    for b, o in zip(blocks, out_of):
        totals[o] += b.table.row_count.astype(np.int64)
    cum = np.cumsum(totals)
    cuts = np.searchsorted(cum, np.arange(BATCH_SAMPLES, int(cum[-1]) if len(cum) else 0, BATCH_SAMPLES))
    edges = np.unique(np.concatenate([[0], cuts, [len(out_labels)]]))
    writer = BlockWriter(data_dir, mint, maxt, io=io)
    try:
        for o0, o1 in zip(edges[:-1].tolist(), edges[1:].tolist()):
            if o1 <= o0:
                continue
            pieces = []
            for b, o in zip(blocks, out_of):
                lo, hi = np.searchsorted(o, [o0, o1])
                if lo == hi:
                    continue
                pieces.append((o[lo:hi] - o0, b.table.read_runs(np.arange(lo, hi))))
            counts, ts, vals = assemble(o1 - o0, pieces)
            has = np.flatnonzero(counts)
            if len(has):
                writer.add([out_labels[o0 + i] for i in has.tolist()], counts[has], ts, vals)
        sources = sorted({s for b in blocks for s in b.meta.sources})
        return writer.finish(
            level=max(b.meta.level for b in blocks) + 1,
            sources=sources,
            parents=[b.ulid for b in blocks],
        )
    except BaseException:
        writer.abort()
        raise
