"""Call a collecting function on a timer, off the UI thread.

NVML calls take the driver lock and a store read can wait on a writer, so
neither runs on the UI thread: a QTimer here asks a one-thread pool to call
`collect()`, and its result comes back on the UI thread through
`collected`. A tick that finds the previous call still running is skipped,
so a slow call never piles up work.
"""
from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal, Slot

log = logging.getLogger(__name__)


class _Emitter(QObject):
    done = Signal(object)
    failed = Signal(str)


class _Call(QRunnable):
    def __init__(self, fn: Callable[[], Any], emitter: _Emitter):
        super().__init__()
        self._fn = fn
        self._emitter = emitter  # lives until this call has emitted

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception:  # noqa: BLE001 - logged; the next tick tries again
            self._emitter.failed.emit(traceback.format_exc())
        else:
            self._emitter.done.emit(result)


class BackgroundCollector(QObject):
    """collect() every `interval_ms`, on a worker thread; results on the UI thread."""

    collected = Signal(object)
    """A result of collect() (payload: whatever collect returned)."""

    def __init__(self, collect: Callable[[], Any], interval_ms: int = 1000, parent: QObject | None = None):
        super().__init__(parent)
        self._collect = collect
        self._busy = False
        self._pending: _Emitter | None = None
        self._failures = 0
        # One thread: collect() may keep state (a sampler) that is not thread-safe.
        # The pool is our child, so deleting us waits for a call in progress.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
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
        return self._pool.waitForDone(msecs)

    @Slot()
    def request(self) -> None:
        """Collect as soon as the previous call is done (skipped while one runs)."""
        if self._busy:
            return
        self._busy = True
        emitter = _Emitter()
        emitter.done.connect(self._on_done)
        emitter.failed.connect(self._on_failed)
        self._pending = emitter
        self._pool.start(_Call(self._collect, emitter))

    @Slot(object)
    def _on_done(self, result: Any) -> None:
        self._busy, self._pending = False, None
        self._failures = 0
        self.collected.emit(result)

    @Slot(str)
    def _on_failed(self, trace: str) -> None:
        self._busy, self._pending = False, None
        self._failures += 1
        if self._failures == 1:  # once per streak: a broken collector would log every second
            log.error("background collection failed:\n%s", trace)
