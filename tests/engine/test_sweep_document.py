"""The sweep document: what a user writes is checked whole before any trial
starts, and every problem names its place in the JSON and the fix."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.store import RunStore
from engine.sweeps import SweepError, apply_params, build_trial_spec, load_sweep, parse_sweep, planned_trials

ROOT = Path(__file__).resolve().parents[2]
LAYERDECK = [sys.executable, "-c", "import sys; from engine.cli import main; sys.exit(main())"]


def base() -> dict:
    return {"name": "digits-mlp", "data": {"name": "digits", "val_fraction": 0.2},
            "model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 10}]},
            "optimizer": {"type": "Adam", "lr": 0.001}, "training": {"epochs": 2, "device": "cpu"}}


def sweep(**changes) -> dict:
    doc = {"name": "lr-width", "base": base(), "method": "random", "metric": "val/accuracy", "trials": 5,
           "parameters": {"optimizer.lr": {"log_uniform": [0.0001, 0.1]},
                          "model.blocks.1.out_features": {"values": [32, 64, 128]}}}
    doc.update(changes)
    return doc


def errors_of(doc: dict) -> list[str]:
    with pytest.raises(SweepError) as e:
        parse_sweep(doc)
    return e.value.errors


def test_the_issues_example_parses_with_its_base_beside_it(tmp_path):
    (tmp_path / "digits_mlp.json").write_text(json.dumps(base()))
    (tmp_path / "sweep.json").write_text(json.dumps({
        "name": "digits-mlp-lr-width", "base": "digits_mlp.json", "method": "tpe", "metric": "val/accuracy",
        "goal": "maximize", "trials": 20, "parallel": 2, "pruner": "median",
        "parameters": {"optimizer.lr": {"log_uniform": [0.0001, 0.1]},
                       "model.blocks.1.out_features": {"values": [32, 64, 128]},
                       "optimizer.type": {"values": ["Adam", "SGD"]},
                       "training.batch_size": {"int": [16, 128]},
                       "regularization.label_smoothing": {"uniform": [0.0, 0.2]}}}))
    doc = load_sweep(tmp_path / "sweep.json")
    assert (doc.method, doc.trials, doc.parallel, doc.pruner) == ("tpe", 20, 2, "median")
    assert doc.parameter("optimizer.lr").log and doc.base["model"]["blocks"][1]["out_features"] == 32
    assert parse_sweep(doc.to_dict()) == doc  # what the sweeps table keeps reads back the same


def test_a_grid_plans_its_cartesian_product_and_refuses_fewer_trials():
    grid = {"optimizer.lr": {"values": [0.01, 0.001]}, "training.batch_size": {"values": [16, 32, 64]}}
    assert planned_trials(parse_sweep(sweep(method="grid", trials=None, parameters=grid))) == 6
    assert planned_trials(parse_sweep(sweep(method="grid", trials=50, parameters=grid))) == 6  # never more
    assert errors_of(sweep(method="grid", trials=4, parameters=grid)) == [
        "trials: the grid has 6 combinations (2 × 3), more than trials 4; raise trials to 6 or drop values"]
    ranged = errors_of(sweep(method="grid", trials=None))
    assert ranged == ['parameters["optimizer.lr"]: a grid takes lists of values only; use {"values": [...]} '
                      'or method random or tpe']


def test_an_unknown_path_names_the_closest_valid_one():
    errs = errors_of(sweep(parameters={"optimizer.learning_rate": {"uniform": [0.001, 0.1]},
                                       "model.blocks.1.out_feature": {"values": [8]},
                                       "trainng.batch_size": {"int": [8, 64]},
                                       "model.blocks.7.out_features": {"values": [8]}}))
    assert errs[0] == 'parameters["optimizer.learning_rate"]: no such field in the run spec; did you mean optimizer.lr?'
    assert "did you mean model.blocks.1.out_features?" in errs[1]
    assert "did you mean training.batch_size?" in errs[2]
    assert errs[3].startswith('parameters["model.blocks.7.out_features"]: no such field')


def test_a_value_the_run_spec_refuses_is_named_with_the_specs_own_words():
    errs = errors_of(sweep(parameters={"optimizer.lr": {"uniform": [0.0, 0.1]},
                                       "training.batch_size": {"values": [0, 32]},
                                       "optimizer.type": {"values": ["Adam", "Adamm"]}}))
    assert 'parameters["optimizer.lr"]: value 0.0 is refused by the run spec: optimizer.lr: must be > 0' in errs
    assert any(e.startswith('parameters["training.batch_size"]: value 0 is refused') and "must be >= 1" in e
               for e in errs)
    assert any('value "Adamm" is refused' in e and "did you mean Adam" in e for e in errs)


def test_every_problem_is_reported_at_once():
    errs = errors_of({"name": "x", "base": base(), "method": "bayes", "metric": "val/acc", "parallel": 0,
                      "pruner": "medain", "trails": 3, "parameters": {"optimizer.lr": {"range": [1, 2]}}})
    assert errs == [
        "trails: unknown key; did you mean trials?",
        "method: unknown method 'bayes'; use one of grid, random, tpe",
        "pruner: unknown pruner 'medain'; did you mean median?",
        "parallel: must be between 1 and 64 (got 0)",
        "metric: unknown metric 'val/acc'; did you mean val/accuracy?",
        'parameters["optimizer.lr"]: must be one of {"values": [...]}, {"uniform": [low, high]}, '
        '{"log_uniform": [low, high]} or {"int": [low, high]}',
    ]


def test_ranges_and_metrics_that_cannot_work():
    errs = errors_of(sweep(parameters={"optimizer.lr": {"log_uniform": [0.0, 0.1]},
                                       "training.epochs": {"int": [5, 2]}},
                           base={**base(), "data": {"name": "digits", "val_fraction": 0.0}}))
    assert 'parameters["optimizer.lr"].log_uniform: a log scale needs low > 0 (got 0.0)' in errs
    assert 'parameters["training.epochs"].int: low must be below high (got 5, 2)' in errs
    assert any(e.startswith("metric: val/accuracy needs a validation split") for e in errs)
    assert errors_of(sweep(metric="test/accuracy", pruner="median"))[0].startswith(
        "pruner: test/accuracy is known only once a trial ends")


def test_a_base_spec_with_problems_is_reported_under_base(tmp_path):
    errs = errors_of(sweep(base={**base(), "training": {"epochs": 0}}))
    assert errs == ["base.training.epochs: must be >= 1"]
    assert errors_of(sweep(base="nowhere.json"))[0].startswith("base: file not found")


def test_a_trial_spec_is_the_base_with_its_values_and_the_sweeps_name():
    doc = parse_sweep(sweep(parameters={"optimizer.type": {"values": ["Adam", "SGD"]},
                                        "optimizer.momentum": {"uniform": [0.0, 0.9]},
                                        "model.blocks[1].out_features": {"values": [16, 64]}}))
    assert [p.path for p in doc.parameters][2] == "model.blocks.1.out_features"
    sgd = build_trial_spec(doc, {"optimizer.type": "SGD", "optimizer.momentum": 0.5,
                                 "model.blocks.1.out_features": 64}, 3)
    assert sgd["name"] == "lr-width #3" and sgd["optimizer"]["momentum"] == 0.5
    assert sgd["model"]["blocks"][1]["out_features"] == 64 and "beta1" not in sgd["optimizer"]
    adam = build_trial_spec(doc, {"optimizer.type": "Adam", "optimizer.momentum": 0.5}, 4)
    assert "momentum" not in adam["optimizer"]  # SGD's field means nothing to Adam
    assert apply_params(base(), {"optimizer.lr": 0.5})["optimizer"]["lr"] == 0.5 and base()["optimizer"]["lr"] == 0.001


def test_layerdeck_sweep_refuses_a_bad_document_before_any_row_exists(tmp_path):
    db_url = f"sqlite:///{tmp_path / 'runs.db'}"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(sweep(method="grid", trials=2, parameters={
        "optimizer.lr": {"values": [0.01, 0.001]}, "model.blocks.1.out_features": {"values": [16, 32]},
        "optimizer.learnig_rate": {"values": [0.1]}})))
    out = subprocess.run([*LAYERDECK, "sweep", str(bad), "--db", db_url], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 2
    assert "did you mean optimizer.lr?" in out.stderr and "raise trials to 4" in out.stderr
    assert "Traceback" not in out.stderr
    with RunStore(db_url) as store:
        assert store.list_runs() == [] and store.list_sweeps() == []
