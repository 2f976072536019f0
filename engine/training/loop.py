"""The training loop: `train(spec, ...) -> TrainResult`.

A short loop over resident batches. Everything else is a
callback: early stopping, checkpointing and the NaN check are built in,
event emission and store writes come from the caller (the worker).
The host reads device values only at the logging interval and at epoch
ends; between them a step queues kernels and nothing else.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

import torch

from engine.data.text import save_tokenizer
from engine.spec import RunSpec
from engine.training import device as dev
from engine.training import distributed
from engine.training.callbacks import Callback, CallbackList, Control, MetricPoint, TrainContext
from engine.training.checkpoint import load_checkpoint
from engine.training.errors import NonFiniteLoss, TrainingError
from engine.training.hooks import Checkpointing, EarlyStopping, NonFiniteCheck
from engine.training.metrics import EvalMeter, TrainMeter
from engine.training.optim import current_lr
from engine.training.setup import Prepared, optimizer_step, prepare
from engine.training.teacher import TeacherRef

if TYPE_CHECKING:
    from engine.init_from import InitSource


@dataclass
class TrainResult:
    status: str  # completed | stopped | failed
    error: Optional[str]
    epochs_done: int
    step: int
    best: dict[str, Any]  # {"monitor", "value", "epoch"}
    test_metrics: dict[str, float]
    device: str
    num_params: int
    checkpoints: dict[str, str]  # kind -> path
    stop_reason: Optional[str] = None  # why a completed run ended early (early stopping)
    final_metrics: dict[str, float] = field(default_factory=dict)  # the last epoch's values


def train(spec: RunSpec, *, callbacks: Sequence[Callback] = (), control: Control | None = None,
          checkpoint_dir: str | Path, resume_from: str | Path | None = None,
          device: str | None = None, teacher: TeacherRef | None = None,
          init_source: InitSource | None = None) -> TrainResult:
    """Train one run. Raises TrainingError (before on_train_start) for a run
    that cannot start as configured; once started, NaN loss, GPU out of
    memory and unexpected errors end it as status 'failed' with a message.

    Started by torchrun with `training.distributed` set, this process trains
    its share of a data-parallel run (engine.training.distributed); pass the
    worker's callbacks and control on rank 0 only. `teacher`: the run that
    `training.distill` names, looked up in the store (engine.training.teacher)."""
    group, warning = distributed.join(spec)
    try:
        try:
            prepared = prepare(spec, device or spec.training.device, resume_from, group, teacher, init_source)
        except torch.cuda.OutOfMemoryError as e:
            raise TrainingError("out of GPU memory while loading the model and data — use a smaller model "
                                "or another device") from e
        except RuntimeError as e:
            if group is not None and distributed.peer_lost(e):
                raise TrainingError("another process of this data-parallel run ended while the run was "
                                    "being set up (its error is in the run's log)") from e
            raise
        if warning:
            prepared.warnings.append(warning)
        if group is None or group.is_main:
            save_tokenizer(prepared.tokenizer, checkpoint_dir)  # text data: read new texts as training did
        return _Trainer(prepared, list(callbacks), control or Control(), Path(checkpoint_dir)).fit()
    finally:
        distributed.leave(group)


class _Trainer:
    def __init__(self, p: Prepared, callbacks: list[Callback], control: Control, checkpoint_dir: Path):
        self.p = p
        self.control = control
        tr = p.spec.training
        self.batch_size = tr.batch_size
        self.log_every = tr.log_every_n_steps
        self.ctx = TrainContext(
            spec=p.spec, device=str(p.device), total_epochs=tr.epochs, steps_per_epoch=p.steps_per_epoch,
            num_params=sum(t.numel() for t in p.model.parameters()), train_size=len(p.train),
            extra={"checkpoint_dir": str(checkpoint_dir), "dataset": p.dataset, "task": p.task,
                   "resident": p.train.resident})
        es = p.spec.regularization.early_stopping
        self.early_stopping = (EarlyStopping(es.monitor, es.patience, es.min_delta, es.mode) if es else None)
        has_val = p.val is not None
        monitor = es.monitor if es else ("val/loss" if has_val else "train/loss")
        self.cbs = CallbackList(callbacks)
        self.group = p.group
        self.checkpointing = Checkpointing(checkpoint_dir, monitor, es.mode if es else "auto",
                                           best_is_last=not has_val, snapshot=self._snapshot,
                                           notify=self.cbs.on_checkpoint,
                                           writes=self.group is None or self.group.is_main)
        # Caller's callbacks first, so the store records a NaN point before the check fails the run.
        self.cbs.callbacks += [h for h in (self.early_stopping, self.checkpointing, NonFiniteCheck()) if h]
        self.reduce = self.group.all_sum if self.group else None
        self.meter = TrainMeter(p.device, min(self.log_every, p.steps_per_epoch), p.objective, self.reduce)
        self.batch_in_epoch = 0
        self.epoch_perm_state = p.generator.get_state()
        self._interval = [0.0, 0]  # loss sum and samples since the last train/loss_step point
        self._epoch = [0.0, 0]  # loss sum and samples this epoch
        self._paused_s = 0.0
        self.last_metrics: dict[str, float] = {}
        if p.resume is not None:
            self._resume(p.resume)

    # --- checkpoint state --------------------------------------------------------

    def _snapshot(self, kind: str) -> dict[str, Any]:
        p = self.p
        hooks = {"checkpointing": self.checkpointing.state_dict()}
        if self.early_stopping:
            hooks["early_stopping"] = self.early_stopping.state_dict()
        return {
            "kind": kind, "spec": p.spec.to_json(), "epoch": self.ctx.epoch, "step": self.ctx.step,
            "batch_in_epoch": self.batch_in_epoch, "model": p.model.state_dict(),
            "optimizer": p.optimizer.state_dict(), "scheduler": p.schedule.state_dict(),
            "scaler": p.scaler.state_dict() if p.scaler.is_enabled() else {},
            "rng": dev.rng_state(), "perm_rng": self.epoch_perm_state, "hooks": hooks,
            "best": self.checkpointing.best_summary(),
        }

    def _resume(self, state: dict[str, Any]) -> None:
        self.ctx.epoch = int(state["epoch"])
        self.ctx.step = int(state["step"])
        self.batch_in_epoch = int(state.get("batch_in_epoch", 0))
        try:
            self.p.generator.set_state(state["perm_rng"].cpu())
        except RuntimeError:
            # A CPU generator's state does not fit a GPU one (resumed on another
            # device type): continue with a fresh, still seeded, batch order.
            self.p.generator.manual_seed(self.p.spec.seed + self.ctx.step)
            self.p.warnings.append("resumed on another kind of device: the batch order differs from the original run")
        self.epoch_perm_state = self.p.generator.get_state()
        dev.set_rng_state(state["rng"])
        hooks = state.get("hooks", {})
        if "checkpointing" in hooks:
            self.checkpointing.load_state_dict(hooks["checkpointing"])
        if self.early_stopping and "early_stopping" in hooks:
            self.early_stopping.load_state_dict(hooks["early_stopping"])
        self.ctx.extra["resumed_from"] = {"epoch": self.ctx.epoch, "step": self.ctx.step}

    # --- the run -------------------------------------------------------------------

    def fit(self) -> TrainResult:
        ctx, p = self.ctx, self.p
        self.cbs.on_train_start(ctx)
        where = "on the device" if p.train.resident else "streamed from host memory"
        self.cbs.on_log(ctx, "info", f"training {p.dataset} on {ctx.device}: {ctx.train_size} samples ({where}), "
                                     f"{ctx.steps_per_epoch} steps per epoch, {ctx.num_params:,} parameters")
        if p.resume is not None:
            self.cbs.on_log(ctx, "info", f"resumed from epoch {ctx.epoch}, step {ctx.step}")
        for message in p.warnings:
            self.cbs.on_log(ctx, "warning", message)
        status, error = "completed", None
        try:
            while ctx.epoch < ctx.total_epochs:
                if not self._train_epoch(ctx.epoch + 1):
                    status = "stopped"
                    self.checkpointing.save_last(ctx)
                    self.cbs.on_log(ctx, "info", f"stopped at epoch {ctx.epoch + 1}, step {ctx.step}; "
                                                 "a 'last' checkpoint was saved to resume from")
                    break
                if ctx.stop_reason:
                    self.cbs.on_log(ctx, "info", ctx.stop_reason)
                    break
        except NonFiniteLoss as e:
            status, error = "failed", str(e)
        except Exception as e:  # the run must end as a status, never a crash of its worker
            status, error = "failed", self._describe_failure(e)
        test_metrics: dict[str, float] = {}
        if status == "completed":
            try:
                test_metrics = self._test()
            except Exception as e:
                status, error = "failed", self._describe_failure(e)
        if error:
            self.cbs.on_log(ctx, "error", error)
        self.cbs.on_train_end(ctx, status, error)
        return TrainResult(status=status, error=error, epochs_done=ctx.epoch, step=ctx.step,
                           best=self.checkpointing.best_summary(), test_metrics=test_metrics,
                           device=ctx.device, num_params=ctx.num_params,
                           checkpoints=dict(self.checkpointing.paths), stop_reason=ctx.stop_reason,
                           final_metrics=dict(self.last_metrics))

    def _describe_failure(self, e: Exception) -> str:
        if dev.is_out_of_memory(e):
            dev.release_cached_memory(self.p.device)
            return (f"out of GPU memory at batch size {self.batch_size} — "
                    "try a smaller batch size or fp16/bf16")
        if self.group is not None and distributed.peer_lost(e):
            return (f"another process of this data-parallel run ended unexpectedly at step {self.ctx.step} "
                    f"(its error is in the run's log): {str(e).splitlines()[0][:200]}")
        self.cbs.on_log(self.ctx, "error", "".join(traceback.format_exception(e)))
        return f"training failed: {type(e).__name__}: {e}"

    def _train_epoch(self, epoch: int) -> bool:
        """One epoch; False when a stop request ended it early."""
        p, ctx = self.p, self.ctx
        start = time.perf_counter()
        self._paused_s = 0.0
        if self.batch_in_epoch == 0:
            self.epoch_perm_state = p.generator.get_state()
        p.model.train()
        batches = p.train.train_batches(self.batch_size, p.generator, self.batch_in_epoch, self.group)
        for xb, yb in batches:
            if not self._may_continue():
                self._flush(epoch, point=False)
                return False
            lr = current_lr(p.optimizer)  # what this step uses; the schedule moves it after the step
            self._step(xb, yb)
            self.batch_in_epoch += 1
            ctx.step += 1
            p.schedule.after_step()
            at_log = ctx.step % self.log_every == 0
            if at_log or self.meter.pending == self.meter.capacity:
                self._flush(epoch, point=at_log, lr=lr)
        self._flush(epoch, point=False)
        dev.synchronize(p.device)
        train_s = max(time.perf_counter() - start - self._paused_s, 1e-9)
        self._end_epoch(epoch, start, train_s)
        return True

    def _may_continue(self) -> bool:
        stop, pause = self._shared_control()
        if pause and not stop:
            self.cbs.on_log(self.ctx, "info", f"paused at step {self.ctx.step}")
            t0 = time.perf_counter()
            while pause and not stop:
                if self.group is None or self.group.is_main:
                    self.control.wait_while_paused(None if self.group is None else distributed.PAUSE_KEEPALIVE_S)
                # The other processes wait in this broadcast until rank 0 resumes, stops or says
                # "still paused" (well inside the process group's timeout).
                stop, pause = self._shared_control()
            self._paused_s += time.perf_counter() - t0
            if not stop:
                self.cbs.on_log(self.ctx, "info", f"resumed at step {self.ctx.step}")
        return not stop

    def _shared_control(self) -> tuple[bool, bool]:
        """(stop, pause) as asked of this process, or of rank 0 in a process group."""
        c = self.control
        if self.group is None:
            return c.stop_requested, c.paused
        return self.group.share_control(c.stop_requested, c.paused)

    def _step(self, xb: torch.Tensor, yb: torch.Tensor) -> None:
        p = self.p
        target = yb  # class indices, or soft targets once mixup or CutMix has mixed the batch
        if p.augment is not None:
            xb, target = p.augment(xb, yb, self.ctx.step)
        with dev.autocast(p.device, p.spec.training.precision):
            out = p.step_model(xb)
            loss = p.objective(out, target) if p.distiller is None else p.distiller(xb, out, target)
        optimizer_step(p, loss)
        self.meter.add(loss, out, yb)

    def _flush(self, epoch: int, point: bool, lr: Optional[float] = None) -> None:
        """Read the buffered step losses (one sync); report a non-finite one at
        its exact step; emit train/loss_step (and lr_step, the learning rate of
        that step, so warm-up and OneCycle show) when at the logging interval."""
        entries = self.meter.flush()
        first = self.ctx.step - len(entries) + 1
        for i, (value, n) in enumerate(entries):
            if not math.isfinite(value):
                self.cbs.on_metrics(self.ctx, [MetricPoint("train/loss_step", first + i, epoch, value, time.time())])
            self._interval[0] += value * n
            self._interval[1] += n
            self._epoch[0] += value * n
            self._epoch[1] += n
        if point and self._interval[1]:
            mean = self._interval[0] / self._interval[1]
            self._interval = [0.0, 0]
            now = time.time()
            points = [MetricPoint("train/loss_step", self.ctx.step, epoch, mean, now)]
            if lr is not None:
                points.append(MetricPoint("lr_step", self.ctx.step, epoch, lr, now))
            self.cbs.on_metrics(self.ctx, points)

    def _end_epoch(self, epoch: int, start: float, train_s: float) -> None:
        p, ctx = self.p, self.ctx
        loss_sum, seen = self._epoch
        self._epoch = [0.0, 0]
        metrics: dict[str, float] = {"train/loss": loss_sum / max(seen, 1)}
        if p.task == "classification":
            metrics["train/accuracy"] = self.meter.take_correct() / max(seen, 1)
        if p.distiller is not None:
            metrics.update(p.distiller.take_epoch(self.reduce))  # train/kd_loss, train/ce_loss
        if p.val is not None:
            metrics.update(self._evaluate(p.val, "val"))
        metrics["lr"] = current_lr(p.optimizer)  # the lr this epoch's last step used
        metrics["throughput"] = seen / train_s
        metrics["epoch_time"] = time.perf_counter() - start - self._paused_s
        ctx.epoch = epoch
        self.batch_in_epoch = 0
        self.epoch_perm_state = p.generator.get_state()  # where the next epoch's order starts
        self.last_metrics = metrics
        now = time.time()
        self.cbs.on_metrics(ctx, [MetricPoint(k, ctx.step, epoch, float(v), now) for k, v in metrics.items()])
        p.schedule.after_epoch(epoch, metrics)
        self.cbs.on_epoch_end(ctx, epoch, metrics)

    def _evaluate(self, feed: Any, prefix: str) -> dict[str, float]:
        p = self.p
        meter = EvalMeter(p.device, p.objective, p.num_targets, self.reduce)
        was_training = p.model.training
        p.model.eval()
        try:
            with torch.inference_mode(), dev.autocast(p.device, p.spec.training.precision):
                # Several processes: the plain module, not DDP's wrapper, which would sync buffers
                # at each forward while the processes' shares may differ by a batch.
                model = p.model if self.group else p.step_model
                for xb, yb in feed.eval_batches(2 * self.batch_size, self.group):
                    meter.add(model(xb), yb)
        finally:
            p.model.train(was_training)
        return meter.result(prefix)

    def _test(self) -> dict[str, float]:
        """Test metrics with the best checkpoint's weights (when it is not the
        current state), emitted once at the end."""
        p, ctx = self.p, self.ctx
        if p.test is None:
            return {}
        best = self.checkpointing.paths.get("best")
        if self.group is not None:
            self.group.barrier()  # rank 0 has finished writing the best checkpoint
        if best and best != self.checkpointing.paths.get("last") and self.checkpointing.best_epoch != ctx.epoch:
            p.model.load_state_dict(load_checkpoint(best, map_location=p.device)["model"])
        metrics = self._evaluate(p.test, "test")
        now = time.time()
        self.cbs.on_metrics(ctx, [MetricPoint(k, ctx.step, ctx.epoch, float(v), now) for k, v in metrics.items()])
        return metrics
