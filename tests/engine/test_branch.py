"""Branching models: Sequential and Branch containers in the summary, the
built module, the Python export and the architecture diff."""
from __future__ import annotations

import pytest
import torch

from engine.compare import architecture_diff
from engine.model import build_model, export_python, summarize
from engine.spec import SpecError, parse_spec
from tests.engine.test_export import load_class


def conv(out: int, k: int = 3, **kw) -> dict:
    return {"type": "Conv2d", "out_channels": out, "kernel_size": k, **kw}


INCEPTION = [
    conv(8, padding=1),
    {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [
        {"type": "Sequential", "blocks": [conv(4, 1), {"type": "ReLU"}, conv(6, padding=1)]},
        conv(4, 1),
        {"type": "Sequential", "blocks": [{"type": "MaxPool2d", "kernel_size": 3, "stride": 1, "padding": 1},
                                          conv(2, 1)]},
    ]},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10},
]


def test_summary_numbers_branches_and_sums_their_parameters():
    s = summarize(INCEPTION, (1, 8, 8))
    assert s.valid, s.errors
    rows = {r.number: r for r in s.rows}
    assert rows["2"].out_shape == (12, 8, 8)  # 6 + 4 + 2 channels
    assert [rows[n].type for n in ("2.1", "2.2", "2.3")] == ["Sequential", "Conv2d", "Sequential"]
    assert rows["2.2"].in_shape == rows["2.1"].in_shape == rows["2.3"].in_shape == (8, 8, 8)
    assert rows["2.1.3"].in_shape == (4, 8, 8)
    assert rows["2"].params == rows["2.1"].params + rows["2.2"].params + rows["2.3"].params
    assert rows["2"].label == "concat dim 0, 3 branches"
    model = build_model(INCEPTION, (1, 8, 8))
    assert sum(p.numel() for p in model.parameters()) == s.total_params
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_concat_error_names_the_branch_both_shapes_and_the_fix():
    bad = [conv(8, padding=1), {"type": "Branch", "blocks": [conv(4, 1), conv(4, 1, stride=2)]}]
    s = summarize(bad, (1, 8, 8))
    assert s.errors == ["block 2 (Branch): branch 2 outputs (4, 4, 4) but branch 1 outputs (4, 8, 8); concat on "
                        "dim 0 needs every other axis equal — make block 2.2 output (any, 8, 8) (e.g. change its "
                        "stride or padding), or set dim to the axis that differs"]
    row = next(r for r in s.rows if r.number == "2")
    assert row.error and row.fix and "block 2.2" in row.fix


def test_add_and_multiply_need_equal_shapes():
    for merge in ("add", "multiply"):
        s = summarize([{"type": "Branch", "merge": merge, "blocks": [
            {"type": "Linear", "out_features": 4}, {"type": "Linear", "out_features": 5}]}], (3,))
        assert s.errors == [f"block 1 (Branch): branch 2 outputs (5,) but branch 1 outputs (4,); {merge} needs "
                            "equal shapes (or size 1 on an axis, repeated to match) — make block 1.2 output (4,), "
                            "or merge with concat"]


def test_multiply_broadcasts_like_torch_for_channel_attention():
    # Squeeze-and-excitation: the input times per-channel weights of shape (C, 1, 1).
    se = {"type": "Branch", "merge": "multiply", "blocks": [
        {"type": "Identity"},
        {"type": "Sequential", "blocks": [{"type": "AdaptiveAvgPool2d", "output_size": 1}, conv(8, 1),
                                          {"type": "Sigmoid"}]}]}
    s = summarize([se], (8, 5, 5))
    assert s.valid and s.output_shape == (8, 5, 5)
    assert build_model([se], (8, 5, 5))(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)


def test_concat_dim_must_exist_and_ranks_must_agree():
    s = summarize([{"type": "Branch", "dim": 2, "blocks": [{"type": "Identity"}]}], (3, 4))
    assert "dim=2 is not an axis of the branches' output (3, 4) (axes 0..1, or -1 for the last)" in s.errors[0]
    s = summarize([{"type": "Branch", "blocks": [{"type": "Flatten"}, {"type": "Identity"}]}], (2, 3))
    assert "concat needs outputs with the same number of axes" in s.errors[0]
    s = summarize([{"type": "Branch", "blocks": []}], (2, 3))
    assert s.errors == ["block 1 (Branch): has no branches — add a branch to block 1, or remove it"]


def test_error_inside_a_branch_is_reported_on_that_block():
    s = summarize([{"type": "Branch", "blocks": [{"type": "Identity"}, conv(4)]}], (6,))
    assert len(s.errors) == 1 and s.errors[0].startswith("block 1.2 (Conv2d) got (6,) but needs")


def test_spec_checks_branch_parameters_and_children():
    with pytest.raises(SpecError) as e:
        parse_spec({"model": {"blocks": [{"type": "Branch", "merge": "sum", "blocks": [{"type": "Lienar"}]}]}})
    assert e.value.errors == [
        "model.blocks[0].merge: must be one of 'concat', 'add', 'multiply'",
        "model.blocks[0].blocks[0].type: unknown block type 'Lienar'; did you mean Linear?",
    ]


def test_residual_with_projection_is_a_branch_that_adds():
    block = {"type": "Branch", "merge": "add", "blocks": [
        {"type": "Sequential", "blocks": [conv(16, padding=1, stride=2), {"type": "BatchNorm2d"}, {"type": "ReLU"},
                                          conv(16, padding=1)]},
        conv(16, 1, stride=2)]}
    s = summarize([block], (8, 10, 10))
    assert s.valid and s.output_shape == (16, 5, 5)
    torch.manual_seed(0)
    model = build_model([block], (8, 10, 10)).eval()
    x = torch.randn(2, 8, 10, 10)
    branch = model[0]
    with torch.inference_mode():
        assert torch.allclose(model(x), branch.branches[0](x) + branch.branches[1](x))


def test_nested_branches_export_as_python_that_loads_the_built_weights(tmp_path):
    source = export_python(INCEPTION, (1, 8, 8))
    assert "class Branch(nn.Module):" in source and "nn.Sequential(" in source
    torch.manual_seed(0)
    built = build_model(INCEPTION, (1, 8, 8)).eval()
    exported = load_class(source, tmp_path)().eval()
    exported.load_state_dict(built.state_dict(), strict=True)
    x = torch.randn(3, 1, 8, 8)
    with torch.inference_mode():
        assert torch.allclose(built(x), exported(x), atol=1e-6)


def test_architecture_diff_follows_branches():
    import copy

    other = copy.deepcopy(INCEPTION)
    other[1]["blocks"][0]["blocks"][2]["out_channels"] = 12
    other[1]["blocks"].append(conv(3, 1))
    diff = architecture_diff([{"model": {"blocks": INCEPTION}}, {"model": {"blocks": other}}])[1]
    assert [(c.kind, c.path) for c in diff] == [("changed", "blocks[1].blocks[0].blocks[2]"),
                                                ("added", "blocks[1].blocks[3]")]
    assert [c.describe() for c in diff] == ["~ block 2.1.3 Conv2d: out_channels 6 → 12",
                                            "+ block 2.4 Conv2d(out_channels=3, kernel_size=1)"]


def test_a_small_unet_builds_with_branch_and_upsample():
    down_up = {"type": "Sequential", "blocks": [
        {"type": "MaxPool2d", "kernel_size": 2}, conv(16, padding=1), {"type": "ReLU"},
        {"type": "Upsample", "scale_factor": 2, "mode": "bilinear"}, conv(8, padding=1)]}
    unet = [conv(8, padding=1), {"type": "ReLU"},
            {"type": "Branch", "merge": "concat", "dim": 0, "blocks": [{"type": "Identity"}, down_up]},  # skip
            conv(8, padding=1), {"type": "ReLU"}, conv(1, 1)]
    s = summarize(unet, (1, 8, 8))
    assert s.valid, s.errors
    assert next(r for r in s.rows if r.number == "3").out_shape == (16, 8, 8)  # 8 skip + 8 upsampled channels
    assert s.output_shape == (1, 8, 8)
    model = build_model(unet, (1, 8, 8))
    assert model(torch.randn(2, 1, 8, 8)).shape == (2, 1, 8, 8)
    odd = summarize(unet, (1, 7, 7))  # 7 → 3 → 6: the skip and the upsampled path no longer line up
    assert not odd.valid and "branch 2 outputs (8, 6, 6) but branch 1 outputs (8, 7, 7)" in odd.errors[0]
