"""Writing a batch of metric points: INSERT ... ON CONFLICT (run_id, key, step)
DO UPDATE, so a rewrite of a step replaces its value (DESIGN.md §4)."""
from __future__ import annotations

from typing import Sequence

from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from engine.store.models import MetricRow

M = MetricRow.__table__

_SQLITE_UPSERT = (
    "INSERT INTO metrics (run_id, key, step, epoch, value, wall_time) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, key, step) DO UPDATE SET "
    "epoch = excluded.epoch, value = excluded.value, wall_time = excluded.wall_time")


def upsert_metrics(s: Session, run_id: int, points: Sequence[tuple]) -> None:
    """Write (key, step, epoch, value, wall_time) points of one run in the session's transaction."""
    conn = s.connection()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        # Straight to the driver's executemany: SQLAlchemy's per-row parameter
        # processing costs more than SQLite's insert itself.
        conn.exec_driver_sql(_SQLITE_UPSERT, [(run_id, *p) for p in points])
        return
    rows = [{"run_id": run_id, "key": k, "step": st, "epoch": ep, "value": v, "wall_time": w}
            for k, st, ep, v, w in points]
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(M)
        conn.execute(stmt.on_conflict_do_update(
            index_elements=[M.c.run_id, M.c.key, M.c.step],
            set_={"epoch": stmt.excluded.epoch, "value": stmt.excluded.value,
                  "wall_time": stmt.excluded.wall_time}), rows)
        return
    # Any other database: replace the steps we are about to write.
    for r in rows:
        conn.execute(delete(M).where(M.c.run_id == run_id, M.c.key == r["key"],
                                     M.c.step == r["step"]))
    conn.execute(insert(M), rows)
