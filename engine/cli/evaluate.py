"""`layerdeck runs eval ID [--split test|val] [--json] [--again]`: a run's
evaluation (confusion matrix, per-class precision/recall/F1, ROC AUC; MAE,
RMSE, R²), computed with its best weights and stored the first time."""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable

from engine.store import RunStore


def add_parser(actions: Any, db_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    p = actions.add_parser("eval", help="Evaluate a run on its test (or validation) split.",
                           description="Print a run's evaluation with its best weights: computed and stored "
                                       "with the run the first time, read back after.")
    p.add_argument("run_id", type=int, metavar="ID")
    p.add_argument("--split", choices=("test", "val"),
                   help="Which split (default: test, or val when the run has no test split).")
    p.add_argument("--json", action="store_true", help="Print one JSON document instead of tables.")
    p.add_argument("--again", action="store_true", help="Recompute even when an evaluation is stored.")
    db_arg(p)


def run_eval(store: RunStore, args: argparse.Namespace) -> int:
    import sys

    from engine.evaluation.loaded import EvaluationError
    from engine.evaluation.report import summary_json, text_report
    from engine.evaluation.run_eval import evaluate_run, stored_evaluation
    from engine.labels import run_label
    from engine.status import TERMINAL

    run = store.get_run(args.run_id)
    if run.status not in TERMINAL:
        print(f"note: run {run.id} is {run.status}; its best checkpoint so far is evaluated "
              "(the run is evaluated again when it ends)", file=sys.stderr)
    doc = None if args.again else stored_evaluation(store, run.id, args.split)
    if doc is None:
        try:
            doc = evaluate_run(store, run.id, args.split)
        except EvaluationError as e:
            print(f"layerdeck runs eval: {e}", file=sys.stderr)
            return 1
    if args.json:
        print(json.dumps(summary_json(doc), indent=1))
    else:
        print(text_report(doc, run_label(run.id, run.name)))
    return 0


def headline(store: RunStore, run_id: int) -> str:
    """One line for `runs show`: the stored evaluation's main numbers, or how to get them."""
    from engine.evaluation.run_eval import stored_evaluation

    doc = stored_evaluation(store, run_id)
    if doc is None:
        return f"  eval      none stored (`layerdeck runs eval {run_id}` computes it)"
    if doc["task"] == "classification":
        scores = f"accuracy {doc['accuracy']:.4f}, macro F1 {doc['macro_f1']:.4f}"
    else:
        scores = f"MAE {doc['mae']:.4g}, RMSE {doc['rmse']:.4g}, R² {doc['r2']:.4f}"
    return f"  eval      {doc['split']} split, {doc['n']} samples: {scores} (`layerdeck runs eval {run_id}` for more)"
