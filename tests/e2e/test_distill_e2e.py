"""Knowledge distillation end to end: a digits CNN trained by a real worker
teaches a small MLP in another real worker; the student's run records its
teacher and the kd / ce losses beside its loss; a teacher that cannot teach
is refused before launch (no run row), by the Runner and by `layerdeck check`."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from engine.cli import main as cli_main
from engine.spec import SpecError

pytestmark = pytest.mark.slow

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def teacher_spec() -> dict:
    d = json.loads((TEMPLATES / "digits_cnn.json").read_text())
    d["training"].update(epochs=4, device="cpu")
    return d


def student_spec(teacher_run: int, **data) -> dict:
    return {"name": "digits-student", "seed": 0, "data": {"name": "digits", "val_fraction": 0.2, **data},
            "model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 24}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 10}]},
            "optimizer": {"type": "Adam", "lr": 0.003},
            "training": {"epochs": 4, "batch_size": 64, "device": "cpu",
                         "distill": {"teacher_run": teacher_run, "temperature": 4.0, "alpha": 0.7}}}


def test_a_student_distilled_from_a_digits_cnn_teacher(runner, tmp_path, capsys):
    store = runner.store
    teacher = runner.submit(teacher_spec())
    assert runner.wait(teacher, timeout=600) == "completed"
    teacher_acc = store.get_run(teacher).summary["metrics"]["val/accuracy"]["best"]
    assert teacher_acc > 0.9

    student = runner.submit(student_spec(teacher))
    assert runner.wait(student, timeout=600) == "completed", store.get_run(student).error
    run = store.get_run(student)
    assert run.teacher_run_id == teacher
    curves = {c.key: c for c in store.get_curves([student], ["train/loss", "train/kd_loss", "train/ce_loss",
                                                             "val/accuracy"], buckets=None)}
    kd, ce, total = curves["train/kd_loss"].values, curves["train/ce_loss"].values, curves["train/loss"].values
    assert len(kd) == len(ce) == len(total) == 4
    assert all(math.isclose(t, 0.7 * k + 0.3 * c, rel_tol=1e-4) for t, k, c in zip(total, kd, ce))
    assert kd[-1] < kd[0] and ce[-1] < ce[0]
    assert max(curves["val/accuracy"].values) > 0.85

    # Refused before launch, both values named, and no row is created.
    before = len(store.list_runs())
    with pytest.raises(SpecError) as e:
        runner.submit(student_spec(teacher, normalize="minmax"))
    assert "normalize=standard" in str(e.value) and "normalize=minmax" in str(e.value)
    wine = student_spec(teacher)
    wine["data"]["name"] = "wine"
    wine["model"]["blocks"] = [{"type": "Linear", "out_features": 3}]
    with pytest.raises(SpecError, match="was trained on digits, this run trains on wine"):
        runner.submit(wine)
    assert len(store.list_runs()) == before

    # `layerdeck check` says the same against the store.
    path = tmp_path / "wine-student.json"
    path.write_text(json.dumps(wine))
    assert cli_main(["check", str(path), "--db", runner.db_url]) == 1
    assert "was trained on digits, this run trains on wine" in capsys.readouterr().err
    good = tmp_path / "student.json"
    good.write_text(json.dumps(student_spec(teacher)))
    assert cli_main(["check", str(good), "--db", runner.db_url]) == 0
    assert f"distilled from run #{teacher}" in capsys.readouterr().out
