"""`layerdeck predict RUN_ID FILE [--out predictions.csv]`: a trained run's
predictions for a new CSV, NPZ file or image folder, through the run's
stored preprocessing; one row per sample with the predicted class and the
class probabilities (or the predicted values)."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from engine.store import RunStore

PREVIEW_ROWS = 20


def add_parser(sub: Any) -> None:
    p = sub.add_parser("predict", help="Predict with a trained run on a new file.",
                       description="Predict with a run's best weights on a CSV (with or without the target "
                                   "column), an NPZ file (array x) or an image folder, prepared as the run's "
                                   "training data was.")
    p.add_argument("run_id", type=int, metavar="RUN_ID")
    p.add_argument("file", metavar="FILE", help="CSV, NPZ or image folder of the run's dataset kind.")
    p.add_argument("--out", metavar="CSV", help="Write every prediction to this CSV file.")
    p.add_argument("--db", default=argparse.SUPPRESS,
                   help="Run store URL or file (default: LAYERDECK_DB or the user data dir).")


def run(args: argparse.Namespace) -> int:
    from engine.evaluation.loaded import EvaluationError
    from engine.evaluation.predict import predict_file, write_csv
    from engine.store import RunNotFoundError, resolve_db_url

    try:
        store = RunStore(resolve_db_url(getattr(args, "db", None)))
    except ValueError as e:
        print(f"layerdeck predict: {e}", file=sys.stderr)
        return 1
    try:
        result = predict_file(store, args.run_id, args.file)
    except RunNotFoundError:
        print(f"layerdeck predict: there is no run {args.run_id} in {store.url} (see `layerdeck runs list`)",
              file=sys.stderr)
        return 1
    except EvaluationError as e:
        print(f"layerdeck predict: {e}", file=sys.stderr)
        return 1
    finally:
        store.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.out:
        try:
            write_csv(result, args.out)
        except OSError as e:
            print(f"layerdeck predict: cannot write {args.out} ({e.strerror or e})", file=sys.stderr)
            return 1
        print(f"wrote {len(result.rows)} predictions to {args.out}")
    else:
        _print_table(result.columns, result.rows[:PREVIEW_ROWS])
        if len(result.rows) > PREVIEW_ROWS:
            print(f"... {len(result.rows) - PREVIEW_ROWS} more rows (write them all with --out FILE.csv)")
    if result.accuracy is not None:
        print(f"accuracy against the file's answers: {result.accuracy:.4f}")
    if result.mae is not None:
        print(f"MAE against the file's answers: {result.mae:.4g}")
    return 0


def _print_table(columns: list[str], rows: list[list[Any]]) -> None:
    cells = [columns] + [[f"{v:.4f}" if isinstance(v, float) else str(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    for r in cells:
        print("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip())
