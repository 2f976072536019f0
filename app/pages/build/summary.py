"""Model summaries computed off the UI thread, latest request wins.

`engine.model` imports torch and the dataset's input shape may take a moment
to compute (mnist1d is generated), so both run on one background thread. A
request made while another is queued replaces it; a result that is no longer
the latest is dropped, so typing in the inspector never waits for torch.

At start-up the shell holds background work until the window has painted
(`hold()` / `release()`), so torch is imported only after the first paint.
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

_held = False
_waiting: list["SummaryService"] = []
_info_cache: dict[str, Any] = {}
_info_lock = threading.Lock()


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


def dataset_info_cached(data_spec: Any, seed: int) -> Any:
    """engine.data.dataset_info, remembered per (data spec, seed); thread-safe."""
    key = json.dumps(data_spec.model_dump(mode="json"), sort_keys=True) + f"#{seed}"
    with _info_lock:
        if key in _info_cache:
            return _info_cache[key]
    from engine.data import dataset_info

    info = dataset_info(data_spec, seed)
    with _info_lock:
        _info_cache[key] = info
    return info


def num_outputs(info: Any) -> int | None:
    """What the last block must produce: one value per class, or per regression target."""
    return None if info is None else getattr(info, "num_targets", None)


def compute(spec: Any, generation: int = 0) -> SummaryResult:
    """The summary of `spec`'s model on its dataset (runs on a worker thread)."""
    try:
        info = dataset_info_cached(spec.data, spec.seed)
    except Exception as e:  # a dataset a user can fix (missing CSV...) or a bug: say it, log it
        log.info("dataset_info failed", exc_info=True)
        return SummaryResult(generation, error=f"dataset {spec.data.name!r}: {_message(e)}")
    try:
        from engine.model import summarize

        summary = summarize(spec.model, tuple(info.input_shape), batch_size=spec.training.batch_size,
                            num_outputs=num_outputs(info), optimizer=spec.optimizer.type,
                            task=getattr(info, "task", None))
    except Exception as e:
        log.warning("summarize failed", exc_info=True)
        return SummaryResult(generation, info=info, error=f"cannot summarize the model: {_message(e)}")
    return SummaryResult(generation, info=info, summary=summary)


def _message(e: Exception) -> str:
    errors = getattr(e, "errors", None)
    if isinstance(errors, list) and errors and all(isinstance(x, str) for x in errors):
        return "; ".join(errors)
    return str(e) or type(e).__name__


class _Relay(QObject):
    """Carries results from the worker thread; lives in the UI thread and is
    kept alive by the jobs that use it, so a job never emits on a deleted object."""
    done = Signal(object)


class _Job(QRunnable):
    def __init__(self, service: "SummaryService", relay: _Relay, spec: Any, generation: int):
        super().__init__()
        self._service_gen = service.latest_generation  # a bound method: reads the newest number
        self._relay, self._spec, self._generation = relay, spec, generation

    def run(self) -> None:
        try:
            if self._service_gen() != self._generation:
                return  # a newer request exists; skip the work
        except RuntimeError:
            return  # the service is gone
        self._relay.done.emit(compute(self._spec, self._generation))


class SummaryService(QObject):
    """Computes summaries for the builder: request() often, get ready() for the latest only."""

    ready = Signal(object)
    """The summary of the latest requested spec is known (payload: SummaryResult)."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)  # one at a time: the newest wins anyway
        self._relay = _Relay()
        self._relay.done.connect(self._on_done)
        self._generation = 0
        self._delivered = 0
        self._spec: Any = None

    def latest_generation(self) -> int:
        return self._generation

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

    def wait(self, msecs: int = -1) -> bool:
        """Block until the worker is idle (tests and the screenshot script)."""
        return self._pool.waitForDone(msecs)

    def _start_latest(self) -> None:
        self._pool.clear()  # drop queued requests that never started
        self._pool.start(_Job(self, self._relay, self._spec, self._generation))

    def _on_done(self, result: SummaryResult) -> None:
        if result.generation != self._generation:
            return  # stale: a newer request is on its way
        self._delivered = result.generation
        self.ready.emit(result)
