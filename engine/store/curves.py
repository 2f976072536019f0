"""Metric curves of one run, each read the cheapest way its size allows.

Why: reduce.read_metric_curve decides by the step span. A metric logged once
per epoch over a 100,000-step run (100 points) spans 100,000 steps, so it
took the bucketed path: a last-row probe, an extremes query and a skip per
point (~5 ms a curve; 4 such curves doubled the cost of comparing 20 long
runs). Counting first -- one index probe at offset `buckets` -- sends every
curve with at most `buckets` points to a single range read, and only
longer curves to the reduction. On SQLite the two statements go through the
raw driver cursor (no per-row result processing); elsewhere they are the
same statements in SQLAlchemy Core.
"""
from __future__ import annotations

from typing import Optional

import numpy as np
from sqlalchemy import Connection, select

from engine.store.entities import Curve, empty_curve
from engine.store.reduce import M, _metric_where, read_metric_curve

_RANGE = " AND step >= ? AND step <= ?"
_PROBE = "SELECT step FROM metrics WHERE run_id = ? AND key = ?{} ORDER BY step LIMIT 1 OFFSET ?"
_POINTS = ("SELECT step, epoch, value, wall_time FROM metrics WHERE run_id = ? AND key = ?{} "
           "ORDER BY step")


def read_curve(conn: Connection, run_id: int, key: str, *, buckets: Optional[int],
               step_range: Optional[tuple[int, int]] = None) -> Curve:
    """One metric curve: every point when it has at most `buckets` of them
    (in `step_range`, inclusive), else reduced to `buckets` step buckets."""
    if buckets is None:
        return read_metric_curve(conn, run_id, key, buckets=buckets, step_range=step_range)
    if conn.dialect.name != "sqlite":
        return _read_curve_core(conn, run_id, key, buckets, step_range)
    where = _RANGE if step_range is not None else ""
    args: tuple = (run_id, key) + (tuple(int(s) for s in step_range) if step_range else ())
    cur = conn.connection.cursor()  # inside the caller's transaction: one snapshot
    try:
        more = cur.execute(_PROBE.format(where), args + (int(buckets),)).fetchone()
        if more is not None:  # more than `buckets` points: reduce in the database
            return read_metric_curve(conn, run_id, key, buckets=buckets, step_range=step_range)
        rows = cur.execute(_POINTS.format(where), args).fetchall()
    finally:
        cur.close()
    return _whole(run_id, key, rows)


def _read_curve_core(conn: Connection, run_id: int, key: str, buckets: int,
                     step_range: Optional[tuple[int, int]]) -> Curve:
    """read_curve for any database: the same probe, then the same range read."""
    where = _metric_where(run_id, key, step_range)
    more = conn.execute(select(M.step).where(where).order_by(M.step).offset(int(buckets)).limit(1)).first()
    if more is not None:
        return read_metric_curve(conn, run_id, key, buckets=buckets, step_range=step_range)
    rows = conn.execute(select(M.step, M.epoch, M.value, M.wall_time).where(where).order_by(M.step)).all()
    return _whole(run_id, key, rows)


def _whole(run_id: int, key: str, rows) -> Curve:
    """A curve of every (step, epoch, value, wall_time) row read, NULL values as NaN."""
    if not rows:
        return empty_curve(run_id, key)
    steps, epochs, values, walls = zip(*rows)
    return Curve(run_id, key, np.asarray(steps, dtype=np.int64), np.asarray(epochs, dtype=np.int64),
                 np.array(values, dtype=np.float64), np.array(walls, dtype=np.float64))
