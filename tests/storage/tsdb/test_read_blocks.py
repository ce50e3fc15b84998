"""Block files on the read side: version 1 blocks (one chunk per series, no
pages) are still read and compaction rewrites them as version 2; unknown
versions and inconsistent sections are refused with a clear error; label
sets built from the symbol cache equal freshly decoded ones."""

from __future__ import annotations

import json
import os
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

from storage.interface import STALE_NAN, SampleBatch, StorageError
from storage.labels import Labels, Matcher
from storage.tsdb import compact as compaction
from storage.tsdb.block import Block, BlockIndex, BlockWriter, read_sections, write_sections
from storage.tsdb.fileio import FileIO

from .conftest import T0

HOUR = 3_600_000
BLOCK_T = T0 - T0 % (2 * HOUR)
FIXTURE = Path(__file__).parent / "data" / "block_v1"
V1_ULID = "01HV3K7Q6Y0000000000000001"
ALL = [Matcher("=~", "__name__", ".+")]


def v1_series() -> list[tuple[Labels, np.ndarray, np.ndarray]]:
    """What the version 1 fixture holds. It was written by the version 1
    writer (commit 8b07ba3) from exactly these series, in two add() batches
    with value groups of 1,000 samples, so it has several groups of both
    kinds and its decimal classes are stored as delta streams (encoding 2)."""
    out = []
    for i in range(12):
        labels = Labels.from_dict({"__name__": f"m{i % 3}", "i": f"{i:02d}", "kind": str(i % 4)})
        step = 15_000 if i % 4 else 60_000
        n = 2 * HOUR // step - 3 * (i % 5)
        ts = BLOCK_T + (i * 7_001) % step + np.arange(n, dtype=np.int64) * step
        k = np.arange(n)
        if i % 4 == 0:
            v = np.cumsum((k * 7 + i) % 13).astype(np.float64)
        elif i % 4 == 1:
            v = np.round(100 + np.sin(k / 9 + i) * 20, 2)
        elif i % 4 == 2:
            v = np.sin(k / 7 + i) * 1e-3 + i
        else:
            v = np.full(n, 42.0)
            v[-1] = STALE_NAN
        out.append((labels, ts, v))
    return sorted(out, key=lambda s: s[0])


def copy_fixture(dest: Path) -> Path:
    shutil.copytree(FIXTURE, dest)
    return dest


def assert_series(ss, series, mint=-(2**62), maxt=2**62):
    want = [(lbl, t[(t >= mint) & (t <= maxt)], v[(t >= mint) & (t <= maxt)]) for lbl, t, v in series]
    want = [w for w in want if len(w[1])]
    assert ss.labels == [w[0] for w in want]
    for i, (_, t, v) in enumerate(want):
        got_t, got_v = ss.series(i)
        assert got_t.tolist() == t.tolist()
        assert (got_v.view(np.uint64) == v.view(np.uint64)).all()


def test_version1_blocks_are_read(open_db, tmp_path):
    copy_fixture(tmp_path / "db")
    db, _ = open_db(tmp_path / "db")
    (block,) = db.blocks
    assert block.ulid == V1_ULID and len(block.table.page_mint) == 1
    series = v1_series()
    assert_series(db.querier(0, 2**62).select(ALL), series)
    end = BLOCK_T + 2 * HOUR - 1
    for mint, maxt in [(end - 5 * 60_000, end), (BLOCK_T + 3_600_000, BLOCK_T + 3_700_000), (BLOCK_T, BLOCK_T)]:
        assert_series(db.querier(mint, maxt).select(ALL), series, mint, maxt)
    one = db.querier(0, 2**62).select([Matcher("=", "kind", "1")])
    assert_series(one, [s for s in series if s[0].get("kind") == "1"])


def test_compaction_rewrites_version1_blocks_as_version2(open_db, tmp_path, clock):
    copy_fixture(tmp_path / "db")
    db, _ = open_db(tmp_path / "db", max_future_skew_ms=0)
    series = v1_series()
    # the next two hours: the same series go on, at 15 s
    later = BLOCK_T + 2 * HOUR + np.arange(480, dtype=np.int64) * 15_000
    labels = [s[0] for s in series]
    clock.ms = int(later[-1])
    db.append(
        SampleBatch(labels, np.repeat(np.arange(len(labels)), len(later)), np.tile(later, len(labels)), np.ones(len(labels) * len(later)))
    )
    db.flush_head()
    assert len(db.blocks) == 2
    path = compaction.compact(db.blocks, str(tmp_path / "db"))
    with open(os.path.join(path, "meta.json")) as f:
        assert json.load(f)["version"] == 2
    buf = Path(path, "index").read_bytes()
    sections, _ = read_sections(buf)
    assert struct.unpack_from("<I", buf, 8)[0] == 2 and "chunk_row" in sections and "row_vgroup" not in sections
    merged = Block.open(path)
    assert len(merged.table.page_mint) > 1  # 4 h at 15 s: pages
    c, t, v = merged.table.read(np.arange(merged.index.num_series))
    offs = np.concatenate([[0], np.cumsum(c)])
    for i, (lbl, ts, vals) in enumerate(series):
        assert merged.index.labels_for(np.array([i]))[0] == lbl
        assert t[offs[i] : offs[i + 1]].tolist() == ts.tolist() + later.tolist()
        assert (v[offs[i] : offs[i] + len(ts)].view(np.uint64) == vals.view(np.uint64)).all()


def test_unknown_versions_are_refused_with_the_version(open_db, tmp_path):
    copy_fixture(tmp_path / "a")
    meta = tmp_path / "a" / V1_ULID / "meta.json"
    d = json.loads(meta.read_text())
    d["version"] = 3
    meta.write_text(json.dumps(d))
    with pytest.raises(StorageError, match=r"unsupported block format version 3 \(this Spyglass reads \(1, 2\)\)"):
        open_db(tmp_path / "a")
    copy_fixture(tmp_path / "b")
    index = tmp_path / "b" / V1_ULID / "index"
    raw = bytearray(index.read_bytes())
    raw[8:12] = struct.pack("<I", 7)
    index.write_bytes(bytes(raw))
    with pytest.raises(StorageError, match=f"{V1_ULID}.*unsupported block index version 7"):
        open_db(tmp_path / "b")


def _small_block(tmp_path) -> str:
    series = v1_series()
    w = BlockWriter(str(tmp_path), BLOCK_T, BLOCK_T + 2 * HOUR)
    w.add([s[0] for s in series], np.array([len(s[1]) for s in series]), np.concatenate([s[1] for s in series]), np.concatenate([s[2] for s in series]))
    return w.finish()


def test_inconsistent_chunk_sections_are_refused(tmp_path):
    path = _small_block(tmp_path)
    block = Block.open(path)
    assert len(block.table.page_mint) == 2
    sections, _ = read_sections(Path(path, "index").read_bytes())
    sections = {k: np.array(v) for k, v in sections.items()}
    sections["page_chunk"][1] += 1  # checksums are recomputed: only the cross-check can tell
    os.remove(os.path.join(path, "index"))
    write_sections(FileIO(), os.path.join(path, "index"), sections)
    with pytest.raises(StorageError, match="inconsistent"):
        Block.open(path)


def test_labels_from_the_symbol_cache_equal_decoded_ones(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    labels = sorted(
        {
            Labels.from_dict({"__name__": f"m{rng.integers(3)}", "pod": f"p-{rng.integers(40)}", "é": "ü" * int(rng.integers(1, 4))})
            for _ in range(200)
        }
    )
    w = BlockWriter(str(tmp_path), 0, HOUR)
    w.add(labels, np.ones(len(labels), np.int64), np.zeros(len(labels), np.int64), np.ones(len(labels)))
    path = w.finish()
    cached = Block.open(path).index
    monkeypatch.setattr(BlockIndex, "SYMBOL_CACHE_LIMIT", 0)
    plain = Block.open(path).index
    assert len(plain._sym_have) == 0 and len(cached._sym_have) > 0
    for rows in (rng.permutation(len(labels))[:37], np.arange(len(labels)), np.array([5, 5, 0])):
        assert cached.labels_for(rows) == plain.labels_for(rows) == [labels[r] for r in rows.tolist()]
    assert cached.label_values("pod") == plain.label_values("pod")
