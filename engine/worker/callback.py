"""The training loop's facts, handed to the store writer and the event sender."""
from __future__ import annotations

import os
import time
from typing import Optional

from engine.protocol import Checkpoint, Epoch, Log, Metrics, Started
from engine.store import RunStore
from engine.training.callbacks import Callback, MetricPoint, TrainContext
from engine.worker.sender import EventSender
from engine.worker.state import RunState
from engine.worker.store_writer import StoreWriter
from engine.worker.system import SystemRecorder


class WorkerCallback(Callback):
    """Hands every training fact to the store writer and the event sender."""

    def __init__(self, run_id: int, store: RunStore, writer: StoreWriter, sender: EventSender,
                 system: SystemRecorder, state: RunState):
        self.run_id, self.store, self.writer, self.sender = run_id, store, writer, sender
        self.state = state
        self.system = system
        self._t0 = time.monotonic()
        self._first_epoch = 0

    def on_train_start(self, ctx: TrainContext) -> None:
        self._t0 = time.monotonic()
        self._first_epoch = ctx.epoch  # > 0 when resuming
        self.system.device = ctx.device
        self.state.set_device(ctx.device)
        self.store.update_summary(self.run_id, {"params": ctx.num_params,
                                                "total_epochs": ctx.total_epochs})
        self.sender.send(Started(self.run_id, pid=os.getpid(), device=ctx.device,
                                 num_params=ctx.num_params, total_epochs=ctx.total_epochs,
                                 steps_per_epoch=ctx.steps_per_epoch))

    def on_metrics(self, ctx: TrainContext, points: list[MetricPoint]) -> None:
        self.writer.add_metrics(points)
        self.sender.send(Metrics(self.run_id, list(points)))

    def on_epoch_end(self, ctx: TrainContext, epoch: int, metrics: dict[str, float]) -> None:
        self.writer.flush_soon()
        done = epoch - self._first_epoch
        left = max(ctx.total_epochs - epoch, 0)
        eta = (time.monotonic() - self._t0) / done * left if done > 0 else None
        self.sender.send(Epoch(self.run_id, epoch=epoch, total_epochs=ctx.total_epochs,
                               metrics=dict(metrics), eta_s=eta))

    def on_checkpoint(self, ctx: TrainContext, kind: str, path: str, step: int, epoch: int,
                      metric_value: Optional[float]) -> None:
        self.writer.add_checkpoint(kind, path, step, epoch, metric_value)
        self.sender.send(Checkpoint(self.run_id, kind=kind, path=path, step=step, epoch=epoch,
                                    metric_value=metric_value))

    def on_log(self, ctx: TrainContext, level: str, message: str) -> None:
        self.sender.send(Log(self.run_id, level=level, message=message))
