"""ONNX and torch.export of every block in the catalogue, each checked
against PyTorch on a batch of another size than the one it was exported
with (the catalogue is enumerated, so a new block is covered the day it lands)."""
from __future__ import annotations

import pytest
import torch

from engine.blocks import CATALOGUE
from engine.export import TOLERANCE
from engine.export.onnx import export_onnx
from engine.export.source import ModelSource
from engine.model import build_model
from engine.spec import parse_spec
from tests.engine.test_blocks_contract import CASES

pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning",
                                        "ignore::FutureWarning")

# Blocks torch cannot export to ONNX, with the reason (none today; an entry here is a known limit).
CANNOT_EXPORT: dict[str, str] = {}


def block_source(type_: str) -> ModelSource:
    if type_ not in CASES:
        pytest.skip(f"{type_} has no example input in test_blocks_contract.CASES (that test fails for it)")
    params, shapes = CASES[type_][0]
    # Two blocks: a stochastic block (Dropout) stays deterministic in eval mode; the spec is what a user writes.
    spec = parse_spec({"name": type_, "model": {"blocks": [{"type": type_, **params}]}})
    torch.manual_seed(0)
    model = build_model(spec.model, shapes[0]).eval()
    return ModelSource(spec, model, tuple(shapes[0]), f"block {type_}")


@pytest.mark.slow
@pytest.mark.parametrize("type_", sorted(CATALOGUE))
def test_every_block_exports_to_onnx_and_agrees_with_pytorch(type_, tmp_path):
    if type_ in CANNOT_EXPORT:
        pytest.skip(CANNOT_EXPORT[type_])
    src = block_source(type_)
    check = export_onnx(src, tmp_path / f"{type_}.onnx")
    assert check.passed, check.error
    assert check.max_abs_diff <= TOLERANCE
    assert check.check_batch != check.export_batch
