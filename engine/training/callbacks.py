"""Hooks on the training loop: one hook base, one dispatcher.

Early stopping, checkpointing, NaN checks, event emission and store writes
are all Callbacks; the loop itself only calls `CallbackList` methods.
Every hook runs on the training thread: keep them cheap (hand slow work to
a thread, as the worker's sender does).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:  # pragma: no cover
    from engine.spec import RunSpec


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric: the unit of the metrics table and the wire."""

    key: str
    step: int
    epoch: int
    value: float
    wall_time: float


@dataclass
class TrainContext:
    """What hooks may read about the run in progress."""

    spec: "RunSpec"
    device: str = "cpu"
    total_epochs: int = 0
    steps_per_epoch: int = 0
    epoch: int = 0  # epochs finished so far (the one in progress is epoch + 1)
    step: int = 0  # optimizer steps taken so far, across resumes
    num_params: int = 0
    train_size: int = 0
    stop_reason: Optional[str] = None  # set by a hook (early stopping) to end training after this epoch
    # checkpoint_dir, dataset, task, resident (data kept on the device), resumed_from {epoch, step}
    extra: dict[str, Any] = field(default_factory=dict)


class Callback:
    """Base hook: every method does nothing; override what you need."""

    def on_train_start(self, ctx: TrainContext) -> None:
        """Data and model are ready; nothing has been trained yet."""

    def on_metrics(self, ctx: TrainContext, points: list[MetricPoint]) -> None:
        """New metric points: `train/loss_step` every log_every_n_steps steps (the
        mean since the previous one; a NaN/inf loss also at its exact step), the
        epoch keys at the step where an epoch ends, `test/*` once at the end."""

    def on_epoch_end(self, ctx: TrainContext, epoch: int, metrics: dict[str, float]) -> None:
        """Epoch `epoch` (1-based) finished; `metrics` are its epoch values by key."""

    def on_checkpoint(self, ctx: TrainContext, kind: str, path: str, step: int, epoch: int,
                      metric_value: Optional[float]) -> None:
        """A checkpoint of `kind` ('best' or 'last') was written to `path`."""

    def on_log(self, ctx: TrainContext, level: str, message: str) -> None:
        """A line for the run's log pane (level: info, warning, error)."""

    def on_train_end(self, ctx: TrainContext, status: str, error: Optional[str]) -> None:
        """Training ended with status completed, stopped or failed."""


class CallbackList(Callback):
    """Calls each hook on every callback, in order."""

    def __init__(self, callbacks: list[Callback] | None = None):
        self.callbacks = list(callbacks or [])

    def on_train_start(self, ctx):
        for cb in self.callbacks:
            cb.on_train_start(ctx)

    def on_metrics(self, ctx, points):
        for cb in self.callbacks:
            cb.on_metrics(ctx, points)

    def on_epoch_end(self, ctx, epoch, metrics):
        for cb in self.callbacks:
            cb.on_epoch_end(ctx, epoch, metrics)

    def on_checkpoint(self, ctx, kind, path, step, epoch, metric_value):
        for cb in self.callbacks:
            cb.on_checkpoint(ctx, kind, path, step, epoch, metric_value)

    def on_log(self, ctx, level, message):
        for cb in self.callbacks:
            cb.on_log(ctx, level, message)

    def on_train_end(self, ctx, status, error):
        for cb in self.callbacks:
            cb.on_train_end(ctx, status, error)


class Control:
    """Pause / resume / stop requests from another thread (the worker's
    command reader). The loop checks it between batches."""

    def __init__(self) -> None:
        self._running = threading.Event()
        self._running.set()
        self._stop = threading.Event()

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    def stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused loop must wake up to stop

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self, timeout: float | None = None) -> bool:
        """Block while paused; True once running (or stopping)."""
        return self._running.wait(timeout)
