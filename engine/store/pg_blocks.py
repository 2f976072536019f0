"""metric_blocks on PostgreSQL: the upkeep in each batch's transaction and
the reduced read over the blocks (the SQLite forms are in blocks.py and
reduce.py; the table and its meaning are the same, models.MetricBlockRow).

Why the read differs from SQLite's: there, a probe per bucket on the raw
cursor is cheapest; here every statement is a round trip to the server, so
a whole curve's buckets come from one statement. Blocks wholly inside one
bucket are read from metric_blocks (1/32 of the rows); the blocks a bucket
edge cuts are read raw through a LATERAL probe each (at most 32 rows apiece),
so the plan is a primary-key walk whatever the table's statistics say (stale
statistics right after a run's writes once sent a join into a 29-minute
merge, docs/BENCHMARKS.md).
"""
from __future__ import annotations

from sqlalchemy import Connection, text

from engine.store.batch import MetricBatch
from engine.store.blocks import BLOCK_SHIFT, block_rows

_PUT = text(
    "INSERT INTO metric_blocks (run_id, key, block, n, vmin, vmax, last_step) "
    "SELECT :run_id, * FROM unnest(CAST(:keys AS text[]), CAST(:blocks AS integer[]), "
    "CAST(:ns AS integer[]), CAST(:vmins AS double precision[]), "
    "CAST(:vmaxs AS double precision[]), CAST(:lasts AS integer[])) "
    "ON CONFLICT (run_id, key, block) DO UPDATE SET n = excluded.n, vmin = excluded.vmin, "
    "vmax = excluded.vmax, last_step = excluded.last_step")
# Blocks the batch touched in part: recomputed from `metrics` after the upsert,
# which already holds the batch's rows (a rewritten step may have held the minimum).
_REFRESH = text(
    "INSERT INTO metric_blocks (run_id, key, block, n, vmin, vmax, last_step) "
    "SELECT :run_id, t.key, t.block, x.n, x.vmin, x.vmax, x.last_step "
    "FROM unnest(CAST(:keys AS text[]), CAST(:blocks AS integer[])) AS t(key, block) "
    "CROSS JOIN LATERAL (SELECT count(*) AS n, min(value) AS vmin, max(value) AS vmax, "
    "max(step) AS last_step FROM metrics m WHERE m.run_id = :run_id AND m.key = t.key "
    f"AND m.step >= (t.block << {BLOCK_SHIFT}) AND m.step < ((t.block + 1) << {BLOCK_SHIFT})) AS x "
    "WHERE x.n > 0 "
    "ON CONFLICT (run_id, key, block) DO UPDATE SET n = excluded.n, vmin = excluded.vmin, "
    "vmax = excluded.vmax, last_step = excluded.last_step")


def refresh_blocks_pg(conn: Connection, run_id: int, batch: MetricBatch) -> None:
    """Rewrite the blocks `batch` touched, in the caller's transaction, after its rows were upserted."""
    rows, partial = block_rows(batch, run_id)
    if rows:
        _, keys, blocks, ns, vmins, vmaxs, lasts = (list(c) for c in zip(*rows))
        conn.execute(_PUT, {"run_id": run_id, "keys": keys, "blocks": blocks, "ns": ns,
                            "vmins": vmins, "vmaxs": vmaxs, "lasts": lasts})
    if partial:
        conn.execute(_REFRESH, {"run_id": run_id, "keys": [p[1] for p in partial],
                                "blocks": [p[2] for p in partial]})


# One row per non-empty bucket: (last step, min, max, count). A block is
# "whole" when its first and last possible step fall in the same bucket and
# inside [lo, hi]; every other block in range is read raw.
_BUCKETS = text(f"""
WITH blk AS (
    SELECT block, n, vmin, vmax, last_step,
           ((CAST(block AS bigint) << {BLOCK_SHIFT}) - :lo) * :buckets / :span AS b0,
           (((CAST(block AS bigint) + 1) << {BLOCK_SHIFT}) - 1 - :lo) * :buckets / :span AS b1,
           (CAST(block AS bigint) << {BLOCK_SHIFT}) >= :lo
               AND ((CAST(block AS bigint) + 1) << {BLOCK_SHIFT}) - 1 <= :hi AS inside
    FROM metric_blocks
    WHERE run_id = :run_id AND key = :key AND block >= :blo AND block <= :bhi),
whole AS (
    SELECT b0 AS bucket, max(last_step) AS last, min(vmin) AS mn, max(vmax) AS mx, sum(n) AS n
    FROM blk WHERE b0 = b1 AND inside GROUP BY b0),
raw AS (
    SELECT (CAST(x.step AS bigint) - :lo) * :buckets / :span AS bucket,
           max(x.step) AS last, min(x.value) AS mn, max(x.value) AS mx, count(*) AS n
    FROM (SELECT block FROM blk WHERE NOT (b0 = b1 AND inside)) AS s
    CROSS JOIN LATERAL (
        SELECT m.step, m.value FROM metrics m
        WHERE m.run_id = :run_id AND m.key = :key
          AND m.step >= GREATEST(CAST(s.block AS bigint) << {BLOCK_SHIFT}, :lo)
          AND m.step < LEAST((CAST(s.block AS bigint) + 1) << {BLOCK_SHIFT}, :hi + 1)) AS x
    GROUP BY 1)
SELECT max(last), min(mn), max(mx), sum(n) FROM (
    SELECT * FROM whole UNION ALL SELECT * FROM raw) AS parts
GROUP BY bucket ORDER BY bucket""")


def blocked_bucket_groups(conn: Connection, run_id: int, key: str, lo: int, hi: int,
                          buckets: int) -> list[tuple]:
    """(last step, min, max, count) of each non-empty bucket of steps lo..hi."""
    span = hi - lo + 1
    return [tuple(r) for r in conn.execute(_BUCKETS, {
        "run_id": run_id, "key": key, "lo": lo, "hi": hi, "buckets": buckets, "span": span,
        "blo": lo >> BLOCK_SHIFT, "bhi": hi >> BLOCK_SHIFT}).all()]
