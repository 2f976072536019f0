"""Plain functions run off the UI thread; their results come back on it.

Store reads, dataset loads, model summaries and NVML polls all go through
`Background`: `submit(fn, on_done, on_error)` calls fn() on a worker thread
and then on_done(result), or on_error(message, traceback), on the UI thread.
`latest_only=True` makes a burst of requests cost one: a new request drops
the ones not yet started and a result that is no longer the latest is never
delivered.

Plain daemon threads, not a QThreadPool: a pool's destructor waits for its
running job while holding the GIL that job needs (a page closed mid-job
hung), and a daemon thread never holds up exit. Threads start on demand and
end after LINGER_S without work.

Results travel through one relay QObject that lives as long as the app, so
no worker ever emits on a deleted object. Each job's record (its callbacks,
which hold pages) stays in a UI-thread table until delivered and the worker
drops its own reference to fn before it emits, so the last reference to a
page is always dropped on the UI thread (a QObject must die in its own
thread). A result whose Background is gone is dropped. Results should be
plain data, never QObjects.
"""
from __future__ import annotations

import itertools
import logging
import threading
import time
import traceback
import weakref
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QCoreApplication, QObject, Signal, Slot
from shiboken6 import Shiboken, isValid

from app.errors import error_text

log = logging.getLogger(__name__)

LINGER_S = 5.0  # an idle worker waits this long for more work (a 1 s poll keeps one thread)

OnDone = Callable[[Any], None]
OnError = Callable[[str, str], None]  # message for the user, traceback for the log


def describe_error(exc: BaseException) -> str:
    """A one-line message: the exception's own words, its type only when it has none."""
    lines = error_text(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def log_error(message: str, trace: str) -> None:
    """The default on_error: nobody is waiting for words, so the log gets it all."""
    log.error("background work failed: %s\n%s", message, trace)


@dataclass
class _Job:
    owner: "weakref.ref[Background]"
    fn: Callable[[], Any]
    on_done: Optional[OnDone]
    on_error: OnError


_ids = itertools.count(1)
_jobs: dict[int, _Job] = {}  # touched on the UI thread only


class _Relay(QObject):
    """Lives on the UI thread, so emitting from a worker queues the delivery there."""

    finished = Signal(int, bool, object)  # job id, ok, result or (message, traceback)

    @Slot(int, bool, object)
    def _deliver(self, job_id: int, ok: bool, payload: Any) -> None:
        job = _jobs.pop(job_id, None)
        owner = job.owner() if job is not None else None
        if owner is not None and isValid(owner):
            owner._deliver(job_id, job, ok, payload)


_relay: Optional[_Relay] = None


def _the_relay() -> _Relay:
    global _relay
    if _relay is None:  # first Background: we are on the UI thread
        _relay = _Relay()
        app = QCoreApplication.instance()
        if app is not None:
            _relay.moveToThread(app.thread())
        _relay.finished.connect(_relay._deliver)
    return _relay


def _call(fn: Callable[[], Any]) -> tuple[bool, Any]:
    """fn() or its error in words; nothing of fn's frames outlives the call."""
    try:
        return True, fn()
    except Exception as exc:  # noqa: BLE001 - handed to on_error: words for the user, traceback for the log
        return False, (describe_error(exc), traceback.format_exc())


class _Lane:
    """The thread side of one Background: a queue and up to `threads` workers (no Qt)."""

    def __init__(self, threads: int, name: str):
        self._cond = threading.Condition()
        self._queue: deque[tuple[int, Callable[[], Any]]] = deque()
        self._threads, self._name = threads, name
        self._alive = 0  # workers started and not yet ended
        self._busy = 0  # workers inside a job

    def put(self, job_id: int, fn: Callable[[], Any]) -> None:
        with self._cond:
            self._queue.append((job_id, fn))
            idle = self._alive - self._busy
            if idle < len(self._queue) and self._alive < self._threads:
                self._alive += 1
                threading.Thread(target=self._serve, name=self._name, daemon=True).start()
            self._cond.notify()

    def clear(self) -> list[int]:
        """Drop the jobs not yet started; their ids."""
        with self._cond:
            dropped = [job_id for job_id, _ in self._queue]
            self._queue.clear()
            self._cond.notify_all()
        return dropped

    def wait(self, msecs: int) -> bool:
        deadline = None if msecs < 0 else time.monotonic() + msecs / 1000
        with self._cond:
            while self._queue or self._busy:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def _serve(self) -> None:
        relay = _the_relay()
        while True:
            with self._cond:
                deadline = time.monotonic() + LINGER_S
                while not self._queue:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        self._alive -= 1
                        return
                    self._cond.wait(remaining)
                job_id, fn = self._queue.popleft()
                self._busy += 1
            ok, payload = _call(fn)
            del fn  # before emitting: the UI thread's record must hold the last reference
            try:
                relay.finished.emit(job_id, ok, payload)
            except RuntimeError:  # the application is gone (exit): nobody to tell
                pass
            del payload
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


class Background(QObject):
    """Runs plain functions off the UI thread for one owner (a page, a poller)."""

    def __init__(self, parent: Optional[QObject] = None, *, threads: int = 1,
                 latest_only: bool = False, name: str = "layerdeck-background"):
        """threads: how many jobs may run at once (1 keeps a stateful fn serial).
        latest_only: a new request replaces the waiting ones; older results are dropped."""
        super().__init__(parent)
        _the_relay()
        self._lane = _Lane(threads, name)
        self._latest_only = latest_only
        self._latest = 0
        self._open: set[int] = set()  # submitted, not yet answered
        lane = self._lane  # not self: the handler runs while this object is being destroyed
        self.destroyed.connect(lambda *_: _forget(lane.clear()))

    def submit(self, fn: Callable[[], Any], on_done: Optional[OnDone] = None,
               on_error: OnError = log_error) -> None:
        """Call fn() on a worker; on_done(result) or on_error(message, traceback) on the UI thread."""
        if self._latest_only:
            self.clear()
        job_id = next(_ids)
        _jobs[job_id] = _Job(weakref.ref(self), fn, on_done, on_error)
        self._latest = job_id
        self._open.add(job_id)
        self._lane.put(job_id, fn)

    def clear(self) -> None:
        """Forget the jobs not yet started (a running one finishes and is delivered)."""
        dropped = self._lane.clear()
        self._open.difference_update(dropped)
        _forget(dropped)

    def pending(self) -> bool:
        """True while a submitted job has no answer yet."""
        return bool(self._open)

    def wait(self, msecs: int = -1) -> bool:
        """Block until no job is queued or running (shutdown and tests); False on timeout.
        Results already computed are delivered when the event loop next runs."""
        return self._lane.wait(msecs)

    def _deliver(self, job_id: int, job: _Job, ok: bool, payload: Any) -> None:
        self._open.discard(job_id)
        if self._latest_only and job_id != self._latest:
            return  # stale: a newer request is on its way
        if ok:
            if job.on_done is not None and _receiver_alive(job.on_done):
                job.on_done(payload)
        elif _receiver_alive(job.on_error):
            job.on_error(*payload)


def _forget(job_ids: list[int]) -> None:
    for job_id in job_ids:
        _jobs.pop(job_id, None)


def _receiver_alive(callback: Callable[..., Any]) -> bool:
    """False for a bound method of a QObject whose C++ side is deleted."""
    receiver = getattr(callback, "__self__", None)
    return not isinstance(receiver, Shiboken.Object) or isValid(receiver)
