"""`layerdeck export` in its binary forms, as a user runs it: from a spec
(initial weights) and from a run (best weights), the check printed, kept
with the run, and a disagreeing export reported as failed."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from engine.cli import export
from engine.export.check import compare
from engine.export.onnx import export_onnx
from engine.export.source import ModelSource, from_spec
from engine.spec import parse_spec
from engine.store import RunStore
from engine.training.checkpoint import save_checkpoint
from tests.engine.test_cli_check import run_cmd

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning")

SPEC = {"name": "iris-mlp", "seed": 3, "data": {"name": "iris"},
        "model": {"blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"},
                             {"type": "Linear", "out_features": 3}]}}


@pytest.fixture
def trained_run(tmp_path):
    """A run in a real SQLite store with a best checkpoint whose weights differ from the initial ones."""
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    spec = parse_spec(SPEC)
    model = from_spec(spec).model
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    path = save_checkpoint({"model": model.state_dict()}, tmp_path / "ckpt" / "best.pt")
    with RunStore(url) as store:
        run_id = store.create_run(spec.to_dict(), "iris-mlp")
        store.add_checkpoint(run_id, "best", str(path), step=10, epoch=1, metric_value=0.5)
    return url, run_id, model


def test_onnx_from_a_spec_is_checked_on_another_batch_size(tmp_path, capsys):
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(SPEC))
    out = tmp_path / "model.onnx"
    assert run_cmd(export, str(spec_path), "--onnx", str(out)) == 0
    text = capsys.readouterr().out
    assert out.stat().st_size > 0
    assert "check passed" in text and "on a batch of 5 (exported with 2" in text
    import onnxruntime as ort

    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).normal(size=(7, 4)).astype(np.float32)
    got = session.run(None, {"input": x})[0]
    expected = from_spec(parse_spec(SPEC)).model(torch.from_numpy(x)).detach().numpy()
    assert got.shape == (7, 3)
    np.testing.assert_allclose(got, expected, atol=1e-5)  # the spec's seeded initial weights


def test_onnx_from_a_run_uses_its_best_weights_and_keeps_the_check(tmp_path, trained_run, capsys):
    url, run_id, trained = trained_run
    out = tmp_path / "run.onnx"
    assert run_cmd(export, "--run", str(run_id), "--onnx", str(out), "--db", url) == 0
    assert f"kept with run {run_id}" in capsys.readouterr().out
    import onnxruntime as ort

    x = np.ones((3, 4), np.float32)
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, trained(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    with RunStore(url) as store:
        doc = store.get_document(run_id, "export/onnx")
    assert doc["passed"] is True and doc["path"] == str(out)
    assert 0 <= doc["max_abs_diff"] <= 1e-4 and doc["check_batch"] == 5
    assert doc["source"] == f"run {run_id} (best weights)"


def test_pt2_from_a_run_is_reloaded_and_checked(tmp_path, trained_run, capsys):
    url, run_id, trained = trained_run
    out = tmp_path / "run.pt2"
    assert run_cmd(export, "--run", str(run_id), "--pt2", str(out), "--db", url) == 0
    assert "check passed" in capsys.readouterr().out
    program = torch.export.load(str(out)).module()
    x = torch.ones(6, 4)
    torch.testing.assert_close(program(x), trained(x))
    with RunStore(url) as store:
        assert store.get_document(run_id, "export/pt2")["passed"] is True


@pytest.mark.slow
def test_python_export_from_a_run_writes_weights_and_an_example_that_runs(tmp_path, trained_run, capsys):
    url, run_id, trained = trained_run
    code = tmp_path / "iris-net.py"
    assert run_cmd(export, "--run", str(run_id), "--code", str(code), "--db", url) == 0
    weights, example = tmp_path / "iris-net_weights.pt", tmp_path / "iris-net_example.py"
    assert "inference example" in capsys.readouterr().out
    state = torch.load(weights, weights_only=True)
    for key, value in trained.state_dict().items():
        torch.testing.assert_close(state[key], value)
    ran = subprocess.run([sys.executable, str(example)], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("tensor([")  # four predicted classes


def test_an_unknown_run_and_a_run_without_checkpoint_are_refused_in_words(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    with RunStore(url) as store:
        run_id = store.create_run(parse_spec(SPEC).to_dict(), "queued")
    assert run_cmd(export, "--run", "99", "--onnx", str(tmp_path / "x.onnx"), "--db", url) == 1
    assert "99" in capsys.readouterr().err
    assert run_cmd(export, "--run", str(run_id), "--onnx", str(tmp_path / "x.onnx"), "--db", url) == 1
    err = capsys.readouterr().err
    assert "has no checkpoint" in err and "Traceback" not in err
    assert not (tmp_path / "x.onnx").exists()


def test_an_export_that_disagrees_with_pytorch_fails_the_check(tmp_path):
    class Drifts(torch.nn.Module):
        """Adds 1 only when run for inference: the traced graph lacks the shift PyTorch then applies."""

        def forward(self, x):
            return x + (1.0 if torch.is_inference_mode_enabled() else 0.0)

    src = ModelSource(parse_spec({"model": {"blocks": [{"type": "ReLU"}]}}), Drifts().eval(), (4,), "drifting")
    check = export_onnx(src, tmp_path / "drift.onnx")
    assert not check.passed
    assert check.max_abs_diff == pytest.approx(1.0)
    assert "disagrees with PyTorch by up to 1" in check.error


def test_compare_names_a_shape_mismatch():
    diff, problem = compare(torch.zeros(5, 3), torch.zeros(2, 3), "the ONNX model")
    assert problem == "the ONNX model returns shape (2, 3) where PyTorch returns (5, 3)"


def test_a_check_that_fails_exits_1_and_is_kept_as_failed(tmp_path, trained_run, capsys, monkeypatch):
    import engine.export.onnx as onnx_export

    url, run_id, _ = trained_run
    # As if onnxruntime had computed something else than PyTorch (the Drifts test above does it for real).
    monkeypatch.setattr(onnx_export, "compare", lambda expected, got, what: (
        0.25, f"{what} disagrees with PyTorch by up to 0.25 (more than 0.0001)"))
    assert run_cmd(export, "--run", str(run_id), "--onnx", str(tmp_path / "bad.onnx"), "--db", url) == 1
    out = capsys.readouterr()
    assert "CHECK FAILED: largest difference from PyTorch 0.25" in out.out
    assert "export failed: the ONNX model disagrees with PyTorch by up to 0.25" in out.err
    with RunStore(url) as store:
        doc = store.get_document(run_id, "export/onnx")
    assert doc["passed"] is False and doc["max_abs_diff"] == 0.25
