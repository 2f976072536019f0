"""Curves reduced to at most N buckets, keeping each bucket's extremes.

A plot 2,000 pixels wide cannot show more than ~2,000 x positions, but it
must still show a spike: so each bucket keeps its min and max (drawn as an
envelope) and its last point (drawn as the line). Buckets are equal slices
of the x range (steps or seconds), so gaps in the data stay gaps.

The work happens in the database, over the (run_id, key, step) primary key:
on SQLite a last-row probe and an extremes query per bucket, the latter over
the 32-step blocks of metric_blocks (blocks.py) plus the bucket's ragged
edges; elsewhere one GROUP BY, then each bucket's last point by primary key
(docs/BENCHMARKS.md says why PostgreSQL does not read blocks). Python only
ever sees <= N rows per curve.
"""
from __future__ import annotations

import json
from typing import Optional

import numpy as np
from sqlalchemy import BigInteger, Connection, Integer, and_, cast, func, literal, literal_column, select

from engine.store.blocks import BLOCK, BLOCK_SHIFT
from engine.store.entities import Curve, empty_curve
from engine.store.models import MetricRow, SystemMetricRow

M = MetricRow.__table__.c
S = SystemMetricRow.__table__.c


def _metric_where(run_id: int, key: str, step_range: Optional[tuple[int, int]]):
    cond = [M.run_id == run_id, M.key == key]
    if step_range is not None:
        # 64-bit bounds: "everything from step N on" may be asked with a bound
        # past PostgreSQL's 32-bit INTEGER, which a plain INTEGER parameter refuses.
        lo, hi = (literal(int(s), BigInteger) for s in step_range)
        cond += [M.step >= lo, M.step <= hi]
    return and_(*cond)


def _arrays(rows) -> tuple[np.ndarray, ...]:
    """Columns of `rows` as numpy arrays (the first as int64 steps); NULL becomes NaN."""
    cols = list(zip(*rows))
    out = [np.asarray(cols[0], dtype=np.int64)]
    for c in cols[1:]:
        out.append(np.array(c, dtype=np.float64))
    return tuple(out)


def read_metric_curve(conn: Connection, run_id: int, key: str, *, buckets: Optional[int],
                      step_range: Optional[tuple[int, int]] = None) -> Curve:
    """One metric curve, reduced to `buckets` step buckets when it has more steps than that."""
    where = _metric_where(run_id, key, step_range)
    # Two single-aggregate subqueries: SQLite answers each from the primary
    # key in O(log n); min() and max() in one SELECT would scan the range.
    lo, hi = conn.execute(select(select(func.min(M.step)).where(where).scalar_subquery(),
                                 select(func.max(M.step)).where(where).scalar_subquery())).one()
    if lo is None:
        return empty_curve(run_id, key)
    span = hi - lo + 1
    if buckets is None or span <= buckets:
        points = conn.execute(select(M.step, M.epoch, M.value, M.wall_time)
                              .where(where).order_by(M.step)).all()
        steps, epochs, values, walls = _arrays(points)[:4]
        return Curve(run_id, key, steps, epochs.astype(np.int64), values, walls)

    per_bucket = blocks_per_bucket(lo, hi, buckets) if step_range is None else None
    arrays = None
    if conn.dialect.name == "sqlite" and per_bucket is not None:
        arrays = _sqlite_block_buckets(conn, run_id, key, lo, per_bucket)
    if arrays is None:
        if conn.dialect.name == "sqlite":
            rows = _sqlite_bucket_rows(conn, run_id, key, lo, hi, buckets)
        else:
            rows = _grouped_bucket_rows(conn, run_id, key, lo, hi, buckets, where, per_bucket)
        arrays = _arrays(rows)
    steps, epochs, values, walls, mins, maxs, counts = arrays
    if (counts == 1).all():  # sparse points over a long range: nothing was merged
        return Curve(run_id, key, steps, epochs.astype(np.int64), values, walls)
    return Curve(run_id, key, steps, epochs.astype(np.int64), values, walls, mins, maxs)


# A whole curve this many blocks per bucket wide or more is bucketed by whole
# blocks (see blocks_per_bucket); at 3 a curve keeps >= 3/4 of the buckets
# asked for. Only for plots' many buckets: a few buckets cost a few statements.
MIN_BLOCKS_PER_BUCKET = 3
MIN_BUCKETS_FOR_BLOCKS = 256


def blocks_per_bucket(lo: int, hi: int, buckets: int) -> Optional[int]:
    """How many whole 32-step blocks make one bucket of a whole curve from
    step lo to hi, or None where buckets are equal slices of the steps.

    Why whole blocks: then every bucket is a run of metric_blocks rows, and
    the whole reduction is two statements (the blocks, then each bucket's
    last point) instead of two per bucket (~4 ms a 100,000-step curve
    against ~20 ms). The price: at most `buckets` buckets, not exactly that
    many. Zoomed reads (a step range) keep equal slices of their range."""
    if buckets < MIN_BUCKETS_FOR_BLOCKS:
        return None
    first, last = lo >> BLOCK_SHIFT, hi >> BLOCK_SHIFT
    k = -(-(last - first + 1) // buckets)  # ceil
    return k if k >= MIN_BLOCKS_PER_BUCKET else None


def bucket_edges(lo: int, hi: int, buckets: int) -> list[int]:
    """Step edges: bucket i holds lo + ceil(i*span/buckets) <= step < the next edge,
    i.e. exactly the steps with (step - lo) * buckets // span == i."""
    span = hi - lo + 1
    return [lo + (i * span + buckets - 1) // buckets for i in range(buckets + 1)]


# The last row of a bucket [a, e): one probe, which also finds empty buckets.
_SQLITE_LAST = ("SELECT step, epoch, value, wall_time FROM metrics "
                "WHERE run_id = ? AND key = ? AND step >= ? AND step < ? "
                "ORDER BY step DESC LIMIT 1")
# Its extremes and count from raw rows alone...
_SQLITE_EXTREMES = ("SELECT min(value), max(value), count(*) FROM metrics "
                    "WHERE run_id = ? AND key = ? AND step >= ? AND step < ?")
# ...or from the raw rows of its head [a, h) and tail [t, e) and the whole
# blocks [ga, gb) between them. Blocks hold NULL extremes where every value
# is NULL, as min()/max() do.
_SQLITE_BLOCKED_EXTREMES = """
SELECT min(mn), max(mx), sum(n) FROM (
    SELECT min(value) AS mn, max(value) AS mx, count(*) AS n
    FROM metrics WHERE run_id = ?1 AND key = ?2 AND step >= ?3 AND step < ?4
    UNION ALL
    SELECT min(vmin), max(vmax), sum(n)
    FROM metric_blocks WHERE run_id = ?1 AND key = ?2 AND block >= ?5 AND block < ?6
    UNION ALL
    SELECT min(value), max(value), count(*)
    FROM metrics WHERE run_id = ?1 AND key = ?2 AND step >= ?7 AND step < ?8)"""
_SQLITE_NEXT = "SELECT min(step) FROM metrics WHERE run_id = ? AND key = ? AND step >= ?"
# Buckets narrower than this read raw rows only: with at most one whole block
# inside, the merge costs more than the <= 64 rows it would skip (measured).
MIN_BLOCKED_WIDTH = 2 * BLOCK


def _sqlite_bucket_rows(conn: Connection, run_id: int, key: str, lo: int, hi: int,
                        buckets: int) -> list[tuple]:
    """Two statements per non-empty bucket on the raw driver cursor: its last
    row, then its extremes, read from the whole 32-step blocks inside it
    (metric_blocks, blocks.py) and the raw rows at its ragged edges.

    Why: min()/max() over every row of a 1,000,000-point curve cost ~0.1 s
    of CPU alone (3x that on a loaded machine); the blocks cut the rows read
    to about a tenth. Why not GROUP BY: SQLite sorts the whole range in a
    temporary b-tree to group by a computed bucket (~3x slower); ranges read
    in key order need no sort. An empty bucket jumps to the next step
    present, so sparse curves (one point per epoch over thousands of steps)
    cost a few probes per point, not one per bucket."""
    edges = bucket_edges(lo, hi, buckets)
    span = hi - lo + 1
    blocked = span >= MIN_BLOCKED_WIDTH * buckets
    cur = conn.connection.cursor()  # inside the session's transaction: one snapshot
    try:
        rows = []
        i = 0
        while i < buckets:
            a, e = edges[i], edges[i + 1]
            ga, gb = (a + BLOCK - 1) >> BLOCK_SHIFT, e >> BLOCK_SHIFT  # whole blocks inside
            last = cur.execute(_SQLITE_LAST, (run_id, key, a, e)).fetchone()
            if last is not None:
                if blocked and ga < gb:
                    ext = cur.execute(_SQLITE_BLOCKED_EXTREMES, (
                        run_id, key, a, ga << BLOCK_SHIFT, ga, gb, gb << BLOCK_SHIFT, e)).fetchone()
                else:
                    ext = cur.execute(_SQLITE_EXTREMES, (run_id, key, a, e)).fetchone()
                rows.append(last + ext)
                i += 1
                continue
            (nxt,) = cur.execute(_SQLITE_NEXT, (run_id, key, e)).fetchone()
            if nxt is None or nxt > hi:
                break
            i = (nxt - lo) * buckets // span
        return rows
    finally:
        cur.close()


_SQLITE_BLOCKS = ("SELECT block, n, vmin, vmax, last_step FROM metric_blocks "
                  "WHERE run_id = ? AND key = ? ORDER BY block")
_SQLITE_LASTS = ("SELECT step, epoch, value, wall_time FROM metrics WHERE run_id = ? AND key = ? "
                 "AND step IN (SELECT value FROM json_each(?)) ORDER BY step")


def _sqlite_block_buckets(conn: Connection, run_id: int, key: str, lo: int,
                          per_bucket: int) -> Optional[tuple[np.ndarray, ...]]:
    """Buckets of `per_bucket` whole blocks, from metric_blocks alone: the
    blocks in one read, grouped in numpy, then every bucket's last point in
    one more. Arrays as _arrays gives them (steps, epochs, values, walls,
    mins, maxs, counts); None when the curve has no blocks (a store written
    before metric_blocks existed, or by a writer that bypassed RunStore)."""
    cur = conn.connection.cursor()  # inside the session's transaction: one snapshot
    try:
        blocks = cur.execute(_SQLITE_BLOCKS, (run_id, key)).fetchall()
        if not blocks:
            return None
        ids, n, vmin, vmax, last_step = (np.array(c, dtype=np.float64 if i in (2, 3) else np.int64)
                                         for i, c in enumerate(zip(*blocks)))
        bucket = (ids - (lo >> BLOCK_SHIFT)) // per_bucket
        starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
        ends = np.r_[starts[1:], len(bucket)] - 1
        with np.errstate(invalid="ignore"):  # an all-NULL bucket stays NULL (NaN)
            mins = np.fmin.reduceat(vmin, starts)
            maxs = np.fmax.reduceat(vmax, starts)
        counts = np.add.reduceat(n, starts)
        lasts = last_step[ends].tolist()
        points = cur.execute(_SQLITE_LASTS, (run_id, key, json.dumps(lasts))).fetchall()
    finally:
        cur.close()
    if len(points) != len(lasts):  # blocks out of step with metrics: read the rows themselves
        return None
    steps, epochs, values, walls = _arrays(points)
    return steps, epochs, values, walls, mins, maxs, counts


def _grouped_bucket_rows(conn: Connection, run_id: int, key: str, lo: int, hi: int,
                         buckets: int, where, per_bucket: Optional[int] = None) -> list[tuple]:
    """Portable form: one GROUP BY over the range, then each bucket's last point by primary key.

    Why two statements, not a join: the join's plan depends on the table's
    statistics, and right after a run wrote its points PostgreSQL's are stale
    (it guessed ~90 rows for a 1,000,000-point curve and merge-joined by
    reading the whole curve a second time, ~40 % of the read). A list of
    <= `buckets` steps is probed through the primary key whatever the
    statistics say."""
    span = hi - lo + 1
    # Integer literals (not bind parameters) so GROUP BY matches the selected
    # expression on every backend; BigInteger because step * buckets can pass 2**31.
    if per_bucket is not None:  # whole blocks, as SQLite buckets a whole curve (blocks_per_bucket)
        block = cast(M.step, BigInteger).op(">>")(literal_column(str(BLOCK_SHIFT)))
        bucket = (block - literal_column(str(int(lo) >> BLOCK_SHIFT))) // literal_column(str(int(per_bucket)))
    else:
        bucket = (cast(M.step - literal_column(str(int(lo))), BigInteger)
                  * literal_column(str(int(buckets)))) // literal_column(str(int(span)))
    groups = conn.execute(select(func.max(M.step), func.min(M.value), func.max(M.value), func.count())
                          .where(where).group_by(bucket).order_by(func.max(M.step))).all()
    lasts = conn.execute(select(M.step, M.epoch, M.value, M.wall_time).where(
        M.run_id == run_id, M.key == key, M.step.in_([g[0] for g in groups]))).all()
    by_step = {r[0]: tuple(r) for r in lasts}
    return [by_step[s] + (mn, mx, n) for s, mn, mx, n in groups]


def read_system_curve(conn: Connection, run_id: Optional[int], key: str, *,
                      buckets: Optional[int], t0: Optional[float]) -> Curve:
    """System samples of one key; steps are seconds since `t0` (wall time when t0 is None).

    Reduced buckets carry the bucket mean as the value: a utilisation trace
    reads better averaged than sampled."""
    where = and_(S.run_id.is_(None) if run_id is None else S.run_id == run_id, S.key == key)
    n, lo, hi = conn.execute(select(func.count(), func.min(S.wall_time), func.max(S.wall_time))
                             .where(where)).one()
    offset = 0.0 if t0 is None else float(t0)
    if not n:
        return empty_curve(run_id, key, float_steps=True)
    if buckets is None or n <= buckets or hi <= lo:
        samples = conn.execute(select(S.wall_time, S.value).where(where)
                               .order_by(S.wall_time)).all()
        walls, values = (np.array(c, dtype=np.float64) for c in zip(*samples))
        return Curve(run_id, key, walls - offset, np.full(len(walls), -1, np.int64),
                     values, walls)
    # Slightly under `buckets` per span so that hi lands in the last bucket, not one past it.
    factor = (buckets - 1e-6) / (hi - lo)
    position = (S.wall_time - literal_column(repr(float(lo)))) * literal_column(repr(float(factor)))
    # The bucket is the position rounded down. SQLite's CAST truncates (the
    # position is never negative); PostgreSQL's rounds to nearest, so floor first.
    bucket = cast(position if conn.dialect.name == "sqlite" else func.floor(position), Integer)
    rows = conn.execute(select(func.max(S.wall_time), func.avg(S.value), func.min(S.value),
                               func.max(S.value))
                        .where(where).group_by(bucket).order_by(func.max(S.wall_time))).all()
    walls, values, mins, maxs = (np.array(c, dtype=np.float64) for c in zip(*rows))
    return Curve(run_id, key, walls - offset, np.full(len(walls), -1, np.int64), values,
                 walls, mins, maxs)


def minmax_reduce(x: np.ndarray, y: np.ndarray, buckets: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same reduction in numpy for data already in memory (live plots).

    `x` must be sorted. Returns (last_index, last_y, min_y, max_y) per
    non-empty bucket; NaN is ignored by min/max unless a bucket is all NaN."""
    x = np.asarray(x)
    y = np.asarray(y, dtype=np.float64)
    if x.size == 0:
        e = np.empty(0)
        return np.empty(0, np.int64), e, e, e
    lo, hi = float(x[0]), float(x[-1])
    if hi <= lo or x.size <= buckets:
        idx = np.arange(x.size)
        return idx, y, y.copy(), y.copy()
    b = np.minimum(((x - lo) * (buckets / (hi - lo))).astype(np.int64), buckets - 1)
    starts = np.flatnonzero(np.r_[True, b[1:] != b[:-1]])
    last = np.r_[starts[1:], b.size] - 1
    with np.errstate(invalid="ignore"):
        mins = np.fmin.reduceat(y, starts)
        maxs = np.fmax.reduceat(y, starts)
    return last, y[last], mins, maxs
