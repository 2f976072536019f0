"""Model summary, validation messages and build_model, as a builder user sees them."""
from __future__ import annotations

import pytest
import torch

from engine.model import ModelError, _param_count, build_model, summarize
from engine.spec import parse_spec


def blocks(*bs: dict):
    return parse_spec({"model": {"blocks": list(bs)}}).model


CONV = {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}


def test_summary_rows_shapes_params_and_totals():
    model = blocks(CONV, {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
                   {"type": "Linear", "out_features": 10})
    s = summarize(model, (1, 8, 8), batch_size=32, num_outputs=10)
    assert s.valid and s.errors == []
    assert [r.number for r in s.rows] == ["1", "2", "3", "4", "5"]
    assert [r.out_shape for r in s.rows] == [(8, 8, 8), (8, 8, 8), (8, 4, 4), (128,), (10,)]
    assert [r.params for r in s.rows] == [80, 0, 0, 0, 1290]
    assert s.rows[0].label == "8, 3×3, pad 1"
    assert s.total_params == s.trainable_params == 1370
    assert s.output_shape == (10,)
    # Conv: 8·8·8 outputs × 9 MACs; Linear: 128 × 10.
    assert s.total_macs >= 8 * 8 * 8 * 9 + 1280
    # Weights + grads + 2 AdamW states, plus activations for the batch.
    assert s.memory_bytes > 4 * 1370 * 4 + 32 * 4 * (64 + 128)


def test_memory_estimate_follows_optimizer_and_batch():
    model = blocks({"type": "Linear", "out_features": 1000})
    adam = summarize(model, (1000,), optimizer="AdamW", batch_size=1)
    sgd = summarize(model, (1000,), optimizer="SGD", batch_size=1)
    big = summarize(model, (1000,), optimizer="SGD", batch_size=1000)
    assert adam.memory_bytes - sgd.memory_bytes == 4 * adam.total_params  # one more state per weight
    assert big.memory_bytes > sgd.memory_bytes


def test_conv_after_flat_vector_names_block_shape_and_fix():
    s = summarize(blocks({"type": "Linear", "out_features": 64}, CONV), (64,))
    assert not s.valid
    assert s.errors == ["block 2 (Conv2d) got (64,) but needs (channels, height, width) — "
                        "insert Unflatten with unflattened_size [1, 8, 8] before block 2"]
    assert s.rows[1].error and s.rows[1].fix == "insert Unflatten with unflattened_size [1, 8, 8] before block 2"


def test_linear_on_an_image_says_insert_flatten():
    s = summarize(blocks(CONV, {"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
                         {"type": "Linear", "out_features": 10}), (1, 8, 8))
    assert s.errors == ["block 4 (Linear) got (8, 4, 4) but needs (features,) or (sequence, features) — "
                        "insert Flatten before block 4"]


def test_blocks_after_an_error_have_unknown_shape_not_more_errors():
    s = summarize(blocks({"type": "Linear", "out_features": 10}, {"type": "ReLU"},
                         {"type": "Linear", "out_features": 3}), (1, 8, 8))
    assert len(s.errors) == 1
    assert [r.out_shape for r in s.rows] == [None, None, None]
    assert s.rows[1].error is None and s.rows[2].in_shape is None


def test_residual_shape_mismatch_is_reported_on_the_container():
    model = blocks({"type": "Linear", "out_features": 16},
                   {"type": "Residual", "blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}]})
    s = summarize(model, (4,))
    assert [r.number for r in s.rows] == ["1", "2", "2.1", "2.2"]
    assert [r.depth for r in s.rows] == [0, 0, 1, 1]
    assert s.rows[2].out_shape == (8,)  # the children still show their shapes
    assert s.errors == ["block 2 (Residual): its blocks turn (16,) into (8,), but a residual adds its input to "
                        "that, so the shapes must match — make the last block inside block 2 output (16,)"]


def test_valid_residual_counts_children_params():
    model = blocks({"type": "Residual", "blocks": [{"type": "Linear", "out_features": 8}, {"type": "ReLU"}]})
    s = summarize(model, (8,))
    assert s.valid
    assert s.rows[0].params == 72 and s.total_params == 72


def test_last_layer_must_match_the_number_of_classes():
    model = blocks({"type": "Flatten"}, {"type": "Linear", "out_features": 32}, {"type": "ReLU"},
                   {"type": "Linear", "out_features": 12}, {"type": "Softmax"})
    s = summarize(model, (1, 8, 8), num_outputs=10)
    assert s.errors == ["block 4 (Linear) outputs 12 values but the dataset has 10 classes — set out_features to 10"]
    assert s.rows[3].fix == "set out_features to 10"


def test_regression_targets_and_sequence_outputs():
    s = summarize(blocks({"type": "Linear", "out_features": 3}), (10,), num_outputs=1, task="regression")
    assert s.errors == ["block 1 (Linear) outputs 3 values but the dataset has 1 target — set out_features to 1"]
    seq = summarize(blocks({"type": "GRU", "hidden_size": 8, "output": "sequence"},
                           {"type": "Linear", "out_features": 2}), (20, 1), num_outputs=2)
    assert seq.errors == ["the model outputs (20, 2) per sample but the dataset needs (2,) for its 2 classes — "
                          "set output to \"last\" on block 1"]


def test_bad_parameters_and_unknown_types_in_an_unvalidated_list():
    # The builder summarizes while the user types, before the spec is parsed.
    s = summarize([{"type": "Conv2d", "out_channels": 0, "kernel_size": 3}, {"type": "Conv2D"}], (1, 8, 8))
    assert s.errors == ["block 1 (Conv2d): out_channels must be > 0",
                        "block 2 (Conv2D): unknown block type — did you mean Conv2d?"]


def test_kernel_larger_than_input_and_bad_groups():
    s = summarize(blocks({"type": "Conv1d", "out_channels": 4, "kernel_size": 9}), (2, 5))
    assert s.errors[0].startswith("block 1 (Conv1d) got (2, 5): input length 5 is smaller than the kernel")
    s = summarize(blocks({"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "groups": 2}), (3, 8, 8))
    assert "groups=2 must divide both the 3 input channels" in s.errors[0]


def test_attention_heads_must_divide_features_and_recurrent_needs_a_sequence():
    s = summarize(blocks({"type": "MultiheadAttention", "num_heads": 3}), (5, 8))
    assert s.errors == ["block 1 (MultiheadAttention) got (5, 8): the 8 features are not divisible by num_heads=3 — "
                        "set num_heads to 2 (a divisor of 8), or change the layer before"]
    s = summarize(blocks({"type": "LSTM", "hidden_size": 8}), (40,))
    assert s.errors == ["block 1 (LSTM) got (40,) but needs (sequence, features) — insert Unflatten with "
                        "unflattened_size [40, 1] before block 1 (one feature per step)"]


def test_empty_model_is_invalid_with_a_hint():
    s = summarize([], (4,))
    assert not s.valid and "no blocks" in s.errors[0]


def test_param_counts_are_cached_per_type_shape_and_params():
    _param_count.cache_clear()
    model = blocks({"type": "GRU", "hidden_size": 16, "bidirectional": True})
    summarize(model, (20, 1))
    summarize(model, (20, 1))
    info = _param_count.cache_info()
    assert info.misses == 1 and info.hits == 1


def test_build_model_matches_summary_and_names_children_in_order():
    model = blocks(CONV, {"type": "ReLU"}, {"type": "Flatten"},
                   {"type": "Residual", "blocks": [{"type": "Linear", "out_features": 512}]},
                   {"type": "Linear", "out_features": 10})
    net = build_model(model, (1, 8, 8))
    assert [name for name, _ in net.named_children()] == ["0", "1", "2", "3", "4"]
    assert "3.blocks.0.weight" in net.state_dict()
    assert net(torch.randn(2, 1, 8, 8)).shape == (2, 10)
    assert sum(p.numel() for p in net.parameters()) == summarize(model, (1, 8, 8)).total_params


def test_build_model_raises_every_error():
    with pytest.raises(ModelError) as e:
        build_model(blocks({"type": "Linear", "out_features": 10}, {"type": "Conv1d", "out_channels": 2,
                                                                    "kernel_size": 3}), (1, 8, 8))
    assert e.value.errors == ["block 1 (Linear) got (1, 8, 8) but needs (features,) or (sequence, features) — "
                              "insert Flatten before block 1"]
