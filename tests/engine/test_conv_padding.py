"""Conv1d/Conv2d take padding "same" and "valid" as torch does: the shape rule
matches a real forward pass, "valid" is padding 0, "same" with a stride is
refused with the fix, specs keep the word, and the export passes it to torch."""
from __future__ import annotations

import json
import warnings

import pytest
import torch

from engine.blocks import ShapeError, check_blocks, get_block_type
from engine.model import ModelError, build_model, export_python, summarize
from engine.spec import SpecError, parse_spec
from tests.engine.test_export import assert_same_model

# (type, params, input shape): odd and even kernels, dilation, per-dimension lists.
SAME_CASES = [
    ("Conv1d", {"out_channels": 4, "kernel_size": 3, "padding": "same"}, (2, 9)),
    ("Conv1d", {"out_channels": 4, "kernel_size": 4, "padding": "same"}, (2, 9)),
    ("Conv1d", {"out_channels": 2, "kernel_size": 4, "padding": "same", "dilation": 3}, (3, 10)),
    ("Conv1d", {"out_channels": 2, "kernel_size": 5, "padding": "same", "dilation": 2}, (1, 3)),  # kernel > input
    ("Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": "same"}, (1, 8, 8)),
    ("Conv2d", {"out_channels": 4, "kernel_size": 2, "padding": "same"}, (2, 7, 6)),
    ("Conv2d", {"out_channels": 6, "kernel_size": [2, 5], "padding": "same", "dilation": [3, 2], "groups": 3},
     (3, 7, 6)),
    ("Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": "same", "stride": [1, 1]}, (1, 5, 4)),
]
IDS = [f"{t}-k{p['kernel_size']}-d{p.get('dilation', 1)}" for t, p, _ in SAME_CASES]


def forward(type_: str, params: dict, shape: tuple[int, ...]) -> torch.Tensor:
    torch.manual_seed(0)
    module = get_block_type(type_).build(shape, params)
    with warnings.catch_warnings():  # torch warns that even kernels need a padded copy; the result is right
        warnings.simplefilter("ignore", UserWarning)
        return module(torch.randn(2, *shape))


@pytest.mark.parametrize("type_,params,shape", SAME_CASES, ids=IDS)
def test_same_keeps_the_size_like_torch(type_, params, shape):
    inferred = get_block_type(type_).infer(shape, params)
    assert inferred == (params["out_channels"], *shape[1:])
    assert tuple(forward(type_, params, shape).shape[1:]) == inferred
    summary = summarize([{"type": type_, **params}], shape)
    assert summary.valid, summary.errors
    module = get_block_type(type_).build(shape, params)
    assert summary.total_params == sum(p.numel() for p in module.parameters())
    k = params["kernel_size"]
    kernel = k[0] * k[1] if isinstance(k, list) else k ** (len(shape) - 1)
    # Every output position still takes a full kernel over in_channels / groups.
    assert summary.total_macs == (params["out_channels"] * torch.Size(shape[1:]).numel()
                                  * shape[0] // params.get("groups", 1) * kernel)


@pytest.mark.parametrize("type_,params,shape", [
    ("Conv1d", {"out_channels": 3, "kernel_size": 4, "dilation": 2}, (2, 11)),
    ("Conv2d", {"out_channels": 3, "kernel_size": [3, 2], "stride": 2}, (1, 9, 8)),
])
def test_valid_is_padding_zero(type_, params, shape):
    bt = get_block_type(type_)
    valid, zero = {**params, "padding": "valid"}, {**params, "padding": 0}
    assert bt.infer(shape, valid) == bt.infer(shape, zero) == tuple(forward(type_, valid, shape).shape[1:])
    assert torch.equal(forward(type_, valid, shape), forward(type_, zero, shape))
    assert bt.label(valid) == bt.label(zero)  # no padding is shown as none, whichever way it was written


@pytest.mark.parametrize("type_,stride,shape", [("Conv1d", 2, (1, 8)), ("Conv2d", [1, 2], (1, 8, 8))])
def test_same_with_a_stride_is_refused_with_the_fix(type_, stride, shape):
    params = {"out_channels": 2, "kernel_size": 3, "stride": stride, "padding": "same"}
    with pytest.raises(ShapeError) as e:
        get_block_type(type_).infer(shape, params)
    assert "stride 1" in e.value.message
    assert e.value.fix == "use stride 1 with padding 'same', or give padding as numbers"
    summary = summarize([{"type": type_, **params}], shape)
    assert not summary.valid
    assert "use stride 1 with padding 'same', or give padding as numbers" in summary.errors[0]
    with pytest.raises(ModelError, match="use stride 1 with padding 'same'"):
        build_model([{"type": type_, **params}], shape)  # refused before torch's own error


def test_bad_padding_word_lists_the_valid_forms():
    problems = check_blocks([{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": "full"}], "b")
    assert problems == ["b[0].padding: must be 'same', 'valid', a whole number or a list of 2"]
    problems = check_blocks([{"type": "Conv1d", "out_channels": 2, "kernel_size": 3, "padding": [1, 1]}], "b")
    assert problems == ["b[0].padding: must be 'same', 'valid', a whole number or a list of 1"]
    assert check_blocks([{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": -1}], "b") == [
        "b[0].padding: must be >= 0"]
    with pytest.raises(SpecError, match=r"model\.blocks\[0\]\.padding: must be 'same', 'valid'"):
        parse_spec({"model": {"blocks": [{"type": "Conv1d", "out_channels": 2, "kernel_size": 3,
                                          "padding": "SAME"}]}})


@pytest.mark.parametrize("type_", ["ConvTranspose2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d"])
def test_transposed_conv_and_pooling_keep_numbers_only(type_):
    params = {"kernel_size": 2, "padding": "same"} | ({"out_channels": 2} if type_.startswith("Conv") else {})
    problems = check_blocks([{"type": type_, **params}], "b")
    assert len(problems) == 1 and problems[0].startswith("b[0].padding: must be a whole number")
    assert "same" not in problems[0]


def test_labels_show_same():
    conv2d = get_block_type("Conv2d")
    assert conv2d.label({"out_channels": 32, "kernel_size": 3, "padding": "same"}) == "32, 3×3, pad same"
    assert get_block_type("Conv1d").label({"out_channels": 8, "kernel_size": 5, "padding": "same"}) == "8, 5, pad same"
    assert conv2d.label({"out_channels": 32, "kernel_size": 3, "padding": 1}) == "32, 3×3, pad 1"


def test_spec_json_round_trip_keeps_the_word():
    blocks = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"},
              {"type": "ReLU"},
              {"type": "Conv2d", "out_channels": 4, "kernel_size": [3, 1], "padding": "valid"},
              {"type": "Residual", "blocks": [{"type": "Conv2d", "out_channels": 4, "kernel_size": 5,
                                               "padding": "same", "dilation": 2}]}]
    spec = parse_spec({"name": "padding-words", "model": {"blocks": blocks}})
    again = parse_spec(json.loads(spec.to_json()))
    assert again.to_dict()["model"]["blocks"] == blocks
    summary = summarize(again.model, (1, 8, 8))
    assert summary.valid, summary.errors
    assert summary.output_shape == (4, 6, 8)


@pytest.mark.parametrize("blocks,shape", [
    ([{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"}, {"type": "ReLU"},
      {"type": "Conv2d", "out_channels": 2, "kernel_size": [2, 3], "padding": "valid"},
      {"type": "Residual", "blocks": [{"type": "Conv2d", "out_channels": 2, "kernel_size": 3, "padding": "same"}]}],
     (1, 8, 8)),
    ([{"type": "Conv1d", "out_channels": 3, "kernel_size": 4, "padding": "same", "dilation": 2},
      {"type": "Conv1d", "out_channels": 3, "kernel_size": 3, "padding": "valid"}], (2, 12)),
], ids=["2d", "1d"])
def test_export_passes_the_word_to_torch_and_matches(blocks, shape, tmp_path):
    model_spec = parse_spec({"model": {"blocks": blocks}}).model
    source = export_python(model_spec, shape)
    assert "padding='same'" in source and "padding='valid'" in source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # even kernels: torch's padded-copy note
        assert_same_model(model_spec, shape, tmp_path, blocks[0]["type"], blocks[0])
