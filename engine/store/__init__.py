"""The run store (docs/ARCHITECTURE.md, "The store"): SQLAlchemy tables, Alembic migrations and
RunStore, which hands out plain entities.

    from engine.store import RunStore, resolve_db_url
    store = RunStore(resolve_db_url(args.db))

Names load on first use: the GUI resolves the store's path before its window
paints, and SQLAlchemy plus the ORM models cost ~0.5 s that can wait.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from engine.store.paths import ENV_VAR, default_db_path, resolve_db_url

if TYPE_CHECKING:  # pragma: no cover
    from engine.status import STATUSES
    from engine.store.entities import CheckpointRecord, Curve, Run, RunNotFoundError, StoreError
    from engine.store.models import CHECKPOINT_KINDS, LIVE_STATUSES, TERMINAL_STATUSES
    from engine.store.reduce import minmax_reduce
    from engine.store.runstore import RunStore
    from engine.store.summary import higher_is_better

_LAZY = {
    "CheckpointRecord": "engine.store.entities", "Curve": "engine.store.entities",
    "Run": "engine.store.entities", "RunNotFoundError": "engine.store.entities",
    "StoreError": "engine.store.entities",
    "LIVE_STATUSES": "engine.store.models", "CHECKPOINT_KINDS": "engine.store.models",
    "STATUSES": "engine.status", "TERMINAL_STATUSES": "engine.store.models",
    "minmax_reduce": "engine.store.reduce",
    "RunStore": "engine.store.runstore",
    "higher_is_better": "engine.store.summary",
}

# Written out (not derived from _LAZY) so linters and type checkers see the names.
__all__ = [
    "ENV_VAR", "default_db_path", "resolve_db_url",
    "CheckpointRecord", "Curve", "Run", "RunNotFoundError", "StoreError",
    "LIVE_STATUSES", "CHECKPOINT_KINDS", "STATUSES", "TERMINAL_STATUSES",
    "minmax_reduce", "RunStore", "higher_is_better",
]
assert set(__all__) == {"ENV_VAR", "default_db_path", "resolve_db_url", *_LAZY}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.store' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
