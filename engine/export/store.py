"""Keeping an export check with its run, as the document `export/<format>`."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

from engine.export.check import ExportCheck

if TYPE_CHECKING:
    from engine.store import RunStore


def keep_check(store: "RunStore", run_id: int, check: ExportCheck) -> None:
    doc = check.to_document()
    if not math.isfinite(doc["max_abs_diff"]):
        doc["max_abs_diff"] = None  # JSON has no infinity; `error` says what went wrong
    store.put_document(run_id, f"export/{check.format}", doc)
