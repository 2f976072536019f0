"""torch.export programs (.pt2): saved, loaded back and checked at once."""
from __future__ import annotations

import time
import warnings
from pathlib import Path

from engine.export.check import CHECK_BATCH, EXPORT_BATCH, TOLERANCE, ExportCheck, ExportError, compare
from engine.export.onnx import _first_line
from engine.export.source import ModelSource


def export_program(src: ModelSource, out: str | Path) -> ExportCheck:
    """Write `out` with torch.export.save, reload it with torch.export.load
    and run it on a batch of CHECK_BATCH against the model."""
    import torch
    from torch.export import Dim

    path = Path(out)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.export.export(src.model, (src.sample(EXPORT_BATCH),),
                                          dynamic_shapes=({0: Dim("batch", min=1)},))
        torch.export.save(program, str(path))
    except Exception as e:
        raise ExportError(f"torch.export cannot export this model: {_first_line(e)}") from e
    probe = src.sample(CHECK_BATCH, seed=1)
    try:
        loaded = torch.export.load(str(path))
        with torch.inference_mode():
            got = loaded.module()(probe)
    except Exception as e:
        raise ExportError(f"the saved program {path} does not load and run: {_first_line(e)}") from e
    with torch.inference_mode():
        expected = src.model(probe)
    diff, problem = compare(expected, got, "the reloaded program")
    return ExportCheck("pt2", str(path), src.label, list(src.input_shape), EXPORT_BATCH, CHECK_BATCH,
                       diff, TOLERANCE, time.perf_counter() - start, problem)
