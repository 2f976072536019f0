"""Errors the training package raises."""
from __future__ import annotations


class TrainingError(ValueError):
    """A run that cannot start as configured; the message names the setting and the fix."""


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or inf; ends the run as `failed`, never a crash."""

    def __init__(self, value: float, epoch: int, step: int):
        self.value, self.epoch, self.step = value, epoch, step
        word = "NaN" if value != value else "inf"
        super().__init__(f"loss became {word} at epoch {epoch}, step {step} — try a lower learning rate")
