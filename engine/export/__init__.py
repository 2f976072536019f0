"""Exporting a model out of LayerDeck: ONNX (`onnx.py`), a torch.export
program (`program.py`) and Python source with its weights (`python.py`),
each from a spec's initial weights or a run's best weights (`source.py`).

Every binary export is checked right after it is written: the saved file is
loaded back and run on a batch of another size than the one it was traced
with, against the PyTorch model (`check.py`). Importing this package does
not import torch."""
from engine.export.check import TOLERANCE, ExportCheck, ExportError

__all__ = ["TOLERANCE", "ExportCheck", "ExportError"]
