"""Writing a batch of metric points: INSERT ... ON CONFLICT (run_id, key, step)
DO UPDATE, so a rewrite of a step replaces its value, and
runs.summary updated in the same transaction.

On SQLite the whole batch is one BEGIN IMMEDIATE ... COMMIT on the pooled
DBAPI connection, past the ORM and SQLAlchemy's execution layer: measured on
1,000-point batches, the Session, its statement compilation and result
wrapping cost about as much as SQLite's own inserts (bench/store_ingest.py).
"""
from __future__ import annotations

import sqlite3
from typing import Any, Callable, cast

from sqlalchemy import Engine, delete, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.store import summary as summary_json
from engine.store.batch import MetricBatch
from engine.store.blocks import refresh_blocks_sqlite
from engine.store.entities import RunNotFoundError
from engine.store.models import MetricRow, RunRow, table

M = table(MetricRow)
RUNS = table(RunRow)

SQLITE_UPSERT = (
    "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, key, step) DO UPDATE SET "
    "epoch = excluded.epoch, value = excluded.value, wall_time = excluded.wall_time")
_SQLITE_SUMMARY = "SELECT summary FROM runs WHERE id = ?"
_SQLITE_SET_SUMMARY = "UPDATE runs SET summary = ?, heartbeat_at = ? WHERE id = ?"


def add_metrics_sqlite(engine: Engine, run_id: int, batch: MetricBatch, heartbeat: Any) -> None:
    """Upsert `batch`, refresh its blocks and fold it into runs.summary in one
    write transaction; `heartbeat` is heartbeat_at as the dialect stores it.
    Driver errors come out as SQLAlchemy's DBAPIError subclasses, as from
    every other RunStore method."""
    fairy = engine.raw_connection()
    try:
        # The pysqlite driver's own connection; a checked-out connection always has one.
        con = cast(sqlite3.Connection, fairy.driver_connection)
        try:
            con.execute("BEGIN IMMEDIATE")  # take the write lock first (see db.py)
            row = con.execute(_SQLITE_SUMMARY, (run_id,)).fetchone()
            if row is None:
                raise RunNotFoundError(f"run {run_id} not found")
            con.executemany(SQLITE_UPSERT, batch.rows(run_id))
            refresh_blocks_sqlite(con, run_id, batch)
            summary = summary_json.apply_batch(summary_json.loads(row[0]), batch)
            con.execute(_SQLITE_SET_SUMMARY, (summary_json.dumps_clean(summary), heartbeat, run_id))
            con.execute("COMMIT")
        except BaseException:
            if con.in_transaction:
                con.execute("ROLLBACK")
            raise
    except sqlite3.Error as e:
        raise DBAPIError.instance("add_metrics", None, e, sqlite3.Error) from e
    finally:
        fairy.close()  # back to the pool


def add_metrics_session(s: Session, run_id: int, batch: MetricBatch,
                        now: Callable[[], Any]) -> None:
    """The same for any other database, in the session's transaction.

    The run's row is locked first (FOR UPDATE): without SQLite's one writer at
    a time, another writer's summary update (update_summary, a second worker
    process) could land between our read and our write and be lost."""
    current = s.execute(select(RUNS.c.summary).where(RUNS.c.id == run_id)
                        .with_for_update()).scalar_one_or_none()
    if current is None:
        raise RunNotFoundError(f"run {run_id} not found")
    _upsert_rows(s, run_id, batch)
    summary = summary_json.apply_batch(summary_json.loads(current), batch)
    s.execute(update(RUNS).where(RUNS.c.id == run_id).values(
        summary=summary_json.dumps(summary), heartbeat_at=now()))


# One statement for the whole batch, its columns sent as arrays: PostgreSQL
# unpacks them server-side. Against SQLAlchemy's executemany of the same ON
# CONFLICT insert it halves the client's CPU per batch (bench/store_ingest.py
# --db: 14.9 -> 8.0 ms per 1,000 points, 114 -> 54 ms per 10,000); the
# server's share is unchanged. The batch holds each (key, step) once, so no
# row is hit twice by one ON CONFLICT.
_PG_UPSERT = text(
    "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) "
    "SELECT :run_id, * FROM unnest(CAST(:keys AS text[]), CAST(:steps AS integer[]), "
    "CAST(:epochs AS integer[]), CAST(:vals AS double precision[]), "
    "CAST(:walls AS double precision[])) "
    "ON CONFLICT (run_id, key, step) DO UPDATE SET "
    "epoch = excluded.epoch, value = excluded.value, wall_time = excluded.wall_time")


def _upsert_rows(s: Session, run_id: int, batch: MetricBatch) -> None:
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(_PG_UPSERT, {"run_id": run_id, "keys": batch.key_column(),
                                  "steps": batch.steps.tolist(), "epochs": batch.epochs.tolist(),
                                  "vals": batch.value_column(), "walls": batch.walls.tolist()})
        return
    rows = [{"run_id": run_id, "key": k, "step": st, "epoch": ep, "value": v, "wall_time": w}
            for _, k, st, ep, v, w in batch.rows(run_id)]
    # Any other database: replace the steps we are about to write.
    for r in rows:
        conn.execute(delete(M).where(M.c.run_id == run_id, M.c.key == r["key"],
                                     M.c.step == r["step"]))
    conn.execute(insert(M), rows)
