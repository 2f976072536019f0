"""RunStore: the one way into the run history (docs/ARCHITECTURE.md, "The store").

Everything returned is an entity (entities.py); every write is one managed
session that commits or rolls back. Safe to share between threads and to
open from several processes on one SQLite file (WAL; writers take the lock
up front and wait up to the busy timeout, see db.py).
"""
from __future__ import annotations

import csv
import json
import math
import os
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, cast

from sqlalchemy import Connection, CursorResult, delete, func, insert, select, text, update
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from engine.store import commands as command_channel
from engine.store import summary as summary_json
from engine.store import sweeps as sweep_rows
from engine.store.batch import to_batch
from engine.store.convert import check_status, clean_tags, remove_files, to_run, utcnow
from engine.store.curves import read_curve
from engine.store.db import create_db_engine, upgrade_to_head, writer
from engine.store.entities import CheckpointRecord, Curve, Run, RunNotFoundError, StoreError, Sweep
from engine.store.listing import RunListing, read_listings
from engine.store.listing_order import NotInSQL, SortKey, order_terms, sort_listings
from engine.store.models import (
    CHECKPOINT_KINDS,
    LIVE_STATUSES,
    TERMINAL_STATUSES,
    CheckpointRow,
    MetricBlockRow,
    MetricRow,
    RunCommandRow,
    RunDocumentRow,
    RunRow,
    SystemMetricRow,
    table,
)
from engine.store.orphans import orphan_reason
from engine.store.paths import normalize_db_url, sqlite_path
from engine.store.reduce import read_system_curve
from engine.store.upsert import add_metrics_session, add_metrics_sqlite

RUNS = table(RunRow)
R = RUNS.c
M = table(MetricRow)
SYS = table(SystemMetricRow)
CK = table(CheckpointRow)
BLOCKS = table(MetricBlockRow)
COMMANDS = table(RunCommandRow)
DOCS = table(RunDocumentRow)
ORDERABLE = ("id", "name", "status", "created_at", "started_at", "finished_at")


def _dml(s: Session, stmt: Any) -> CursorResult[Any]:
    """Run an INSERT/UPDATE/DELETE: Session.execute returns a CursorResult for
    them (rowcount, inserted_primary_key) but is typed as a plain Result."""
    return cast(CursorResult[Any], s.execute(stmt))


class RunStore:
    """Runs, their metrics, system samples and checkpoints in one database."""

    def __init__(self, url: str):
        """Open (creating and migrating as needed) the store at `url`, a
        SQLAlchemy URL or a SQLite file path; runs whose worker is gone
        become `crashed`. Raises StoreError when it cannot be opened."""
        self.url = normalize_db_url(url)
        try:
            self.path: Optional[Path] = sqlite_path(self.url)
            self._engine = create_db_engine(self.url)
        except (ArgumentError, ImportError, OSError) as e:
            raise StoreError(f"cannot open the run store {url!r}: {e}. Give a SQLAlchemy URL "
                             "(sqlite:///path/runs.db, postgresql://...) or a file path") from e
        self._writer = writer(self._engine)
        # heartbeat_at as this dialect stores a DateTime, for add_metrics' driver-level write
        dialect = self._engine.dialect
        self._bind_time = (R.heartbeat_at.type.dialect_impl(dialect).bind_processor(dialect)
                           or (lambda v: v))
        try:
            upgrade_to_head(self._engine)
            self.mark_orphans_crashed()
        except DBAPIError as e:
            self._engine.dispose()
            where = self.path or self._engine.url.render_as_string(hide_password=True)
            raise StoreError(f"cannot open the run store at {where}: {e.orig}. "
                             "Is it a LayerDeck store? Point --db or LAYERDECK_DB elsewhere "
                             "to start a new one") from e

    # --- plumbing -------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self._writer, expire_on_commit=False) as s, s.begin():
            yield s

    @contextmanager
    def _read(self) -> Iterator[Session]:
        with Session(self._engine) as s, s.begin():  # one snapshot for all reads in it
            yield s

    @staticmethod
    def _require(s: Session, run_id: int) -> None:
        if s.execute(select(R.id).where(R.id == run_id)).first() is None:
            raise RunNotFoundError(f"run {run_id} not found")

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RunStore({self.url!r})"

    # --- runs -----------------------------------------------------------------

    def create_run(self, spec: dict, name: str | None = None, *, parent_id: int | None = None,
                   status: str = "queued", tags: list[str] | None = None,
                   sweep_id: int | None = None, trial_number: int | None = None,
                   teacher_run_id: int | None = None) -> int:
        """A new run row holding `spec` verbatim; returns its id.

        The name defaults to the spec's "name", else "run <id>". A sweep's
        trial carries `sweep_id` and `trial_number`; a distilled run its teacher."""
        check_status(status)
        if hasattr(spec, "model_dump"):  # a RunSpec: store its JSON form
            spec = spec.model_dump(mode="json")
        if not isinstance(spec, dict):
            raise TypeError("spec must be a dict (the run spec's JSON object), "
                            f"not {type(spec).__name__}")
        default = spec.get("name")
        name = (name or (default if isinstance(default, str) else "") or "").strip()
        now = utcnow()
        with self._write() as s:
            if parent_id is not None:
                if s.execute(select(R.id).where(R.id == parent_id)).first() is None:
                    raise RunNotFoundError(f"parent run {parent_id} not found")
            key = _dml(s, insert(RUNS).values(
                name=name or "run", status=status, spec=json.dumps(spec), created_at=now,
                summary="{}", notes="", tags=json.dumps(clean_tags(tags)), parent_id=parent_id,
                starred=False, started_at=now if status == "running" else None,
                sweep_id=sweep_id, trial_number=trial_number, teacher_run_id=teacher_run_id,
                heartbeat_at=now if status == "running" else None,
            )).inserted_primary_key
            assert key is not None  # a single-row INSERT always has its primary key
            run_id = key[0]
            if not name:
                s.execute(update(RUNS).where(R.id == run_id).values(name=f"run {run_id}"))
        return int(run_id)

    def get_run(self, run_id: int) -> Run:
        with self._read() as s:
            row = s.execute(select(RUNS).where(R.id == run_id)).first()
        if row is None:
            raise RunNotFoundError(f"run {run_id} not found")
        return to_run(row)

    def list_runs(self, *, status: str | list[str] | None = None, limit: int | None = None,
                  order_by: str = "id", descending: bool = True,
                  sweep_id: int | None = None) -> list[Run]:
        """Runs from the `runs` table alone (never `metrics`): sort by a summary
        value in Python, it is already in Run.summary. With `sweep_id`, that
        sweep's trials only."""
        where, order = _list_query(status, order_by, descending, None)
        if sweep_id is not None:
            where.append(R.sweep_id == int(sweep_id))
        stmt = select(RUNS).where(*where).order_by(*order)
        if limit is not None:
            stmt = stmt.limit(int(limit))
        with self._read() as s:
            rows = s.execute(stmt).all()
        return [to_run(r) for r in rows]

    def list_run_rows(self, *, metrics: Sequence[tuple[str, str]] = (),
                      run_ids: Sequence[int] | None = None,
                      status: str | list[str] | None = None, limit: int | None = None,
                      order_by: str | SortKey = "id", descending: bool = True,
                      below_id: int | None = None) -> list[RunListing]:
        """Runs as a table lists them, for thousands of runs: RunListings with
        the spec digest (dataset, optimizer, lr, batch_size, epochs, blocks,
        arch) and the summary values named in `metrics` ((key, stat) pairs,
        e.g. ("val/accuracy", "best")), without decoding every run's JSON
        (see listing.py). Same filters and order as list_runs; `run_ids`
        lists only those runs (missing ids are left out). `order_by` may also
        be a SortKey: a value in the spec or summary (listing_order.py), so
        that `limit` gives the true top runs by a metric. `below_id`: only
        runs with smaller ids (a long history read in slices, newest first)."""
        if not isinstance(order_by, SortKey):
            where, order = _list_query(status, order_by, descending, run_ids)
            if below_id is not None:
                where.append(R.id < int(below_id))
            with self._read() as s:
                return read_listings(s.connection(), where, order, limit, metrics)
        where, _ = _list_query(status, "id", descending, run_ids)
        if below_id is not None:
            where.append(R.id < int(below_id))
        try:
            with self._read() as s:
                conn = s.connection()
                order = order_terms(order_by, descending, conn.dialect.name)
                if limit is None:
                    return read_listings(conn, where, order, None, metrics)
                # The top ids first, then their listings: sorting the listing
                # itself would compute every run's JSON digest before the LIMIT.
                ids = list(conn.execute(select(R.id).where(*where).order_by(*order).limit(int(limit))).scalars())
                found = read_listings(conn, where + [R.id.in_(ids)], [R.id.desc()], None, metrics)
                position = {rid: i for i, rid in enumerate(ids)}
                return sorted(found, key=lambda r: position[r.id])
        except (DBAPIError, NotInSQL):  # e.g. PostgreSQL refusing a malformed document: the same order in Python
            with self._read() as s:
                everything = read_listings(s.connection(), where, [R.id.desc()], None, metrics)
            ordered = sort_listings(everything, order_by, descending)
            return ordered if limit is None else ordered[:int(limit)]

    def count_runs(self, *, status: str | list[str] | None = None) -> int:
        """How many runs there are (with `status`: in those statuses)."""
        where, _ = _list_query(status, "id", True, None)
        with self._read() as s:
            return int(s.execute(select(func.count()).select_from(RUNS).where(*where)).scalar_one())

    def set_status(self, run_id: int, status: str, *, error: str | None = None,
                   pid: int | None = None, device: str | None = None,
                   only_from: Sequence[str] | None = None) -> bool:
        """Set the status; `running` stamps started_at (once) and the heartbeat,
        a terminal status stamps finished_at. With `only_from`, change it only
        when the current status is one of those (the supervisor marking
        `crashed` must not overwrite a `completed` the worker wrote). Returns
        whether the row changed."""
        check_status(status)
        now = utcnow()
        values: dict[str, Any] = {"status": status}
        if error is not None:
            values["error"] = error
        if pid is not None:
            values["pid"], values["host"] = int(pid), socket.gethostname()
        if device is not None:
            values["device"] = device
        if status == "running":
            values["started_at"] = func.coalesce(R.started_at, now)
            values["heartbeat_at"] = now
        if status in TERMINAL_STATUSES:
            values["finished_at"] = now
        stmt = update(RUNS).where(R.id == run_id).values(**values)
        if only_from is not None:
            stmt = stmt.where(R.status.in_([check_status(x) for x in only_from]))
        with self._write() as s:
            changed = _dml(s, stmt).rowcount
            if not changed:
                self._require(s, run_id)
        return bool(changed)

    def heartbeat(self, run_id: int) -> None:
        """Tell readers the worker is alive (also done by every add_metrics)."""
        self._update(run_id, heartbeat_at=utcnow())

    def _update(self, run_id: int, **values: Any) -> None:
        with self._write() as s:
            if not _dml(s, update(RUNS).where(R.id == run_id).values(**values)).rowcount:
                raise RunNotFoundError(f"run {run_id} not found")

    def rename(self, run_id: int, name: str) -> None:
        name = (name or "").strip()
        if not name:
            raise ValueError("a run name cannot be empty")
        self._update(run_id, name=name)

    def set_notes(self, run_id: int, text_: str) -> None:
        self._update(run_id, notes=text_ or "")

    def set_tags(self, run_id: int, tags: list[str]) -> None:
        self._update(run_id, tags=json.dumps(clean_tags(tags)))

    def set_starred(self, run_id: int, starred: bool) -> None:
        self._update(run_id, starred=bool(starred))

    def update_summary(self, run_id: int, patch: dict) -> None:
        """Merge `patch` into runs.summary (nested dicts merge; see summary.py)."""
        with self._write() as s:
            # FOR UPDATE: the row stays ours until the merge is written (a
            # no-op on SQLite, whose writers already hold the database's lock).
            current = s.execute(select(R.summary).where(R.id == run_id)
                                .with_for_update()).scalar_one_or_none()
            if current is None:
                raise RunNotFoundError(f"run {run_id} not found")
            merged = summary_json.deep_merge(summary_json.loads(current), patch)
            s.execute(update(RUNS).where(R.id == run_id)
                      .values(summary=summary_json.dumps(merged)))

    def mark_orphans_crashed(self) -> list[int]:
        """Running or paused runs whose worker is gone become `crashed`; returns their ids."""
        now = utcnow()
        host = socket.gethostname()
        active = (select(R.id, R.pid, R.host, R.started_at, R.heartbeat_at, R.error)
                  .where(R.status.in_(LIVE_STATUSES)))
        # Look first without the write lock: usually there is nothing to do.
        with self._read() as s:
            if not any(orphan_reason(r.pid, r.host, r.started_at, r.heartbeat_at, now, host)
                       for r in s.execute(active)):
                return []
        crashed: list[int] = []
        with self._write() as s:
            # Again under the lock (the rows' locks where the database has
            # them): a worker may have finished in between.
            for r in s.execute(active.with_for_update()).all():
                reason = orphan_reason(r.pid, r.host, r.started_at, r.heartbeat_at, now, host)
                if reason is None:
                    continue
                s.execute(update(RUNS).where(R.id == r.id).values(
                    status="crashed", finished_at=now,
                    error=f"{r.error}\n{reason}" if r.error else reason))
                crashed.append(r.id)
        return crashed

    def delete_run(self, run_id: int, *, delete_files: bool = True) -> None:
        """Delete the run's rows and, with delete_files, its checkpoint files
        (and their folder once empty). A running run must be stopped first."""
        with self._write() as s:
            status = s.execute(select(R.status).where(R.id == run_id)).scalar_one_or_none()
            if status is None:
                raise RunNotFoundError(f"run {run_id} not found")
            if status in LIVE_STATUSES:
                raise ValueError(f"run {run_id} is {status}: stop it before deleting it")
            paths = s.execute(select(CK.c.path).where(CK.c.run_id == run_id)).scalars().all()
            for table in (M, BLOCKS, SYS, CK, COMMANDS, DOCS):
                s.execute(delete(table).where(table.c.run_id == run_id))
            s.execute(update(RUNS).where(R.parent_id == run_id).values(parent_id=None))
            s.execute(update(RUNS).where(R.teacher_run_id == run_id).values(teacher_run_id=None))
            s.execute(delete(RUNS).where(R.id == run_id))
        if delete_files:  # after the commit: a file we cannot remove never leaves rows behind
            remove_files(paths)

    # --- the store command channel ----------------------------------------------

    def request_command(self, run_id: int, command: str) -> int:
        """Ask the run's worker, wherever it runs, to pause, resume, stop or
        cancel; it applies the command within about a second (engine.worker)."""
        with self._read() as s:
            self._require(s, run_id)
        return command_channel.request(self._writer, run_id, command)

    def take_commands(self, run_id: int) -> list[str]:
        """The worker's side: its commands not applied yet, oldest first, now marked applied."""
        return command_channel.take(self._engine, self._writer, run_id)

    def pending_commands(self, run_id: int) -> list[str]:
        return command_channel.pending(self._engine, run_id)

    # --- metrics --------------------------------------------------------------

    def add_metrics(self, run_id: int, points: list) -> None:
        """Upsert a batch of points and fold it into runs.summary, in one transaction.

        A point is a MetricPoint (key, step, epoch, value, wall_time), a dict
        with those keys, or a tuple in that order. NaN is stored as NULL."""
        if not len(points):
            return
        batch = to_batch(points)
        if self._engine.dialect.name == "sqlite":
            add_metrics_sqlite(self._engine, run_id, batch, self._bind_time(utcnow()))
            return
        with self._write() as s:
            add_metrics_session(s, run_id, batch, utcnow)

    def metric_keys(self, run_ids: list[int]) -> dict[int, list[str]]:
        """Sorted metric keys per run, read from the primary key (a skip scan:
        one index probe per key, however many points each key has)."""
        with self._read() as s:
            conn = s.connection()
            return {rid: _distinct_keys(conn, "metrics", rid) for rid in run_ids}

    def get_curves(self, run_ids: list[int], keys: list[str] | None = None, *,
                   buckets: int | None = 2000,
                   step_range: tuple[int, int] | None = None) -> list[Curve]:
        """Curves for every (run, key) that has points, in run then key order.

        With more points than `buckets` a curve comes reduced (curves.py, reduce.py);
        `step_range` (inclusive) reads only that range, at full resolution
        when it spans no more than `buckets` steps. buckets=None: everything."""
        if buckets is not None and buckets < 2:
            raise ValueError(f"buckets must be at least 2 (got {buckets})")
        curves: list[Curve] = []
        with self._read() as s:
            conn = s.connection()
            for rid in run_ids:
                for key in (keys if keys is not None else _distinct_keys(conn, "metrics", rid)):
                    c = read_curve(conn, rid, key, buckets=buckets, step_range=step_range)
                    if len(c):
                        curves.append(c)
        return curves

    def export_csv(self, run_id: int, path: str | os.PathLike) -> int:
        """Write the run's metrics (key, step, epoch, value, wall_time) to a CSV
        file, NaN as `nan`; returns the number of data rows."""
        n = 0
        with self._read() as s:
            self._require(s, run_id)
            result = s.execute(select(M.c.key, M.c.step, M.c.epoch, M.c.value, M.c.wall_time)
                               .where(M.c.run_id == run_id).order_by(M.c.key, M.c.step)
                               .execution_options(yield_per=10_000))
            with open(path, "w", newline="", encoding="utf-8") as f:
                w = csv.writer(f)
                w.writerow(["key", "step", "epoch", "value", "wall_time"])
                for key, step, epoch, value, wall in result:
                    w.writerow([key, step, epoch, "nan" if value is None else repr(value),
                                repr(wall)])
                    n += 1
        return n

    # --- system samples -------------------------------------------------------

    def add_system_metrics(self, run_id: int | None,
                           samples: list[tuple[str, float, float]]) -> None:
        """Samples (key, wall_time, value) for a run, or for no run (run_id None)."""
        if not samples:
            return
        rows = [{"run_id": run_id, "key": str(k), "wall_time": float(t),
                 "value": None if v is None or math.isnan(float(v)) else float(v)}
                for k, t, v in samples]
        try:
            with self._write() as s:
                s.execute(insert(SYS), rows)
        except IntegrityError:
            raise RunNotFoundError(f"run {run_id} not found") from None

    def get_system_curves(self, run_ids: list[int | None], keys: list[str] | None = None, *,
                          buckets: int | None = 2000) -> list[Curve]:
        """System curves per run: steps are seconds since the run started (for
        run_id None, the samples of no run, steps are wall times)."""
        curves: list[Curve] = []
        for rid in run_ids:
            t0: Optional[float] = None
            if rid is not None:
                run = self.get_run(rid)
                start = run.started_at or run.created_at
                t0 = start.timestamp()
            with self._read() as s:
                conn = s.connection()
                for key in (keys if keys is not None
                            else _distinct_keys(conn, "system_metrics", rid)):
                    c = read_system_curve(conn, rid, key, buckets=buckets, t0=t0)
                    if len(c):
                        curves.append(c)
        return curves

    # --- checkpoints ----------------------------------------------------------

    def add_checkpoint(self, run_id: int, kind: str, path: str, step: int, epoch: int,
                       metric_value: float | None) -> None:
        """Record the run's `best` or `last` checkpoint, replacing the previous one."""
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"checkpoint kind must be 'best' or 'last', not {kind!r}")
        mv = None if metric_value is None else float(metric_value)
        mv = None if mv is not None and math.isnan(mv) else mv
        with self._write() as s:
            self._require(s, run_id)
            s.execute(delete(CK).where(CK.c.run_id == run_id, CK.c.kind == kind))
            s.execute(insert(CK).values(run_id=run_id, kind=kind, path=str(path), step=int(step),
                                        epoch=int(epoch), metric_value=mv))

    # --- sweeps (engine.store.sweeps) -------------------------------------------

    def create_sweep(self, *, name: str, spec: dict, method: str, metric: str, goal: str,
                     status: str = "queued") -> int:
        """A new sweep row; `spec` is the sweep document with its base spec inlined."""
        with self._write() as s:
            return sweep_rows.create(s.connection(), name=name, spec=spec, method=method,
                                     metric=metric, goal=goal, status=status)

    def get_sweep(self, sweep_id: int) -> Sweep:
        with self._read() as s:
            return sweep_rows.get(s.connection(), sweep_id)

    def list_sweeps(self, *, status: str | list[str] | None = None) -> list[Sweep]:
        """Every sweep, newest first."""
        with self._read() as s:
            return sweep_rows.list_all(s.connection(), status)

    def update_sweep(self, sweep_id: int, **values: Any) -> None:
        """Change a sweep's status, best run, supervisor (pid, host,
        heartbeat_at) or state; a final status stamps finished_at."""
        with self._write() as s:
            sweep_rows.update_values(s.connection(), sweep_id, values)

    # --- documents kept with a run (evaluation, export checks, ...) ---------------

    def put_document(self, run_id: int, kind: str, document: dict) -> None:
        """Keep a JSON document with the run (models.RunDocumentRow), replacing
        any earlier document of the same kind ("evaluation/test", "export/onnx")."""
        if not kind or len(kind) > 64:
            raise ValueError(f"document kind must be 1-64 characters, not {kind!r}")
        body = json.dumps(document, allow_nan=False)  # NaN is not JSON: callers store null
        with self._write() as s:
            self._require(s, run_id)
            s.execute(delete(DOCS).where(DOCS.c.run_id == run_id, DOCS.c.kind == kind))
            s.execute(insert(DOCS).values(run_id=run_id, kind=kind, document=body, created_at=utcnow()))

    def get_document(self, run_id: int, kind: str) -> Optional[dict]:
        """The run's document of this kind, or None when it has none."""
        with self._read() as s:
            body = s.execute(select(DOCS.c.document).where(
                DOCS.c.run_id == run_id, DOCS.c.kind == kind)).scalar_one_or_none()
        return None if body is None else json.loads(body)

    def document_kinds(self, run_id: int) -> list[str]:
        with self._read() as s:
            return list(s.execute(select(DOCS.c.kind).where(DOCS.c.run_id == run_id)
                                  .order_by(DOCS.c.kind)).scalars())

    def checkpoints(self, run_id: int) -> list[CheckpointRecord]:
        with self._read() as s:
            rows = s.execute(select(CK).where(CK.c.run_id == run_id).order_by(CK.c.kind)).all()
        return [CheckpointRecord(r.run_id, r.kind, r.path, r.step, r.epoch, r.metric_value)
                for r in rows]

    def checkpoint(self, run_id: int, *kinds: str) -> Optional[CheckpointRecord]:
        """The run's checkpoint of the first of `kinds` it has ("best", "last"), or None."""
        by_kind = {c.kind: c for c in self.checkpoints(run_id)}
        return next((by_kind[k] for k in kinds if k in by_kind), None)


def _list_query(status: str | list[str] | None, order_by: str, descending: bool,
                run_ids: Sequence[int] | None) -> tuple[list[Any], list[Any]]:
    """WHERE conditions and ORDER BY terms shared by list_runs and list_run_rows."""
    if order_by not in ORDERABLE:
        raise ValueError(f"cannot order runs by {order_by!r}: use one of {', '.join(ORDERABLE)}")
    col = R[order_by]
    order = [col.desc() if descending else col.asc(), R.id.desc() if descending else R.id.asc()]
    where = []
    if status is not None:
        wanted = [status] if isinstance(status, str) else list(status)
        where.append(R.status.in_([check_status(x) for x in wanted]))
    if run_ids is not None:
        where.append(R.id.in_([int(i) for i in run_ids]))
    return where, order


def _distinct_keys(conn: Connection, table: str, run_id: Optional[int]) -> list[str]:
    """Sorted keys of one run in `table`: a recursive skip scan over the
    (run_id, key, ...) index, one probe per key instead of a read of every row."""
    cond = "run_id IS NULL" if run_id is None else "run_id = :r"
    sql = text(f"""
        WITH RECURSIVE k(key) AS (
            SELECT (SELECT min(key) FROM {table} WHERE {cond})
            UNION ALL
            SELECT (SELECT min(key) FROM {table} WHERE {cond} AND key > k.key)
            FROM k WHERE k.key IS NOT NULL)
        SELECT key FROM k WHERE key IS NOT NULL""")
    return list(conn.execute(sql, {"r": run_id}).scalars())
