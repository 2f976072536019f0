"""The model check behind Launch: the spec's model summarized on its dataset
(engine.model.summarize: shapes, errors, training memory at this batch
size), off the UI thread because it imports torch and may load the data.

Requests are "latest wins" (app.background): a request made while another
waits replaces it, and a result that is no longer the latest is dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

from app.background import Background
from app.errors import error_text


@dataclass(frozen=True)
class CheckResult:
    generation: int
    summary: Any = None  # engine.model ModelSummary; None when it could not be computed
    error: Optional[str] = None  # why not, in words


def check_model(spec: Any, generation: int = 0) -> CheckResult:
    """Summarize `spec`'s model on its dataset (runs on a worker thread)."""
    try:
        from engine.data import DataError
        from engine.model import summarize_spec
    except Exception as e:
        return CheckResult(generation, error=f"cannot check the model: {error_text(e)}")
    try:
        from app.pages.train.memory import process_batch

        summary, _ = summarize_spec(spec, batch_size=process_batch(spec))  # per process
    except DataError as e:  # a missing CSV, a bad option: the user's to fix, said in words
        return CheckResult(generation, error=f"dataset {spec.data.name!r}: {error_text(e)}")
    except Exception as e:
        return CheckResult(generation, error=f"cannot check the model: {error_text(e)}")
    return CheckResult(generation, summary=summary)


class ModelCheck(QObject):
    ready = Signal(object)
    """The latest requested spec was checked (payload: CheckResult)."""

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._background = Background(self, latest_only=True, name="layerdeck-model-check")
        self.generation = 0

    def request(self, spec: Any) -> int:
        self.generation += 1
        generation = self.generation
        self._background.submit(lambda: check_model(spec, generation), self.ready.emit)
        return generation

    def wait(self, msecs: int = -1) -> bool:
        """Block until the thread is idle (shutdown and tests)."""
        return self._background.wait(msecs)
