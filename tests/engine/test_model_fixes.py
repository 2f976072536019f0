"""The model check's suggestions as edits, frozen and trainable counts, and the
memory estimate at the run's precision."""
from __future__ import annotations

import pytest

from engine.fixes import Fix, Insert, SetParam
from engine.model import build_model, summarize

DIGITS = (1, 8, 8)


def applied(blocks, input_shape=DIGITS, num_outputs=10):
    """The model's one suggested fix, carried out, and the summary after it."""
    before = summarize(blocks, input_shape, num_outputs=num_outputs)
    assert len(before.errors) == 1, before.errors
    fix = before.fixes[before.errors[0]]
    assert before.errors[0].endswith(f" — {fix.text}")  # the words shown are the edits made
    after = fix.apply(blocks)
    return fix, after, summarize(after, input_shape, num_outputs=num_outputs)


@pytest.mark.parametrize("blocks,text,fixed", [
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Linear", "out_features": 10}],
     "insert Flatten before block 2",
     [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}]),
    ([{"type": "Flatten"}, {"type": "Linear", "out_features": 7}],
     "set out_features to 10", [{"type": "Flatten"}, {"type": "Linear", "out_features": 10}]),
    ([{"type": "Flatten"}, {"type": "ReLU"}],
     "end the model with a Linear block with out_features 10",
     [{"type": "Flatten"}, {"type": "ReLU"}, {"type": "Linear", "out_features": 10}]),
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}],
     "end the model with Flatten and a Linear block with out_features 10",
     [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}, {"type": "ReLU"}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}]),
    ([{"type": "Flatten"}, {"type": "Softmax", "dim": 0}, {"type": "Linear", "out_features": 10}],
     "set dim to -1 (or 1)",
     [{"type": "Flatten"}, {"type": "Softmax", "dim": -1}, {"type": "Linear", "out_features": 10}]),
    ([{"type": "Flatten"}, {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}],
     "insert Unflatten with unflattened_size [1, 8, 8] before block 2",
     [{"type": "Flatten"}, {"type": "Unflatten", "unflattened_size": [1, 8, 8]},
      {"type": "Conv2d", "out_channels": 2, "kernel_size": 3}, {"type": "Flatten"},
      {"type": "Linear", "out_features": 10}]),
])
def test_each_suggestion_is_an_edit_that_makes_the_model_valid(blocks, text, fixed):
    fix, after, summary = applied(blocks)
    assert fix.text == text
    assert after == fixed
    assert summary.valid, summary.errors
    assert blocks != fixed  # apply left the original list alone


def test_set_output_last_on_a_recurrent_block():
    blocks = [{"type": "Flatten"}, {"type": "Unflatten", "unflattened_size": [8, 8]},
              {"type": "GRU", "hidden_size": 16, "output": "sequence"}, {"type": "Linear", "out_features": 10}]
    fix, after, summary = applied(blocks)
    assert fix.text == 'set output to "last" on block 3'
    assert fix.edits == (SetParam("output", "last", (2,)),)
    assert after[2] == {"type": "GRU", "hidden_size": 16, "output": "last"} and summary.valid


def test_a_fix_inside_a_container_edits_that_container():
    blocks = [{"type": "Flatten"}, {"type": "Linear", "out_features": 10},
              {"type": "Residual", "blocks": [{"type": "Softmax", "dim": 5}]}]
    fix, after, summary = applied(blocks)
    assert fix.edits == (SetParam("dim", -1, (2, 0)),)
    assert after[2]["blocks"] == [{"type": "Softmax", "dim": -1}] and summary.valid


def test_advice_without_edits_has_no_action():
    summary = summarize([{"type": "MaxPool2d", "kernel_size": 2, "padding": 2}], DIGITS)
    assert summary.errors and summary.errors[0].endswith(" — lower padding")
    assert summary.fixes == {}
    assert summary.rows[0].fix == "lower padding" and summary.rows[0].action is None


@pytest.mark.parametrize("block,input_shape,text", [
    ({"type": "Conv2d", "out_channels": 6, "kernel_size": 1, "groups": 4}, (8, 4, 4), "set groups to 2"),
    ({"type": "GroupNorm", "num_groups": 5}, (12, 4, 4), "set num_groups to 4"),
    ({"type": "MultiheadAttention", "num_heads": 5}, (3, 12), "set num_heads to 4 (a divisor of 12), "
                                                              "or change the layer before"),
])
def test_sizes_that_must_divide_get_the_nearest_that_does(block, input_shape, text):
    summary = summarize([block], input_shape)
    [error] = summary.errors
    fix = summary.fixes[error]
    assert fix.text == text
    assert summarize(fix.apply([block]), input_shape).valid


def test_an_unbound_fix_refuses_to_apply():
    with pytest.raises(ValueError, match="not bound"):
        Fix("insert Flatten before block {block}", (Insert({"type": "Flatten"}),)).apply([{"type": "ReLU"}])


MLP = [{"type": "Flatten"}, {"type": "Linear", "out_features": 32, "trainable": False}, {"type": "ReLU"},
       {"type": "Residual", "trainable": False, "blocks": [{"type": "Linear", "out_features": 32}]},
       {"type": "Linear", "out_features": 10}]


def test_frozen_and_trainable_parameters_match_torch():
    summary = summarize(MLP, DIGITS, num_outputs=10)
    assert summary.valid, summary.errors
    model = build_model(MLP, DIGITS)
    frozen = [model[1], model[3]]
    want_frozen = sum(p.numel() for m in frozen for p in m.parameters())
    assert summary.frozen_params == want_frozen == 64 * 32 + 32 + 32 * 32 + 32
    assert summary.trainable_params == sum(p.numel() for p in model[4].parameters()) == 330
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    # A container's flag covers its blocks; the rows say which blocks are frozen.
    assert [r.number for r in summary.rows if r.frozen] == ["2", "4", "4.1"]


def test_memory_follows_precision_and_freezing():
    plain = [{k: v for k, v in b.items() if k != "trainable"} for b in MLP]
    fp32 = summarize(plain, DIGITS, batch_size=32, optimizer="Adam")
    bf16 = summarize(plain, DIGITS, batch_size=32, optimizer="Adam", precision="bf16")
    fp16 = summarize(plain, DIGITS, batch_size=32, optimizer="Adam", precision="fp16")
    values = 64 + 64 + 32 + 32 + 32 + 32 + 10  # the input and every block's output (4.1 too), per sample
    assert fp32.memory_bytes - bf16.memory_bytes == 2 * 32 * values == fp32.memory_bytes - fp16.memory_bytes
    frozen = summarize(MLP, DIGITS, batch_size=32, optimizer="Adam")
    # A frozen weight has no gradient and no Adam moments: 3 values of 4 bytes fewer each.
    assert fp32.memory_bytes - frozen.memory_bytes == 3 * 4 * frozen.frozen_params
