"""Training: `train(spec, ...) -> TrainResult`, the hooks it calls, and the
pieces it is built from (optimizers, schedules, losses, metrics, checkpoints).

`train` and `TrainResult` load lazily: the hook API (callbacks.py) is used by
the protocol, the runner and the GUI's bridge, which must not pay for
importing torch (several seconds) just to name a MetricPoint.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from engine.training.callbacks import Callback, CallbackList, Control, MetricPoint, TrainContext

if TYPE_CHECKING:  # pragma: no cover
    from engine.training.errors import NonFiniteLoss, TrainingError
    from engine.training.loop import TrainResult, train

_LAZY = {
    "train": "engine.training.loop",
    "TrainResult": "engine.training.loop",
    "TrainingError": "engine.training.errors",
    "NonFiniteLoss": "engine.training.errors",
}

__all__ = ["Callback", "CallbackList", "Control", "MetricPoint", "NonFiniteLoss", "TrainContext",
           "TrainResult", "TrainingError", "train"]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'engine.training' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
