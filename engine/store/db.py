"""Engine creation: SQLite pragmas on every connection, and explicit BEGINs.

Why explicit BEGINs: Python's sqlite3 module opens a transaction lazily, at
the first INSERT/UPDATE. A transaction that reads first and writes later can
then fail at once with "database is locked" (SQLITE_BUSY_SNAPSHOT) when
another process committed in between, and the busy timeout does not help.
So the driver is put in autocommit mode and SQLAlchemy's "begin" event emits
the BEGIN itself: plain BEGIN for readers (a consistent snapshot), BEGIN
IMMEDIATE for writers (take the write lock up front, waiting up to the busy
timeout). This is the recipe from SQLAlchemy's pysqlite documentation.
"""
from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

from engine.store.paths import sqlite_path

# Writers hold the lock for one batch (milliseconds); 30 s only matters when
# something is badly stuck, and then the error names the database file.
BUSY_TIMEOUT_MS = 30_000
# NORMAL in WAL mode: a commit does not wait for fsync (write speed,
# docs/BENCHMARKS.md); a power cut can lose the last commits, never corrupt
# the file. Module-level so that bench/store_ingest.py can measure what FULL
# would cost.
SYNCHRONOUS = "NORMAL"
MMAP_BYTES = 256 * 1024 * 1024
CACHE_KIB = 16 * 1024  # per connection; mmap does most of the work
# Execution option read by the begin listener: the statement that opens a transaction.
_BEGIN_OPTION = "layerdeck_begin"


def _on_connect(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # autocommit: we emit BEGIN ourselves
    cur = dbapi_connection.cursor()
    try:
        # busy_timeout first so that switching to WAL waits for other openers.
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
        cur.execute("PRAGMA foreign_keys = ON")
        # Curves are long range scans: memory-mapped reads skip a read() call
        # per page, and a bigger page cache keeps a plotted run warm.
        cur.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        cur.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    finally:
        cur.close()


def _on_begin(conn) -> None:
    conn.exec_driver_sql(conn.get_execution_options().get(_BEGIN_OPTION, "BEGIN"))


def create_db_engine(url: str) -> Engine:
    """An Engine for `url`; for SQLite, WAL + busy timeout + foreign keys on every connection."""
    u = make_url(url)
    if u.get_backend_name() == "postgresql":
        # synchronous_commit=off, LayerDeck's connections only: PostgreSQL's
        # twin of SQLite's synchronous=NORMAL above. A crash of the server can
        # lose the last commits (well under a second of metrics), never
        # corrupt; each commit stops waiting for a WAL flush, which measured
        # most of a metric batch's time (docs/BENCHMARKS.md).
        return create_engine(url, pool_pre_ping=True,
                             connect_args={"options": "-c synchronous_commit=off"})
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False,
                                                  "timeout": BUSY_TIMEOUT_MS / 1000})
    else:  # in-memory: one shared connection, or every session sees an empty database
        engine = create_engine(url, connect_args={"check_same_thread": False},
                               poolclass=StaticPool)
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    return engine


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions take the write lock up front."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# Alembic's migration context (alembic.context / alembic.op) is process-wide:
# two threads migrating two stores at once trip over each other
# ("table runs already exists", KeyError 'script'). One migration at a time.
_MIGRATION_LOCK = threading.Lock()
# Across processes on PostgreSQL: any constant, the same in every LayerDeck.
_PG_MIGRATION_LOCK_KEY = 0x4C61796572446B  # "LayerDk"


def upgrade_to_head(engine: Engine) -> None:
    """Apply every Alembic migration the database lacks, in one write transaction.

    An up-to-date database is only read (no write lock: opening the store
    never waits for a busy worker). Otherwise the write lock is taken first,
    so two processes opening a new file at once migrate it once: the second
    waits, then finds it at head. On PostgreSQL that lock is an advisory
    one: without it both would CREATE TABLE and the second would fail.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.migration import MigrationContext
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' is interpolation syntax in Alembic's config; a password may contain one.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False)
                        .replace("%", "%%"))
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    with engine.connect() as conn:
        if set(MigrationContext.configure(conn).get_current_heads()) == heads:
            return
    with _MIGRATION_LOCK, writer(engine).connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            # Alembic's batch mode on SQLite copies a table and drops the
            # original; with foreign keys on, dropping `runs` would cascade
            # to every run's metrics. The pragma only works outside a transaction.
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():
                if conn.dialect.name == "postgresql":  # held until this transaction ends
                    conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK_KEY})")
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys = ON")
