"""What a worker records for evaluation: the fitted preprocessing before
training starts, the evaluation once the run has ended with a checkpoint.

Neither may fail a run: a problem is returned as a sentence for the run's
log, with the traceback on stderr (the log file)."""
from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from engine.data.preprocessing import DOCUMENT_KIND, fit_preprocessing

if TYPE_CHECKING:
    from engine.spec import RunSpec
    from engine.store import RunStore


def record_preprocessing(store: RunStore, run_id: int, spec: RunSpec) -> None:
    """Store the preprocessing the run fits on its training split. The
    dataset lands in the process's cache, so training loads it for free; a
    dataset that cannot load is left for training to report."""
    from engine.data import DataError, load_dataset
    from engine.data.text import data_for_model

    try:
        # As training loads it: a pretrained text block's own tokenizer reads the texts.
        data = load_dataset(data_for_model(spec.data, spec.model.blocks), spec.seed)
    except DataError:
        return
    try:
        store.put_document(run_id, DOCUMENT_KIND, fit_preprocessing(spec.data, data).to_dict())
    except Exception:
        traceback.print_exc()


def record_evaluation(store: RunStore, run_id: int, device: str) -> str:
    """Evaluate the ended run with its best weights and store the result;
    a line for the run's log either way."""
    from engine.evaluation.loaded import EvaluationError
    from engine.evaluation.run_eval import evaluate_run

    try:
        doc = evaluate_run(store, run_id, device=device)
    except EvaluationError as e:
        return f"no evaluation: {e}"
    except Exception as e:
        traceback.print_exc()
        return f"evaluation failed: {type(e).__name__}: {e}"
    if doc["task"] == "classification":
        return (f"evaluation on the {doc['split']} split ({doc['n']} samples): accuracy {doc['accuracy']:.4f}, "
                f"macro F1 {doc['macro_f1']:.4f}")
    return f"evaluation on the {doc['split']} split ({doc['n']} samples): MAE {doc['mae']:.4g}, R² {doc['r2']:.4f}"
