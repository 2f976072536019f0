"""Light run listings for tables of thousands of runs (RunStore.list_run_rows).

Why: a full Run decodes its spec and summary JSON; for 10,000 runs that is
30,000 json.loads and ~1-3 s on a loaded machine, most of it for fields a
table never shows. A RunListing carries what a run table shows -- the run's
own columns, a few spec fields (the digest) and the summary values asked
for -- and keeps the spec and summary as text, decoded on first use (the
details panel, a filter over a spec path, a comparison).

On SQLite the digest and the summary values come out of the JSON in SQL
(json_extract, in C, ~5 us a row); elsewhere they are computed in Python
from the decoded documents, with the same meaning (`spec_digest`).
"""
from __future__ import annotations

import gc
import json
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Iterator, Optional, Sequence

from sqlalchemy import Connection, and_, case, func, literal, select

from engine.status import LIVE
from engine.store import summary as summary_json
from engine.store.entities import Run, duration_s
from engine.store.models import RunRow, table

RUNS = table(RunRow)
R = RUNS.c

# The run's own columns, in RunListing's order (spec and summary follow as text).
_RUN_COLUMNS = ("id", "name", "status", "created_at", "started_at", "finished_at", "device", "pid",
                "error", "notes", "tags", "parent_id", "starred", "heartbeat_at", "host")
_DATETIMES = ("created_at", "started_at", "finished_at", "heartbeat_at")
# The digest: spec fields a run table shows, path -> name.
DIGEST_PATHS = (("dataset", "$.data.name"), ("optimizer", "$.optimizer.type"),
                ("lr", "$.optimizer.lr"), ("batch_size", "$.training.batch_size"),
                ("epochs", "$.training.epochs"))
DIGEST_FIELDS = tuple(name for name, _ in DIGEST_PATHS) + ("blocks",)
ARCH_SEPARATOR = " → "
MetricSpec = tuple[str, str]  # (summary metric key, statistic): ("val/accuracy", "best")


def spec_digest(spec: Any) -> dict[str, Any]:
    """What a run table shows of a spec: dataset, optimizer, lr, batch_size,
    epochs (None when absent), blocks (how many) and arch (block types joined
    by ' → ', '?' for a block without a type)."""
    spec = spec if isinstance(spec, dict) else {}
    out: dict[str, Any] = {}
    for name, path in DIGEST_PATHS:
        node: Any = spec
        for part in path[2:].split("."):
            node = node.get(part) if isinstance(node, dict) else None
        out[name] = node if isinstance(node, (str, int, float)) or node is None else None
    model = spec.get("model")
    blocks = model.get("blocks") if isinstance(model, dict) else None
    blocks = blocks if isinstance(blocks, list) else []
    out["blocks"] = len(blocks)
    out["arch"] = ARCH_SEPARATOR.join(str(b.get("type", "?")) for b in blocks if isinstance(b, dict))
    return out


def summary_value(summary: dict[str, Any], key: str, stat: str) -> Any:
    """summary["metrics"][key][stat], or None."""
    metrics = summary.get("metrics") if isinstance(summary, dict) else None
    entry = metrics.get(key) if isinstance(metrics, dict) else None
    return entry.get(stat) if isinstance(entry, dict) else None


class RunListing:
    """A run as a table lists it. Has every attribute of a Run (spec and
    summary decoded on first access, then kept), plus the digest fields
    (`dataset`, `optimizer`, `lr`, `batch_size`, `epochs`, `blocks`; `arch` decodes the spec),
    `params` and `metric(key, stat)` for the summary values the listing was
    asked for. Datetimes are timezone-aware UTC, as on Run."""

    # Datetimes stay as the database gave them until read: parsing 40,000 of
    # them cost ~0.1 s of a 10,000-run listing, and a table shows a few dozen.
    __slots__ = (tuple(c for c in _RUN_COLUMNS if c not in _DATETIMES)
                 + tuple("_" + c for c in _DATETIMES) + DIGEST_FIELDS
                 + ("params", "metrics", "started_ts", "_duration", "_spec_text", "_summary_text",
                    "_spec", "_summary", "_arch"))

    id: int
    name: str
    status: str
    device: Optional[str]
    pid: Optional[int]
    error: Optional[str]
    notes: str
    tags: list[str]
    parent_id: Optional[int]
    starred: bool
    host: Optional[str]
    dataset: Any
    optimizer: Any
    lr: Any
    batch_size: Any
    epochs: Any
    blocks: int
    params: Any
    metrics: dict[MetricSpec, Any]
    started_ts: Optional[float]  # seconds since the Unix epoch of started_at, else created_at
    # Datetimes as read (SQLite gives text), converted to aware UTC on first use.
    _created_at: Any
    _started_at: Any
    _finished_at: Any
    _heartbeat_at: Any
    _duration: Optional[float]
    _spec_text: Optional[str]
    _summary_text: Optional[str]
    _spec: Optional[dict[str, Any]]  # decoded on first use, as are the two below
    _summary: Optional[dict[str, Any]]
    _arch: Optional[str]

    def _time(self, slot: str) -> Optional[datetime]:
        v = getattr(self, slot)
        if v is not None and (not isinstance(v, datetime) or v.tzinfo is None):
            v = _utc(v)
            setattr(self, slot, v)
        return v

    created_at = property(lambda self: self._time("_created_at"))
    started_at = property(lambda self: self._time("_started_at"))
    finished_at = property(lambda self: self._time("_finished_at"))
    heartbeat_at = property(lambda self: self._time("_heartbeat_at"))

    @property
    def spec(self) -> dict[str, Any]:
        if self._spec is None:
            self._spec = _loads_object(self._spec_text)
        return self._spec

    @property
    def summary(self) -> dict[str, Any]:
        if self._summary is None:
            self._summary = _loads_object(self._summary_text)
        return self._summary

    @property
    def arch(self) -> str:
        """The block types joined by ' → ' (decodes the spec on first use)."""
        if self._arch is None:
            self._arch = spec_digest(self.spec)["arch"]
        return self._arch

    def metric(self, key: str, stat: str) -> Any:
        """A summary value: prefetched when the listing asked for it, else read from the summary."""
        try:
            return self.metrics[(key, stat)]
        except KeyError:
            return summary_value(self.summary, key, stat)

    @property
    def duration_s(self) -> Optional[float]:
        """As Run.duration_s; finished runs' durations come computed from the listing."""
        return self._duration if self._duration is not None else duration_s(self.started_at, self.finished_at)

    @property
    def is_active(self) -> bool:
        return self.status in LIVE

    def to_run(self) -> Run:
        return Run(id=self.id, name=self.name, status=self.status, spec=self.spec,
                   created_at=self.created_at, started_at=self.started_at,
                   finished_at=self.finished_at, device=self.device, pid=self.pid,
                   error=self.error, summary=self.summary, notes=self.notes, tags=list(self.tags),
                   parent_id=self.parent_id, starred=self.starred, heartbeat_at=self.heartbeat_at,
                   host=self.host)

    def __repr__(self) -> str:
        return f"RunListing(id={self.id}, name={self.name!r}, status={self.status!r})"


def _loads_object(text: Optional[str]) -> dict[str, Any]:
    """A JSON object from the store, {} for empty or malformed text: a table
    must list a run whose JSON another tool broke, not fail on it."""
    try:
        return summary_json.loads(text)
    except ValueError:
        return {}


def _utc(v: Any) -> Optional[datetime]:
    if v is None:
        return None
    if isinstance(v, str):  # SQLite's text form, parsed in C (SQLAlchemy's regex is ~4x slower)
        v = datetime.fromisoformat(v)
    return v.replace(tzinfo=timezone.utc)


def _tags(text: Optional[str]) -> list[str]:
    if not text or text == "[]":
        return []
    try:
        tags = json.loads(text)
    except ValueError:
        return []
    return [str(t) for t in tags] if isinstance(tags, list) else []


def _listing(row: Sequence[Any], digest: Sequence[Any], params: Any,
             metrics: dict[MetricSpec, Any], started_ts: Optional[float] = None,
             duration: Optional[float] = None) -> RunListing:
    r = RunListing()
    (r.id, r.name, r.status, r._created_at, r._started_at, r._finished_at, r.device, r.pid, r.error,
     notes, tags, r.parent_id, starred, r._heartbeat_at, r.host, r._spec_text, r._summary_text) = row
    if started_ts is None:
        start = r.started_at or r.created_at
        started_ts = start.timestamp() if start is not None else None
    r.started_ts, r._duration = started_ts, duration
    r.notes, r.tags, r.starred = notes or "", _tags(tags), bool(starred)
    (r.dataset, r.optimizer, r.lr, r.batch_size, r.epochs, r.blocks) = digest
    r.params, r.metrics = params, metrics
    r._spec = r._summary = r._arch = None
    return r


def _json_path(key: str, stat: str) -> Optional[str]:
    """`$.metrics."val/accuracy".best`, or None for a key SQLite's path syntax cannot quote."""
    if '"' in key or "\\" in key or not stat.isidentifier():
        return None
    return f'$.metrics."{key}".{stat}'


_gc_lock = threading.Lock()
_gc_holds = 0
_gc_was_enabled = False


@contextmanager
def paused_gc() -> Iterator[None]:
    """Hold off Python's cyclic garbage collector while building many objects.

    Why: 10,000 listings are ~50,000 new container objects; the collector
    walks the young ones again and again as they pile up, ~0.1 s of a
    0.25 s listing. Nothing built here forms a cycle, so nothing is missed;
    the collector runs again when the last holder (any thread) is done."""
    global _gc_holds, _gc_was_enabled
    with _gc_lock:
        if _gc_holds == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holds += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holds -= 1
            if _gc_holds == 0 and _gc_was_enabled:
                gc.enable()


def read_listings(conn: Connection, where: list[Any], order: list[Any], limit: Optional[int],
                  metrics: Sequence[MetricSpec]) -> list[RunListing]:
    """Listings of the runs matching `where` (SQLAlchemy conditions on `runs`) in `order`."""
    with paused_gc():
        if conn.dialect.name == "sqlite":
            return _read_sqlite(conn, where, order, limit, metrics)
        return _read_generic(conn, where, order, limit, metrics)


def _read_generic(conn: Connection, where: list[Any], order: list[Any], limit: Optional[int],
                  metrics: Sequence[MetricSpec]) -> list[RunListing]:
    """Any database: the documents decoded in Python (spec_digest, summary_value)."""
    stmt = select(*[R[c] for c in _RUN_COLUMNS], R.spec, R.summary).where(*where).order_by(*order)
    if limit is not None:
        stmt = stmt.limit(int(limit))
    out = []
    for row in conn.execute(stmt):
        listing = _listing(tuple(row), (None,) * len(DIGEST_FIELDS), None, {})
        d = spec_digest(listing.spec)
        listing.dataset, listing.optimizer, listing.lr, listing.batch_size, listing.epochs, \
            listing.blocks = (d[f] for f in DIGEST_FIELDS)
        summary = listing.summary
        listing.params = summary.get("params")
        listing.metrics = {(k, s): summary_value(summary, k, s) for k, s in metrics}
        out.append(listing)
    return out


def _read_sqlite(conn: Connection, where: list[Any], order: list[Any], limit: Optional[int],
                 metrics: Sequence[MetricSpec]) -> list[RunListing]:
    """One flat statement: the columns as stored (datetimes as text), plus
    one multi-path json_extract over the spec (the digest) and one over the
    summary (params and the metrics asked for), each a small JSON array.

    Why this shape: one multi-path call parses a document once where a call
    per field parses it again each time (SQLite < 3.45). json_valid guards
    the extractions (one malformed document must not fail the listing) and
    costs little beside them: SQLite keeps the last parsed documents, so the
    guard and the extraction of the same text share one parse. That cache
    only works on a flat SELECT: computing the guards in a subquery makes the
    10,000-run listing 2.5x slower (250 ms against 100 ms). The block types (arch) stay out: a json_each per run
    costs as much again, and only searches and tooltips need them (decoded
    from the spec then)."""
    paths = [(m, _json_path(*m)) for m in metrics]
    sql_metrics = [(m, p) for m, p in paths if p is not None]
    spec_paths = [p for _, p in DIGEST_PATHS]
    # params first; with no metric asked for, params twice: one path would
    # give the bare value instead of a JSON array.
    summary_paths = ["$.params"] + ([p for _, p in sql_metrics] or ["$.params"])
    run_cols = [R[c] for c in _RUN_COLUMNS if c != "tags"]

    def guarded(doc: Any, value: Any) -> Any:
        return case((func.json_valid(doc) == 1, value), else_=None)

    stmt = (select(*run_cols, R.spec, R.summary,
                   case((func.json_valid(R.tags) == 1, R.tags), else_=literal("[]")),
                   guarded(R.spec, func.json_extract(R.spec, *spec_paths)),
                   guarded(R.spec, func.json_array_length(R.spec, "$.model.blocks")),
                   guarded(R.summary, func.json_extract(R.summary, *summary_paths)),
                   # Sort keys without parsing datetimes in Python (julianday: millisecond precision).
                   (func.julianday(func.coalesce(R.started_at, R.created_at)) - 2440587.5) * 86400.0,
                   case((and_(R.finished_at.is_not(None), R.started_at.is_not(None)),
                         func.round(func.max(0.0, (func.julianday(R.finished_at)
                                                   - func.julianday(R.started_at)) * 86400.0), 3)),
                        else_=None))
            .where(*where).order_by(*order))
    if limit is not None:
        stmt = stmt.limit(int(limit))
    compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
    cur = conn.connection.cursor()  # the raw cursor, inside the caller's transaction: rows as
    try:                            # SQLite gives them, without per-value result processing
        rows = cur.execute(str(compiled)).fetchall()
    finally:
        cur.close()
    if not rows:
        return []
    # Every JSON text here is valid (json_valid, or json_extract's own
    # output), so each column decodes as one array for all rows: a single
    # C parse instead of 10,000 json.loads calls (~4 us of overhead each).
    n_run = len(_RUN_COLUMNS) - 1 + 2
    cols = list(zip(*rows))
    tags = json.loads("[" + ",".join(cols[n_run]) + "]")
    digests = json.loads("[" + ",".join(t or "null" for t in cols[n_run + 1]) + "]")
    summaries = json.loads("[" + ",".join(t or "null" for t in cols[n_run + 3]) + "]")
    keys = [m for m, _ in sql_metrics]
    rest = [m for m, p in paths if p is None]
    empty_digest = [None] * len(DIGEST_PATHS)
    empty_summary = [None] * len(summary_paths)
    tag_at = _RUN_COLUMNS.index("tags")
    out = []
    for row, tag_list, digest, values, n_blocks, started_ts, duration in zip(
            rows, tags, digests, summaries, cols[n_run + 2], cols[n_run + 4], cols[n_run + 5]):
        digest = [v if v is None or isinstance(v, (str, int, float)) else None
                  for v in (digest or empty_digest)]
        values = values or empty_summary
        run_row = row[:tag_at] + (None,) + row[tag_at:n_run]
        listing = _listing(run_row, digest + [n_blocks or 0], values[0],
                           dict(zip(keys, values[1:])), started_ts, duration)
        listing.tags = [str(t) for t in tag_list] if isinstance(tag_list, list) else []
        for m in rest:
            listing.metrics[m] = summary_value(listing.summary, *m)
        out.append(listing)
    return out
