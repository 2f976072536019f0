"""Python source for a model; from a run, with its weights beside the code and
a short script that loads them and predicts."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from engine.export.check import ExportError
from engine.export.source import ModelSource


@dataclass(frozen=True)
class PythonExport:
    code: Path
    weights: Optional[Path] = None
    example: Optional[Path] = None

    def describe(self) -> str:
        parts = [f"wrote {self.code}"]
        if self.weights is not None:
            parts.append(f"weights {self.weights}")
        if self.example is not None:
            parts.append(f"inference example {self.example} (run: python {self.example.name})")
        return ", ".join(parts)


def export_python_files(src: ModelSource, out: str | Path, class_name: str = "Net") -> PythonExport:
    """`out` (a .py with one nn.Module class); for a run also `<stem>_weights.pt`
    (its state_dict) and `<stem>_example.py`, which loads both and predicts."""
    import torch

    from engine.model import ModelError, export_python

    code = Path(out)
    try:
        source = export_python(src.spec.model, src.input_shape, class_name)
    except ModelError as e:
        raise ExportError(str(e)) from None
    try:
        code.write_text(source, encoding="utf-8")
        if src.run_id is None:
            return PythonExport(code)
        weights = code.with_name(f"{code.stem}_weights.pt")
        torch.save(src.model.state_dict(), weights)
        example = code.with_name(f"{code.stem}_example.py")
        example.write_text(_example(src, code.stem, weights.name, class_name), encoding="utf-8")
    except OSError as e:
        raise ExportError(f"cannot write {e.filename or code} ({e.strerror or e})") from None
    return PythonExport(code, weights, example)


def _example(src: ModelSource, module: str, weights: str, class_name: str) -> str:
    dims = ", ".join(str(d) for d in (4, *src.input_shape))
    blocks = src.spec.model.blocks
    if blocks and blocks[0].type == "Embedding":
        make = f"torch.randint(0, {blocks[0].params.get('num_embeddings', 2)}, ({dims}))"
    elif blocks and blocks[0].type == "PretrainedTextClassifier":  # ids of that model's vocabulary
        from engine.hf_folder import vocab_size

        make = f"torch.randint(0, {vocab_size(str(blocks[0].params.get('path', '')))}, ({dims}))"
    else:
        make = f"torch.randn({dims})"
    normalize = src.spec.data.normalize
    note = ("" if normalize == "none" else
            f"# The model was trained on inputs scaled with data.normalize = {normalize!r}\n"
            f"# (statistics of its training split); scale new inputs the same way.\n")
    return (
        f'"""Load {src.label} and predict: python {module}_example.py"""\n'
        "import importlib.util\n"
        "from pathlib import Path\n\n"
        "import torch\n\n"
        "HERE = Path(__file__).resolve().parent\n"
        f'spec = importlib.util.spec_from_file_location("{module}", HERE / "{module}.py")\n'
        "code = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(code)\n\n"
        f"model = code.{class_name}()\n"
        f'model.load_state_dict(torch.load(HERE / "{weights}", weights_only=True))\n'
        "model.eval()\n\n"
        f"{note}"
        f"x = {make}  # a batch of {len(src.input_shape) and 'x'.join(map(str, src.input_shape))} inputs\n"
        "with torch.inference_mode():\n"
        "    scores = model(x)\n"
        "print(scores.argmax(dim=1) if scores.ndim == 2 and scores.shape[1] > 1 else scores)\n"
    )
