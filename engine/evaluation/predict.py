"""Predictions of a trained run on a new file (CSV, NPZ, image folder):
one row per sample with the predicted class and the class probabilities
(or the predicted values), and the file's own answers when it has them."""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import numpy as np

from engine.data.dataset import DataError
from engine.data.new_data import read_new_data
from engine.evaluation.loaded import EvaluationError, load_run, predict_outputs

if TYPE_CHECKING:
    from engine.store import RunStore


@dataclass
class Predictions:
    run_id: int
    task: str
    columns: list[str]
    rows: list[list[Any]]  # one per sample, in the file's order
    notes: list[str] = field(default_factory=list)
    accuracy: Optional[float] = None  # classification, when the file has answers
    mae: Optional[float] = None  # regression, when the file has answers


def predict_file(store: RunStore, run_id: int, path: str | Path, device: str = "cpu") -> Predictions:
    """Raises EvaluationError naming what does not fit (columns, shapes, values)."""
    loaded = load_run(store, run_id, device)
    pre = loaded.preprocessing
    try:
        data = read_new_data(pre, path)
    except DataError as e:
        raise EvaluationError(str(e)) from None
    out = predict_outputs(loaded, data.x)
    has_truth = data.truth is not None and data.truth_text is not None
    truth_text = data.truth_text or []
    if pre.task == "classification":
        pred = out.argmax(axis=1)
        conf = out[np.arange(len(out)), pred]
        columns = ["sample"] + (["true"] if has_truth else []) + ["predicted", "confidence"]
        columns += [f"p({c})" for c in pre.class_names]
        rows = [[data.labels[i]] + ([truth_text[i]] if has_truth else [])
                + [pre.class_names[int(pred[i])], round(float(conf[i]), 6)]
                + [round(float(v), 6) for v in out[i]] for i in range(len(out))]
        accuracy = float((pred == data.truth).mean()) if has_truth else None
        return Predictions(run_id, pre.task, columns, rows, data.notes, accuracy=accuracy)
    names = list(pre.target_names) or [f"target_{j}" for j in range(out.shape[1])]
    columns = ["sample"] + ([f"true {n}" for n in names] if has_truth else []) + [f"predicted {n}" for n in names]
    truth = data.truth if has_truth else None
    rows = [[data.labels[i]] + ([_num(v) for v in truth[i]] if truth is not None else [])
            + [round(float(v), 6) for v in out[i]] for i in range(len(out))]
    mae = None
    if truth is not None and np.isfinite(truth).any():
        mae = float(np.nanmean(np.abs(truth - out)))
    return Predictions(run_id, pre.task, columns, rows, data.notes, mae=mae)


def write_csv(predictions: Predictions, path: str | Path) -> Path:
    p = Path(path)
    with open(p, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(predictions.columns)
        w.writerows(predictions.rows)
    return p


def _num(v: float) -> Any:
    return round(float(v), 6) if np.isfinite(v) else ""
