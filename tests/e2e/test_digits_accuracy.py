"""The digits CNN template learns digits through `layerdeck train`, end to end.

A real CLI process starts a real worker on the CPU and trains the bundled
template unchanged; the run store it leaves behind must say the run
completed with at least 97% validation accuracy. How long that takes is
measured by bench/train_throughput.py, not asserted here.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import RunStore

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "resources" / "templates" / "digits_cnn.json"


@pytest.mark.slow
@pytest.mark.timeout(600)  # a full template run on a loaded 2-core machine
def test_digits_cnn_template_reaches_97_percent_validation_accuracy(db_url):
    # `-m app.launch` is what the `layerdeck` console script runs.
    done = subprocess.run([sys.executable, "-m", "app.launch", "train", str(TEMPLATE), "--db", db_url,
                           "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=590)
    assert done.returncode == 0, done.stderr[-3000:]

    store = RunStore(db_url)
    try:
        [run] = store.list_runs()
        assert run.status == "completed"
        assert run.device == "cpu"
        best = run.summary["metrics"]["val/accuracy"]["best"]
        assert best >= 0.97, f"best val/accuracy {best:.4f}"
        assert f"run {run.id} completed" in done.stdout
    finally:
        store.close()
