"""Checkpoint files: written atomically, read without executing anything.

A checkpoint is a dict of tensors, numbers and strings only, so it loads
with `torch.load(weights_only=True)` (nothing from a
checkpoint is ever executed: a checkpoint may come from anyone). Layout (FORMAT 1):

    format, kind ("best" | "last"), spec (the run spec as JSON text),
    epoch (epochs finished), step (optimizer steps), batch_in_epoch
    (batches of the next epoch already done when a stop came mid-epoch),
    model, optimizer, scheduler, scaler (state dicts), rng (global generator
    states), perm_rng (the batch-order generator at the start of the epoch
    in progress), hooks (state of early stopping / best tracking),
    best ({monitor, value, epoch}).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from engine.training.errors import TrainingError

FORMAT = 1


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write to a temporary file in the same folder, then rename over `path`:
    a crash mid-write leaves the previous checkpoint intact and no partial file.

    No fsync: it guards against power loss, not process crashes, and cost
    3-8 ms per write here (more than the write itself, at every epoch)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save({"format": FORMAT, **state}, fh)
        os.replace(tmp_name, target)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return target


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint with weights_only=True; a clear TrainingError when it
    is missing, damaged or not a LayerDeck checkpoint."""
    p = Path(path)
    if not p.is_file():
        raise TrainingError(f"checkpoint not found: {p} — it may have been deleted with its run")
    try:
        state = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as e:  # unpickling errors come in many types; all mean "unreadable"
        raise TrainingError(f"checkpoint {p} cannot be read ({type(e).__name__}: {e}) — "
                            "it is damaged or was not written by LayerDeck") from e
    if not isinstance(state, dict) or state.get("format") != FORMAT or "model" not in state:
        raise TrainingError(f"checkpoint {p} is not a LayerDeck checkpoint (format {FORMAT})")
    return state


def checkpoint_path(directory: str | Path, kind: str) -> Path:
    return Path(directory) / f"{kind}.pt"
