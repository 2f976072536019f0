"""The block catalogue: every block a model can be built from, as data.

A block's `type` is the torch.nn class name and its parameters are that
class's constructor arguments; input sizes are inferred from the previous
block's output shape and never written in a spec. Each BlockType knows its
shape rule (`infer`), its module (`build`), a MAC estimate and a short label.

Importing this package does not import torch (the GUI palette paints first).
"""
from __future__ import annotations

from typing import Any

from engine.blocks import containers, elementwise, layers, resampling, sequence, text
from engine.blocks.base import (
    BLOCK_OPTIONS,
    OPTION_NAMES,
    BlockType,
    Call,
    Param,
    Shape,
    ShapeError,
    check_value,
    closest,
    fmt_shape,
    key_step,
)

__all__ = ["Shape", "ShapeError", "Param", "BlockType", "Call", "CATALOGUE", "CATEGORIES", "get_block_type",
           "suggest", "default_params", "check_blocks", "check_block", "param_problems", "fmt_shape",
           "BLOCK_OPTIONS", "OPTION_NAMES"]

CATEGORIES: list[str] = ["Linear", "Convolution", "Pooling", "Normalization", "Activation", "Recurrent",
                         "Attention", "Shape", "Regularization", "Embedding", "Containers"]

class _Catalogue(dict):
    """The block types by name; a name it does not know loads the custom blocks
    (engine.blocks.custom) once, so plugins cost nothing until a spec uses one."""

    def _custom(self, name: object) -> bool:
        from engine.blocks.custom import ensure_custom_blocks

        ensure_custom_blocks()
        return dict.__contains__(self, name)

    def __missing__(self, name: str) -> BlockType:
        if self._custom(name):
            return dict.__getitem__(self, name)
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        return dict.__contains__(self, name) or self._custom(name)

    def get(self, name: str, default: Any = None) -> Any:
        return self[name] if name in self else default


CATALOGUE: dict[str, BlockType] = _Catalogue({
    bt.type: bt for bt in sorted([*layers.BLOCKS, *elementwise.BLOCKS, *resampling.BLOCKS, *sequence.BLOCKS,
                                  *text.BLOCKS,
                                  *containers.BLOCKS],
                                 key=lambda b: CATEGORIES.index(b.category))
})

# Sizes torch wants but a spec never holds: they come from the previous block.
INFERRED_ARGS = ("in_features", "in_channels", "num_features", "num_channels", "input_size", "embed_dim",
                 "d_model", "normalized_shape")


def suggest(name: str) -> list[str]:
    """Closest known block types, for "did you mean Conv2d?"."""
    return closest(name, CATALOGUE)


def get_block_type(name: str) -> BlockType:
    try:
        return CATALOGUE[name]
    except KeyError:
        hits = suggest(name)
        hint = f"; did you mean {' or '.join(hits)}?" if hits else ""
        raise KeyError(f"unknown block type {name!r}{hint}") from None


def default_params(type: str) -> dict[str, Any]:
    """A new block's parameters as the palette adds it: the ones a spec must write."""
    bt = get_block_type(type)
    out: dict[str, Any] = {p.name: p.default for p in bt.params if p.required}
    if bt.container:
        out["blocks"] = []
    if bt.provider and not bt.provider.startswith("blocks folder"):
        out["package"] = bt.provider  # a spec that travels says where its custom block comes from
    return out


def check_block(raw: Any, path: str) -> list[str]:
    """Problems with one block dict (and its children), each as "path: message"."""
    if not isinstance(raw, dict):
        return [f"{path}: must be an object with a \"type\", e.g. {{\"type\": \"Linear\", \"out_features\": 10}}"]
    name = raw.get("type")
    if name is None:
        return [f"{path}.type: missing; every block needs a type, e.g. \"Linear\""]
    if not isinstance(name, str):
        return [f"{path}.type: must be a block name such as \"Linear\""]
    if name not in CATALOGUE:
        from engine.blocks.custom import missing_hint

        missing = missing_hint(name, raw.get("package"))
        if missing:
            return [f"{path}.type: {missing}"]
        hits = suggest(name)
        hint = f"did you mean {' or '.join(hits)}?" if hits else "see the block palette for known types"
        return [f"{path}.type: unknown block type {name!r}; {hint}"]
    bt = CATALOGUE[name]
    errors: list[str] = []
    children = raw.get("blocks") if bt.container else None
    if bt.container and "blocks" in raw:
        if isinstance(children, list):
            errors.extend(check_blocks(children, f"{path}.blocks"))
        else:
            errors.append(f"{path}.blocks: must be a list of blocks")
    elif bt.container:
        errors.append(f"{path}.blocks: {name} needs a list of blocks")
    params = {k: v for k, v in raw.items() if k != "type" and not (bt.container and k == "blocks")}
    errors[:0] = [f"{path}{key_step(key)}: {msg}" for key, msg in param_problems(bt, params)]
    return errors


def param_problems(bt: BlockType, params: dict[str, Any]) -> list[tuple[str, str]]:
    """(parameter, problem) for unknown, mistyped, out-of-range and missing required parameters."""
    out: list[tuple[str, str]] = []
    options = {o.name: o for o in BLOCK_OPTIONS}
    for key, value in params.items():
        p = bt.param(key) or options.get(key)
        if p is None:
            out.append((key, _unknown_param(bt, key)))
        else:
            problem = check_value(p, value)
            if problem:
                out.append((key, problem))
    for p in bt.params:
        if p.required and p.name not in params:
            out.append((p.name, f"required for {bt.type} ({p.help[0].lower() + p.help[1:].rstrip('.')})"))
    return out


def _unknown_param(bt: BlockType, key: str) -> str:
    if key in INFERRED_ARGS:
        return "is inferred from the previous block's output; remove it"
    if key == "blocks":
        containers = ", ".join(b.type for b in CATALOGUE.values() if b.container)
        return f"{bt.type} cannot hold blocks (only {containers} can)"
    if key == "batch_first":
        return f"{bt.type} is always batch-first here; remove it"
    known = [p.name for p in bt.params]
    hits = closest(key, known)
    if hits:
        return f"unknown parameter of {bt.type}; did you mean {' or '.join(hits)}?"
    if not known:
        return f"unknown parameter; {bt.type} takes none"
    return f"unknown parameter of {bt.type} (known: {', '.join(known)})"


def check_blocks(raw_blocks: list, path: str) -> list[str]:
    """Every problem in a list of raw block dicts, with JSON paths; recurses into containers."""
    errors: list[str] = []
    for i, raw in enumerate(raw_blocks):
        errors.extend(check_block(raw, f"{path}[{i}]"))
    return errors
