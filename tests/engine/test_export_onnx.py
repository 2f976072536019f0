"""ONNX export of every block in the catalogue, each checked with onnxruntime
against PyTorch on a batch of another size than the one it was exported
with (the catalogue is enumerated, so a new block is covered the day it lands)."""
from __future__ import annotations

import pytest
import torch

from engine.blocks import CATALOGUE
from engine.export import TOLERANCE, ExportError
from engine.export.onnx import export_onnx
from engine.export.source import ModelSource
from engine.model import build_model
from engine.spec import parse_spec
from tests.engine.test_blocks_contract import CASES

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning")

# Blocks torch cannot export to ONNX, found when this was written (torch 2.13): the test skips
# them with torch's own words, and fails once one exports (then take it out of here).
CANNOT_EXPORT: dict[str, str] = {
    "AdaptiveMaxPool1d": "torch's ONNX exporter has no function for aten.adaptive_max_pool2d unless the "
                         "output size is 1 (global pooling)",
}


def block_source(type_: str) -> ModelSource:
    if type_ not in CASES:
        pytest.skip(f"{type_} has no example input in test_blocks_contract.CASES (that test fails for it)")
    params, shapes = CASES[type_][0]
    spec = parse_spec({"name": type_, "model": {"blocks": [{"type": type_, **params}]}})
    torch.manual_seed(0)
    model = build_model(spec.model, shapes[0]).eval()  # eval: Dropout and BatchNorm are deterministic
    return ModelSource(spec, model, tuple(shapes[0]), f"block {type_}")  # its sample(): ids where blocks take them


@pytest.mark.slow
@pytest.mark.parametrize("type_", sorted(CATALOGUE))
def test_every_block_exports_to_onnx_and_agrees_with_pytorch(type_, tmp_path):
    src = block_source(type_)
    try:
        check = export_onnx(src, tmp_path / f"{type_}.onnx")
    except ExportError as e:
        if type_ in CANNOT_EXPORT and str(e).startswith("torch cannot export"):
            pytest.skip(f"{type_}: {CANNOT_EXPORT[type_]} ({str(e)[:160]})")
        raise
    assert type_ not in CANNOT_EXPORT, f"{type_} exports now: take it out of CANNOT_EXPORT"
    assert check.passed, check.error
    assert check.max_abs_diff <= TOLERANCE
    assert check.check_batch != check.export_batch
