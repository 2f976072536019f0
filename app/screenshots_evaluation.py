"""`python -m app.screenshots_evaluation DIR`: the README's picture of the
Evaluation tab (DIR/evaluation.png) and of Predict on file
(DIR/predict.png). Trains a small digits CNN for a few epochs in this
process into a throw-away store (the demo store has no checkpoints to
evaluate), evaluates it, and renders run details offscreen."""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SPEC = {"name": "digits-cnn", "seed": 0,
        "data": {"name": "digits", "val_fraction": 0.1, "test_fraction": 0.2},
        "model": {"blocks": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
                             {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
                             {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]},
        "optimizer": {"type": "Adam", "lr": 0.003},
        "training": {"epochs": 2, "batch_size": 64, "device": "cpu"}}


def _trained(url: str, folder: Path) -> int:
    from engine.evaluation.recording import record_preprocessing
    from engine.evaluation.run_eval import evaluate_run
    from engine.spec import parse_spec
    from engine.store import RunStore
    from engine.training import train

    store = RunStore(url)
    run_id = store.create_run(SPEC)
    spec = parse_spec(SPEC)
    record_preprocessing(store, run_id, spec)
    store.set_status(run_id, "running")
    result = train(spec, checkpoint_dir=folder / "ck", device="cpu")
    store.update_summary(run_id, {"params": result.num_params})
    for kind, path in result.checkpoints.items():
        store.add_checkpoint(run_id, kind, path, result.step, result.epochs_done, None)
    store.set_status(run_id, "completed")
    evaluate_run(store, run_id)
    return run_id


def _until(app, done, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        app.processEvents()
        time.sleep(0.02)


def main(out_dir: str) -> int:
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from app.pages.runs.details import RunDetails
    from app.pages.runs.predict_dialog import PredictDialog
    from engine.store import RunStore

    app = QApplication.instance() or QApplication(sys.argv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'runs.db'}"
        run_id = _trained(url, Path(tmp))
        details = RunDetails()
        details.resize(1180, 760)
        details.evaluation.set_store(lambda: RunStore(url))
        details.show_run(RunStore(url).get_run(run_id))
        details.tabs.setCurrentWidget(details.evaluation)
        details.show()
        _until(app, lambda: details.evaluation.inputs is not None)
        app.processEvents()
        details.grab().save(str(out / "evaluation.png"))

        from sklearn.datasets import load_digits

        d = load_digits()
        new = Path(tmp) / "new_digits.npz"
        np.savez(new, x=d.images[-40:, None].astype(np.float32), y=d.target[-40:])
        dialog = PredictDialog(lambda: RunStore(url), RunStore(url).get_run(run_id))
        dialog.resize(900, 420)
        dialog.show()
        dialog.predict(str(new))
        _until(app, lambda: dialog.result is not None)
        app.processEvents()
        dialog.grab().save(str(out / "predict.png"))
    print(f"wrote {out / 'evaluation.png'} and {out / 'predict.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots"))
