"""Evaluation and predictions of real runs: trained in this process through
the engine's own training loop (1-2 epochs), recorded in a real SQLite store
the way the worker records them, then read back through the CLI."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from engine.cli import main
from engine.store import RunStore
from tests.trained import trained_run


def iris_spec(**data) -> dict:
    return {"name": "iris-eval", "seed": 0,
            "data": {"name": "iris", "val_fraction": 0.2, "test_fraction": 0.2, **data},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.05},
            "training": {"epochs": 1, "batch_size": 16, "device": "cpu"}}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_eval_json_has_the_documented_keys_and_is_stored(db_url, tmp_path, capsys):
    run_id = trained_run(db_url, tmp_path, iris_spec())
    code, out, err = cli(capsys, "runs", "eval", str(run_id), "--json", "--db", db_url)
    assert code == 0, err
    doc = json.loads(out)
    assert {"confusion_matrix", "per_class", "accuracy", "macro_f1"} <= set(doc)
    assert doc["split"] == "test" and doc["n"] == 30
    assert np.asarray(doc["confusion_matrix"]).sum() == 30
    assert [c["class"] for c in doc["per_class"]] == ["setosa", "versicolor", "virginica"]
    assert set(doc["per_class"][0]) >= {"class", "precision", "recall", "f1", "support"}
    assert doc["accuracy"] > 0.5  # one epoch of Adam at lr 0.05 learns iris well past chance (1/3)
    stored = RunStore(db_url).get_document(run_id, "evaluation/test")
    assert stored is not None and stored["confusion_matrix"] == doc["confusion_matrix"]

    code, out, _ = cli(capsys, "runs", "eval", str(run_id), "--db", db_url)
    assert code == 0
    assert "macro avg" in out and "confusion matrix" in out and "setosa" in out

    code, _, err = cli(capsys, "runs", "eval", str(run_id), "--split", "val", "--json", "--db", db_url)
    assert code == 0 and RunStore(db_url).get_document(run_id, "evaluation/val")["n"] == 30

    code, out, _ = cli(capsys, "runs", "show", str(run_id), "--db", db_url)
    assert code == 0 and f"eval      test split, 30 samples: accuracy {doc['accuracy']:.4f}" in out


def test_runs_eval_regression_json_and_missing_split(db_url, tmp_path, capsys):
    spec = iris_spec()
    spec.update(name="diabetes", data={"name": "diabetes", "val_fraction": 0.2})
    spec["model"]["blocks"][-1]["out_features"] = 1
    run_id = trained_run(db_url, tmp_path, spec)
    code, out, err = cli(capsys, "runs", "eval", str(run_id), "--json", "--db", db_url)
    assert code == 0, err
    doc = json.loads(out)
    assert {"mae", "rmse", "r2"} <= set(doc) and doc["split"] == "val"  # no test split: validation
    assert len(doc["residuals"]["residual"]) == doc["n"] == 88
    code, _, err = cli(capsys, "runs", "eval", str(run_id), "--split", "test", "--db", db_url)
    assert code == 1 and "no test split" in err and "--split val" in err and "Traceback" not in err


@pytest.mark.parametrize("outputs", [1, 2])
def test_a_binary_bce_run_reads_its_outputs_as_trained(db_url, tmp_path, capsys, outputs):
    """bce_with_logits with one logit (sigmoid) or two (independent sigmoids): the evaluation's
    accuracy is the training loop's own test/accuracy, from the same weights."""
    spec = iris_spec()
    spec.update(name="cancer", data={"name": "breast_cancer", "val_fraction": 0.2, "test_fraction": 0.2})
    spec["model"]["blocks"][-1]["out_features"] = outputs
    spec["training"]["loss"] = "bce_with_logits"
    loop: dict = {}
    run_id = trained_run(db_url, tmp_path, spec, test_metrics=loop)
    code, out, err = cli(capsys, "runs", "eval", str(run_id), "--json", "--db", db_url)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["accuracy"] == pytest.approx(loop["test/accuracy"], abs=1e-9) and doc["accuracy"] > 0.8
    assert doc["roc_auc"]["kind"] == "binary" and doc["roc_auc"]["average"] > 0.9


def test_a_run_without_a_checkpoint_is_refused_in_words(db_url, capsys):
    run_id = RunStore(db_url).create_run(iris_spec())
    code, _, err = cli(capsys, "runs", "eval", str(run_id), "--db", db_url)
    assert code == 1 and "has no checkpoint" in err


def write_csv(path: Path, header: list[str], rows) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def csv_run(db_url, tmp_path):
    """A run on a CSV with a numeric and a text (one-hot) column."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        color = ["red", "green", "blue"][i % 3]
        size = rng.normal() + (2.0 if color == "red" else 0.0)
        rows.append([f"{size:.3f}", color, f"{rng.normal():.3f}", "big" if size > 1 else "small"])
    train_csv = write_csv(tmp_path / "train.csv", ["size", "color", "noise", "label"], rows)
    spec = iris_spec()
    spec["data"] = {"name": "csv", "path": str(train_csv), "target": "label", "val_fraction": 0.2}
    spec["model"]["blocks"][-1]["out_features"] = 2
    spec["training"]["epochs"] = 2
    return trained_run(db_url, tmp_path, spec), rows


def test_predict_on_a_csv_with_and_without_the_target_column(csv_run, db_url, tmp_path, capsys):
    run_id, rows = csv_run
    pre = RunStore(db_url).get_document(run_id, "preprocessing")
    assert [(c["name"], c["encoding"]) for c in pre["columns"]] == [("size", "number"), ("color", "onehot"),
                                                                   ("noise", "number")]
    assert pre["columns"][1]["categories"] == ["blue", "green", "red"]

    with_target = write_csv(tmp_path / "new.csv", ["size", "color", "noise", "label"], rows[:10])
    out_csv = tmp_path / "pred.csv"
    code, out, err = cli(capsys, "predict", str(run_id), str(with_target), "--out", str(out_csv), "--db", db_url)
    assert code == 0, err
    table = list(csv.DictReader(open(out_csv)))
    assert len(table) == 10
    assert list(table[0]) == ["sample", "true", "predicted", "confidence", "p(big)", "p(small)"]
    assert [r["true"] for r in table] == [r[3] for r in rows[:10]]
    for r in table:
        assert float(r["p(big)"]) + float(r["p(small)"]) == pytest.approx(1, abs=1e-5)
        assert r["predicted"] == max(("big", "small"), key=lambda c: float(r[f"p({c})"]))
    assert "accuracy against the file's answers" in out

    # Without the target and with the columns in another order and an extra id column: same predictions.
    no_target = write_csv(tmp_path / "unlabelled.csv", ["id", "noise", "color", "size"],
                          [[i, r[2], r[1], r[0]] for i, r in enumerate(rows[:10])])
    code, out, err = cli(capsys, "predict", str(run_id), str(no_target), "--db", db_url)
    assert code == 0, err
    assert "ignored column(s) the run did not train on: 'id'" in err
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["sample", "predicted", "confidence"]
    assert [ln.split()[2] for ln in lines[1:11]] == [r["predicted"] for r in table]


def test_predict_names_missing_columns_and_unseen_categories(csv_run, db_url, tmp_path, capsys):
    run_id, rows = csv_run
    wrong = write_csv(tmp_path / "wrong.csv", ["size", "colour", "label"], [[r[0], r[1], r[3]] for r in rows[:5]])
    code, _, err = cli(capsys, "predict", str(run_id), str(wrong), "--db", db_url)
    assert code == 1
    assert "missing column(s) 'color', 'noise'" in err and "extra column(s) 'colour'" in err
    assert "Traceback" not in err
    purple = write_csv(tmp_path / "purple.csv", ["size", "color", "noise"], [["1.0", "purple", "0.1"]])
    code, _, err = cli(capsys, "predict", str(run_id), str(purple), "--db", db_url)
    assert code == 1 and "'purple' in column 'color' at row 1 was never seen" in err


def test_predict_on_an_image_folder_and_a_mismatched_npz(db_url, tmp_path, capsys):
    from PIL import Image

    def folder(root: Path, per_class: int) -> Path:
        rng = np.random.default_rng(1)
        for name, level in (("dark", 40), ("light", 210)):
            (root / name).mkdir(parents=True)
            for i in range(per_class):
                pixels = np.clip(rng.normal(level, 20, (12, 12)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / name / f"{i}.png")
        return root

    spec = iris_spec()
    spec["data"] = {"name": "image_folder", "path": str(folder(tmp_path / "imgs", 12)), "image_size": 8,
                    "val_fraction": 0.25}
    spec["model"]["blocks"] = [{"type": "Flatten"}, {"type": "Linear", "out_features": 2}]
    spec["training"]["epochs"] = 3
    run_id = trained_run(db_url, tmp_path, spec)
    new = folder(tmp_path / "new", 3)
    out_csv = tmp_path / "img_pred.csv"
    code, out, err = cli(capsys, "predict", str(run_id), str(new), "--out", str(out_csv), "--db", db_url)
    assert code == 0, err
    table = list(csv.DictReader(open(out_csv)))
    assert [r["sample"] for r in table][:2] == ["dark/0.png", "dark/1.png"] and len(table) == 6
    assert {r["true"] for r in table} == {"dark", "light"}
    assert all(r["predicted"] == r["true"] for r in table)  # dark vs light is separable at once

    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.zeros((4, 3, 8, 8), np.float32))
    code, _, err = cli(capsys, "predict", str(run_id), str(bad), "--db", db_url)
    assert code == 1 and "shape 3 × 8 × 8" in err and "(N, 1, 8, 8)" in err
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((4, 1, 8, 8), np.float32))
    assert cli(capsys, "predict", str(run_id), str(good), "--db", db_url)[0] == 0


def test_a_checkpoint_that_is_not_ours_is_refused_in_words(db_url, tmp_path, capsys):
    store = RunStore(db_url)
    run_id = store.create_run(iris_spec(), status="completed")
    fake = tmp_path / "best.pt"
    fake.write_bytes(b"not a checkpoint")
    store.add_checkpoint(run_id, "best", str(fake), 10, 1, None)
    code, _, err = cli(capsys, "runs", "eval", str(run_id), "--db", db_url)
    assert code == 1 and "is not a LayerDeck checkpoint" in err and "Traceback" not in err
