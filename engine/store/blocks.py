"""metric_blocks upkeep (models.MetricBlockRow): every 32-step block a batch
touched is rewritten in the batch's transaction.

A block the batch fills completely (all 32 steps) is written from the batch
itself: no other row can be in it. Any other block is recomputed from
`metrics` after the upsert, not merged: a rewritten step (a resumed run
repeating steps) may have held the block's minimum, and only a rescan of its
<= 32 rows can take that back. Either way the block stays exact.
"""
from __future__ import annotations

import sqlite3
from typing import Optional

import numpy as np

from engine.store.batch import MetricBatch

BLOCK_SHIFT = 5  # 32 steps a block: see reduce.py for the trade-off
BLOCK = 1 << BLOCK_SHIFT

_SQLITE_REFRESH = (
    "INSERT OR REPLACE INTO metric_blocks (run_id, key, block, n, vmin, vmax, last_step) "
    "SELECT ?1, ?2, ?3, count(*), min(value), max(value), max(step) FROM metrics "
    f"WHERE run_id = ?1 AND key = ?2 AND step >= (?3 << {BLOCK_SHIFT}) "
    f"AND step < ((?3 + 1) << {BLOCK_SHIFT})")
_SQLITE_PUT = ("INSERT OR REPLACE INTO metric_blocks (run_id, key, block, n, vmin, vmax, "
               "last_step) VALUES (?, ?, ?, ?, ?, ?, ?)")


def _nullable(a: np.ndarray) -> list[Optional[float]]:
    out = a.tolist()
    for i in np.flatnonzero(np.isnan(a)).tolist():
        out[i] = None
    return out


def block_rows(batch: MetricBatch, run_id: int) -> tuple[list[tuple], list[tuple]]:
    """(rows of the blocks the batch fills, ready to write; (run_id, key, block)
    of the blocks it touches only in part, to recompute from `metrics`)."""
    blocks = batch.steps >> BLOCK_SHIFT  # floor division, negative steps included
    new = np.ones(len(blocks), dtype=bool)
    new[1:] = blocks[1:] != blocks[:-1]
    new[batch.bounds[:-1]] = True  # a new key starts new blocks
    starts = np.flatnonzero(new)
    counts = np.diff(np.append(starts, len(blocks)))
    seg = np.searchsorted(batch.bounds, starts, side="right") - 1
    keys = np.array(batch.keys, dtype=object)[seg]
    ids = blocks[starts]
    full = counts == BLOCK  # steps are distinct within a key: 32 rows fill the block
    partial = list(zip([run_id] * int((~full).sum()), keys[~full].tolist(), ids[~full].tolist()))
    if not full.any():
        return [], partial
    fs = starts[full]
    with np.errstate(invalid="ignore"):  # an all-NaN block: NaN, stored as NULL
        vmin = np.fmin.reduceat(batch.values, starts)[full]
        vmax = np.fmax.reduceat(batch.values, starts)[full]
    n = int(full.sum())
    rows = list(zip([run_id] * n, keys[full].tolist(), ids[full].tolist(), [BLOCK] * n,
                    _nullable(vmin), _nullable(vmax), batch.steps[fs + BLOCK - 1].tolist()))
    return rows, partial


def refresh_blocks_sqlite(con: sqlite3.Connection, run_id: int, batch: MetricBatch) -> None:
    """Rewrite the blocks `batch` touched, inside the caller's write transaction,
    after its rows were upserted."""
    rows, partial = block_rows(batch, run_id)
    if rows:
        con.executemany(_SQLITE_PUT, rows)
    if partial:
        con.executemany(_SQLITE_REFRESH, partial)
