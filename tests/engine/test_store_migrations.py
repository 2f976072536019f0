"""Alembic migrations run when a store is opened: on a new file or database,
on an up-to-date one, and they build exactly the schema models.py declares,
on SQLite and (LAYERDECK_TEST_PG_URL) PostgreSQL."""
from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from engine.store import RunStore
from engine.store.db import MIGRATIONS_DIR
from engine.store.models import Base

REPO = Path(__file__).resolve().parents[2]
CONTRACT_TABLES = {"runs", "metrics", "system_metrics", "checkpoints"}


def _head() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg).get_current_head()


def _version(where: Path | str) -> list[str]:
    """alembic_version of a SQLite file or a database URL."""
    engine = create_engine(where if isinstance(where, str) else f"sqlite:///{where}")
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def test_a_new_database_is_migrated_to_head(store_url):
    RunStore(store_url).close()
    engine = create_engine(store_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert CONTRACT_TABLES | {"metric_blocks", "run_commands"} <= tables
    assert _version(store_url) == [_head()]


def test_a_new_file_is_migrated_to_head(tmp_path):
    path = tmp_path / "sub" / "folder" / "runs.db"  # the folder is created too
    RunStore(f"sqlite:///{path}").close()
    tables = {r[0] for r in sqlite3.connect(path).execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    assert CONTRACT_TABLES <= tables
    assert _version(path) == [_head()]


def test_an_empty_existing_file_is_migrated(tmp_path):
    path = tmp_path / "runs.db"
    path.touch()  # e.g. created by `touch` or another tool
    with RunStore(f"sqlite:///{path}") as store:
        assert store.list_runs() == []
    assert _version(path) == [_head()]


def test_reopening_a_migrated_store_keeps_its_data(store_url):
    with RunStore(store_url) as store:
        rid = store.create_run({"name": "kept"})
        store.add_metrics(rid, [("val/loss", 1, 1, 0.5, 1.0)])
    before = _version(store_url)
    with RunStore(store_url) as store:
        assert store.get_run(rid).name == "kept"
        assert store.get_run(rid).summary["metrics"]["val/loss"]["last"] == 0.5
    assert _version(store_url) == before == [_head()]


def test_migrations_build_what_the_models_declare(store_url):
    RunStore(store_url).close()
    engine = create_engine(store_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


def test_metrics_is_a_without_rowid_table(db_url):
    RunStore(db_url).close()
    sql = sqlite3.connect(db_url.removeprefix("sqlite:///")).execute(
        "SELECT sql FROM sqlite_master WHERE name='metrics'").fetchone()[0]
    assert "WITHOUT ROWID" in sql.upper()


def test_two_processes_opening_a_new_store_migrate_it_once(store_url):
    url = store_url
    code = textwrap.dedent("""
        import sys
        from engine.store import RunStore
        s = RunStore(sys.argv[1]); s.create_run({"name": "x"}); s.close()
    """)
    procs = [subprocess.Popen([sys.executable, "-c", code, url], cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errs
    with RunStore(url) as store:
        assert len(store.list_runs()) == 4
    assert _version(url) == [_head()]


def test_two_threads_open_new_stores_at_once(tmp_path):
    """The GUI opens stores from several threads (run list, monitor, bridge);
    Alembic's context is process-wide, so migrations must not interleave."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.store import RunStore

    def open_new(i: int) -> int:
        with RunStore(f"sqlite:///{tmp_path / f'runs{i}.db'}") as store:
            return store.create_run({"name": f"r{i}"}, name=f"r{i}")

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(open_new, range(8)))
    assert ids == [1] * 8


def test_a_store_from_before_the_command_channel_is_upgraded_with_its_runs(store_url):
    """A 0002 database (the first wave's) opened by this version: its runs are
    kept, run_commands is added, and a live run can be commanded through it."""
    from alembic import command

    url = store_url
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(cfg, "0001")
    command.upgrade(cfg, "0002")  # step by step, as the first waves' stores were made
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO runs (name, status, spec, created_at, summary, notes, tags) "
                          "VALUES ('old-run', 'running', '{}', '2026-11-30 10:00:00', '{}', '', '[]')"))
    engine.dispose()
    assert _version(url) == ["0002"]
    with RunStore(url) as store:
        [run] = store.list_runs()
        assert (run.name, run.status) == ("old-run", "running")
        store.request_command(run.id, "pause")
        assert store.take_commands(run.id) == ["pause"] and store.pending_commands(run.id) == []
    assert _version(url) == [_head()]
