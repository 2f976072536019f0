"""Exported Python rebuilds the same model: same parameter names and shapes
(a checkpoint's state_dict loads), same count, same outputs."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.model import ModelError, build_model, export_python, summarize
from engine.spec import parse_spec
from tests.engine.test_blocks_contract import CASES, sample
from tests.engine.test_templates import TEMPLATE_DIR, TEMPLATES, expected_shape

# torch warns that 'same' with an even kernel needs a padded copy of the input; the result is right.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")


def load_class(source: str, tmp_path: Path, name: str = "Net"):
    path = tmp_path / f"exported_{abs(hash(source))}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, name)


def assert_same_model(model_spec, shape, tmp_path, first_type: str, first_params: dict):
    source = export_python(model_spec, shape)
    assert "engine" not in source  # standalone: torch only
    torch.manual_seed(0)
    built = build_model(model_spec, shape).eval()
    exported = load_class(source, tmp_path)().eval()
    ref, new = built.state_dict(), exported.state_dict()
    assert {k: v.shape for k, v in ref.items()} == {k: v.shape for k, v in new.items()}
    exported.load_state_dict(ref, strict=True)
    assert sum(p.numel() for p in exported.parameters()) == summarize(model_spec, shape).total_params
    x = sample(first_type, first_params, shape, batch=2)
    with torch.inference_mode():
        assert torch.allclose(built(x), exported(x), atol=1e-6)
        assert tuple(exported(x).shape[1:]) == summarize(model_spec, shape).output_shape


EXPORT_CASES = [(t, i) for t, cases in CASES.items() for i in range(len(cases))]


@pytest.mark.parametrize("type_,case", EXPORT_CASES, ids=[f"{t}-{i}" for t, i in EXPORT_CASES])
def test_every_block_exports_loadably(type_, case, tmp_path):
    params, shapes = CASES[type_][case]
    model_spec = parse_spec({"model": {"blocks": [{"type": type_, **params}]}}).model
    assert_same_model(model_spec, shapes[0], tmp_path, type_, params)


@pytest.mark.parametrize("name", TEMPLATES)
def test_templates_export_loadably(name, tmp_path):
    spec = parse_spec(json.loads((TEMPLATE_DIR / f"{name}.json").read_text()))
    first = spec.model.blocks[0]
    assert_same_model(spec.model, expected_shape(spec)[0], tmp_path, first.type, first.params)


def test_exported_file_reads_like_code_and_runs_as_a_script(tmp_path):
    model = parse_spec({"model": {"blocks": [
        {"type": "Unflatten", "unflattened_size": [40, 1]},
        {"type": "LSTM", "hidden_size": 8, "bidirectional": True},
        {"type": "Residual", "blocks": [{"type": "Linear", "out_features": 16}, {"type": "GELU"}]},
        {"type": "Linear", "out_features": 10},
    ]}}).model
    source = export_python(model, (40,), class_name="Mnist1dLSTM")
    assert "class Mnist1dLSTM(nn.Sequential):" in source
    assert "class Recurrent(nn.Module):" in source and "class Residual(nn.Module):" in source
    assert "class SelfAttention" not in source  # only the helpers it uses
    assert "Recurrent(nn.LSTM(1, 8, bidirectional=True, batch_first=True), last=True),  # 2: -> (16,)" in source
    assert "nn.Linear(16, 10),  # 4: -> (10,)" in source
    path = tmp_path / "net.py"
    path.write_text(source)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "torch.Size([2, 10])"


def test_export_refuses_an_invalid_model_and_a_bad_class_name():
    model = parse_spec({"model": {"blocks": [{"type": "Linear", "out_features": 3}]}}).model
    with pytest.raises(ModelError, match="insert Flatten before block 1"):
        export_python(model, (1, 8, 8))
    with pytest.raises(ValueError, match="not a valid Python class name"):
        export_python(model, (4,), class_name="my net")
