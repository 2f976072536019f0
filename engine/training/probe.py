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
from engine.training.losses import l1_penalty
from engine.training.setup import Prepared, prepare


def prepare_probe(spec: RunSpec, device: str | None = None) -> Prepared:
    """The run as `train` would start it, in one process (a data-parallel spec
    is probed in this process alone: the learning rate and the checks do not
    depend on how many processes share a batch)."""
    return prepare(spec, device or spec.training.device, None, None)


def train_step(p: Prepared, xb: torch.Tensor, yb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step as the training loop takes it (loss, L1, clipping,
    scaler); returns the batch loss and the outputs, both before the step."""
    reg = p.spec.regularization
    with dev.autocast(p.device, p.spec.training.precision):
        out = p.model(xb)
        loss = p.objective(out, yb)
    total = (loss + reg.l1 * l1_penalty(p.l1_weights)) if p.l1_weights else loss
    p.optimizer.zero_grad(set_to_none=True)
    if p.scaler.is_enabled():
        p.scaler.scale(total).backward()
        if reg.grad_clip_norm:
            p.scaler.unscale_(p.optimizer)
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), reg.grad_clip_norm)
        p.scaler.step(p.optimizer)
        p.scaler.update()
    else:
        total.backward()
        if reg.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), reg.grad_clip_norm)
        p.optimizer.step()
    return loss.detach(), out.detach()


def endless_batches(p: Prepared):
    """Shuffled training batches, epoch after epoch."""
    while True:
        yield from p.train.train_batches(p.spec.training.batch_size, p.generator)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        # A fused optimizer keeps lr as a tensor when it was given one; a float is fine here.
        group["lr"] = lr
