"""Training: `train(spec, ...) -> TrainResult`, the hooks it calls, and the
pieces it is built from (optimizers, schedules, losses, metrics, checkpoints)."""
from engine.training.callbacks import Callback, CallbackList, Control, MetricPoint, TrainContext
from engine.training.errors import NonFiniteLoss, TrainingError
from engine.training.loop import TrainResult, train

__all__ = ["Callback", "CallbackList", "Control", "MetricPoint", "NonFiniteLoss", "TrainContext",
           "TrainResult", "TrainingError", "train"]
