"""Loss functions by task or by name, the L1 penalty, and the check that the
model's output fits the dataset before any training happens."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import torch
import torch.nn.functional as F

from engine.training.errors import TrainingError

LOSS_FOR_TASK = {"classification": "cross_entropy", "regression": "mse"}
CLASSIFICATION_LOSSES = ("cross_entropy", "bce_with_logits")
REGRESSION_LOSSES = ("mse", "l1", "huber", "bce_with_logits")


@dataclass(frozen=True)
class Objective:
    """The loss and how outputs are read: `binary` is one logit per sample for
    a two-class problem (bce_with_logits), else one score per class."""

    name: str
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    task: str
    binary: bool = False

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.fn(outputs, targets)


def resolve_loss_name(requested: str | None, task: str, dataset: str) -> str:
    name = requested or LOSS_FOR_TASK[task]
    allowed = CLASSIFICATION_LOSSES if task == "classification" else REGRESSION_LOSSES
    if name not in allowed:
        raise TrainingError(f"training.loss {name} does not fit {dataset}, a {task} dataset — "
                            f"use one of {', '.join(allowed)} (or leave it empty for {LOSS_FOR_TASK[task]})")
    return name


def make_objective(name: str, task: str, num_outputs: int, label_smoothing: float = 0.0) -> Objective:
    """The loss as a function of (outputs, targets) -> mean over the batch.

    Classification targets are class indices (int64, shape (B,)); regression
    targets are float (B, num_targets), the shape of the outputs.
    """
    if name == "cross_entropy":
        def ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            if y.is_floating_point():  # probabilities: a batch mixed by mixup or CutMix
                return soft_target_cross_entropy(out, y, label_smoothing)
            return F.cross_entropy(out, y, label_smoothing=label_smoothing)

        return Objective(name, ce, task)
    if name == "bce_with_logits":
        if task == "regression":
            return Objective(name, F.binary_cross_entropy_with_logits, task)
        binary = num_outputs == 1

        def bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
            target = y.to(out.dtype).unsqueeze(1) if binary else F.one_hot(y, num_outputs).to(out.dtype)
            if label_smoothing:
                # Each output is its own yes/no question: smooth towards 1/2.
                target = target * (1.0 - label_smoothing) + 0.5 * label_smoothing
            return F.binary_cross_entropy_with_logits(out, target)

        return Objective(name, bce, task, binary=binary)
    fns: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
        "mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}
    return Objective(name, fns[name], task)


def soft_target_cross_entropy(out: torch.Tensor, target: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy against class probabilities (B, K), mean over the batch;
    label smoothing moves each target towards the uniform distribution."""
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / target.shape[1]
    return -(target * F.log_softmax(out.float(), dim=1)).sum(dim=1).mean()


def check_outputs(out_shape: Sequence[int], *, task: str, loss: str, num_classes: int | None,
                  num_targets: int, dataset: str) -> None:
    """Refuse a model whose output cannot be compared with the targets,
    naming the fix (the usual mistake: the last Linear's out_features)."""
    per_sample = tuple(out_shape[1:])
    if task == "classification":
        k = int(num_classes or 0)
        # bce_with_logits on two classes takes one logit per sample.
        wanted = 1 if loss == "bce_with_logits" and k == 2 else k
        ok = len(per_sample) == 1 and per_sample[0] in (k, wanted)
        if not ok:
            raise TrainingError(
                f"the model outputs shape {per_sample} per sample but {dataset} has {k} classes — "
                f"end the model with a Linear block with out_features {k}"
                + (" (after a Flatten)" if len(per_sample) > 1 else ""))
    else:
        if per_sample != (num_targets,):
            raise TrainingError(
                f"the model outputs shape {per_sample} per sample but {dataset} has {num_targets} "
                f"target{'s' if num_targets != 1 else ''} — end the model with a Linear block with "
                f"out_features {num_targets}" + (" (after a Flatten)" if len(per_sample) > 1 else ""))


def penalized_weights(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """Weights the L1 penalty applies to: matrices and kernels, not biases or
    normalization scales (penalizing those only hurts, as with weight decay)."""
    return [p for p in model.parameters() if p.requires_grad and p.ndim > 1]


def l1_penalty(weights: Iterable[torch.Tensor]) -> torch.Tensor:
    return torch.stack([w.abs().sum() for w in weights]).sum()


def correct_count(outputs: torch.Tensor, targets: torch.Tensor, binary: bool) -> torch.Tensor:
    """Correctly classified samples in a batch, as a device tensor (no sync)."""
    predicted = (outputs[:, 0] > 0).long() if binary else outputs.argmax(dim=1)
    return (predicted == targets).sum()
