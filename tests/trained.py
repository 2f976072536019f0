"""Runs trained in the test's own process through the engine's training
loop and recorded in a real store the way a worker records them
(preprocessing, checkpoints, status): fast enough for unit and GUI tests."""
from __future__ import annotations

from pathlib import Path


def trained_run(db_url: str, tmp_path: Path, spec: dict, evaluate: bool = False,
                test_metrics: dict | None = None) -> int:
    """The run's id; `test_metrics` (when given) receives the loop's own test/* values."""
    from engine.evaluation.recording import record_preprocessing
    from engine.evaluation.run_eval import evaluate_run
    from engine.spec import parse_spec
    from engine.store import RunStore
    from engine.training import train

    store = RunStore(db_url)
    run_id = store.create_run(spec)
    parsed = parse_spec(spec)
    record_preprocessing(store, run_id, parsed)
    result = train(parsed, checkpoint_dir=tmp_path / f"ck{run_id}", device="cpu")
    assert result.status == "completed", result.error
    if test_metrics is not None:
        test_metrics.update(result.test_metrics)
    for kind, path in result.checkpoints.items():
        store.add_checkpoint(run_id, kind, path, result.step, result.epochs_done, None)
    store.set_status(run_id, "completed")
    if evaluate:
        evaluate_run(store, run_id)
    store.close()
    return run_id


def mlp_spec(data: dict, outputs: int, epochs: int = 1, name: str = "eval-mlp") -> dict:
    return {"name": name, "seed": 0, "data": data,
            "model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": outputs}]},
            "optimizer": {"type": "Adam", "lr": 0.05},
            "training": {"epochs": epochs, "batch_size": 16, "device": "cpu"}}
