"""Built-in callbacks: early stopping, checkpointing, the NaN/inf check.

They sit on the same hook API as the worker's event emitter (callbacks.py);
the loop only calls the dispatcher. Stateful hooks have state_dict() /
load_state_dict() so a resumed run continues their counters.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Callable, Optional

from engine.training.callbacks import Callback, MetricPoint, TrainContext
from engine.training.checkpoint import checkpoint_path, save_checkpoint
from engine.training.errors import NonFiniteLoss

LOSS_KEYS = ("train/loss_step", "train/loss")


def resolve_mode(monitor: str, mode: str) -> str:
    """auto: higher is better for accuracy and r2, lower for everything else."""
    if mode != "auto":
        return mode
    return "max" if monitor.endswith(("accuracy", "r2")) else "min"


def is_improvement(value: float, best: Optional[float], mode: str, min_delta: float = 0.0) -> bool:
    if not math.isfinite(value):
        return False  # a NaN metric never counts as progress
    if best is None or not math.isfinite(best):
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping(Callback):
    """Ends training after `patience` epochs without an improvement of more
    than `min_delta` in `monitor`; says why through ctx.stop_reason."""

    def __init__(self, monitor: str, patience: int, min_delta: float = 0.0, mode: str = "auto"):
        self.monitor = monitor
        self.patience = patience
        self.min_delta = min_delta
        self.mode = resolve_mode(monitor, mode)
        self.best: float = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.wait = 0

    def on_epoch_end(self, ctx: TrainContext, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor, math.nan)
        if is_improvement(value, self.best, self.mode, self.min_delta):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            ctx.stop_reason = (f"early stopping: {self.monitor} did not improve by more than {self.min_delta:g} "
                               f"for {self.patience} epoch{'s' if self.patience != 1 else ''} "
                               f"(best {self.best:.4g} at epoch {self.best_epoch})")

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best": float(self.best), "best_epoch": self.best_epoch, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("monitor", self.monitor) != self.monitor:
            return  # the resumed spec watches another metric: start counting afresh
        self.best, self.best_epoch, self.wait = float(state["best"]), int(state["best_epoch"]), int(state["wait"])


class Checkpointing(Callback):
    """Writes 'best' when `monitor` improves and 'last' after the first and
    the final epoch, and in between at most every `last_every_s` seconds
    (a crash loses at most that much training; short epochs do not pay a
    file write each).

    Without a validation split the best checkpoint is the last one
    (`best_is_last`): one file, reported under both kinds.
    `snapshot(kind)` returns the checkpoint dict; `notify` is the dispatcher's
    on_checkpoint, so every callback (the store writer) hears of each file.
    `writes=False` (a data-parallel run's ranks above 0) keeps the same
    bookkeeping, so every process knows which file rank 0 wrote, and writes nothing.
    """

    def __init__(self, directory: str | Path, monitor: str, mode: str, *, best_is_last: bool,
                 snapshot: Callable[[str], dict[str, Any]],
                 notify: Callable[[TrainContext, str, str, int, int, Optional[float]], None],
                 last_every_s: float = 2.0, writes: bool = True):
        self.directory = Path(directory)
        self.writes = writes
        self.last_every_s = last_every_s
        self._last_written: Optional[float] = None
        self.monitor = monitor
        self.mode = resolve_mode(monitor, mode)
        self.best_is_last = best_is_last
        self.snapshot = snapshot
        self.notify = notify
        self.best_value: Optional[float] = None
        self.best_epoch = 0
        self.paths: dict[str, str] = {}

    def best_summary(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "value": self.best_value, "epoch": self.best_epoch}

    def _write(self, ctx: TrainContext, kind: str, value: Optional[float]) -> str:
        target = checkpoint_path(self.directory, kind)
        path = str(save_checkpoint(self.snapshot(kind), target) if self.writes else target)
        self.paths[kind] = path
        if kind == "last":
            self._last_written = time.monotonic()
        if self.writes:
            self.notify(ctx, kind, path, ctx.step, ctx.epoch, value)
        return path

    def on_epoch_end(self, ctx: TrainContext, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics.get(self.monitor)
        improved = self.best_is_last or (value is not None and is_improvement(value, self.best_value, self.mode))
        if improved:
            # Updated before writing, so the file carries its own best.
            self.best_value, self.best_epoch = value, epoch
        if not self.best_is_last and improved:
            self._write(ctx, "best", value)
        final = epoch >= ctx.total_epochs or ctx.stop_reason is not None
        due = self._last_written is None or time.monotonic() - self._last_written >= self.last_every_s
        if final or due:
            path = self._write(ctx, "last", value)
            if self.best_is_last:
                self.paths["best"] = path
                self.notify(ctx, "best", path, ctx.step, ctx.epoch, value)

    def save_last(self, ctx: TrainContext) -> str:
        """A 'last' checkpoint outside an epoch end (a stop mid-training)."""
        path = self._write(ctx, "last", None)
        if self.best_is_last:
            self.paths["best"] = path
        return path

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor, "best_value": self.best_value, "best_epoch": self.best_epoch,
                "paths": dict(self.paths)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("monitor", self.monitor) != self.monitor:
            return  # another metric: the old best says nothing about this one
        self.best_value = state["best_value"]
        self.best_epoch = int(state["best_epoch"])
        self.paths = {k: v for k, v in state.get("paths", {}).items() if Path(v).is_file()}


class NonFiniteCheck(Callback):
    """Fails the run at the first NaN or inf training loss (the loop reports
    a bad step's loss at its exact step). Raises NonFiniteLoss, which the
    loop turns into status 'failed' with the message."""

    def on_metrics(self, ctx: TrainContext, points: list[MetricPoint]) -> None:
        for p in points:
            if p.key in LOSS_KEYS and not math.isfinite(p.value):
                raise NonFiniteLoss(p.value, p.epoch, p.step)
