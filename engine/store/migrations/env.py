"""Alembic environment. RunStore runs migrations programmatically
(engine.store.migrate), handing over an open connection in
`config.attributes["connection"]`; no alembic.ini is needed at run time.

A schema change is a new hand-written revision in versions/ plus the same
change in models.py; tests/engine/test_store_migrations.py checks that the
two agree.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from engine.store.models import Base

config = context.config
target_metadata = Base.metadata


def _configure_and_run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("alembic needs an open connection or sqlalchemy.url")
    engine = create_engine(url)
    with engine.begin() as conn:
        _configure_and_run(conn)
    engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
