"""The run store (DESIGN.md §4): SQLAlchemy tables, Alembic migrations and
RunStore, which hands out plain entities.

    from engine.store import RunStore, resolve_db_url
    store = RunStore(resolve_db_url(args.db))
"""
from engine.store.entities import CheckpointRecord, Curve, Run
from engine.store.models import ACTIVE_STATUSES, CHECKPOINT_KINDS, STATUSES, TERMINAL_STATUSES
from engine.store.paths import ENV_VAR, default_db_path, resolve_db_url
from engine.store.reduce import minmax_reduce
from engine.store.entities import RunNotFoundError, StoreError
from engine.store.runstore import RunStore
from engine.store.summary import higher_is_better

__all__ = [
    "ACTIVE_STATUSES", "CHECKPOINT_KINDS", "ENV_VAR", "STATUSES", "TERMINAL_STATUSES",
    "CheckpointRecord", "Curve", "Run", "RunNotFoundError", "RunStore", "default_db_path",
    "StoreError", "higher_is_better", "minmax_reduce", "resolve_db_url",
]
