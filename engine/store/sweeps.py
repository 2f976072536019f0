"""The `sweeps` table (models.SweepRow): rows in, `Sweep` entities out.

A sweep's trials are ordinary runs carrying `runs.sweep_id` and
`runs.trial_number`; RunStore.list_runs(sweep_id=...) reads them.
"""
from __future__ import annotations

import json
from datetime import timezone
from typing import Any

from sqlalchemy import Connection, insert, select, update

from engine.store.convert import aware, utcnow
from engine.store.entities import Sweep, SweepNotFoundError
from engine.store.models import SweepRow, table

SWEEPS = table(SweepRow)
S = SWEEPS.c
SWEEP_STATUSES = ("queued", "running", "paused", "completed", "stopped", "failed")
# What update_sweep may change; name, spec, method, metric and goal are fixed at creation.
MUTABLE = frozenset({"status", "finished_at", "best_run_id", "pid", "host", "heartbeat_at", "state"})


def to_sweep(r: Any) -> Sweep:
    return Sweep(id=r.id, name=r.name, spec=json.loads(r.spec or "{}"), method=r.method,
                 metric=r.metric, goal=r.goal, status=r.status, created_at=aware(r.created_at),
                 finished_at=aware(r.finished_at), best_run_id=r.best_run_id, pid=r.pid,
                 host=r.host, heartbeat_at=aware(r.heartbeat_at), state=json.loads(r.state or "{}"))


def check_sweep_status(status: str) -> str:
    if status not in SWEEP_STATUSES:
        raise ValueError(f"unknown sweep status {status!r}: use one of {', '.join(SWEEP_STATUSES)}")
    return status


def create(conn: Connection, *, name: str, spec: dict, method: str, metric: str, goal: str,
           status: str = "queued") -> int:
    if goal not in ("maximize", "minimize"):
        raise ValueError(f"sweep goal must be 'maximize' or 'minimize', not {goal!r}")
    key = conn.execute(insert(SWEEPS).values(
        name=name, spec=json.dumps(spec), method=method, metric=metric, goal=goal,
        status=check_sweep_status(status), created_at=utcnow(), state="{}")).inserted_primary_key
    assert key is not None
    return int(key[0])


def get(conn: Connection, sweep_id: int) -> Sweep:
    row = conn.execute(select(SWEEPS).where(S.id == sweep_id)).first()
    if row is None:
        raise SweepNotFoundError(f"sweep {sweep_id} not found")
    return to_sweep(row)


def list_all(conn: Connection, status: str | list[str] | None = None) -> list[Sweep]:
    stmt = select(SWEEPS).order_by(S.id.desc())
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        stmt = stmt.where(S.status.in_([check_sweep_status(x) for x in wanted]))
    return [to_sweep(r) for r in conn.execute(stmt).all()]


def update_values(conn: Connection, sweep_id: int, values: dict[str, Any]) -> None:
    unknown = set(values) - MUTABLE
    if unknown:
        raise ValueError(f"cannot update sweep field(s) {', '.join(sorted(unknown))}: "
                         f"only {', '.join(sorted(MUTABLE))} change after creation")
    values = dict(values)
    if "status" in values:
        check_sweep_status(values["status"])
    if "state" in values:
        values["state"] = json.dumps(values["state"])
    for k in ("finished_at", "heartbeat_at"):
        if values.get(k) is not None and values[k].tzinfo is not None:
            values[k] = values[k].astimezone(timezone.utc).replace(tzinfo=None)  # stored naive UTC
    if values.get("status") in ("completed", "stopped", "failed") and "finished_at" not in values:
        values["finished_at"] = utcnow()
    if not conn.execute(update(SWEEPS).where(S.id == sweep_id).values(**values)).rowcount:
        raise SweepNotFoundError(f"sweep {sweep_id} not found")
