"""Collects runner events in tests (the runner calls subscribers on its reader threads)."""
from __future__ import annotations

import threading
from typing import Any, Callable, Optional


class EventRecorder:
    """A runner subscriber that keeps every event and waits for conditions."""

    def __init__(self) -> None:
        self.events: list = []
        self.cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 120.0, *, after: int = 0) -> Any:
        """The first event from index `after` on that satisfies `predicate`."""
        with self.cond:
            assert self.cond.wait_for(lambda: any(predicate(e) for e in self.events[after:]), timeout), \
                [type(e).__name__ for e in self.events]
            return next(e for e in self.events[after:] if predicate(e))

    def of(self, run_id: int, kind: Optional[type] = None) -> list:
        """The events of one run, optionally of one kind."""
        with self.cond:
            return [e for e in self.events if e.run_id == run_id and (kind is None or isinstance(e, kind))]
