"""Store URLs for the engine's tests: every store test runs on SQLite, and on
PostgreSQL too when LAYERDECK_TEST_PG_URL names a server (.ci/run sets it).

The PostgreSQL variant gives each test a database of its own, created through
the URL's database and dropped after the test, so tests never see each
other's runs and need no cleanup of their own.
"""
from __future__ import annotations

import os
import time
import uuid
import warnings
from contextlib import contextmanager
from typing import Iterator

import pytest

PG_ENV = "LAYERDECK_TEST_PG_URL"


@contextmanager
def fresh_pg_database(admin_url: str) -> Iterator[str]:
    """The URL of a new, empty database on the server of `admin_url` (whose
    role may CREATE DATABASE), dropped on exit even if connections remain."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"layerdeck_t_{uuid.uuid4().hex[:16]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")  # CREATE DATABASE refuses a transaction
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            _drop(admin, name)
    finally:
        admin.dispose()


def _drop(admin, name: str) -> None:
    """DROP DATABASE, ending what still holds it. WITH (FORCE) ends our own
    leftover connections, but on PostgreSQL 15 it refuses when an autovacuum
    worker is in the database (a role without pg_signal_backend may not end
    it); a plain DROP stops autovacuum itself, so it is the retry. A database
    that still cannot be dropped is left with a warning, not a failed test."""
    from sqlalchemy.exc import DBAPIError

    for statement in [f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'] + [f'DROP DATABASE IF EXISTS "{name}"'] * 5:
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(statement)
            return
        except DBAPIError as e:
            error = e
            time.sleep(0.5)
    warnings.warn(f"could not drop the test database {name}: {error.orig}", stacklevel=1)


def pg_admin_url() -> str:
    """LAYERDECK_TEST_PG_URL, or a skip that says how to run the PostgreSQL variant."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        pytest.skip(f"{PG_ENV} is not set: PostgreSQL variants need a server "
                    "(postgresql+psycopg://USER:PASS@HOST:PORT/DB, a role that may create databases; "
                    ".ci/run sets one up)")
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty store URL: a SQLite file in the test's folder, or a new
    PostgreSQL database (skipped without LAYERDECK_TEST_PG_URL)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'runs.db'}"
        return
    with fresh_pg_database(pg_admin_url()) as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database alone, for tests of PostgreSQL behaviour."""
    with fresh_pg_database(pg_admin_url()) as url:
        yield url
