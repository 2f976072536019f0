"""Test setup shared by every test: Qt offscreen, and no test ever touches
the user's settings, data dir or database."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest


def pytest_configure(config):
    """Import mnist1d (and the matplotlib it pulls in: seconds, a font cache on a
    fresh machine) once, before any test: otherwise the first GUI test that
    scans datasets does it on a worker thread, and a page torn down meanwhile
    widened a window in which CI once saw PySide segfault in a garbage collection."""
    import mnist1d.data  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("LAYERDECK_DB", f"sqlite:///{home / 'runs.db'}")
    yield


@pytest.fixture
def db_url(tmp_path) -> str:
    """A fresh SQLite store in the test's own folder."""
    return f"sqlite:///{tmp_path / 'runs.db'}"


@pytest.fixture
def events(runner):
    """Every event of the test's `runner` fixture, recorded (tests/events.py)."""
    from tests.events import EventRecorder

    recorder = EventRecorder()
    runner.subscribe(recorder)
    return recorder
