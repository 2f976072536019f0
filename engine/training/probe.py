"""What the LR finder and the sanity check share: a run prepared as training
would prepare it (same data, model, loss, optimizer, precision) and one
optimizer step on a batch.

Both probes change the model they train, so they run in their own process
(engine.training.probe_process) and the run's spec and weights stay as
they were.
"""
from __future__ import annotations

import torch

from engine.spec import RunSpec
from engine.training import device as dev
from engine.training.setup import Prepared, optimizer_step, prepare


def prepare_probe(spec: RunSpec, device: str | None = None) -> Prepared:
    """The run as `train` would start it, in one process (a data-parallel spec
    is probed in this process alone: the learning rate and the checks do not
    depend on how many processes share a batch)."""
    return prepare(spec, device or spec.training.device, None, None)


def train_step(p: Prepared, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step as the training loop takes it (loss, L1, clipping,
    scaler); returns the batch loss and the outputs, both before the step."""
    with dev.autocast(p.device, p.spec.training.precision):
        out = p.model(xb)
        loss = p.objective(out, yb)
    optimizer_step(p, loss)
    return loss.detach(), out.detach()


def endless_batches(p: Prepared):
    """Shuffled training batches, epoch after epoch."""
    while True:
        yield from p.train.train_batches(p.spec.training.batch_size, p.generator)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        # A fused optimizer keeps lr as a tensor when it was given one; a float is fine here.
        group["lr"] = lr
