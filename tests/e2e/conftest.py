"""End-to-end fixtures: a real Runner over the test's own SQLite store (a
module that needs another executor or store defines its own `runner`)."""
from __future__ import annotations

import pytest

from engine.runner import Runner


@pytest.fixture
def runner(db_url):
    r = Runner(db_url)
    yield r
    r.shutdown(stop_runs=True, timeout=30)
