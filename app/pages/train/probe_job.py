"""A probe (LR finder, check before training) started from the Train page:
engine.training.probe_process.run_probe on a background thread, its progress
handed to the UI thread through a queue a timer drains, so no Qt object is
touched off the UI thread. The probe itself runs in its own process."""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QTimer, Signal

from app.background import Background


class ProbeJob(QObject):
    progress = Signal(dict)
    """A progress line from the probe (step, loss, lr for the LR finder)."""
    done = Signal(dict)
    """The probe's result (LRFinderResult.to_dict or SanityReport.to_dict)."""
    failed = Signal(str, str)
    """The probe could not finish: a sentence for the user, the probe process's log."""

    def __init__(self, task: str, parent: Optional[QObject] = None,
                 run: Optional[Callable[..., dict]] = None):
        """run: engine.training.probe_process.run_probe (tests may pass another)."""
        super().__init__(parent)
        self.task = task
        self._run = run
        self._bg = Background(self, name=f"layerdeck-{task}")
        self._queue: "queue.SimpleQueue[dict]" = queue.SimpleQueue()
        self._cancel: Optional[threading.Event] = None
        self._timer = QTimer(self)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._drain)

    @property
    def running(self) -> bool:
        return self._cancel is not None

    def start(self, spec: Any) -> None:
        if self.running:
            return
        cancel = self._cancel = threading.Event()
        q, task, run = self._queue, self.task, self._run

        def work() -> tuple[str, Any, str]:
            from engine.training.probe_process import ProbeError, run_probe

            try:
                result = (run or run_probe)(task, spec, on_progress=q.put, cancel=cancel)
            except ProbeError as e:
                return "error", str(e), e.log
            return "ok", result, ""

        self._timer.start()
        self._bg.submit(work, self._finish, lambda msg, trace: self._finish(("error", msg, trace)))

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _drain(self) -> None:
        last = None
        while True:
            try:
                last = self._queue.get_nowait()
            except queue.Empty:
                break
            self.progress.emit(last)

    def _finish(self, outcome: tuple[str, Any, str]) -> None:
        self._drain()
        self._timer.stop()
        cancelled = self._cancel is not None and self._cancel.is_set()
        self._cancel = None
        kind, payload, log = outcome
        if cancelled:
            return
        if kind == "ok":
            self.done.emit(payload)
        else:
            self.failed.emit(str(payload), log)
