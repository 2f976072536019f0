"""Where a run's files live: next to a SQLite store, else in the user data dir.

Checkpoints and worker logs sit beside the database they belong to, so a
test's or a project's store carries its files with it.
"""
from __future__ import annotations

from pathlib import Path

from engine.store.paths import default_db_path, sqlite_path


def data_dir(db_url: str) -> Path:
    """The folder that holds a store's run files."""
    db_file = sqlite_path(db_url)
    return (db_file if db_file is not None else default_db_path()).parent


def checkpoint_dir(db_url: str, run_id: int) -> Path:
    return data_dir(db_url) / "checkpoints" / f"run-{run_id}"


def log_path(db_url: str, run_id: int) -> Path:
    """The worker's stderr (tracebacks, warnings, stray prints) for one run."""
    return data_dir(db_url) / "logs" / f"run-{run_id}.log"
