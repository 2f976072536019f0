"""The run spec: one JSON document that fully describes a run.

The GUI edits it, `layerdeck train SPEC.json` runs it, the store keeps it
verbatim. Every error names its JSON path (`model.blocks[3].kernel_size:
must be > 0`) and all errors are reported at once.

Blocks are checked against the catalogue in engine.blocks after pydantic has
checked the structure, so one pass of `parse_spec` reports both kinds.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine.spec_augment import AUGMENTS, AugmentSpec

SEED_MAX = 2**32 - 1  # numpy and scikit-learn refuse seeds outside 0 .. 2**32 - 1


class SpecError(ValueError):
    """A spec that cannot be used; `errors` holds one "path: message" per problem."""

    def __init__(self, errors: list[str], source: str | None = None):
        self.errors = list(errors)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(head + "; ".join(self.errors))


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --- data ---------------------------------------------------------------------

class DataSpec(_Strict):
    name: str = Field(
        default="digits",
        description="Dataset name from the registry (digits, iris, mnist1d, csv, npz, image_folder, ...).")
    path: Optional[str] = Field(
        default=None, description="File or folder for csv / npz / image_folder datasets, stored as given.")
    target: Optional[str] = Field(default=None, description="CSV: the column to predict.")
    val_fraction: float = Field(
        default=0.2, ge=0.0, lt=1.0,
        description="Share of the training data held out for validation (0 = no validation).")
    test_fraction: float = Field(
        default=0.0, ge=0.0, lt=1.0,
        description="Share held out for the final test (ignored when the dataset has its own test split).")
    normalize: Literal["none", "standard", "minmax"] = Field(
        default="standard", description="Feature scaling, fitted on the training split only.")
    image_size: Optional[int] = Field(
        default=None, gt=0, description="Image folder: resize images to this many pixels per side.")
    options: dict[str, Union[int, float, str, bool]] = Field(
        default_factory=dict, description="Dataset-specific options (n_samples, noise, ...).")
    augment: list[AugmentSpec] = Field(
        default_factory=list, description="Training-time transforms, in order (engine/spec_augment.py); "
                                          "seeded, applied to the training split only.")

    @field_validator("test_fraction")
    @classmethod
    def _fractions_leave_training_data(cls, v: float, info) -> float:
        val = info.data.get("val_fraction", 0.0) or 0.0
        if v + val >= 1.0:
            raise ValueError(f"val_fraction + test_fraction must be < 1 (got {val} + {v})")
        return v


# --- model --------------------------------------------------------------------

class BlockSpec(BaseModel):
    """One block: `type` is the torch.nn class name, the rest are its arguments.

    Parameters are kept as extra fields and checked against the catalogue by
    `parse_spec`; containers (Residual) hold child `blocks`.
    """

    model_config = ConfigDict(extra="allow")

    type: str
    blocks: Optional[list["BlockSpec"]] = None

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, **self.params}
        if self.blocks is not None:
            out["blocks"] = [b.to_dict() for b in self.blocks]
        return out


class InitFromSpec(_Strict):
    """Start from an earlier run's weights (engine/init_from.py)."""

    run: int = Field(ge=1, description="The finished run whose checkpoint gives the starting weights.")
    checkpoint: Literal["best", "last"] = Field(default="best", description="Which of its checkpoints.")


class ModelSpec(_Strict):
    blocks: list[BlockSpec] = Field(default_factory=list)
    init_from: Optional[InitFromSpec] = Field(
        default=None, description="Copy every weight whose block path and shape match from a finished run.")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"blocks": [b.to_dict() for b in self.blocks]}
        if self.init_from is not None:
            out["init_from"] = self.init_from.model_dump(mode="json")
        return out


# --- optimizers ----------------------------------------------------------------

class _Optim(_Strict):
    lr: float = Field(default=1e-3, gt=0, description="Learning rate.")
    weight_decay: float = Field(default=0.0, ge=0, description="L2 penalty (decoupled for AdamW).")


class SGDSpec(_Optim):
    type: Literal["SGD"] = "SGD"
    lr: float = Field(default=0.01, gt=0, description="Learning rate.")
    momentum: float = Field(default=0.0, ge=0, lt=1, description="Momentum factor (0.9 is a common choice).")
    nesterov: bool = Field(default=False, description="Nesterov momentum (needs momentum > 0).")
    dampening: float = Field(default=0.0, ge=0, lt=1, description="Dampening for momentum.")


class AdamSpec(_Optim):
    type: Literal["Adam"] = "Adam"
    beta1: float = Field(default=0.9, ge=0, lt=1, description="Decay of the running mean of gradients.")
    beta2: float = Field(default=0.999, ge=0, lt=1, description="Decay of the running mean of squared gradients.")
    eps: float = Field(default=1e-8, gt=0, description="Term added to the denominator for stability.")
    amsgrad: bool = Field(default=False, description="Use the AMSGrad variant.")


class AdamWSpec(AdamSpec):
    type: Literal["AdamW"] = "AdamW"  # type: ignore[assignment]
    weight_decay: float = Field(default=0.01, ge=0, description="Decoupled weight decay.")


class RMSpropSpec(_Optim):
    type: Literal["RMSprop"] = "RMSprop"
    alpha: float = Field(default=0.99, ge=0, lt=1, description="Smoothing constant.")
    eps: float = Field(default=1e-8, gt=0, description="Term added to the denominator for stability.")
    momentum: float = Field(default=0.0, ge=0, lt=1, description="Momentum factor.")
    centered: bool = Field(default=False, description="Normalize by the estimated variance of the gradient.")


class AdagradSpec(_Optim):
    type: Literal["Adagrad"] = "Adagrad"
    lr: float = Field(default=0.01, gt=0, description="Learning rate.")
    lr_decay: float = Field(default=0.0, ge=0, description="Learning-rate decay.")
    eps: float = Field(default=1e-10, gt=0, description="Term added to the denominator for stability.")


OptimizerSpec = Annotated[
    Union[SGDSpec, AdamSpec, AdamWSpec, RMSpropSpec, AdagradSpec], Field(discriminator="type")
]
OPTIMIZERS: dict[str, type[_Optim]] = {
    m.model_fields["type"].default: m for m in (SGDSpec, AdamSpec, AdamWSpec, RMSpropSpec, AdagradSpec)
}


# --- schedulers ----------------------------------------------------------------

class _Sched(_Strict):
    warmup_epochs: int = Field(
        default=0, ge=0, description="Epochs of linear warm-up from lr/10 before this schedule starts.")


class NoSchedulerSpec(_Sched):
    type: Literal["none"] = "none"


class StepLRSpec(_Sched):
    type: Literal["StepLR"] = "StepLR"
    step_size: int = Field(default=10, gt=0, description="Epochs between learning-rate drops.")
    gamma: float = Field(default=0.1, gt=0, le=1, description="Factor applied at each drop.")


class MultiStepLRSpec(_Sched):
    type: Literal["MultiStepLR"] = "MultiStepLR"
    milestones: list[int] = Field(
        default_factory=lambda: [30, 60], description="Epochs at which the learning rate drops.")
    gamma: float = Field(default=0.1, gt=0, le=1, description="Factor applied at each milestone.")


class ExponentialLRSpec(_Sched):
    type: Literal["ExponentialLR"] = "ExponentialLR"
    gamma: float = Field(default=0.95, gt=0, le=1, description="Factor applied every epoch.")


class CosineAnnealingLRSpec(_Sched):
    type: Literal["CosineAnnealingLR"] = "CosineAnnealingLR"
    T_max: Optional[int] = Field(
        default=None, gt=0, description="Epochs of one cosine half-period (default: all epochs after warm-up).")
    eta_min: float = Field(default=0.0, ge=0, description="Lowest learning rate.")


class OneCycleLRSpec(_Sched):
    type: Literal["OneCycleLR"] = "OneCycleLR"
    max_lr: Optional[float] = Field(
        default=None, gt=0, description="Peak learning rate (default: 10 × the optimizer's lr).")
    pct_start: float = Field(
        default=0.3, gt=0, lt=1, description="Share of the cycle spent increasing the learning rate.")
    anneal_strategy: Literal["cos", "linear"] = Field(
        default="cos", description="How the learning rate falls after the peak.")


class ReduceLROnPlateauSpec(_Sched):
    type: Literal["ReduceLROnPlateau"] = "ReduceLROnPlateau"
    monitor: str = Field(default="val/loss", description="Metric watched for a plateau.")
    mode: Literal["min", "max"] = Field(default="min", description="Whether the monitored metric should go down or up.")
    factor: float = Field(default=0.1, gt=0, lt=1, description="Factor applied when the metric stops improving.")
    patience: int = Field(default=10, ge=0, description="Epochs without improvement before the drop.")
    min_lr: float = Field(default=0.0, ge=0, description="Lower bound on the learning rate.")


SchedulerSpec = Annotated[
    Union[NoSchedulerSpec, StepLRSpec, MultiStepLRSpec, ExponentialLRSpec,
          CosineAnnealingLRSpec, OneCycleLRSpec, ReduceLROnPlateauSpec],
    Field(discriminator="type"),
]
SCHEDULERS: dict[str, type[_Sched]] = {
    m.model_fields["type"].default: m
    for m in (NoSchedulerSpec, StepLRSpec, MultiStepLRSpec, ExponentialLRSpec,
              CosineAnnealingLRSpec, OneCycleLRSpec, ReduceLROnPlateauSpec)
}


# --- regularization and training -------------------------------------------------

class EarlyStoppingSpec(_Strict):
    monitor: str = Field(default="val/loss", description="Metric watched for improvement.")
    patience: int = Field(default=5, ge=1, description="Epochs without improvement before training stops.")
    min_delta: float = Field(default=0.0, ge=0, description="Smallest change that counts as an improvement.")
    mode: Literal["auto", "min", "max"] = Field(default="auto", description="auto: max for accuracy/r2, min otherwise.")


class RegularizationSpec(_Strict):
    l1: float = Field(default=0.0, ge=0, description="L1 penalty on all weights, added to the loss.")
    label_smoothing: float = Field(
        default=0.0, ge=0, lt=1, description="Cross-entropy label smoothing (classification only).")
    grad_clip_norm: Optional[float] = Field(
        default=None, gt=0, description="Clip the gradient norm to this value (empty = no clipping).")
    early_stopping: Optional[EarlyStoppingSpec] = Field(default=None, description="Stop when a metric stops improving.")


LossName = Literal["cross_entropy", "mse", "l1", "huber", "bce_with_logits"]


class DistributedSpec(_Strict):
    """Data-parallel training in several processes on this machine (torchrun)."""

    nproc: int = Field(default=2, ge=1, le=64, description="Processes training together; each takes "
                       "batch_size / nproc samples of every batch (one per GPU with nccl).")
    backend: Literal["gloo", "nccl"] = Field(
        default="gloo", description="gloo works on the CPU and on GPUs; nccl is faster between CUDA GPUs.")


class DistillSpec(_Strict):
    """Knowledge distillation: learn from a finished run's predictions as well as the labels."""

    teacher_run: int = Field(ge=1, description="The finished run whose best checkpoint teaches this one "
                             "(same dataset, input shape and classes).")
    temperature: float = Field(default=4.0, gt=0, le=100, description="Softens both models' predictions "
                               "before they are compared; higher shows more of the teacher's runner-up classes.")
    alpha: float = Field(default=0.7, ge=0, le=1, description="Weight of the teacher's soft targets; "
                         "1 - alpha weighs the labels' cross-entropy.")


class TrainingSpec(_Strict):
    epochs: int = Field(default=10, ge=1, le=100_000, description="Passes over the training data.")
    batch_size: int = Field(default=64, ge=1, le=1_000_000, description="Samples per optimizer step.")
    device: str = Field(default="auto", description="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
    precision: Literal["fp32", "bf16", "fp16"] = Field(
        default="fp32", description="fp16 uses a GradScaler; bf16 and fp16 need a GPU to be fast.")
    loss: Optional[LossName] = Field(
        default=None, description="Loss function (default: cross-entropy for classification, MSE for regression).")
    log_every_n_steps: int = Field(
        default=20, ge=1, description="Steps between per-step metric points (train/loss_step).")
    compile: bool = Field(default=False, description="torch.compile the model (slower start, faster steps on GPU).")
    channels_last: bool = Field(default=False, description="Channels-last memory format for conv nets on images: "
                                "often faster on the CPU (oneDNN) and with fp16/bf16 on a GPU, "
                                "sometimes slower; compare runs' throughput.")
    distributed: Optional[DistributedSpec] = Field(
        default=None, description="Train in several processes at once (data parallel); empty = one process. "
                                  "batch_size stays the global batch.")
    distill: Optional[DistillSpec] = Field(
        default=None, description="Knowledge distillation from a finished run (the teacher); empty = none.")

    @field_validator("device")
    @classmethod
    def _known_device(cls, v: str) -> str:
        if v in ("auto", "cpu", "cuda", "mps"):
            return v
        if v.startswith("cuda:") and v[5:].isdigit():
            return v
        raise ValueError("must be auto, cpu, cuda, cuda:N or mps")

    @field_validator("distributed")
    @classmethod
    def _distributed_fits(cls, v: Optional[DistributedSpec], info) -> Optional[DistributedSpec]:
        # Fields are checked in order: device and batch_size are known here (unless invalid).
        if v is None:
            return v
        device, batch = info.data.get("device"), info.data.get("batch_size")
        if v.backend == "nccl" and device in ("cpu", "mps"):
            raise ValueError(f"backend nccl needs a CUDA device (training.device is {device}); use gloo")
        if batch is not None and batch < v.nproc:
            raise ValueError(f"nproc {v.nproc} is more than training.batch_size {batch}: "
                             "every process needs a share of each batch")
        return v


class RunSpec(_Strict):
    name: str = Field(default="run", min_length=1, max_length=200, description="A name for the run in the history.")
    seed: int = Field(default=0, ge=0, le=SEED_MAX, description="Seed for data splits, initialization and shuffling.")
    data: DataSpec = Field(default_factory=DataSpec)
    model: ModelSpec = Field(default_factory=ModelSpec)
    optimizer: OptimizerSpec = Field(default_factory=AdamWSpec)
    scheduler: SchedulerSpec = Field(default_factory=NoSchedulerSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    @field_validator("seed", mode="before")
    @classmethod
    def _seed_in_range(cls, v: Any) -> Any:
        # Before pydantic's own bound checks, so the message gives the whole range.
        if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v <= SEED_MAX:
            raise ValueError(f"must be between 0 and {SEED_MAX} (got {v})")
        return v

    def to_dict(self) -> dict[str, Any]:
        out = self.model_dump(mode="json", exclude={"model"})
        out["model"] = self.model.to_dict()
        order = ["name", "seed", "data", "model", "optimizer", "scheduler", "regularization", "training"]
        return {k: out[k] for k in order}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    def copy_with(self, **changes: Any) -> "RunSpec":
        """A new spec with top-level sections replaced (validated again)."""
        d = self.to_dict()
        d.update({k: (v.model_dump(mode="json") if isinstance(v, BaseModel) and k != "model" else v)
                  for k, v in changes.items()})
        if isinstance(changes.get("model"), ModelSpec):
            d["model"] = changes["model"].to_dict()
        return parse_spec(d)


# --- parsing --------------------------------------------------------------------

def format_loc(loc: tuple[Any, ...]) -> str:
    """('model', 'blocks', 3, 'kernel_size') -> 'model.blocks[3].kernel_size'."""
    from engine.blocks.base import key_step

    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += key_step(str(part))
    out = out[1:] if out.startswith(".") else out
    return out or "(spec)"


def _closest_field(loc: tuple[Any, ...], key: str) -> str | None:
    """The known key nearest to a misspelt one at `loc` ("trainng" -> "training")."""
    import difflib

    unions: dict[str, Mapping[str, type[_Strict]]] = {"optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}
    cls: Any = RunSpec
    for i, part in enumerate(loc):
        if part in unions:  # a discriminated union: the next part of the location is its tag
            continue
        if i and loc[i - 1] in unions:
            cls = unions[loc[i - 1]].get(part)
            if cls is None:
                return None
            continue
        field = cls.model_fields.get(part) if isinstance(part, str) else None
        ann = getattr(field, "annotation", None)
        args = [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and issubclass(a, BaseModel)]
        ann = args[0] if len(args) == 1 else ann
        if not (isinstance(ann, type) and issubclass(ann, BaseModel)):
            return None
        cls = ann
    hits = difflib.get_close_matches(key, list(cls.model_fields), n=1, cutoff=0.6)
    return hits[0] if hits else None


def _pydantic_messages(err: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    msgs: list[tuple[tuple[Any, ...], str]] = []
    for e in err.errors():
        # Discriminated unions put the tag in the location ("optimizer.SGD.lr"); drop it.
        loc = tuple(p for p in e["loc"]
                    if not (isinstance(p, str) and (p in OPTIMIZERS or p in SCHEDULERS or p in AUGMENTS)))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            near = _closest_field(tuple(e["loc"][:-1]), str(loc[-1])) if loc else None
            msg = f"unknown key; did you mean {near}?" if near else "unknown key (remove it or check its spelling)"
        elif e["type"] == "union_tag_invalid":
            import difflib

            ctx = e.get("ctx", {})
            known = list(OPTIMIZERS if loc and loc[0] == "optimizer"
                         else AUGMENTS if loc[:2] == ("data", "augment") else SCHEDULERS)
            tag = str(ctx.get("tag"))
            similar = ([k for k in known if k.lower() == tag.lower()]
                       or [k for k in known if len(tag) > 3 and tag.lower() in k.lower()]  # "cosine"
                       or difflib.get_close_matches(tag, known, n=1, cutoff=0.7))
            msg = f"unknown type {ctx.get('tag')!r}; " + (
                f"did you mean {similar[0]}?" if similar else f"expected one of {ctx.get('expected_tags', '')}")
        elif e["type"] == "union_tag_not_found":
            msg = "needs a 'type'"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
        msg = (msg.replace("Input should be greater than or equal to", "must be >=")
                  .replace("Input should be greater than", "must be >")
                  .replace("Input should be less than or equal to", "must be <=")
                  .replace("Input should be less than", "must be <")
                  .replace("Input should be", "must be"))
        msgs.append((loc, f"{format_loc(loc)}: {msg}"))
    return msgs


def parse_spec(data: Any, source: str | None = None) -> RunSpec:
    """Validate a spec dict; raise SpecError listing every problem with its path."""
    from engine import blocks  # the catalogue is data; it imports torch lazily

    if not isinstance(data, dict):
        raise SpecError(["(spec): must be a JSON object"], source)
    found: list[tuple[tuple[Any, ...], str]] = []
    spec: RunSpec | None = None
    try:
        spec = RunSpec.model_validate(data)
    except ValidationError as e:
        found.extend(_pydantic_messages(e))
    raw_blocks = (data.get("model") or {}).get("blocks") if isinstance(data.get("model"), dict) else None
    if isinstance(raw_blocks, list):
        # The catalogue checks each block (type, parameters, children) with better words than
        # pydantic's generic ones, so pydantic's messages inside a block are dropped.
        found = [(loc, m) for loc, m in found if not (loc[:2] == ("model", "blocks") and len(loc) > 2)]
        found.extend((("model", "blocks"), m) for m in blocks.check_blocks(raw_blocks, "model.blocks"))
    if found:
        # In document order: by top-level key as written, then as found.
        order = {k: i for i, k in enumerate(data)}
        found.sort(key=lambda f: order.get(f[0][0], len(order)) if f[0] else -1)
        raise SpecError(list(dict.fromkeys(m for _, m in found)), source)
    assert spec is not None
    return spec


def load_spec(path: str | Path) -> RunSpec:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([f"file not found: {p}"], str(p)) from None
    except OSError as e:
        raise SpecError([f"cannot read {p}: {e.strerror}"], str(p)) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError([f"line {e.lineno} column {e.colno}: invalid JSON ({e.msg})"], str(p)) from None
    return parse_spec(data, str(p))


def save_spec(spec: RunSpec, path: str | Path) -> None:
    """Write atomically so a crash never leaves half a spec on disk."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(spec.to_json() + "\n", encoding="utf-8")
    tmp.replace(p)
