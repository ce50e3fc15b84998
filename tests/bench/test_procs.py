"""Block accounting reads both TSDBs' block directories alike."""

from __future__ import annotations

import json
import os
from pathlib import Path

from bench._procs import block_usage, process_memory

A, B, C, D = (
    "01HZZZZZZZZZZZZZZZZZZZZZZA",
    "01HZZZZZZZZZZZZZZZZZZZZZZB",
    "01HZZZZZZZZZZZZZZZZZZZZZZC",
    "01HZZZZZZZZZZZZZZZZZZZZZZD",
)


def _block(root: Path, name: str, mint: int, maxt: int, samples: int, parents, payload: int) -> None:
    d = root / name
    (d / "chunks").mkdir(parents=True)
    (d / "chunks" / "000001").write_bytes(b"x" * payload)
    meta = {
        "ulid": name[:26],
        "minTime": mint,
        "maxTime": maxt,
        "stats": {"numSamples": samples, "numSeries": 3},
        "compaction": {"level": 2 if parents else 1, "parents": parents},
    }
    (d / "meta.json").write_text(json.dumps(meta))


def test_merged_parents_wal_and_unfinished_blocks_are_not_counted(tmp_path: Path):
    # a Prometheus-style compacted block (parents as objects) whose parent is still on disk
    _block(tmp_path, A, 0, 100, 40, [], 1000)
    _block(tmp_path, B, 0, 300, 120, [{"ulid": A, "minTime": 0, "maxTime": 100}], 3000)
    # a Spyglass-style block (parents as strings) and one being written
    _block(tmp_path, C, 300, 400, 50, [], 500)
    _block(tmp_path, D + ".tmp-for-creation", 400, 500, 50, [], 700)
    (tmp_path / "wal").mkdir()
    (tmp_path / "wal" / "00000000").write_bytes(b"w" * 9999)
    (tmp_path / "chunks_head").mkdir()
    u = block_usage(tmp_path)
    assert [b.ulid for b in u.blocks] == [B, C]
    assert u.samples == 170
    meta_sizes = sum((tmp_path / n / "meta.json").stat().st_size for n in (B, C))
    assert u.bytes == 3000 + 500 + meta_sizes
    assert u.transient == 1
    assert u.describe() == "L2 0.0h, L1 0.0h"


def test_missing_directory_has_no_blocks(tmp_path: Path):
    u = block_usage(tmp_path / "nope")
    assert u.blocks == () and u.bytes == 0


def test_process_memory_reads_this_process():
    m = process_memory(os.getpid())
    assert m.processes >= 1
    assert 10 << 20 < m.rss <= m.hwm
