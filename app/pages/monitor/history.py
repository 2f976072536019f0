"""The machine's samples from the app's start, kept for the Monitor page.

Pages are built when first opened, but the Monitor page must show the
minutes before that too. The main window starts one MonitorHistory with the
app: it samples off the UI thread (MonitorCollector on a
BackgroundCollector) and keeps the last LONGEST_WINDOW seconds of
snapshots; the page replays them when it is built, then follows the live
stream. It draws nothing, so it costs one small sample a second.
"""
from __future__ import annotations

from collections import deque

from PySide6.QtCore import QObject, Signal

from app.pages.monitor.collect import MonitorCollector, Snapshot
from app.widgets.sampling import BackgroundCollector
from engine.monitor import SystemSampler

WINDOWS = [("Last 1 min", 60), ("Last 5 min", 300), ("Last 15 min", 900)]  # what the page offers
LONGEST_WINDOW = max(s for _, s in WINDOWS)


class MonitorHistory(QObject):
    collected = Signal(object)
    """A new Snapshot (payload), after it was kept."""

    def __init__(self, store_url: str | None, *, sampler: SystemSampler | None = None,
                 interval_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.snapshots: deque[Snapshot] = deque(maxlen=int(LONGEST_WINDOW * 1000 / max(interval_ms, 1)) + 64)
        self.collector = MonitorCollector(store_url, sampler)
        self.background = BackgroundCollector(self.collector, interval_ms, self)
        self.background.collected.connect(self._keep)

    def start(self) -> None:
        self.background.start()

    def refresh_workers(self) -> None:
        """Re-read the workers at the next sample (runs changed)."""
        self.collector.refresh_workers = True
        self.background.request()

    def _keep(self, snap: Snapshot) -> None:
        self.snapshots.append(snap)
        self.collected.emit(snap)
