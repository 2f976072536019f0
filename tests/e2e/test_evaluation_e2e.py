"""A real worker process evaluates its run when training ends: the
evaluation and the fitted preprocessing are stored with the run, and the
run's test accuracy metric and the evaluation agree."""
from __future__ import annotations

import pytest

from engine.protocol import Log

pytestmark = pytest.mark.slow


def test_a_real_worker_stores_its_evaluation_and_preprocessing(runner, events):
    spec = {"name": "e2e-eval", "seed": 3, "data": {"name": "iris", "val_fraction": 0.2, "test_fraction": 0.2},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.05},
            "training": {"epochs": 2, "batch_size": 16, "device": "cpu"}}
    run_id = runner.submit(spec)
    assert runner.wait(run_id, timeout=240) == "completed"
    store = runner.store
    assert set(store.document_kinds(run_id)) >= {"evaluation/test", "preprocessing"}
    doc = store.get_document(run_id, "evaluation/test")
    assert doc["n"] == 30 and sum(map(sum, doc["confusion_matrix"])) == 30
    assert doc["checkpoint"]["kind"] == "best"
    test_acc = store.get_run(run_id).summary["metrics"]["test/accuracy"]["last"]
    assert doc["accuracy"] == pytest.approx(test_acc, abs=1e-6)  # same weights, same split, same answer
    pre = store.get_document(run_id, "preprocessing")
    assert pre["class_names"] == ["setosa", "versicolor", "virginica"] and pre["normalize"] == "standard"
    logs = [e.message for e in events.of(run_id) if isinstance(e, Log)]
    assert any(m.startswith("evaluation on the test split (30 samples)") for m in logs)
