"""Per-block weight initialization and freezing on a built model.

A block may carry `init` (kaiming_normal, kaiming_uniform, xavier_normal,
xavier_uniform, orthogonal, zeros, default) and `trainable: false`; on a
container both apply to every block inside (a child's own `init` wins).
`walk_blocks` pairs each block of the spec with the module it was
built into, so these options, the weights copied from an earlier run
(engine.init_from) and the summary all speak of the same blocks.

Initialization draws from a generator seeded by the run's seed and the
block's position, so it does not depend on what else used the global RNG.
"""
from __future__ import annotations

from typing import Any, Iterator

import torch
from torch import nn

from engine.model_summary import block_parts

INITS = ("default", "kaiming_normal", "kaiming_uniform", "xavier_normal", "xavier_uniform", "orthogonal", "zeros")
# Modules whose running statistics a frozen block keeps as loaded.
_NORMS = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm)


def child_modules(type_: str, module: nn.Module) -> list[nn.Module]:
    """The modules a container's children were built into, in spec order."""
    if type_ == "Residual":
        return list(module.blocks)  # type: ignore[arg-type]
    if type_ == "Branch":
        return list(module.branches)  # type: ignore[arg-type]
    return list(module)  # type: ignore[call-overload]  # Sequential


Walked = tuple[str, str, bool, nn.Module, str, dict[str, Any]]


def _walk(blocks: list, modules: list[nn.Module], number: str, prefix: str,
          inherited: dict[str, Any]) -> Iterator[Walked]:
    for i, (block, module) in enumerate(zip(blocks, modules)):
        type_, params, children = block_parts(block)
        num, name = f"{number}{i + 1}", f"{prefix}{i}"
        own: dict[str, Any] = {k: params[k] for k in ("init", "trainable") if k in params}
        options = {**inherited, **own}
        if inherited.get("trainable") is False:
            options["trainable"] = False  # nothing inside a frozen container trains
        yield num, type_, children is not None, module, name, options
        if children is not None:
            inner_prefix = {"Residual": f"{name}.blocks.", "Branch": f"{name}.branches."}.get(type_, f"{name}.")
            yield from _walk(children, child_modules(type_, module), f"{num}.", inner_prefix, options)


def walk_blocks(blocks: list, model: nn.Module) -> Iterator[Walked]:
    """(number, type, is a container, module, state_dict prefix, options in force) for every block,
    depth first; `model` is build_model's nn.Sequential for `blocks`. Options: `init` and
    `trainable` as set on the block or inherited from its containers."""
    return _walk(list(blocks), list(model.children()), "", "", {})


def _init_tensor(name: str, p: torch.Tensor, how: str, gen: torch.Generator) -> None:
    if how == "zeros":
        nn.init.zeros_(p)
        return
    if p.dim() < 2:  # biases start at zero; norm scales keep their ones
        if name.split(".")[-1].startswith("bias"):
            nn.init.zeros_(p)
        return
    if how == "kaiming_normal":
        nn.init.kaiming_normal_(p, nonlinearity="relu", generator=gen)
    elif how == "kaiming_uniform":
        nn.init.kaiming_uniform_(p, nonlinearity="relu", generator=gen)
    elif how == "xavier_normal":
        nn.init.xavier_normal_(p, generator=gen)
    elif how == "xavier_uniform":
        nn.init.xavier_uniform_(p, generator=gen)
    elif how == "orthogonal":
        nn.init.orthogonal_(p, generator=gen)


def _keep_statistics(module: nn.Module, args: Any) -> None:
    module.train(False)  # a frozen block's BatchNorm normalizes with, and keeps, its running statistics


def apply_block_options(model: nn.Module, blocks: list, seed: int) -> dict[str, int]:
    """Initialize and freeze blocks as their `init` / `trainable` say. Returns
    {"frozen": parameters frozen, "initialized": blocks re-initialized}."""
    frozen = initialized = 0
    for index, (_, _, is_container, module, _, opts) in enumerate(walk_blocks(blocks, model)):
        how = opts.get("init", "default")
        if how != "default" and not is_container:
            gen = torch.Generator(device="cpu").manual_seed(seed * 7919 + index)
            with torch.no_grad():
                for pname, p in module.named_parameters():
                    if p.device.type == "cpu":
                        _init_tensor(pname, p, how, gen)
                    else:  # draw on the CPU so a run's weights are the same on any device
                        t = torch.empty_like(p, device="cpu")
                        t.copy_(p.detach().cpu())
                        _init_tensor(pname, t, how, gen)
                        p.copy_(t)
            initialized += 1
        if opts.get("trainable", True) is False and not is_container:
            for p in module.parameters():
                if p.requires_grad:
                    p.requires_grad_(False)
                    frozen += p.numel()
            for m in module.modules():
                if isinstance(m, _NORMS) and m.track_running_stats:
                    m.register_forward_pre_hook(_keep_statistics)
    return {"frozen": frozen, "initialized": initialized}


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """What the optimizer gets: every parameter not frozen by `trainable: false`."""
    return [p for p in model.parameters() if p.requires_grad]


def prepare_weights(model: nn.Module, spec: Any, source: Any = None) -> list[str]:
    """A training run's model made ready: `init`, then `model.init_from`'s weights
    (engine.init_from.InitSource), then `trainable: false`. Returns warnings in
    words (tensors the earlier run could not fill); raises ValueError when
    nothing is left to train."""
    blocks = list(spec.model.blocks)
    warnings: list[str] = []
    apply_block_options(model, blocks, spec.seed)
    if source is not None:
        from engine.init_from import load_init_weights

        report = load_init_weights(model, blocks, source)
        if report.unmatched:
            missed = ", ".join(sorted({m.block for m in report.unmatched}))
            warnings.append(f"model.init_from: {len(report.matched)} of {len(report.matched) + len(report.unmatched)} "
                            f"tensors copied from {source.label}; kept as initialized: {missed} "
                            "(`layerdeck check` lists why)")
    if not trainable_parameters(model):
        raise ValueError("every block is frozen (trainable: false), so there is nothing to train — "
                         "set trainable back on at least one block")
    return warnings
