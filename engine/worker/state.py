"""The run's status as its worker writes it."""
from __future__ import annotations

import threading
from typing import Optional

from engine.protocol import Status
from engine.status import RunStatus
from engine.store import RunStore
from engine.training.callbacks import Control
from engine.worker.sender import EventSender

LIVE_FROM = (RunStatus.RUNNING.value, RunStatus.PAUSED.value)


class RunState:
    """The run's status as this process last wrote it; one lock orders the
    command thread's paused/running writes before the final status."""

    def __init__(self, store: RunStore, run_id: int, sender: EventSender, control: Control):
        self.store, self.run_id, self.sender, self.control = store, run_id, sender, control
        self.lock = threading.Lock()
        self.final = False

    def set_device(self, device: str) -> None:
        """Training has started on `device`: record it, keeping a pause that
        arrived while the data loaded (a signal can come as soon as the pid
        is recorded). Under the lock, so a pause written meanwhile stays."""
        with self.lock:
            if self.final:
                return
            status = "paused" if self.control.paused and not self.control.stop_requested else "running"
            self.store.set_status(self.run_id, status, device=device, only_from=LIVE_FROM)

    def set_live(self, status: str) -> None:
        """running <-> paused, unless the run has already ended."""
        with self.lock:
            if self.final:
                return
            changed = self.store.set_status(self.run_id, status, only_from=LIVE_FROM)
        if changed:
            self.sender.send(Status(self.run_id, status))

    def finish(self, status: str, error: Optional[str]) -> None:
        with self.lock:
            self.final = True
            self.store.set_status(self.run_id, status, error=error)
