"""metric_blocks upkeep (models.MetricBlockRow): after a batch is upserted,
every 32-step block it touched is recomputed from `metrics`.

Recomputed rather than merged: a rewritten step (a resumed run repeating
steps) may have held a block's minimum, and only a rescan of the block's
<= 32 rows can take that back. A block is one primary-key range read.
"""
from __future__ import annotations

import sqlite3

import numpy as np

from engine.store.batch import MetricBatch

BLOCK_SHIFT = 5  # 32 steps a block: see reduce.py for the trade-off
BLOCK = 1 << BLOCK_SHIFT

_SQLITE_REFRESH = (
    "INSERT OR REPLACE INTO metric_blocks (run_id, key, block, n, vmin, vmax, last_step) "
    "SELECT ?1, ?2, ?3, count(*), min(value), max(value), max(step) FROM metrics "
    f"WHERE run_id = ?1 AND key = ?2 AND step >= (?3 << {BLOCK_SHIFT}) "
    f"AND step < ((?3 + 1) << {BLOCK_SHIFT})")


def touched_blocks(batch: MetricBatch) -> tuple[list[str], list[int]]:
    """(key, block) of every block the batch has a point in, as two columns."""
    blocks = batch.steps >> BLOCK_SHIFT  # floor division, negative steps included
    new = np.ones(len(blocks), dtype=bool)
    new[1:] = blocks[1:] != blocks[:-1]
    new[batch.bounds[:-1]] = True  # a new key starts new blocks
    rows = np.flatnonzero(new)
    seg = np.searchsorted(batch.bounds, rows, side="right") - 1
    keys = np.array(batch.keys, dtype=object)[seg].tolist()
    return keys, blocks[rows].tolist()


def refresh_blocks_sqlite(con: sqlite3.Connection, run_id: int, batch: MetricBatch) -> None:
    """Rewrite the blocks `batch` touched, inside the caller's write transaction."""
    keys, blocks = touched_blocks(batch)
    con.executemany(_SQLITE_REFRESH, zip([run_id] * len(keys), keys, blocks))
