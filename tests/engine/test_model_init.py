"""Per-block `init` and `trainable: false`, and the weights-from-a-run report,
on real modules (no worker: tests/e2e/test_finetune_e2e.py trains for real)."""
from __future__ import annotations

import pytest
import torch

from engine.init_from import InitSource, match_weights
from engine.model import build_model, summarize
from engine.model_init import apply_block_options, prepare_weights, trainable_parameters, walk_blocks
from engine.spec import SpecError, parse_spec

CNN = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1, "init": "kaiming_normal"},
    {"type": "BatchNorm2d", "trainable": False},
    {"type": "Branch", "merge": "add", "trainable": False, "blocks": [
        {"type": "Sequential", "blocks": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 1}]},
        {"type": "Conv2d", "out_channels": 4, "kernel_size": 1, "init": "zeros"}]},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10, "init": "orthogonal"},
]


def built(blocks, seed=0):
    torch.manual_seed(123)
    model = build_model(blocks, (1, 6, 6))
    apply_block_options(model, blocks, seed)
    return model


def test_init_is_seeded_and_does_what_it_says():
    a, b, c = built(CNN, 0), built(CNN, 0), built(CNN, 1)
    assert torch.equal(a[0].weight, b[0].weight) and not torch.equal(a[0].weight, c[0].weight)
    assert torch.count_nonzero(a[0].bias) == 0  # kaiming: biases start at zero
    zero = a[2].branches[1]
    assert torch.count_nonzero(zero.weight) == 0 and torch.count_nonzero(zero.bias) == 0
    w = a[4].weight  # (10, 144): orthogonal rows
    assert torch.allclose(w @ w.T, torch.eye(10), atol=1e-5)
    plain = build_model(CNN[:1], (1, 6, 6))  # default: torch's own (kaiming uniform with a=√5): not the same
    assert plain[0].weight.std() < a[0].weight.std()


def test_frozen_blocks_have_no_gradient_and_the_optimizer_never_sees_them():
    model = built(CNN)
    frozen = {n for n, p in model.named_parameters() if not p.requires_grad}
    assert frozen == {"1.weight", "1.bias", "2.branches.0.0.weight", "2.branches.0.0.bias",
                      "2.branches.1.weight", "2.branches.1.bias"}  # the container freezes what it holds
    trainable = trainable_parameters(model)
    assert sum(p.numel() for p in trainable) == summarize(CNN, (1, 6, 6)).trainable_params
    assert all(p.requires_grad for p in trainable)


def test_a_frozen_batchnorm_keeps_its_statistics_while_the_model_trains():
    model = built(CNN)
    bn = model[1]
    before = bn.running_mean.clone(), bn.running_var.clone(), int(bn.num_batches_tracked)
    model.train()
    opt = torch.optim.SGD(trainable_parameters(model), lr=0.1)
    loss = model(torch.randn(8, 1, 6, 6) * 3 + 2).logsumexp(1).mean()
    loss.backward()
    opt.step()
    assert torch.equal(bn.running_mean, before[0]) and torch.equal(bn.running_var, before[1])
    assert int(bn.num_batches_tracked) == before[2]
    assert bn.weight.grad is None


def test_everything_frozen_is_refused_in_words():
    spec = parse_spec({"model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 10,
                                                                     "trainable": False}]}})
    model = build_model(spec.model, (64,))
    with pytest.raises(ValueError, match="every block is frozen"):
        prepare_weights(model, spec)


def test_block_options_are_checked_in_the_spec():
    with pytest.raises(SpecError) as e:
        parse_spec({"model": {"blocks": [{"type": "Linear", "out_features": 3, "init": "he", "trainable": "no"}]}})
    assert e.value.errors == ["model.blocks[0].init: must be one of 'default', 'kaiming_normal', 'kaiming_uniform', "
                              "'xavier_normal', 'xavier_uniform', 'orthogonal', 'zeros'",
                              "model.blocks[0].trainable: must be true or false"]


def test_walk_names_each_block_and_its_state_dict_prefix():
    model = built(CNN)
    rows = [(num, type_, prefix) for num, type_, _, _, prefix, _ in walk_blocks(CNN, model)]
    assert rows == [("1", "Conv2d", "0"), ("2", "BatchNorm2d", "1"), ("3", "Branch", "2"),
                    ("3.1", "Sequential", "2.branches.0"), ("3.1.1", "Conv2d", "2.branches.0.0"),
                    ("3.2", "Conv2d", "2.branches.1"), ("4", "Flatten", "3"), ("5", "Linear", "4")]


def test_match_report_says_what_was_copied_and_why_not():
    source_model = built(CNN)
    changed = [dict(b) for b in CNN]
    changed[4] = {"type": "Linear", "out_features": 5}  # a new head
    target = built(changed)
    src = InitSource(7, "pretrain", "best", "unused.pt")
    state = source_model.state_dict()
    state["9.weight"] = torch.zeros(2)
    report = match_weights(changed, target, state, src)
    assert {m.key for m in report.unmatched} == {"4.weight", "4.bias"}
    bad = next(m for m in report.unmatched if m.key == "4.weight")
    assert bad.block == "block 5 (Linear)" and bad.reason == "shape (10, 144) in run #7, (5, 144) here"
    assert "2.branches.0.0.weight" in {m.key for m in report.matched}
    assert next(m for m in report.matched if m.key == "2.branches.0.0.weight").block == "block 3.1.1 (Conv2d)"
    assert report.unused == ["9.weight"]
    lines = report.lines()
    assert lines[0].startswith("weights from run #7 'pretrain' (best checkpoint): 11 of 13 tensors copied")
    assert "  not      block 5 (Linear) 4.weight: shape (10, 144) in run #7, (5, 144) here" in lines
