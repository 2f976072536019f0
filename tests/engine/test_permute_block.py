"""Permute lets a Conv1d feed a GRU: a sequence spec with Conv1d -> ReLU ->
Permute [1, 0] -> GRU -> Linear summarizes with the right shapes, trains,
and its trained weights load into the exported Python class."""
from __future__ import annotations

from pathlib import Path

import torch

from engine.model import build_model, export_python, summarize_spec
from engine.spec import parse_spec
from engine.training import train
from engine.training.checkpoint import load_checkpoint
from tests.engine.test_export import load_class

STEPS = 12

# The sequence dataset is (steps, 1): Permute makes it (1, steps) for Conv1d, and back to
# (steps, channels) so the GRU reads one vector of 8 conv features per time step.
BLOCKS = [
    {"type": "Permute", "dims": [1, 0]},
    {"type": "Conv1d", "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"type": "ReLU"},
    {"type": "Permute", "dims": [1, 0]},
    {"type": "GRU", "hidden_size": 16},
    {"type": "Linear", "out_features": 2},
]


def conv_gru_spec():
    return parse_spec({
        "name": "conv-gru", "seed": 0,
        "data": {"name": "sequence", "options": {"n_samples": 120, "length": STEPS},
                 "val_fraction": 0.2, "test_fraction": 0.1},
        "model": {"blocks": BLOCKS},
        "optimizer": {"type": "Adam", "lr": 0.01},
        "training": {"epochs": 1, "batch_size": 16},
    })


def test_summary_shows_each_blocks_shape():
    summary, info = summarize_spec(conv_gru_spec())
    assert summary.valid, summary.errors
    assert tuple(info.input_shape) == (STEPS, 1)
    rows = [(r.type, r.in_shape, r.out_shape, r.label, r.params, r.macs) for r in summary.rows]
    assert rows[0] == ("Permute", (STEPS, 1), (1, STEPS), "(1, 0)", 0, 0)
    assert rows[1][:3] == ("Conv1d", (1, STEPS), (8, STEPS))
    assert rows[3] == ("Permute", (8, STEPS), (STEPS, 8), "(1, 0)", 0, 0)
    assert rows[4][:3] == ("GRU", (STEPS, 8), (16,))
    assert rows[5][:3] == ("Linear", (16,), (2,))
    assert summary.output_shape == (2,)


def test_without_the_permute_the_gru_reads_channels_as_time():
    # Why the block exists: Conv1d's (8, 12) is a legal GRU input, but it means 8 steps of 12 features.
    blocks = [b for i, b in enumerate(BLOCKS) if i != 3]
    summary, _ = summarize_spec(conv_gru_spec().copy_with(model={"blocks": blocks}))
    gru = next(r for r in summary.rows if r.type == "GRU")
    assert gru.in_shape == (8, STEPS)


def test_a_wrong_order_is_reported_with_the_fix():
    d = conv_gru_spec().to_dict()
    d["model"]["blocks"][3] = {"type": "Permute", "dims": [0, 2, 1]}
    summary, _ = summarize_spec(parse_spec(d))
    assert not summary.valid
    assert summary.rows[3].fix == "dims must list each of 0..1 once, e.g. [1, 0]"
    assert summary.errors[0].startswith(f"block 4 (Permute) got (8, {STEPS}): dims [0, 2, 1]")


def test_trains_and_the_export_loads_its_weights(tmp_path: Path):
    spec = conv_gru_spec()
    result = train(spec, checkpoint_dir=tmp_path / "ckpt", device="cpu")
    assert result.status == "completed", result.error
    assert result.epochs_done == 1 and set(result.test_metrics) == {"test/loss", "test/accuracy"}
    summary, _ = summarize_spec(spec)
    assert result.num_params == summary.total_params

    weights = load_checkpoint(result.checkpoints["last"])["model"]
    built = build_model(spec.model, (STEPS, 1)).eval()
    built.load_state_dict(weights, strict=True)
    source = export_python(spec.model, (STEPS, 1), class_name="ConvGRU")
    assert "class Permute(nn.Module):" in source and "engine" not in source
    assert f"Permute(1, 0),  # 1: -> (1, {STEPS})" in source
    exported = load_class(source, tmp_path, "ConvGRU")().eval()
    exported.load_state_dict(weights, strict=True)
    x = torch.randn(5, STEPS, 1)
    with torch.inference_mode():
        assert exported(x).shape == (5, 2)
        assert torch.allclose(built(x), exported(x), atol=1e-6)
