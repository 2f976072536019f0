"""Where a run's files live: next to a SQLite store, else in a folder of the
user data dir named after the database server and database.

Checkpoints and worker logs sit beside the database they belong to, so a
test's or a project's store carries its files with it. A server database
gets a folder of its own because run ids are per store: run 1 of a
PostgreSQL store must not share (or delete) the files of the default
store's run 1.
"""
from __future__ import annotations

import re
from pathlib import Path

from engine.store.paths import default_db_path, normalize_db_url, sqlite_path


def data_dir(db_url: str) -> Path:
    """The folder that holds a store's run files."""
    db_file = sqlite_path(db_url)
    if db_file is not None:
        return db_file.parent
    return default_db_path().parent / "stores" / _store_folder(db_url)


def _store_folder(db_url: str) -> str:
    """`postgresql-db.lab-5432-runs`: backend, host, port and database, never
    the user or password; the same for any driver or spelling of the URL."""
    from sqlalchemy.engine import make_url

    u = make_url(normalize_db_url(db_url))
    parts = [u.get_backend_name(), u.host or "local", str(u.port or ""), u.database or ""]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(p for p in parts if p))


def checkpoint_dir(db_url: str, run_id: int) -> Path:
    return data_dir(db_url) / "checkpoints" / f"run-{run_id}"


def log_path(db_url: str, run_id: int) -> Path:
    """The worker's stderr (tracebacks, warnings, stray prints) for one run."""
    return data_dir(db_url) / "logs" / f"run-{run_id}.log"
