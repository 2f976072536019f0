"""ORM tables. Table and column names are a contract (docs/ARCHITECTURE.md,
"The store"): scripts
and other tools read them. Columns may be added, never renamed.

These classes stay inside engine.store; callers get entities (entities.py).
Schema changes need a new migration in migrations/versions/ as well.
"""
from __future__ import annotations

from datetime import datetime
from typing import Optional, cast

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from engine.status import LIVE, TERMINAL, ordered

# Plain-string tuples for SQL `IN` clauses; the sets themselves are engine.status's.
LIVE_STATUSES = tuple(ordered(LIVE))  # a worker process holds the run
TERMINAL_STATUSES = tuple(ordered(TERMINAL))
CHECKPOINT_KINDS = ("best", "last")


class Base(DeclarativeBase):
    pass


def table(row: type[Base]) -> Table:
    """The Core table behind an ORM class, for insert/update/delete statements
    (DeclarativeBase types `__table__` as the wider FromClause)."""
    return cast(Table, row.__table__)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    spec: Mapped[str] = mapped_column(Text)  # the run spec, JSON text, as given
    created_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC, like every datetime here
    started_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    device: Mapped[Optional[str]] = mapped_column(String(64))
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    error: Mapped[Optional[str]] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="{}", server_default=text("'{}'"))  # JSON, see summary.py
    notes: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    tags: Mapped[str] = mapped_column(Text, default="[]", server_default=text("'[]'"))  # JSON list of strings
    parent_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="SET NULL", name="fk_runs_teacher"))
    # Beyond the original schema (docs/DESIGN-NOTES.md):
    starred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    # The machine the pid belongs to: a pid is only checked on its own host
    # (a shared PostgreSQL store has workers on other machines).
    host: Mapped[Optional[str]] = mapped_column(String(255))
    # Second wave (migration 0004): a sweep's trials, and a distilled run's teacher.
    sweep_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("sweeps.id", ondelete="SET NULL", name="fk_runs_sweep"), index=True)
    trial_number: Mapped[Optional[int]] = mapped_column(Integer)
    teacher_run_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="SET NULL", name="fk_runs_teacher"))


class MetricRow(Base):
    """One value per (run, key, step); the primary key is the curve's range scan."""

    __tablename__ = "metrics"
    # WITHOUT ROWID: the table *is* the primary-key b-tree, so a curve is one
    # contiguous read instead of an index walk plus a lookup per row.
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[Optional[float]] = mapped_column(Float)  # NaN is stored as NULL
    wall_time: Mapped[float] = mapped_column(Float)  # seconds since the Unix epoch


class SystemMetricRow(Base):
    """CPU/RAM/GPU samples; run_id is NULL for samples taken while nothing ran."""

    __tablename__ = "system_metrics"
    __table_args__ = (Index("ix_system_metrics_run_key_time", "run_id", "key", "wall_time"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    wall_time: Mapped[float] = mapped_column(Float)
    value: Mapped[Optional[float]] = mapped_column(Float)


class CheckpointRow(Base):
    """The best and the last checkpoint of a run: one row per (run_id, kind)."""

    __tablename__ = "checkpoints"

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    path: Mapped[str] = mapped_column(Text)
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    metric_value: Mapped[Optional[float]] = mapped_column(Float)


class MetricBlockRow(Base):
    """Derived from `metrics` (docs/DESIGN-NOTES.md): the count, extremes and last
    step of each curve's 32-step block (block = step >> 5), rewritten from
    `metrics` in the same transaction as every batch that touches it.

    Why: a 1,000,000-point curve reduced for a plot would otherwise read a
    million rows; with blocks a reduced read touches about a tenth of that (the
    blocks inside each bucket, raw rows only at bucket edges). SQLite only:
    on other databases the table stays empty and reduce.py groups `metrics`
    directly. Writers that bypass RunStore would leave it stale."""

    __tablename__ = "metric_blocks"
    __table_args__ = {"sqlite_with_rowid": False}

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    block: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)  # rows, NULL values included
    vmin: Mapped[Optional[float]] = mapped_column(Float)  # NULL when every value is NULL
    vmax: Mapped[Optional[float]] = mapped_column(Float)
    last_step: Mapped[int] = mapped_column(Integer)


class RunCommandRow(Base):
    """The store command channel: pause / resume / stop / cancel asked of a
    run by anyone who can reach the store (a terminal, another machine).

    Every worker polls its unapplied rows about twice a second, applies them
    in order and stamps `applied_at`; a remote worker (no stdin pipe, no
    signal from here) is commanded through this table alone."""

    __tablename__ = "run_commands"
    __table_args__ = (Index("ix_run_commands_run_pending", "run_id", "applied_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"))
    command: Mapped[str] = mapped_column(String(16))  # pause | resume | stop | cancel
    created_at: Mapped[datetime] = mapped_column(DateTime)
    applied_at: Mapped[Optional[datetime]] = mapped_column(DateTime)


class SweepRow(Base):
    """A hyperparameter sweep (docs/ARCHITECTURE.md, "Sweeps"): its trials are
    ordinary runs carrying `runs.sweep_id` and `runs.trial_number`. This table
    and those runs are the one source of truth; an Optuna study is rebuilt
    from them on resume, never stored."""

    __tablename__ = "sweeps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    spec: Mapped[str] = mapped_column(Text)  # the sweep document, JSON text, base spec inlined
    method: Mapped[str] = mapped_column(String(16))  # grid | random | tpe
    metric: Mapped[str] = mapped_column(String(200))
    goal: Mapped[str] = mapped_column(String(8))  # maximize | minimize
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    best_run_id: Mapped[Optional[int]] = mapped_column(
        Integer, ForeignKey("runs.id", ondelete="SET NULL", use_alter=True, name="fk_sweeps_best_run"))
    # The supervisor process (`layerdeck sweep` or the app) and its liveness, so
    # `layerdeck sweep --resume` can tell a dead supervisor from a live one.
    pid: Mapped[Optional[int]] = mapped_column(Integer)
    host: Mapped[Optional[str]] = mapped_column(String(255))
    heartbeat_at: Mapped[Optional[datetime]] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(Text, default="{}", server_default=text("'{}'"))  # JSON, the sweep's own


class RunDocumentRow(Base):
    """A JSON document kept with a run, one per (run_id, kind): its evaluation
    (`evaluation/test`, `evaluation/val`), an export check (`export/onnx`,
    `export/pt2`), an LR-finder or sanity result. Documents are whole values:
    writing one replaces the previous document of that kind."""

    __tablename__ = "run_documents"

    run_id: Mapped[int] = mapped_column(Integer, ForeignKey("runs.id", ondelete="CASCADE"),
                                        primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    document: Mapped[str] = mapped_column(Text)  # JSON
    created_at: Mapped[datetime] = mapped_column(DateTime)
