"""Evaluate a run on its test split (or validation when it has none) with
its best weights, and keep the result with the run as the document
"evaluation/test" or "evaluation/val"."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Optional

from engine.evaluation.loaded import EvaluationError, load_data, load_run, predict_outputs
from engine.evaluation.metrics import classification_report, regression_report

if TYPE_CHECKING:
    from engine.store import RunStore

SPLITS = ("test", "val")
_SPLIT_WORDS = {"test": "test split (data.test_fraction is 0 and the dataset has no test set of its own)",
                "val": "validation split (data.val_fraction is 0)"}


def document_kind(split: str) -> str:
    return f"evaluation/{split}"


def stored_evaluation(store: RunStore, run_id: int, split: Optional[str] = None) -> Optional[dict[str, Any]]:
    """The run's stored evaluation of `split`, or of test, then val, when none is named."""
    for s in ([split] if split else SPLITS):
        doc = store.get_document(run_id, document_kind(s))
        if doc is not None:
            return doc
    return None


def evaluate_run(store: RunStore, run_id: int, split: Optional[str] = None, device: str = "cpu") -> dict[str, Any]:
    """Compute, store and return the run's evaluation. Raises EvaluationError
    (words for the user) when the run has no checkpoint, no such split, or
    its data cannot be loaded."""
    if split is not None and split not in SPLITS:
        raise EvaluationError(f"unknown split {split!r}; use test or val")
    loaded = load_run(store, run_id, device)
    data = load_data(loaded.spec, run_id)
    sizes = {"test": len(data.y_test), "val": len(data.y_val)}
    if split is None:
        split = next((s for s in SPLITS if sizes[s]), None)
        if split is None:
            raise EvaluationError(f"run {run_id} has neither a test nor a validation split to evaluate on; "
                                  "train it with data.val_fraction or data.test_fraction above 0")
    elif not sizes[split]:
        other = "val" if split == "test" else "test"
        hint = f"; use --split {other}" if sizes[other] else ""
        raise EvaluationError(f"run {run_id} has no {_SPLIT_WORDS[split]}{hint}")
    x, y = (data.x_test, data.y_test) if split == "test" else (data.x_val, data.y_val)
    out = predict_outputs(loaded, x)
    pre = loaded.preprocessing
    doc = (classification_report(y, out, pre.class_names) if pre.task == "classification"
           else regression_report(y, out, pre.target_names))
    ck = loaded.checkpoint
    doc.update(split=split, run_id=run_id, dataset=pre.dataset, kind=pre.kind,
               checkpoint={"kind": ck.kind, "epoch": ck.epoch, "step": ck.step},
               created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    store.put_document(run_id, document_kind(split), doc)
    return doc


def split_inputs(store: RunStore, run_id: int, split: str) -> tuple[Any, list[str]]:
    """The inputs of a run's evaluated split in their original units (what a
    gallery or a table of samples shows), with the feature names, if any."""
    from engine.spec import parse_spec

    spec = parse_spec(store.get_run(run_id).spec, f"run {run_id}")
    data = load_data(spec, run_id)
    x = data.x_test if split == "test" else data.x_val
    if data.normalizer is not None:
        x = data.normalizer.invert(x)
    return x, list(data.info.feature_names or [])


def samples_in_cell(doc: dict[str, Any], true: int, predicted: int) -> list[tuple[int, float]]:
    """(index, confidence) of the samples of class `true` predicted as `predicted`, surest first."""
    s = doc.get("samples") or {}
    hits = [(i, c) for i, (t, p, c) in enumerate(zip(s.get("true", ()), s.get("predicted", ()),
                                                      s.get("confidence", ())))
            if t == true and p == predicted]
    return sorted(hits, key=lambda h: -h[1])
