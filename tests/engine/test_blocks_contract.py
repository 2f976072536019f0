"""One contract for the whole catalogue: every block builds,
its shape rule matches a real forward pass for several input shapes, its
meta-device parameter count matches the real module, and it survives a spec
JSON round trip. A new block without cases here fails `test_every_block_has_cases`."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from engine.blocks import (
    CATALOGUE,
    CATEGORIES,
    ShapeError,
    check_blocks,
    default_params,
    fmt_shape,
    get_block_type,
    suggest,
)
from engine.fixes import text_of
from engine.model import summarize
from engine.spec import parse_spec
from tests.engine.tiny_bert import shared_tiny_bert

# torch warns that 'same' with an even kernel needs a padded copy of the input; the result is right.
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")

_RES_CONV = [{"type": "Conv2d", "out_channels": 3, "kernel_size": 3, "padding": 1},
             {"type": "BatchNorm2d"}, {"type": "ReLU"}]

# type -> [(params, [input shapes])]
CASES: dict[str, list[tuple[dict, list[tuple[int, ...]]]]] = {
    "Linear": [({"out_features": 5}, [(7,), (4, 7)]), ({"out_features": 3, "bias": False}, [(6,)])],
    "Conv1d": [({"out_channels": 4, "kernel_size": 3}, [(2, 10), (1, 3)]),
               ({"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 2, "groups": 2}, [(4, 17)]),
               ({"out_channels": 2, "kernel_size": 3, "dilation": 2, "bias": False}, [(1, 9)]),
               ({"out_channels": 4, "kernel_size": 4, "padding": "same", "dilation": 3}, [(2, 10), (1, 3)])],
    "Conv2d": [({"out_channels": 4, "kernel_size": 3, "padding": 1}, [(1, 8, 8), (2, 5, 7)]),
               ({"out_channels": 6, "kernel_size": [3, 5], "stride": [2, 1], "padding": [1, 2], "groups": 3},
                [(3, 9, 11)]),
               ({"out_channels": 2, "kernel_size": 3, "dilation": 2}, [(2, 7, 7)]),
               ({"out_channels": 4, "kernel_size": [2, 3], "padding": "same"}, [(1, 7, 6)]),
               ({"out_channels": 3, "kernel_size": 3, "padding": "valid"}, [(1, 5, 5)])],
    "ConvTranspose2d": [({"out_channels": 3, "kernel_size": 2, "stride": 2}, [(4, 5, 5), (1, 3, 4)]),
                        ({"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
                         [(2, 4, 6)])],
    "MaxPool1d": [({"kernel_size": 2}, [(3, 9), (1, 2)]),
                  ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(2, 10), (1, 7)]),
                  ({"kernel_size": 2, "dilation": 2}, [(1, 11)])],
    "MaxPool2d": [({"kernel_size": 2}, [(3, 8, 8), (1, 7, 5)]),
                  ({"kernel_size": 3, "stride": 2, "ceil_mode": True}, [(1, 7, 8)]),
                  ({"kernel_size": [2, 3], "padding": [1, 1]}, [(2, 5, 6)])],
    "AvgPool1d": [({"kernel_size": 3}, [(2, 10)]),
                  ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False},
                   [(1, 10), (2, 9)])],
    "AvgPool2d": [({"kernel_size": 2}, [(3, 7, 7)]),
                  ({"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(2, 9, 10), (1, 6, 6)])],
    "AdaptiveAvgPool1d": [({"output_size": 4}, [(2, 10), (1, 3)]), ({"output_size": 1}, [(3, 5)])],
    "AdaptiveAvgPool2d": [({"output_size": 1}, [(4, 5, 5)]), ({"output_size": [2, 3]}, [(1, 7, 8), (2, 2, 2)])],
    "BatchNorm1d": [({}, [(5,), (3, 8)]), ({"affine": False, "momentum": 0.2}, [(4,)])],
    "BatchNorm2d": [({}, [(3, 4, 4)]), ({"eps": 1e-3, "track_running_stats": False}, [(2, 3, 5)])],
    "LayerNorm": [({}, [(6,), (3, 6), (2, 3, 4)]), ({"elementwise_affine": False}, [(5,)])],
    "GroupNorm": [({"num_groups": 2}, [(4,), (4, 6), (6, 3, 3)]), ({"num_groups": 3, "affine": False}, [(3, 2)])],
    "ReLU": [({}, [(5,), (2, 3, 4)])],
    "LeakyReLU": [({}, [(5,)]), ({"negative_slope": 0.2}, [(2, 3)])],
    "ELU": [({"alpha": 0.5}, [(5,), (2, 3, 4)])],
    "GELU": [({}, [(5,)]), ({"approximate": "tanh"}, [(3, 4)])],
    "SiLU": [({}, [(5,), (2, 3)])],
    "Mish": [({}, [(5,), (2, 3)])],
    "Tanh": [({}, [(5,), (2, 3)])],
    "Sigmoid": [({}, [(5,), (2, 3)])],
    "Softmax": [({}, [(5,), (3, 4)]), ({"dim": 1}, [(3, 4)])],
    "Identity": [({}, [(5,), (2, 3, 4)])],
    "Flatten": [({}, [(3, 4, 5), (7,)]), ({"start_dim": 2}, [(3, 4, 5)]),
                ({"start_dim": 1, "end_dim": 2}, [(3, 4, 5)])],
    "Unflatten": [({"unflattened_size": [1, -1]}, [(40,), (6,)]), ({"dim": 2, "unflattened_size": [2, 3]}, [(4, 6)]),
                  ({"dim": -1, "unflattened_size": [5, 8]}, [(40,)])],
    "Permute": [({"dims": [1, 0]}, [(4, 7), (1, 3)]), ({"dims": [2, 0, 1]}, [(3, 4, 5)]),
                ({"dims": [0, 2, 1]}, [(2, 3, 4)]), ({"dims": [0]}, [(6,)])],
    "Dropout": [({"p": 0.3}, [(5,), (2, 3, 4)])],
    "Dropout2d": [({"p": 0.3}, [(3, 4, 4)])],
    "Embedding": [({"num_embeddings": 20, "embedding_dim": 6}, [(7,), (3, 4)]),
                  ({"num_embeddings": 10, "embedding_dim": 4, "padding_idx": 0}, [(5,)])],
    "RNN": [({"hidden_size": 8}, [(5, 3), (1, 1)]),
            ({"hidden_size": 4, "nonlinearity": "relu", "output": "sequence", "bidirectional": True}, [(6, 2)])],
    "LSTM": [({"hidden_size": 8}, [(5, 3)]),
             ({"hidden_size": 6, "output": "sequence", "bidirectional": True, "num_layers": 2, "dropout": 0.1},
              [(4, 2)]),
             ({"hidden_size": 5, "bidirectional": True, "num_layers": 2}, [(3, 4)])],
    "GRU": [({"hidden_size": 8}, [(5, 3), (20, 1)]),
            ({"hidden_size": 6, "output": "sequence", "num_layers": 3, "bias": False}, [(4, 2)]),
            ({"hidden_size": 5, "bidirectional": True}, [(3, 4)])],
    "MultiheadAttention": [({"num_heads": 2}, [(5, 8), (1, 2)]), ({"num_heads": 4, "bias": False}, [(3, 12)])],
    "TransformerEncoderLayer": [({"nhead": 2, "dim_feedforward": 16}, [(5, 8)]),
                                ({"nhead": 1, "dim_feedforward": 8, "activation": "gelu", "norm_first": True,
                                  "dropout": 0.0}, [(3, 4)])],
    "Residual": [({"blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}]}, [(8,), (2, 8)]),
                 ({"blocks": _RES_CONV}, [(3, 5, 5)]),
                 ({"blocks": [{"type": "Residual", "blocks": [{"type": "LayerNorm"}]}, {"type": "Tanh"}]}, [(4,)]),
                 ({"blocks": []}, [(3,)])],
    "Sequential": [({"blocks": [{"type": "Linear", "out_features": 5}, {"type": "ReLU"}]}, [(8,), (2, 8)]),
                   ({"blocks": _RES_CONV}, [(3, 5, 5)]), ({"blocks": []}, [(4,)])],
    "Branch": [({"merge": "concat", "dim": 0, "blocks": [
                    {"type": "Sequential", "blocks": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1},
                                                      {"type": "ReLU"}]},
                    {"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": 1}, {"type": "Identity"}]},
                [(3, 6, 6), (1, 4, 5)]),
               ({"merge": "add", "blocks": [{"type": "Sequential", "blocks": _RES_CONV},
                                            {"type": "Conv2d", "out_channels": 3, "kernel_size": 1}]}, [(2, 5, 5)]),
               ({"merge": "multiply", "blocks": [{"type": "Linear", "out_features": 6}, {"type": "Sigmoid"}]},
                [(6,), (3, 6)]),
               ({"dim": -1, "blocks": [{"type": "Linear", "out_features": 3}, {"type": "Identity"}]}, [(4, 5)]),
               ({"dim": 1, "blocks": [{"type": "MaxPool2d", "kernel_size": 2},
                                      {"type": "AvgPool2d", "kernel_size": 2}]}, [(2, 4, 6)]),
               ({"blocks": [{"type": "Branch", "merge": "add", "blocks": [{"type": "Identity"}, {"type": "Tanh"}]},
                            {"type": "Linear", "out_features": 2}]}, [(3,)])],
    "Upsample": [({"scale_factor": 2}, [(3, 5), (2, 3, 4)]), ({"scale_factor": 1.5, "mode": "bilinear"}, [(2, 5, 3)]),
                 ({"scale_factor": 2, "mode": "bilinear", "align_corners": True}, [(1, 4, 4)]),
                 ({"scale_factor": 0.5}, [(2, 7)])],
    "ZeroPad2d": [({"padding": 1}, [(2, 3, 4)]), ({"padding": [1, 0, 2, 3]}, [(1, 1, 1)])],
    "ConvTranspose1d": [({"out_channels": 3, "kernel_size": 2, "stride": 2}, [(4, 5), (1, 1)]),
                        ({"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1,
                          "groups": 2}, [(2, 6)])],
    "AdaptiveMaxPool1d": [({"output_size": 3}, [(2, 10), (1, 2)])],
    "AdaptiveMaxPool2d": [({"output_size": 1}, [(4, 5, 5)]), ({"output_size": [2, 3]}, [(1, 7, 8)])],
    "InstanceNorm1d": [({}, [(3, 6), (1, 2)]), ({"affine": True, "track_running_stats": True}, [(4, 5)])],
    "InstanceNorm2d": [({}, [(3, 4, 4), (2, 1, 2)]), ({"affine": True, "eps": 1e-3}, [(2, 3, 5)])],
    "Dropout1d": [({"p": 0.3}, [(3, 8)])],
    "AlphaDropout": [({"p": 0.2}, [(5,), (2, 3, 4)])],
    "PReLU": [({}, [(5,), (2, 3, 4), (4, 6)]), ({"per_channel": True, "slope": 0.1}, [(3, 4, 4), (6,)])],
    "Softplus": [({}, [(5,)]), ({"beta": 2.0, "threshold": 10.0}, [(2, 3)])],
    "Hardswish": [({}, [(5,), (2, 3, 4)])],
    "Hardtanh": [({}, [(5,)]), ({"min_val": 0.0, "max_val": 6.0}, [(2, 3)])],
    "LogSoftmax": [({}, [(5,), (3, 4)]), ({"dim": 1}, [(3, 4)])],
}

CASES["MultiheadAttention"].append(({"num_heads": 2, "causal": True}, [(5, 8)]))
CASES["TransformerEncoderLayer"].append(({"nhead": 2, "dim_feedforward": 8, "causal": True, "dropout": 0.0},
                                         [(4, 6)]))

CASE_IDS = [(t, i, j) for t, cases in CASES.items() for i, (_, shapes) in enumerate(cases) for j in range(len(shapes))]


# Text blocks (engine/blocks/text.py); the pretrained one loads a tiny BERT saved to a temporary folder.
CASES["PositionalEmbedding"] = [({}, [(5, 8), (1, 3)]), ({"max_length": 12}, [(7, 4)])]
CASES["SequencePool"] = [({}, [(5, 8)]), ({"mode": "max"}, [(3, 4)]), ({"mode": "first"}, [(1, 6)])]
CASES["PretrainedTextClassifier"] = [({"path": shared_tiny_bert(), "num_labels": 3}, [(12,), (64,)])]


def sample(type_: str, params: dict, shape: tuple[int, ...], batch: int = 3) -> torch.Tensor:
    if type_ == "Embedding":
        return torch.randint(0, params["num_embeddings"], (batch, *shape))
    if type_ == "PretrainedTextClassifier":
        return torch.randint(0, 20, (batch, *shape))  # ids the tiny BERT's vocabulary has
    return torch.randn(batch, *shape)


def test_every_block_has_cases():
    assert set(CASES) == set(CATALOGUE)


def test_catalogue_is_ordered_by_category_and_documented():
    assert [c for c in CATEGORIES if any(b.category == c for b in CATALOGUE.values())] == CATEGORIES
    for bt in CATALOGUE.values():
        assert bt.doc and bt.category in CATEGORIES
        for p in bt.params:
            assert p.help and "\n" not in p.help, f"{bt.type}.{p.name} needs a one-line help"


@pytest.mark.parametrize("type_,case,shape_index", CASE_IDS, ids=[f"{t}-{i}-{j}" for t, i, j in CASE_IDS])
def test_shape_rule_matches_forward_and_meta_params_match(type_, case, shape_index):
    params, shapes = CASES[type_][case]
    shape = shapes[shape_index]
    bt = get_block_type(type_)
    inferred = bt.infer(shape, params)
    torch.manual_seed(0)
    module = bt.build(shape, params)
    out = module(sample(type_, params, shape))
    assert tuple(out.shape[1:]) == inferred
    summary = summarize([{"type": type_, **params}], shape)
    assert summary.valid, summary.errors
    assert summary.output_shape == inferred
    assert summary.total_params == sum(p.numel() for p in module.parameters())
    assert summary.total_macs >= 0


@pytest.mark.parametrize("type_", list(CASES))
def test_spec_json_round_trip(type_):
    blocks = [{"type": type_, **params} for params, _ in CASES[type_]]
    spec = parse_spec({"name": f"rt-{type_}", "model": {"blocks": blocks}})
    again = parse_spec(json.loads(spec.to_json()))
    assert again.to_dict() == spec.to_dict()
    assert again.to_dict()["model"]["blocks"] == blocks


@pytest.mark.parametrize("type_", list(CATALOGUE))
def test_palette_defaults_make_a_valid_block(type_):
    params = default_params(type_)
    assert check_blocks([{"type": type_, **params}], "b") == []
    # Every parameter default passes its own check (what the form shows before any edit).
    bt = get_block_type(type_)
    full = {p.name: p.default for p in bt.params}
    assert check_blocks([{"type": type_, **full, **params}], "b") == []


def test_catalogue_imports_without_torch():
    # The builder's palette paints from the catalogue before torch has loaded.
    code = ("import sys, engine.blocks, engine.spec; "
            "engine.spec.parse_spec({'model': {'blocks': [{'type': 'Linear', 'out_features': 2}]}}); "
            "sys.exit('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parents[2])
    assert out.returncode == 0, out.stderr or "engine.blocks imported torch"


def test_lookup_suggestions_defaults_and_labels():
    assert suggest("Conv2D") == ["Conv2d"]
    assert suggest("Lienar") == ["Linear"]
    assert suggest("Transformer") == ["TransformerEncoderLayer"]
    with pytest.raises(KeyError, match="did you mean BatchNorm2d"):
        get_block_type("batchnorm2d")
    assert default_params("Linear") == {"out_features": 64}
    assert default_params("ReLU") == {}
    assert default_params("Residual") == {"blocks": []}
    assert get_block_type("Conv2d").label({"out_channels": 32, "kernel_size": 3, "stride": 2}) == "32, 3×3, stride 2"
    assert get_block_type("GRU").label({"hidden_size": 6, "bidirectional": True, "output": "sequence"}) == \
        "6, sequence, bidirectional"
    assert get_block_type("Dropout").label({"p": 0.2}) == "p=0.2"
    assert get_block_type("Permute").label({"dims": [1, 0]}) == "(1, 0)"
    assert default_params("Permute") == {"dims": [1, 0]}


def test_shape_errors_carry_a_fix():
    with pytest.raises(ShapeError) as e:
        get_block_type("Linear").infer((8, 4, 4), {"out_features": 3})
    assert e.value.message == "needs (features,) or (sequence, features)"
    assert text_of(e.value.fix) == "insert Flatten before block {block}"
    assert e.value.fix.bind((2,), "3").apply([{"type": "ReLU"}] * 3)[2] == {"type": "Flatten"}  # and does it


@pytest.mark.parametrize("dims,shape,fix", [
    ([0, 2, 1], (8, 18), "dims must list each of 0..1 once, e.g. [1, 0]"),  # rank 3 order on a rank 2 input
    ([1, 0], (3, 4, 5), "dims must list each of 0..2 once, e.g. [2, 1, 0]"),
    ([0, 0], (4, 7), "dims must list each of 0..1 once, e.g. [1, 0]"),
    ([1], (6,), "dims must be [0]: a vector has one axis"),
])
def test_permute_refuses_a_non_permutation(dims, shape, fix):
    with pytest.raises(ShapeError) as e:
        get_block_type("Permute").infer(shape, {"dims": dims})
    assert e.value.fix == fix
    summary = summarize([{"type": "Identity"}, {"type": "Permute", "dims": dims}], shape)
    assert not summary.valid  # the model summary names the block and the fix
    assert summary.errors == [f"block 2 (Permute) got {fmt_shape(shape)}: {e.value.message} — {fix}"]
    assert check_blocks([{"type": "Permute", "dims": [-1, 0]}], "b") == ["b[0].dims: must be >= 0"]
