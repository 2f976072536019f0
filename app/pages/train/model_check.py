"""The model check behind Launch: the spec's model summarized on its dataset
(engine.model.summarize: shapes, errors, training memory at this batch
size), off the UI thread because it imports torch and may load the data.

Requests are "latest wins": one background thread, a request made while
another waits replaces it, and a result that is no longer the latest is
dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from app.bridge import ENGINE_IMPORT_LOCK
from app.errors import error_text


@dataclass(frozen=True)
class CheckResult:
    generation: int
    summary: Any = None  # engine.model ModelSummary; None when it could not be computed
    error: Optional[str] = None  # why not, in words


def check_model(spec: Any, generation: int = 0) -> CheckResult:
    """Summarize `spec`'s model on its dataset (runs on a worker thread)."""
    try:
        with ENGINE_IMPORT_LOCK:  # see app.bridge
            from engine.data import DataError
            from engine.model import summarize_spec
    except Exception as e:
        return CheckResult(generation, error=f"cannot check the model: {error_text(e)}")
    try:
        summary, _ = summarize_spec(spec)
    except DataError as e:  # a missing CSV, a bad option: the user's to fix, said in words
        return CheckResult(generation, error=f"dataset {spec.data.name!r}: {error_text(e)}")
    except Exception as e:
        return CheckResult(generation, error=f"cannot check the model: {error_text(e)}")
    return CheckResult(generation, summary=summary)


class _Relay(QObject):
    done = Signal(object)


class _Job(QRunnable):
    def __init__(self, check: "ModelCheck", spec: Any, generation: int):
        super().__init__()
        self._check, self._spec, self._generation = check, spec, generation
        self._relay = check._relay  # kept alive by the job until it has emitted

    def run(self) -> None:
        if self._check.generation != self._generation:
            return  # a newer request exists
        result = check_model(self._spec, self._generation)
        try:
            self._relay.done.emit(result)
        except RuntimeError:  # the page closed meanwhile
            pass


class ModelCheck(QObject):
    ready = Signal(object)
    """The latest requested spec was checked (payload: CheckResult)."""

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self.generation = 0

    def request(self, spec: Any) -> int:
        self.generation += 1
        self._pool.clear()  # requests that never started
        self._pool.start(_Job(self, spec, self.generation))
        return self.generation

    def wait(self, msecs: int = -1) -> bool:
        """Block until the thread is idle (shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _on_done(self, result: CheckResult) -> None:
        if result.generation == self.generation:
            self.ready.emit(result)
