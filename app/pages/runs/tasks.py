"""Run a plain function off the UI thread and get its result back on it.

Store reads can take a while (10,000 runs, curves of millions of points);
the UI thread only receives finished results. Results arrive through a
queued signal, so the callbacks run on the UI thread; pass bound methods of
QObjects (the page) so Qt drops the delivery if the receiver is gone.
"""
from __future__ import annotations

import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot


class _Emitter(QObject):
    """Lives on the UI thread; the job emits from its thread, so delivery is
    queued to the UI thread (a lambda connected directly could run on the
    job's thread instead)."""

    done = Signal(object)
    failed = Signal(str, str)  # message for the user, traceback for the log

    def __init__(self, worker: "Worker", on_done: Callable[[Any], None], on_error: Callable[[str, str], None]):
        super().__init__()
        self._worker = worker
        self._on_done = on_done
        self._on_error = on_error
        self.done.connect(self._deliver_done)
        self.failed.connect(self._deliver_failed)

    @Slot(object)
    def _deliver_done(self, result: Any) -> None:
        self._worker._pending.discard(self)
        self._on_done(result)

    @Slot(str, str)
    def _deliver_failed(self, message: str, trace: str) -> None:
        self._worker._pending.discard(self)
        self._on_error(message, trace)


class _Job(QRunnable):
    def __init__(self, fn: Callable[[], Any], emitter: _Emitter):
        super().__init__()
        self._fn = fn
        self._emitter = emitter  # kept alive by the job until it has emitted

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # noqa: BLE001 - shown to the user in words, traceback logged
            self._emitter.failed.emit(describe_error(exc), traceback.format_exc())
        else:
            self._emitter.done.emit(result)


def describe_error(exc: BaseException) -> str:
    """A one-line message: the exception's own words, its type only when it has none."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text


class Worker(QObject):
    """A small thread pool owned by a page; `submit` runs fn() on it."""

    def __init__(self, parent: QObject | None = None, threads: int = 2):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._pending: set[_Emitter] = set()  # kept alive until their result is delivered

    def submit(self, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str, str], None]) -> None:
        emitter = _Emitter(self, on_done, on_error)
        self._pending.add(emitter)
        self.pool.start(_Job(fn, emitter))

    def wait(self, msecs: int = 10_000) -> bool:
        """Block until every job finished (tests and shutdown)."""
        return self.pool.waitForDone(msecs)
