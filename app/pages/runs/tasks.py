"""The Runs pages' background reads: store queries off the UI thread.

Store reads can take a while (10,000 runs, curves of millions of points);
the UI thread only receives finished results (app.background).
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject

from app.background import Background


class Worker(Background):
    """Two threads owned by a page; `submit(fn, on_done, on_error)` runs fn() on one."""

    def __init__(self, parent: Optional[QObject] = None, threads: int = 2):
        super().__init__(parent, threads=threads, name="layerdeck-runs")

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until every job finished (tests and shutdown)."""
        return super().wait(msecs)
