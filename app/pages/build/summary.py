"""Model summaries computed off the UI thread, latest request wins.

`engine.model` imports torch and the dataset's input shape may take a moment
to compute (mnist1d is generated), so both run on one background thread. A
request made while another is queued replaces it; a result that is no longer
the latest is dropped, so typing in the inspector never waits for torch.

At start-up the shell holds background work until the window has painted
(`hold()` / `release()`), so torch is imported only after the first paint.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.errors import error_text

log = logging.getLogger(__name__)

_held = False
_waiting: list["SummaryService"] = []


def hold() -> None:
    """Queue background work until release() (the shell calls it before showing the window)."""
    global _held
    _held = True


def release() -> None:
    """Start queued background work (the shell calls it after the first paint)."""
    global _held
    _held = False
    waiting, _waiting[:] = list(_waiting), []
    for service in waiting:
        service._start_latest()


@dataclass(frozen=True)
class SummaryResult:
    generation: int
    info: Any = None  # engine.data DatasetInfo, or None when the dataset failed
    summary: Any = None  # engine.model ModelSummary, or None when it could not be computed
    error: str | None = None  # what stopped the summary, in words


def compute(spec: Any, generation: int = 0) -> SummaryResult:
    """The summary of `spec`'s model on its dataset (runs on a worker thread)."""
    from engine.data import DataError
    from engine.model import summarize_spec

    try:
        summary, info = summarize_spec(spec)
    except DataError as e:  # a dataset a user can fix (missing CSV, bad option): say it
        return SummaryResult(generation, error=f"dataset {spec.data.name!r}: {error_text(e)}")
    except Exception as e:  # a bug: say it, log it, keep the page alive
        log.warning("summarize failed", exc_info=True)
        return SummaryResult(generation, error=f"cannot summarize the model: {error_text(e)}")
    return SummaryResult(generation, info=info, summary=summary)


class _Relay(QObject):
    """Carries results from the worker thread to the UI thread (queued). It is
    never parented to a page, so a job finishing after its page closed emits
    into a connection Qt has already dropped, not into a deleted object."""
    done = Signal(object)


class _Worker:
    """One daemon thread for all builders. Each requester keeps at most one
    waiting job (a new request replaces it: latest wins). A plain Python
    thread, not a QThreadPool: a pool's destructor waits for its job while
    holding the GIL that the job needs, and a daemon thread never holds up exit."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._jobs: dict[int, tuple[_Relay, Any, int]] = {}
        self._thread: threading.Thread | None = None

    def submit(self, relay: _Relay, spec: Any, generation: int) -> None:
        with self._cond:
            self._jobs[id(relay)] = (relay, spec, generation)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="layerdeck-summary", daemon=True)
                self._thread.start()
            self._cond.notify()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._jobs:
                    self._cond.wait()
                _, (relay, spec, generation) = self._jobs.popitem()
            try:
                relay.done.emit(compute(spec, generation))
            except Exception:  # compute() reports user errors itself; this is a bug: log, keep serving
                log.exception("summary worker failed")


_worker = _Worker()
# Every relay stays referenced from here, so its last reference is never dropped on the
# worker thread (a QObject must be deleted in its own thread). One per Build page: tiny.
_relays: list[_Relay] = []


class SummaryService(QObject):
    """Computes summaries for the builder: request() often, get ready() for the latest only."""

    ready = Signal(object)
    """The summary of the latest requested spec is known (payload: SummaryResult)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._relay = _Relay()
        _relays.append(self._relay)
        self._relay.done.connect(self._on_done)
        self._generation = 0
        self._delivered = 0
        self._spec: Any = None

    def request(self, spec: Any) -> int:
        self._generation += 1
        self._spec = spec
        if _held:
            if self not in _waiting:
                _waiting.append(self)
        else:
            self._start_latest()
        return self._generation

    def pending(self) -> bool:
        """True while the latest request has no result yet."""
        return self._delivered < self._generation

    def _start_latest(self) -> None:
        _worker.submit(self._relay, self._spec, self._generation)

    def _on_done(self, result: SummaryResult) -> None:
        if result.generation != self._generation:
            return  # stale: a newer request is on its way
        self._delivered = result.generation
        self.ready.emit(result)
