"""Where the run store lives: `--db`, then LAYERDECK_DB, then the user data dir.

A bare file path is accepted wherever a URL is (`--db runs.db`), because that
is what people type; it becomes an absolute `sqlite:///` URL.
"""
from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "LAYERDECK_DB"
# A store password travels to worker processes here, never on their command
# line (which every user of the machine can read with `ps`).
PASSWORD_ENV_VAR = "LAYERDECK_DB_PASSWORD"
APP_NAME = "layerdeck"
DB_FILENAME = "runs.db"
# A PostgreSQL URL without a driver means psycopg 3 (the `postgres` extra):
# SQLAlchemy's own default for it, psycopg2, is not a dependency.
POSTGRES_SCHEME = "postgresql+psycopg"
_BARE_POSTGRES = ("postgresql", "postgres")


def default_db_path() -> Path:
    """`<user data dir>/layerdeck/runs.db` (e.g. ~/.local/share/layerdeck/runs.db)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False)) / DB_FILENAME


def normalize_db_url(value: str) -> str:
    """A SQLAlchemy URL as given (postgresql:// gets the psycopg driver), or a
    file path turned into a sqlite URL."""
    value = value.strip()
    if not value:
        raise ValueError("the store URL is empty: give a SQLAlchemy URL "
                         "(sqlite:///path/runs.db, postgresql://...) or a file path")
    if "://" in value:
        scheme, rest = value.split("://", 1)
        if scheme in _BARE_POSTGRES:
            return f"{POSTGRES_SCHEME}://{rest}"
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def resolve_db_url(cli_value: str | None = None) -> str:
    """The store URL: `cli_value` (--db), then $LAYERDECK_DB, then the default
    file in the user data dir, whose folder is created here."""
    if cli_value:
        return normalize_db_url(cli_value)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return normalize_db_url(env)
    path = default_db_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def sqlite_path(url: str) -> Path | None:
    """The database file of a sqlite URL; None for other databases and in-memory sqlite."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return None
    db = u.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db).expanduser().resolve()


def shown_url(url: str) -> str:
    """The URL to print or show: its password, if any, as ***."""
    from sqlalchemy.engine import make_url

    try:
        u = make_url(url)
    except Exception:  # not a URL SQLAlchemy reads: nothing in it to hide
        return url
    return url if u.password is None else u.render_as_string(hide_password=True)


def split_password(url: str) -> tuple[str, str | None]:
    """(the URL without its password, the password or None): the first goes on
    a worker's command line, the second into its environment (PASSWORD_ENV_VAR)."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.password is None:
        return url, None
    # URL.set(password=None) means "leave it"; URL is a NamedTuple, so _replace clears it.
    return u._replace(password=None).render_as_string(hide_password=False), str(u.password)


def with_env_password(url: str) -> str:
    """A worker's store URL: the one it was given, with the password from
    PASSWORD_ENV_VAR when the URL has none."""
    from sqlalchemy.engine import make_url

    password = os.environ.get(PASSWORD_ENV_VAR)
    u = make_url(url)
    if not password or u.password is not None:
        return url
    return u.set(password=password).render_as_string(hide_password=False)
