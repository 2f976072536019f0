"""The model an export starts from: a spec's initial weights or a run's best."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

from engine.export.check import ExportError
from engine.spec import RunSpec, SpecError, parse_spec

if TYPE_CHECKING:
    import torch

    from engine.store import RunStore


@dataclass
class ModelSource:
    spec: RunSpec
    model: "torch.nn.Module"  # on the CPU, in eval mode
    input_shape: tuple[int, ...]
    label: str  # "run 12 (best weights)"
    run_id: Optional[int] = None
    checkpoint: Optional[str] = None

    def sample(self, batch: int, seed: int = 0) -> "torch.Tensor":
        """A batch the model accepts: token ids for a first Embedding block, else floats."""
        import torch

        g = torch.Generator().manual_seed(seed)
        blocks = self.spec.model.blocks
        if blocks and blocks[0].type == "Embedding":
            high = int(blocks[0].params.get("num_embeddings", 2))
            return torch.randint(0, high, (batch, *self.input_shape), generator=g)
        if blocks and blocks[0].type == "PretrainedTextClassifier":  # token ids of that model's vocabulary
            from engine.hf_folder import vocab_size

            high = vocab_size(str(blocks[0].params.get("path", "")))
            return torch.randint(0, high, (batch, *self.input_shape), generator=g)
        return torch.randn((batch, *self.input_shape), generator=g)


def _input_shape(spec: RunSpec) -> tuple[int, ...]:
    from engine.data import DataError, dataset_info

    try:
        return tuple(dataset_info(spec.data, spec.seed).input_shape)
    except DataError as e:
        raise ExportError(f"cannot read the input shape from the spec's dataset: {e}") from None


def _build(spec: RunSpec, input_shape: tuple[int, ...]) -> "torch.nn.Module":
    from engine.model import ModelError, build_model
    from engine.training.device import seed_everything

    if not spec.model.blocks:
        raise ExportError("the model has no blocks; add blocks before exporting it")
    seed_everything(spec.seed)  # the initial weights a run of this spec starts from
    try:
        return build_model(spec.model, input_shape)
    except ModelError as e:
        raise ExportError(str(e)) from None


def from_spec(spec: RunSpec) -> ModelSource:
    shape = _input_shape(spec)
    return ModelSource(spec, _build(spec, shape).eval(), shape, f"spec {spec.name} (initial weights)")


def from_run(store: "RunStore", run_id: int) -> ModelSource:
    """The run's best checkpoint (its last when it has no best) in its own model."""
    from engine.training.checkpoint import load_checkpoint
    from engine.training.errors import TrainingError

    run = store.get_run(run_id)
    try:
        spec = parse_spec(run.spec, f"run {run_id}")
    except SpecError as e:
        raise ExportError(f"run {run_id}'s spec no longer validates: {'; '.join(e.errors)}") from None
    record = store.checkpoint(run_id, "best", "last")
    if record is None:
        raise ExportError(f"run {run_id} ({run.status}) has no checkpoint to export; export its spec for "
                          "initial weights, or train it first")
    shape = _input_shape(spec)
    model = _build(spec, shape)
    try:
        state = load_checkpoint(record.path)
        model.load_state_dict(state["model"])
    except TrainingError as e:
        raise ExportError(str(e)) from None
    except RuntimeError as e:
        raise ExportError(f"checkpoint {record.path} does not fit run {run_id}'s model: "
                          f"{str(e).splitlines()[0]}") from None
    return ModelSource(spec, model.eval(), shape, f"run {run_id} ({record.kind} weights)", run_id, record.path)
