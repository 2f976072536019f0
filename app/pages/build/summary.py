"""Model summaries computed off the UI thread, latest request wins.

`engine.model` imports torch and the dataset's input shape may take a moment
to compute (mnist1d is generated), so both run in the background
(app.background), latest request wins: typing in the inspector never waits
for torch.

At start-up the shell holds background work until the window has painted
(`hold()` / `release()`), so torch is imported only after the first paint.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.background import Background
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


class SummaryService(QObject):
    """Computes summaries for the builder: request() often, get ready() for the latest only."""

    ready = Signal(object)
    """The summary of the latest requested spec is known (payload: SummaryResult)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._background = Background(self, latest_only=True, name="layerdeck-summary")
        self._generation = 0
        self._spec: Any = None
        self._held_back = False  # a request waits for release()

    def request(self, spec: Any) -> int:
        self._generation += 1
        self._spec = spec
        if _held:
            self._held_back = True
            if self not in _waiting:
                _waiting.append(self)
        else:
            self._start_latest()
        return self._generation

    def pending(self) -> bool:
        """True while the latest request has no result yet."""
        return self._held_back or self._background.pending()

    def _start_latest(self) -> None:
        self._held_back = False
        spec, generation = self._spec, self._generation
        self._background.submit(lambda: compute(spec, generation), self.ready.emit)
