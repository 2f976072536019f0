"""Knowledge distillation (Hinton et al., 2015): the student learns from the
teacher's softened predictions as well as from the labels.

    loss = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
           + (1 - alpha) * cross_entropy(student, labels)

T^2 keeps the soft term's gradients at the scale of the hard term's as T
grows. The teacher is a finished run's best checkpoint, rebuilt from its own
spec, frozen, and run without gradients on the very batch the student sees
(augmented or not), so the two are compared on the same inputs.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

from engine.spec import DistillSpec
from engine.training.checkpoint import load_checkpoint
from engine.training.errors import TrainingError
from engine.training.losses import Objective
from engine.training.teacher import TeacherRef


def load_teacher(ref: TeacherRef, input_shape: tuple[int, ...], device: torch.device) -> torch.nn.Module:
    """The teacher's model from its own spec, with its best weights, frozen, in eval mode."""
    from engine.model import ModelError, build_model

    try:
        model = build_model(ref.spec.model, input_shape)
    except ModelError as e:
        raise TrainingError(f"teacher run #{ref.run_id} cannot be rebuilt from its spec: {e}") from e
    state = load_checkpoint(ref.checkpoint, map_location=device)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise TrainingError(f"teacher run #{ref.run_id}'s best checkpoint does not fit its own model: "
                            f"{str(e).splitlines()[0]}") from e
    model.to(device).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


class Distiller:
    """The training objective of a distilled run: `(inputs, outputs, labels) -> loss`.

    Keeps this epoch's soft (kd) and hard (ce) losses summed on the device
    (no host sync per step); `take_epoch()` reads them once at the epoch end."""

    def __init__(self, teacher: torch.nn.Module, objective: Objective, spec: DistillSpec, device: torch.device):
        self.teacher = teacher
        self.objective = objective  # the labels' cross-entropy (with label smoothing if set)
        self.temperature = float(spec.temperature)
        self.alpha = float(spec.alpha)
        self._sums = torch.zeros(2, dtype=torch.float32 if device.type == "mps" else torch.float64, device=device)
        self._count = 0  # samples this epoch, counted on the host (sizes are known there)

    def __call__(self, inputs: torch.Tensor, outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            soft_targets = self.teacher(inputs)
        t = self.temperature
        # In float32 whatever the autocast precision: softmax of logits / T is where bf16 loses digits.
        kd = F.kl_div(F.log_softmax(outputs.float() / t, dim=1), F.log_softmax(soft_targets.float() / t, dim=1),
                      log_target=True, reduction="batchmean") * (t * t)
        ce = self.objective(outputs, labels)
        n = int(labels.shape[0])
        self._sums += torch.stack([kd.detach(), ce.detach().float()]).to(self._sums.dtype) * n
        self._count += n
        return self.alpha * kd + (1.0 - self.alpha) * ce

    def take_epoch(self, reduce: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> dict[str, float]:
        """train/kd_loss and train/ce_loss, the means over this epoch's samples
        (over every process's share with `reduce`); starts the next epoch's sums."""
        sums = torch.cat([self._sums, self._sums.new_tensor([float(self._count)])])
        kd, ce, n = (reduce(sums) if reduce is not None else sums).tolist()
        self._sums.zero_()
        self._count = 0
        if not n:
            return {}
        return {"train/kd_loss": kd / n, "train/ce_loss": ce / n}


def make_distiller(spec: DistillSpec | None, teacher: TeacherRef | None, objective: Objective,
                   input_shape: tuple[int, ...], device: torch.device) -> Optional[Distiller]:
    """The run's Distiller when the spec asks for one; the teacher comes from the
    store (engine.training.teacher.check_teacher), found by whoever has it."""
    if spec is None:
        return None
    if teacher is None or teacher.run_id != spec.teacher_run:
        raise TrainingError(f"training.distill needs teacher run #{spec.teacher_run} from the run store; "
                            "start the run with `layerdeck train` or from the app, which look it up")
    if objective.name != "cross_entropy":
        raise TrainingError(f"training.distill needs the cross_entropy loss, not {objective.name}")
    return Distiller(load_teacher(teacher, input_shape, device), objective, spec, device)
