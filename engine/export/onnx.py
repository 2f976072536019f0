"""ONNX export with a dynamic batch axis, checked with onnxruntime at once."""
from __future__ import annotations

import contextlib
import io
import logging
import re
import time
import warnings
from pathlib import Path

from engine.export.check import CHECK_BATCH, EXPORT_BATCH, TOLERANCE, ExportCheck, ExportError, compare
from engine.export.source import ModelSource

MISSING_EXTRA = ("ONNX export needs the export extra (onnx, onnxscript, onnxruntime): "
                 "pip install 'layerdeck[export]'")


def export_onnx(src: ModelSource, out: str | Path) -> ExportCheck:
    """Write `out` and run it in onnxruntime on a batch of CHECK_BATCH;
    raises ExportError when torch cannot export the model."""
    try:
        import onnxruntime as ort
        import onnxscript  # noqa: F401  (torch's exporter needs it; fail early with the extra's name)
    except ImportError:
        raise ExportError(MISSING_EXTRA) from None
    import torch
    from torch.export import Dim

    path = Path(out)
    start = time.perf_counter()
    example = src.sample(EXPORT_BATCH)
    try:
        with _quiet():
            torch.onnx.export(src.model, (example,), str(path), dynamo=True, input_names=["input"],
                              output_names=["output"], dynamic_shapes=({0: Dim("batch", min=1)},),
                              external_data=False)
    except Exception as e:  # the exporter raises many types; each means "this model does not export"
        raise ExportError(f"torch cannot export this model to ONNX: {_first_line(e)}") from e
    probe = src.sample(CHECK_BATCH, seed=1)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        got = session.run(None, {session.get_inputs()[0].name: probe.numpy()})[0]
    except Exception as e:
        raise ExportError(f"onnxruntime cannot run the exported file {path}: {_first_line(e)}") from e
    with torch.inference_mode():
        expected = src.model(probe)
    diff, problem = compare(expected, torch.from_numpy(got), "the ONNX model")
    return ExportCheck("onnx", str(path), src.label, list(src.input_shape), EXPORT_BATCH, CHECK_BATCH,
                       diff, TOLERANCE, time.perf_counter() - start, problem)


@contextlib.contextmanager
def _quiet():
    """The exporter prints its progress and warns about optional packages
    (torchvision); a user sees the check's result instead."""
    log = logging.getLogger("torch.onnx")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        log.setLevel(level)


def _first_line(e: BaseException) -> str:
    """The exception's first line, without the colour codes torch's exporter puts in its messages."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}"[:300]
