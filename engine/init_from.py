"""Weights from an earlier run: `model.init_from: {"run": ID, "checkpoint": "best"}`.

Every tensor of the new model whose block path and shape match one in the
finished run's checkpoint is copied ("2.branches.0.1.weight": block 3.1.2);
the rest keep their initialization. `init_report` says, tensor by tensor,
what matched and why the rest did not, for `layerdeck check` and the
builder; the worker loads the same matches (`load_init_weights`).

The store lookup imports no torch (the runner and the GUI call it).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional

from engine.spec import RunSpec, SpecError

if TYPE_CHECKING:
    from torch import nn

    from engine.store import RunStore

FIELD = "model.init_from"
FINISHED = ("completed", "stopped")  # a stopped run's checkpoints are as usable as a completed one's


@dataclass(frozen=True)
class InitSource:
    """The run whose checkpoint a new run starts from."""

    run_id: int
    name: str
    kind: str  # best | last
    path: str

    @property
    def label(self) -> str:
        return f"run #{self.run_id} {self.name!r} ({self.kind} checkpoint)"


def find_init_source(store: "RunStore", spec: RunSpec) -> Optional[InitSource]:
    """The spec's `model.init_from` run, finished and with its checkpoint on disk;
    None without init_from. SpecError naming model.init_from otherwise."""
    from engine.store import RunNotFoundError

    init = spec.model.init_from
    if init is None:
        return None
    try:
        run = store.get_run(init.run)
    except RunNotFoundError:
        raise SpecError([f"{FIELD}.run: there is no run #{init.run} in this store — pick a finished run "
                         "from the Runs page"]) from None
    label = f"run #{init.run} {run.name!r}"
    if run.status not in FINISHED:
        raise SpecError([f"{FIELD}.run: {label} is {run.status}; weights come from a completed or stopped run"])
    record = store.checkpoint(init.run, init.checkpoint)
    if record is None or not os.path.isfile(record.path):
        gone = f" ({record.path} is gone)" if record is not None else ""
        other = "last" if init.checkpoint == "best" else "best"
        raise SpecError([f"{FIELD}.checkpoint: {label} has no {init.checkpoint} checkpoint{gone} — "
                         f"use checkpoint \"{other}\" or another run"])
    return InitSource(init.run, run.name, init.checkpoint, record.path)


@dataclass(frozen=True)
class TensorMatch:
    key: str  # state_dict name, e.g. "2.branches.0.1.weight"
    block: str  # "block 3.1.2 (Conv2d)"
    shape: tuple[int, ...]
    reason: Optional[str] = None  # None: copied


@dataclass
class InitReport:
    source: InitSource
    matched: list[TensorMatch] = field(default_factory=list)
    unmatched: list[TensorMatch] = field(default_factory=list)  # this model's tensors left as initialized
    unused: list[str] = field(default_factory=list)  # tensors of the source run this model has no place for

    @property
    def copied_values(self) -> int:
        n = 0
        for m in self.matched:
            size = 1
            for d in m.shape:
                size *= d
            n += size
        return n

    def lines(self) -> list[str]:
        """The report as `layerdeck check` prints it."""
        out = [f"weights from {self.source.label}: {len(self.matched)} of "
               f"{len(self.matched) + len(self.unmatched)} tensors copied ({self.copied_values:,} values)"]
        out += [f"  copied   {m.block} {m.key} {_shape(m.shape)}" for m in self.matched]
        out += [f"  not      {m.block} {m.key}: {m.reason}" for m in self.unmatched]
        out += [f"  unused   {key} (only in run #{self.source.run_id})" for key in self.unused]
        return out


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _block_names(blocks: list, model: "nn.Module") -> dict[str, str]:
    """state_dict prefix -> "block 3.1 (Conv2d)" for every block that is not a container."""
    from engine.model_init import walk_blocks

    return {prefix: f"block {num} ({type_})" for num, type_, is_container, _, prefix, _ in walk_blocks(blocks, model)
            if not is_container}


def _block_of(key: str, names: dict[str, str]) -> str:
    best = max((p for p in names if key.startswith(p + ".")), key=len, default=None)
    return names[best] if best is not None else "model"


def match_weights(blocks: list, model: "nn.Module", source_state: dict[str, Any], source: InitSource) -> InitReport:
    """Which of `model`'s tensors the source checkpoint can fill, and why not for the rest."""
    names = _block_names(blocks, model)
    report = InitReport(source)
    own = model.state_dict()
    for key, tensor in own.items():
        shape = tuple(tensor.shape)
        theirs = source_state.get(key)
        block = _block_of(key, names)
        if theirs is None:
            report.unmatched.append(TensorMatch(key, block, shape, f"not in run #{source.run_id} "
                                                "(a block added or moved since)"))
        elif tuple(theirs.shape) != shape:
            report.unmatched.append(TensorMatch(key, block, shape, f"shape {_shape(tuple(theirs.shape))} in run "
                                                f"#{source.run_id}, {_shape(shape)} here"))
        else:
            report.matched.append(TensorMatch(key, block, shape))
    report.unused = [k for k in source_state if k not in own]
    return report


def _source_state(source: InitSource) -> dict[str, Any]:
    from engine.training.checkpoint import load_checkpoint

    return load_checkpoint(source.path, map_location="cpu")["model"]


def load_init_weights(model: "nn.Module", blocks: list, source: InitSource) -> InitReport:
    """Copy every matching tensor of the source run's checkpoint into `model`."""
    import torch

    state = _source_state(source)
    report = match_weights(blocks, model, state, source)
    own = model.state_dict()
    with torch.no_grad():
        for m in report.matched:
            own[m.key].copy_(state[m.key])
    return report


def init_report(spec: RunSpec, source: InitSource, input_shape: tuple[int, ...]) -> InitReport:
    """What `load_init_weights` would copy into this spec's model, without training
    (the model is built on the meta device: no memory for its weights)."""
    import torch

    from engine.model import build_model

    with torch.device("meta"):
        model = build_model(spec.model, input_shape)
    return match_weights(list(spec.model.blocks), model, _source_state(source), source)


def check_init_from(store: "RunStore", spec: RunSpec) -> Optional[InitReport]:
    """The report for the spec's `model.init_from` (None without it); SpecError when
    the run cannot be used. One place for `layerdeck check` and the builder."""
    from engine.data import dataset_info

    source = find_init_source(store, spec)
    if source is None:
        return None
    info = dataset_info(spec.data, spec.seed)
    return init_report(spec, source, tuple(info.input_shape))
