"""What evaluation adds to the end of a run, and what predicting costs.

    python bench/evaluation_cost.py [--template resources/templates/digits_cnn.json] [--epochs 5] [--repeat 5]

Trains the template in this process (CPU, as a worker would, with the
store's checkpoint rows written the worker's way), then times, median of
--repeat: `evaluate_run` (the worker's end-of-run step: load the best
checkpoint, predict the test split, compute every metric, store the
document) against the mean epoch time, and `predict_file` on an NPZ of the
whole dataset. Prints the ratio evaluation / one epoch.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--template", default="resources/templates/digits_cnn.json")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()

    import numpy as np

    from engine.data import load_dataset
    from engine.evaluation.predict import predict_file
    from engine.evaluation.recording import record_preprocessing
    from engine.evaluation.run_eval import evaluate_run
    from engine.spec import parse_spec
    from engine.store import RunStore
    from engine.training import train

    raw = json.loads(Path(args.template).read_text())
    raw["training"].update(epochs=args.epochs, device="cpu")
    raw["data"]["test_fraction"] = raw["data"].get("test_fraction") or 0.2
    spec = parse_spec(raw)
    with tempfile.TemporaryDirectory() as tmp:
        store = RunStore(f"sqlite:///{Path(tmp) / 'runs.db'}")
        run_id = store.create_run(raw)
        record_preprocessing(store, run_id, spec)
        t0 = time.perf_counter()
        result = train(spec, checkpoint_dir=Path(tmp) / "ck", device="cpu")
        train_s = time.perf_counter() - t0
        for kind, path in result.checkpoints.items():
            store.add_checkpoint(run_id, kind, path, result.step, result.epochs_done, None)
        store.set_status(run_id, "completed")
        evals, docs = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            docs.append(evaluate_run(store, run_id))
            evals.append(time.perf_counter() - t)
        data = load_dataset(spec.data, spec.seed)
        x = np.concatenate([data.normalizer.invert(a) for a in (data.x_train, data.x_val, data.x_test)])
        npz = Path(tmp) / "all.npz"
        np.savez(npz, x=x)
        preds = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            predict_file(store, run_id, npz)
            preds.append(time.perf_counter() - t)
    doc = docs[-1]
    epoch_s = train_s / max(result.epochs_done, 1)
    ev = statistics.median(evals)
    pr = statistics.median(preds)
    print(f"{raw['name']}: {result.epochs_done} epochs in {train_s:.2f} s ({epoch_s * 1000:.0f} ms an epoch, "
          f"set-up included); test accuracy {doc.get('accuracy', float('nan')):.4f} on {doc['n']} samples")
    print(f"evaluate_run: {ev * 1000:.0f} ms median ({min(evals) * 1000:.0f}-{max(evals) * 1000:.0f}) "
          f"= {ev / epoch_s:.2f} of one epoch")
    print(f"predict_file: {len(x)} samples from NPZ in {pr * 1000:.0f} ms median ({len(x) / pr:,.0f} samples/s)")
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
