"""What a model summary is made of, and the layer each top-level block becomes.

engine.model fills these in; engine.codegen writes them out as Python. Both
read this module and neither needs the other's internals, so the import
graph stays one-way: model -> codegen -> model_summary.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

from engine.blocks import CATALOGUE, Call, Shape
from engine.fixes import Fix
from engine.spec import BlockSpec

BlockLike = Union[BlockSpec, dict]


@dataclass
class BlockRow:
    path: tuple[int, ...]  # index path; (6, 1) is the 2nd block inside the 7th
    number: str  # 1-based for display: "7", "7.2"
    type: str
    label: str
    depth: int
    in_shape: Shape | None
    out_shape: Shape | None
    params: int | None
    macs: int | None
    error: str | None = None
    fix: str | None = None  # the suggestion in words
    action: Fix | None = None  # the same suggestion as edits, bound to this model (None: advice only)
    frozen: bool = False  # `trainable: false` on this block or a container around it


@dataclass
class ModelSummary:
    input_shape: Shape
    rows: list[BlockRow]
    output_shape: Shape | None
    total_params: int
    trainable_params: int
    total_macs: int
    memory_bytes: int  # training estimate at batch_size: weights, grads, optimizer state, activations
    batch_size: int
    errors: list[str] = field(default_factory=list)
    valid: bool = True
    fixes: dict[str, Fix] = field(default_factory=dict)  # an error (as in `errors`) -> its one-click fix
    precision: str = "fp32"  # what the activations in memory_bytes were counted at

    @property
    def frozen_params(self) -> int:
        return self.total_params - self.trainable_params


def block_parts(block: BlockLike) -> tuple[str, dict[str, Any], list | None]:
    """(type, parameters, children or None) of a BlockSpec or a raw dict."""
    if isinstance(block, BlockSpec):
        return block.type, block.params, block.blocks
    d = dict(block)
    children = d.pop("blocks", None)
    return str(d.pop("type", "")), d, children


def layer_calls(blocks: list, summary: ModelSummary) -> list[Call]:
    """One Call per top-level block of a valid summary: what build_model
    instantiates and what codegen writes, so the two cannot drift apart."""
    calls = []
    for block, row in zip(blocks, (r for r in summary.rows if r.depth == 0)):
        type_, params, children = block_parts(block)
        if children is not None:
            params = {**params, "blocks": children}
        assert row.in_shape is not None  # a valid summary knows every block's input
        calls.append(CATALOGUE[type_].call(row.in_shape, params))
    return calls
