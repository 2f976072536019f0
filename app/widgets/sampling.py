"""Call a collecting function on a timer, off the UI thread.

NVML calls take the driver lock and a store read can wait on a writer, so
neither runs on the UI thread: a QTimer here submits `collect()` to one
background thread (app.background), and its result comes back on the UI
thread through `collected`. A tick that finds the previous call still
running is skipped, so a slow call never piles up work.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from app.background import Background

log = logging.getLogger(__name__)


class BackgroundCollector(QObject):
    """collect() every `interval_ms`, on a worker thread; results on the UI thread."""

    collected = Signal(object)
    """A result of collect() (payload: whatever collect returned)."""

    def __init__(self, collect: Callable[[], Any], interval_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self._collect = collect
        self._failures = 0
        # One thread: collect() may keep state (a sampler) that is not thread-safe.
        self._background = Background(self, name="layerdeck-collect")
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.request)

    def start(self) -> None:
        """Collect now, then every interval."""
        self._timer.start()
        self.request()

    def stop(self) -> None:
        self._timer.stop()

    @property
    def active(self) -> bool:
        return self._timer.isActive()

    def wait(self, msecs: int = 5000) -> bool:
        """Block until a call in progress has finished (tests and shutdown)."""
        return self._background.wait(msecs)

    @Slot()
    def request(self) -> None:
        """Collect as soon as the previous call is done (skipped while one runs)."""
        if not self._background.pending():
            self._background.submit(self._collect, self._on_done, self._on_failed)

    def _on_done(self, result: Any) -> None:
        self._failures = 0
        self.collected.emit(result)

    def _on_failed(self, message: str, trace: str) -> None:
        self._failures += 1
        if self._failures == 1:  # once per streak: a broken collector would log every second
            log.error("background collection failed:\n%s", trace)
