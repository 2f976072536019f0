"""Shape rules agree with torch in both directions: where torch runs, the
rule accepts (with the same output shape); where the rule accepts, torch runs.

Sizes come from hypothesis, so small and odd inputs (a 2×2 image into a
3×3 ceil-mode pool) are tried, not only the contract's hand-picked cases.
Inputs are drawn at the ranks a block documents; other ranks are refused by
design (torch would read the batch axis as a channel axis)."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.blocks import ShapeError, get_block_type
from tests.engine.test_blocks_contract import CASES

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rule(type_: str, shape: tuple[int, ...], params: dict):
    try:
        return get_block_type(type_).infer(shape, params)
    except ShapeError:
        return None


def torch_out(module: torch.nn.Module, shape: tuple[int, ...]):
    try:
        with torch.no_grad():
            return tuple(module(torch.randn(2, *shape)).shape[1:])
    except (RuntimeError, ValueError, IndexError):
        return None


@FAST
@given(dims=st.sampled_from([1, 2]), op=st.sampled_from(["Max", "Avg"]), data=st.data())
def test_pooling_rule_matches_torch_with_and_without_ceil_mode(dims, op, data):
    size = st.integers(1, 9)
    shape = (2,) + tuple(data.draw(size) for _ in range(dims))
    params = {"kernel_size": data.draw(st.integers(1, 5)), "stride": data.draw(st.integers(1, 4)),
              "padding": data.draw(st.integers(0, 3)), "ceil_mode": data.draw(st.booleans())}
    if op == "Max":
        params["dilation"] = data.draw(st.integers(1, 3))
    name = f"{op}Pool{dims}d"
    expected = rule(name, shape, params)
    try:
        module = getattr(torch.nn, name)(**params)
    except (RuntimeError, ValueError):
        module = None
    got = torch_out(module, shape) if module is not None else None
    assert expected == got, f"{name}{params} on {shape}: rule {expected}, torch {got}"


def test_ceil_mode_pool_on_an_input_smaller_than_the_kernel():
    # The case: torch gives 1×1, the rule used to refuse it.
    assert rule("MaxPool2d", (1, 2, 2), {"kernel_size": 3, "ceil_mode": True}) == (1, 1, 1)
    assert rule("MaxPool2d", (1, 2, 2), {"kernel_size": 3}) is None


RANKS = {"Upsample": (2, 3), "ZeroPad2d": (3,), "ConvTranspose1d": (2,), "AdaptiveMaxPool1d": (2,),
         "AdaptiveMaxPool2d": (3,), "InstanceNorm1d": (2,), "InstanceNorm2d": (3,), "Dropout1d": (2,),
         "AlphaDropout": (1, 2, 3), "PReLU": (1, 2, 3), "Softplus": (1, 2), "Hardswish": (1, 3),
         "Hardtanh": (1, 2), "LogSoftmax": (1, 2), "MultiheadAttention": (2,), "TransformerEncoderLayer": (2,)}
NEW_CASES = [(t, i) for t in RANKS for i in range(len(CASES[t]))]


@pytest.mark.parametrize("type_,case", NEW_CASES, ids=[f"{t}-{i}" for t, i in NEW_CASES])
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_new_blocks_accept_exactly_what_torch_runs(type_, case, data):
    params = CASES[type_][case][0]
    ranks = (1, 3) if params.get("per_channel") else RANKS[type_]  # per channel: not (sequence, features)
    rank = data.draw(st.sampled_from(ranks))
    shape = tuple(data.draw(st.integers(1, 7)) for _ in range(rank))
    if type_ in ("MultiheadAttention", "TransformerEncoderLayer"):
        shape = (shape[0], data.draw(st.sampled_from([2, 3, 4, 6, 8])))
    expected = rule(type_, shape, params)
    bt = get_block_type(type_)
    try:
        module = bt.call(shape, params).instantiate()
    except (RuntimeError, ValueError, AssertionError):
        module = None
    got = torch_out(module, shape) if module is not None else None
    assert expected == got, f"{type_}{params} on {shape}: rule {expected}, torch {got}"


@pytest.mark.parametrize("type_,params", [("MultiheadAttention", {"num_heads": 2, "causal": True}),
                                          ("TransformerEncoderLayer", {"nhead": 2, "dim_feedforward": 8,
                                                                       "dropout": 0.0, "causal": True})])
def test_causal_attention_does_not_look_ahead(type_, params):
    torch.manual_seed(0)
    module = get_block_type(type_).build((6, 4), params).eval()
    x = torch.randn(1, 6, 4)
    later = x.clone()
    later[:, 4:] = torch.randn(1, 2, 4)  # change only the last two steps
    with torch.no_grad():
        a, b = module(x), module(later)
    assert torch.allclose(a[:, :4], b[:, :4], atol=1e-6)  # earlier steps did not see them
    assert not torch.allclose(a[:, 4:], b[:, 4:])
    plain = get_block_type(type_).build((6, 4), {**params, "causal": False}).eval()
    plain.load_state_dict(module.state_dict())
    with torch.no_grad():
        assert not torch.allclose(plain(x)[:, :4], plain(later)[:, :4])  # without causal they do


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_branch_merge_rule_matches_torch(data):
    merge = data.draw(st.sampled_from(["concat", "add", "multiply"]))
    dim = data.draw(st.sampled_from([0, 1, 2, -1]))
    shape = (2, data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)))
    branches = [{"type": "Conv2d", "out_channels": data.draw(st.integers(1, 3)),
                 "kernel_size": data.draw(st.integers(1, 3)), "stride": data.draw(st.integers(1, 2))}
                for _ in range(data.draw(st.integers(1, 3)))]
    params = {"merge": merge, "dim": dim, "blocks": branches}
    expected = rule("Branch", shape, params)
    try:
        module = get_block_type("Branch").call(shape, params).instantiate()
    except (RuntimeError, ValueError, ShapeError):
        module = None  # a branch that cannot take the input: the rule refuses it too
    got = torch_out(module, shape) if module is not None else None
    assert expected == got, f"Branch {params} on {shape}: rule {expected}, torch {got}"
