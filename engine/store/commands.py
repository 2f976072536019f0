"""The store command channel: commands written as rows, taken by the run's worker.

Whoever can reach the store can command a run this way, from any machine;
the worker (engine.worker.commands.StorePoller) takes its rows in order.
RunStore.request_command and RunStore.take_commands are the API.
"""
from __future__ import annotations

from sqlalchemy import Engine, insert, select, update

from engine.store.convert import utcnow
from engine.store.models import RunCommandRow, table

COMMANDS = ("pause", "resume", "stop", "cancel")
CMD = table(RunCommandRow)
C = CMD.c


def check_command(command: str) -> str:
    if command not in COMMANDS:
        raise ValueError(f"unknown run command {command!r}: use one of {', '.join(COMMANDS)}")
    return command


def request(writer: Engine, run_id: int, command: str) -> int:
    """Append a command for the run; returns its row id."""
    with writer.begin() as conn:
        key = conn.execute(insert(CMD).values(
            run_id=run_id, command=check_command(command), created_at=utcnow())).inserted_primary_key
        assert key is not None  # a single-row INSERT always has its primary key
        return int(key[0])


def take(reader: Engine, writer: Engine, run_id: int) -> list[str]:
    """The run's commands not applied yet, oldest first, stamped applied.

    Looks without the write lock first: nearly every poll finds nothing, and
    a SQLite writer lock twice a second per worker would slow the others."""
    pending = select(C.id, C.command).where(C.run_id == run_id, C.applied_at.is_(None)).order_by(C.id)
    with reader.connect() as conn:
        if conn.execute(pending.limit(1)).first() is None:
            return []
    with writer.begin() as conn:
        rows = conn.execute(pending.with_for_update()).all()  # two takers never share a command
        if rows:
            conn.execute(update(CMD).where(C.id.in_([r.id for r in rows])).values(applied_at=utcnow()))
    return [r.command for r in rows]


def pending(reader: Engine, run_id: int) -> list[str]:
    """Commands requested and not applied yet (tests, `layerdeck runs show`)."""
    with reader.connect() as conn:
        return [r.command for r in conn.execute(
            select(C.command).where(C.run_id == run_id, C.applied_at.is_(None)).order_by(C.id))]
