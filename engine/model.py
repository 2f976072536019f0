"""From a ModelSpec to a model: the summary (shapes, parameters, MACs, memory,
errors) and the nn.Module itself.

The summary never runs a forward pass: shapes come from each block's rule and
parameter counts from modules built on the `meta` device, cached per
(type, input shape, parameters) because the builder re-summarizes on every
keystroke. torch is imported lazily.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

from engine.blocks import CATALOGUE, BlockType, Shape, ShapeError, fmt_shape, param_problems, suggest
from engine.blocks.base import prod
from engine.blocks.containers import merge_macs
from engine.fixes import Fix, Insert, SetParam, text_of
from engine.model_summary import BlockLike, BlockRow, ModelSummary, block_parts, layer_calls
from engine.spec import BlockSpec, ModelSpec

if TYPE_CHECKING:
    from torch import nn

    from engine.data import DatasetInfo
    from engine.spec import RunSpec

BYTES_PER_VALUE = 4  # fp32: weights, gradients and optimizer state stay fp32 under mixed precision
# Activations kept for the backward pass: autocast computes them in 16 bits under bf16/fp16.
ACTIVATION_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
# Values of optimizer state kept per parameter (SGD: the momentum buffer, assumed on).
OPTIMIZER_STATE = {"SGD": 1, "Adam": 2, "AdamW": 2, "RMSprop": 1, "Adagrad": 1}


class ModelError(ValueError):
    """A model that cannot be built; `errors` holds one message per problem."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("; ".join(self.errors))


def _freeze(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    return value


@lru_cache(maxsize=4096)
def _param_count(type_: str, in_shape: Shape, frozen: tuple) -> int:
    import torch

    bt = CATALOGUE[type_]
    with torch.device("meta"):  # no memory is allocated, even for huge layers
        module = bt.call(in_shape, dict(frozen)).instantiate()
    return sum(p.numel() for p in module.parameters())


class _Walker:
    """Walks the blocks once, filling rows and errors."""

    def __init__(self) -> None:
        self.rows: list[BlockRow] = []
        self.errors: list[str] = []
        self.fixes: dict[str, Fix] = {}

    def fail(self, row: BlockRow, message: str, fix: Fix | str | None) -> None:
        action = fix.bind(row.path, row.number) if isinstance(fix, Fix) else None
        words = text_of(action) or (fix.replace("{block}", row.number) if isinstance(fix, str) else None)
        row.error, row.fix = message, words
        row.action = action if action is not None and action.actionable else None
        self.report(message, words, row.action)

    def report(self, message: str, words: str | None, action: Fix | None) -> None:
        error = message + (f" — {words}" if words else "")
        self.errors.append(error)
        if action is not None:
            self.fixes[error] = action

    def walk(self, blocks: Iterable[BlockLike], shape: Shape | None, path: tuple[int, ...] = (),
             number: str = "", start: int = 0) -> Shape | None:
        for i, block in enumerate(blocks, start):
            type_, params, children = block_parts(block)
            row = BlockRow(path + (i,), f"{number}{i + 1}", type_, "", len(path), shape, None, None, None)
            self.rows.append(row)
            shape = self.block(row, CATALOGUE.get(type_), params, children)
        return shape

    def block(self, row: BlockRow, bt: BlockType | None, params: dict, children: list | None) -> Shape | None:
        name = f"block {row.number} ({row.type or '?'})"
        if bt is None:
            hits = suggest(row.type)
            self.fail(row, f"{name}: unknown block type", f"did you mean {' or '.join(hits)}?" if hits else None)
            return None
        problems = param_problems(bt, params)
        if children is not None and not bt.container:
            containers = ", ".join(b.type for b in CATALOGUE.values() if b.container)
            problems.append(("blocks", f"cannot be used here: only {containers} hold blocks"))
        try:
            row.label = bt.label({**params, "blocks": children} if bt.container else params)
        except Exception:  # a label is cosmetic; bad parameters are reported below
            row.label = ""
        if bt.container:
            return self.container(row, bt, params, children or [], name, problems)
        if problems:
            self.fail(row, f"{name}: " + "; ".join(f"{k} {m}" for k, m in problems), None)
            return None
        if row.in_shape is None:
            return None  # after an invalid block: unknown, not another error
        try:
            out = bt.infer(row.in_shape, params)
        except ShapeError as e:
            joiner = " but " if e.message.startswith("needs ") else ": "
            self.fail(row, f"{name} got {fmt_shape(row.in_shape)}{joiner}{e.message}", e.fix)
            return None
        try:
            row.params = _param_count(bt.type, row.in_shape, _freeze(params))
        except Exception as e:  # torch refused a combination the shape rule let through
            self.fail(row, f"{name}: torch cannot build it ({e})", None)
            return None
        row.out_shape = out
        row.macs = bt.macs(row.in_shape, out, params)
        return out

    def container(self, row: BlockRow, bt: BlockType, params: dict, children: list, name: str,
                  problems: list[tuple[str, str]]) -> Shape | None:
        """Walks the children (one after another, or each branch from the container's input),
        then merges their outputs by the container's rule (engine.blocks.containers)."""
        if problems:
            self.fail(row, f"{name}: " + "; ".join(f"{k} {m}" for k, m in problems), None)
        first = len(self.rows)
        fed = row.in_shape if not problems else None
        if bt.layout == "parallel":
            outs = [self.walk([child], fed, row.path, f"{row.number}.", start=i) for i, child in enumerate(children)]
        else:
            outs = [self.walk(children, fed, row.path, f"{row.number}.")] if children else [fed]
        inner = [r for r in self.rows[first:] if r.depth == row.depth + 1]
        if problems or row.in_shape is None or any(o is None for o in outs):
            return None
        try:
            out = bt.combine(row.in_shape, [o for o in outs if o is not None], params)
        except ShapeError as e:
            self.fail(row, f"{name}: {e.message}", e.fix)
            return None
        row.out_shape = out
        row.params = sum(r.params or 0 for r in inner)
        row.macs = sum(r.macs or 0 for r in inner) + merge_macs(bt.type, out, len(children), bt.resolve(params))
        return out


def _blocks_of(model: ModelSpec | list) -> list:
    return list(model.blocks) if isinstance(model, ModelSpec) else list(model)


def summarize(model: ModelSpec | list[BlockSpec], input_shape: Shape, *, batch_size: int = 64,
              num_outputs: int | None = None, optimizer: str = "AdamW",
              task: str | None = None, precision: str = "fp32") -> ModelSummary:
    """Shapes, parameters, MACs and memory per block, and every error, without running the model.

    num_outputs: what the last block must produce (classes, or regression targets when
    task == "regression"); None skips that check. precision: the run's ("fp32", "bf16",
    "fp16"); it sets the bytes per activation in the memory estimate.
    """
    input_shape = tuple(input_shape)
    blocks = _blocks_of(model)
    w = _Walker()
    out = w.walk(blocks, input_shape)
    top = [r for r in w.rows if r.depth == 0]
    if not top:
        w.errors.append("the model has no blocks — add blocks from the palette")
    elif out is not None and num_outputs is not None and out != (num_outputs,):
        _check_outputs(w, top, out, num_outputs, task)
    total = sum(r.params or 0 for r in top)
    frozen = _mark_frozen(w.rows, blocks)
    trainable = total - frozen
    activations = prod(input_shape) + sum(prod(r.out_shape) for r in w.rows if r.out_shape is not None)
    state = OPTIMIZER_STATE.get(optimizer, 2)
    # Every weight is kept; only trainable ones have a gradient and optimizer state.
    memory = (BYTES_PER_VALUE * (total + trainable * (1 + state))
              + ACTIVATION_BYTES.get(precision, BYTES_PER_VALUE) * batch_size * activations)
    return ModelSummary(input_shape, w.rows, out, total, trainable, sum(r.macs or 0 for r in top), memory,
                        batch_size, w.errors, not w.errors, fixes=w.fixes, precision=precision)


def _mark_frozen(rows: list[BlockRow], blocks: list) -> int:
    """Mark the rows of blocks under `trainable: false`; returns how many parameters they hold."""
    frozen_paths: set[tuple[int, ...]] = set()

    def visit(items: list, parent: tuple[int, ...], frozen: bool) -> None:
        for i, block in enumerate(items):
            _, params, children = block_parts(block)
            here = frozen or params.get("trainable") is False
            if here:
                frozen_paths.add(parent + (i,))
            if children:
                visit(children, parent + (i,), here)

    visit(blocks, (), False)
    containers = {r.path[:-1] for r in rows}
    for r in rows:
        r.frozen = r.path in frozen_paths
    # Count leaves only: a container's count is the sum of its children's.
    return sum(r.params or 0 for r in rows if r.frozen and r.path not in containers)


def summarize_spec(spec: "RunSpec", *, batch_size: int | None = None) -> tuple[ModelSummary, "DatasetInfo"]:
    """The spec's model on its dataset: the input shape and the size the last
    block must have come from the dataset. Raises engine.data.DataError when
    the dataset cannot be read. One place for `layerdeck check`, `layerdeck
    train`'s pre-flight, the builder and the Launch button."""
    from engine.data import dataset_info

    info = dataset_info(spec.data, spec.seed)
    summary = summarize(spec.model, tuple(info.input_shape), batch_size=batch_size or spec.training.batch_size,
                        num_outputs=info.num_targets, optimizer=spec.optimizer.type, task=info.task,
                        precision=spec.training.precision)
    return summary, info


def _check_outputs(w: _Walker, top: list[BlockRow], out: Shape, n: int, task: str | None) -> None:
    """The last layer must give one value per class (or per regression target)."""
    what = (f"{n} target" + ("s" if n != 1 else "")) if task == "regression" else f"{n} classes"
    # Only a Linear's size is the obvious knob; "set hidden_size to 10" on a GRU would be bad advice.
    sized = next((r for r in reversed(top) if r.type == "Linear"), None)
    last = top[-1]
    linear = {"type": "Linear", "out_features": n}
    if len(out) == 1 and sized is not None and sized.out_shape == out:
        msg = f"block {sized.number} (Linear) outputs {out[0]} values but the dataset has {what}"
        row, fix = sized, Fix(f"set out_features to {n}", (SetParam("out_features", n, sized.path),))
    elif len(out) == 1:
        row = last
        fix = Fix(f"end the model with a Linear block with out_features {n}", (Insert(linear, last.path, after=True),))
        msg = f"the model outputs {out[0]} values per sample but the dataset has {what}"
    else:
        row = last
        msg = f"the model outputs {fmt_shape(out)} per sample but the dataset needs ({n},) for its {what}"
        seq = next((r for r in reversed(top) if r.type in ("RNN", "LSTM", "GRU")), None)
        if seq is not None and seq.out_shape is not None and len(seq.out_shape) == 2:
            fix = Fix(f"set output to \"last\" on block {seq.number}", (SetParam("output", "last", seq.path),))
        elif last.type == "Linear":
            fix = Fix(f"insert Flatten before block {last.number}", (Insert({"type": "Flatten"}, last.path),))
        else:
            after = last.path[:-1] + (last.path[-1] + 1,)
            fix = Fix(f"end the model with Flatten and a Linear block with out_features {n}",
                      (Insert({"type": "Flatten"}, last.path, after=True), Insert(linear, after, after=True)))
    if row.error is None:
        row.error, row.fix, row.action = msg, fix.text, fix
    w.report(msg, fix.text, fix)


def build_model(model: ModelSpec | list[BlockSpec], input_shape: Shape) -> "nn.Sequential":
    """The nn.Module: an nn.Sequential whose children "0", "1", ... follow the spec's blocks.

    Raises ModelError listing every problem when a block cannot take its input.
    """
    from torch import nn

    summary = summarize(model, input_shape)
    if not summary.valid:
        raise ModelError(summary.errors)
    return nn.Sequential(*(call.instantiate() for call in layer_calls(_blocks_of(model), summary)))


def export_python(model: ModelSpec | list[BlockSpec], input_shape: Shape, class_name: str = "Net") -> str:
    """A standalone .py defining `class_name` with the built model's exact parameter names."""
    from engine.codegen import python_source

    summary = summarize(model, input_shape)
    if not summary.valid:
        raise ModelError(summary.errors)
    return python_source(_blocks_of(model), summary, class_name)
