"""A finished run's model, ready to predict: its spec, its best checkpoint's
weights (the last one when it has no best) and its fitted preprocessing."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.data.preprocessing import DOCUMENT_KIND, Preprocessing, fit_preprocessing

if TYPE_CHECKING:
    import torch

    from engine.spec import RunSpec
    from engine.store import CheckpointRecord, Run, RunStore


class EvaluationError(ValueError):
    """A run that cannot be evaluated or predicted with; the message says why and what to do."""


@dataclass
class LoadedRun:
    run: Run
    spec: RunSpec
    model: torch.nn.Module
    checkpoint: CheckpointRecord
    preprocessing: Preprocessing
    device: torch.device
    loss: str  # how the outputs read: engine.evaluation.metrics.to_probabilities


def load_run(store: RunStore, run_id: int, device: str = "cpu") -> LoadedRun:
    """The run's model with its best weights, in eval mode on `device`."""
    from engine.spec import SpecError, parse_spec

    run = store.get_run(run_id)
    try:
        spec = parse_spec(run.spec, f"run {run_id}")
    except SpecError as e:
        raise EvaluationError(f"run {run_id}'s spec is invalid: {e}") from None
    ck = store.checkpoint(run_id, "best", "last")
    if ck is None:
        raise EvaluationError(f"run {run_id} ({run.status}) has no checkpoint to evaluate; "
                              "train it until at least one epoch has finished")
    if not Path(ck.path).is_file():
        raise EvaluationError(f"run {run_id}'s {ck.kind} checkpoint file is missing ({ck.path}); "
                              "it was deleted or the store was moved without its files")
    with open(ck.path, "rb") as fh:
        if fh.read(2) != b"PK":  # torch.save writes a zip archive; anything else is not ours (no torch import)
            raise EvaluationError(f"run {run_id}'s {ck.kind} checkpoint {ck.path} is not a LayerDeck "
                                  "checkpoint (damaged or replaced)")
    import torch

    from engine.model import ModelError, build_model
    from engine.training.checkpoint import load_checkpoint
    from engine.training.errors import TrainingError

    pre = preprocessing_of(store, run_id, spec)
    try:
        model = build_model(spec.model, tuple(pre.input_shape))
        state = load_checkpoint(ck.path, map_location="cpu")
        model.load_state_dict(state["model"])
    except (ModelError, TrainingError) as e:
        raise EvaluationError(f"run {run_id}: {e}") from None
    except RuntimeError as e:
        raise EvaluationError(f"run {run_id}'s checkpoint does not fit its model: {str(e).splitlines()[0]}") from None
    dev = torch.device(device)
    model.to(dev).eval()
    loss = spec.training.loss or ("cross_entropy" if pre.task == "classification" else "mse")
    return LoadedRun(run, spec, model, ck, pre, dev, loss)


def preprocessing_of(store: RunStore, run_id: int, spec: RunSpec) -> Preprocessing:
    """The run's stored preprocessing; a run recorded before it was kept gets
    it refitted from its data (same seed, same splits) and stored."""
    doc = store.get_document(run_id, DOCUMENT_KIND)
    if doc is not None:
        return Preprocessing.from_dict(doc)
    pre = fit_preprocessing(spec.data, load_data(spec, run_id))
    store.put_document(run_id, DOCUMENT_KIND, pre.to_dict())
    return pre


def load_data(spec: RunSpec, run_id: int) -> Any:
    """The run's dataset, split as in training; a DataError becomes words about the run."""
    from engine.data import DataError, load_dataset
    from engine.data.text import data_for_model

    try:
        return load_dataset(data_for_model(spec.data, spec.model.blocks), spec.seed)
    except DataError as e:
        raise EvaluationError(f"run {run_id}'s data cannot be loaded: {e}") from None


def predict_outputs(loaded: LoadedRun, x: np.ndarray, batch_size: int = 512) -> np.ndarray:
    """Class probabilities (N, K) for classification, predicted values (N, T) for regression."""
    import torch

    from engine.evaluation.metrics import to_probabilities

    outs = []
    with torch.inference_mode():
        for i in range(0, len(x), batch_size):
            xb = torch.from_numpy(np.ascontiguousarray(x[i:i + batch_size])).to(loaded.device)
            outs.append(loaded.model(xb).float().cpu().numpy())
    out = np.concatenate(outs) if outs else np.zeros((0, 1), np.float32)
    return to_probabilities(out, loaded.loss) if loaded.preprocessing.task == "classification" else out
