"""Everything a run needs before its first step, built from the spec.

All user errors surface here, before any training, as TrainingError with
words naming the setting and the fix: an unusable device, a dataset or
model that cannot be built, a model whose output does not fit the data,
a monitored metric the run will not have.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import torch

from engine.model_init import prepare_weights, trainable_parameters
from engine.spec import RunSpec
from engine.training import device as dev
from engine.training.checkpoint import load_checkpoint
from engine.training.errors import TrainingError
from engine.training.feeds import Feed, as_tensors, batches_per_epoch
from engine.training.losses import (
    CLASSIFICATION_LOSSES,
    Objective,
    check_outputs,
    l1_penalty,
    make_objective,
    penalized_weights,
    resolve_loss_name,
)
from engine.training.optim import LRSchedule, build_optimizer, resume_state

if TYPE_CHECKING:
    from engine.data import Dataset
    from engine.data.augment import Augmenter
    from engine.init_from import InitSource
    from engine.training.distill import Distiller
    from engine.training.distributed import Group
    from engine.training.teacher import TeacherRef


@dataclass
class Prepared:
    spec: RunSpec
    device: torch.device
    dataset: str
    task: str
    model: torch.nn.Module  # the module whose state is saved
    step_model: torch.nn.Module  # what the loop calls: `model`, or its torch.compile wrapper
    objective: Objective
    optimizer: torch.optim.Optimizer
    schedule: LRSchedule
    scaler: torch.amp.GradScaler
    train: Feed
    val: Optional[Feed]
    test: Optional[Feed]
    generator: torch.Generator
    steps_per_epoch: int
    num_targets: int
    l1_weights: list[torch.nn.Parameter]
    epoch_keys: list[str]  # per-epoch metric keys a monitor may name
    warnings: list[str] = field(default_factory=list)
    resume: Optional[dict[str, Any]] = None  # the checkpoint dict when resuming
    group: Optional[Group] = None  # the process group of a data-parallel run
    distiller: Optional[Distiller] = None  # the objective of a distilled run (training.distill)
    augment: Optional[Augmenter] = None  # data.augment, applied to training batches only
    tokenizer: Optional[str] = None  # text datasets: the fitted tokenizer (JSON), saved with the run


def optimizer_step(p: Prepared, loss: torch.Tensor) -> None:
    """Backward and one optimizer step from a batch's loss: the L1 penalty, the
    gradient scaler (fp16), gradient clipping. The training loop and the LR
    finder's probes step the same way."""
    reg = p.spec.regularization
    total = (loss + reg.l1 * l1_penalty(p.l1_weights)) if p.l1_weights else loss
    p.optimizer.zero_grad(set_to_none=True)
    if p.scaler.is_enabled():
        p.scaler.scale(total).backward()
        if reg.grad_clip_norm:
            p.scaler.unscale_(p.optimizer)
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), reg.grad_clip_norm)
        p.scaler.step(p.optimizer)
        p.scaler.update()
    else:
        total.backward()
        if reg.grad_clip_norm:
            torch.nn.utils.clip_grad_norm_(p.model.parameters(), reg.grad_clip_norm)
        p.optimizer.step()


def _load_data(spec: RunSpec) -> Dataset:
    """engine.data.load_dataset, with its errors as TrainingError (a seam tests can replace)."""
    from engine.data import DataError, load_dataset
    from engine.data.text import data_for_model
    try:
        return load_dataset(data_for_model(spec.data, spec.model.blocks), spec.seed)
    except DataError as e:
        raise TrainingError(str(e)) from e


def _build_model(spec: RunSpec, input_shape: tuple[int, ...]) -> torch.nn.Module:
    """engine.model.build_model, with its errors as TrainingError (a seam tests can replace)."""
    from engine.model import ModelError, build_model
    if not spec.model.blocks:
        raise TrainingError("model.blocks is empty — add blocks to the model (end with a Linear layer)")
    try:
        return build_model(spec.model, input_shape)
    except ModelError as e:
        raise TrainingError(str(e)) from e


def epoch_metric_keys(task: str, has_val: bool) -> list[str]:
    keys = ["train/loss"] + (["train/accuracy"] if task == "classification" else [])
    if has_val:
        keys += ["val/loss", "val/accuracy"] if task == "classification" else ["val/loss", "val/mae", "val/r2"]
    return keys


def check_monitor(monitor: str, keys: list[str], setting: str, has_val: bool) -> None:
    if monitor.startswith("val/") and not has_val:
        raise TrainingError(f"{setting} monitors {monitor} but data.val_fraction is 0 — "
                            "set a validation fraction or monitor train/loss")
    if monitor not in keys:
        raise TrainingError(f"{setting} monitors {monitor}, which this run does not measure — "
                            f"use one of {', '.join(keys)}")


def prepare(spec: RunSpec, device_name: str, resume_from: str | Path | None,
            group: Optional[Group] = None, teacher: Optional[TeacherRef] = None,
            init_source: Optional[InitSource] = None) -> Prepared:
    device = dev.resolve_device(device_name)
    if group is not None:
        device = group.place(device)
    dev.configure_backends(device)
    tr = spec.training
    warnings = [w for w in [dev.check_precision(device, tr.precision)] if w]

    dev.seed_everything(spec.seed)
    data = _load_data(spec)
    info = data.info
    task = info.task
    from engine.data.csv_report import data_warnings

    warnings += data_warnings(spec.data)  # a leak or an identifier column: the run's log says so too
    if len(data.x_train) < 2:
        raise TrainingError(f"{info.name} has {len(data.x_train)} training sample(s) after the splits — "
                            "lower data.val_fraction / data.test_fraction or use more data")
    has_val = len(data.x_val) > 0
    keys = epoch_metric_keys(task, has_val)
    es = spec.regularization.early_stopping
    if es is not None:
        check_monitor(es.monitor, keys, "early stopping", has_val)
    if spec.scheduler.type == "ReduceLROnPlateau":
        check_monitor(spec.scheduler.monitor, keys, "scheduler ReduceLROnPlateau", has_val)
    loss_name = resolve_loss_name(tr.loss, task, info.name)
    if spec.regularization.label_smoothing and (task == "regression" or loss_name not in CLASSIFICATION_LOSSES):
        warnings.append(f"regularization.label_smoothing applies to classification losses; ignored with {loss_name}")

    # Reseed so initial weights depend on the seed alone, not on how much
    # randomness loading the data used.
    dev.seed_everything(spec.seed)
    model = _build_model(spec, tuple(info.input_shape)).to(device)
    try:  # per-block init and trainable, model.init_from (engine/model_init.py)
        warnings += prepare_weights(model, spec, init_source)
    except ValueError as e:
        raise TrainingError(str(e)) from None
    # Images only (C, H, W per sample); MPS left out: its channels-last kernels are partial.
    channels_last = tr.channels_last and device.type in ("cuda", "cpu") and len(info.input_shape) == 3
    if channels_last:
        # torch's stub for Module.to omits memory_format, which it accepts.
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def split(x: Any, y: Any, resident: bool) -> Optional[Feed]:
        if len(x) == 0:
            return None
        if task == "regression" and y.ndim == 1:
            y = y.reshape(-1, 1)
        xt, yt = as_tensors(x, y)
        return Feed(xt, yt, device, resident=resident, channels_last=channels_last)

    _check_token_ids(spec, data)
    total_bytes = sum(a.nbytes for a in (data.x_train, data.y_train, data.x_val, data.y_val, data.x_test, data.y_test))
    resident = dev.fits_on_device(total_bytes, device)
    train_feed = split(data.x_train, data.y_train, resident)
    assert train_feed is not None
    val_feed = split(data.x_val, data.y_val, resident)
    test_feed = split(data.x_test, data.y_test, resident)
    if not resident:
        warnings.append(f"the dataset ({total_bytes / 2**20:.0f} MB) does not fit in device memory; "
                        "batches are copied from host memory each step")

    num_outputs = _check_model_output(model, train_feed, device, tr.precision, task, loss_name, info)
    objective = make_objective(loss_name, task, num_outputs, spec.regularization.label_smoothing)
    from engine.training.distill import make_distiller
    distiller = make_distiller(tr.distill, teacher, objective, tuple(info.input_shape), device)

    augment = _augmenter(spec, info, loss_name, group)

    processes = group.world if group else 1
    steps_per_epoch = batches_per_epoch(len(train_feed), tr.batch_size, processes)
    if steps_per_epoch == 0:
        raise TrainingError(f"{info.name} has {len(train_feed)} training samples, too few for {processes} "
                            "processes (each needs two per batch) — use fewer processes")
    optimizer = build_optimizer(spec.optimizer, trainable_parameters(model))
    schedule = LRSchedule(optimizer, spec.scheduler, epochs=tr.epochs, steps_per_epoch=steps_per_epoch)
    scaler = dev.make_scaler(device, tr.precision)
    generator = train_feed.make_generator(spec.seed)

    step_model: torch.nn.Module = model
    if group is not None:
        from torch.nn.parallel import DistributedDataParallel

        # DDP starts every process from rank 0's weights and averages the gradients.
        step_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
        if group.rank:
            torch.manual_seed(spec.seed + 7919 * group.rank)  # other dropout masks than rank 0's
    if tr.compile:
        if device.type == "cuda":
            step_model = torch.compile(step_model)  # type: ignore[assignment]
        else:
            warnings.append("training.compile is used on CUDA GPUs only; training uncompiled on "
                            f"{device.type} (compiling for the CPU costs more than it saves on small models)")

    prepared = Prepared(
        spec=spec, device=device, dataset=info.name, task=task, model=model, step_model=step_model,
        objective=objective, optimizer=optimizer, schedule=schedule, scaler=scaler,
        train=train_feed, val=val_feed, test=test_feed, generator=generator,
        steps_per_epoch=steps_per_epoch, num_targets=int(info.num_targets),
        l1_weights=penalized_weights(model) if spec.regularization.l1 > 0 else [],
        epoch_keys=keys, warnings=warnings, group=group, distiller=distiller, augment=augment)
    prepared.tokenizer = data.tokenizer
    if resume_from is not None:
        prepared.resume = _restore(prepared, resume_from)
    return prepared


def _augmenter(spec: RunSpec, info: Any, loss: str, group: Optional[Group]) -> Optional[Augmenter]:
    from engine.data.augment import AugmentError, make_augmenter

    try:
        return make_augmenter(spec.data.augment, info.kind, info.task, loss, info.num_classes, spec.seed,
                              group.rank if group else 0)
    except AugmentError as e:
        raise TrainingError(str(e)) from None


def _check_token_ids(spec: RunSpec, data: Any) -> None:
    """Integer inputs into a first Embedding block: every id must have a row.
    Caught here, the message names both numbers; in training it would be
    torch's "index out of range" at some step, or a device assert on a GPU."""
    blocks = spec.model.blocks
    splits = [x for x in (data.x_train, data.x_val, data.x_test) if len(x)]
    if not blocks or blocks[0].type != "Embedding" or not all(x.dtype.kind in "iu" for x in splits):
        return
    size = blocks[0].params.get("num_embeddings")
    lo, hi = min(int(x.min()) for x in splits), max(int(x.max()) for x in splits)
    if lo < 0:
        raise TrainingError(f"{data.info.name} has a negative id ({lo}); an Embedding block takes ids from 0 up")
    if isinstance(size, int) and hi >= size:
        raise TrainingError(f"{data.info.name} has ids up to {hi} but block 1 Embedding has num_embeddings={size} — "
                            f"set num_embeddings to at least {hi + 1}")


def _check_model_output(model: torch.nn.Module, feed: Feed, device: torch.device, precision: str,
                        task: str, loss_name: str, info: Any) -> int:
    """Run two samples through the model (eval mode: no dropout draws, no
    BatchNorm statistics change) and check the output against the data."""
    sample = feed.x[:2].to(device)
    if feed.channels_last:
        sample = sample.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode(), dev.autocast(device, precision):
            out = model(sample)
    except RuntimeError as e:
        if dev.is_out_of_memory(e):
            raise
        raise TrainingError(f"the model cannot run on {info.name} samples of shape {tuple(info.input_shape)}: "
                            f"{str(e).splitlines()[0]}") from e
    finally:
        model.train(was_training)
    if not isinstance(out, torch.Tensor):
        raise TrainingError(f"the model returns {type(out).__name__}, not a tensor — end it with a Linear block")
    check_outputs(tuple(out.shape), task=task, loss=loss_name, num_classes=info.num_classes,
                  num_targets=int(info.num_targets), dataset=info.name)
    return int(out.shape[1])


def _restore(p: Prepared, path: str | Path) -> dict[str, Any]:
    """Load a checkpoint into the prepared run; the loop restores RNG and counters."""
    state = load_checkpoint(path, map_location=p.device)
    try:
        p.model.load_state_dict(state["model"])
    except RuntimeError as e:
        raise TrainingError(f"checkpoint {path} does not match this model (was the model changed?): "
                            f"{str(e).splitlines()[0]}") from e
    try:
        p.optimizer.load_state_dict(resume_state(p.optimizer, state["optimizer"]))
    except (ValueError, KeyError) as e:
        raise TrainingError(f"checkpoint {path} has optimizer state that does not fit optimizer "
                            f"{p.spec.optimizer.type} ({e}) — resume with the optimizer the run was trained "
                            "with") from e
    if state.get("scheduler") is not None:
        try:
            p.schedule.load_state_dict(state["scheduler"])
        except (KeyError, TypeError, ValueError) as e:
            raise TrainingError(f"checkpoint {path} has scheduler state that does not fit scheduler "
                                f"{p.spec.scheduler.type} — resume with the scheduler the run was trained with") from e
    if state.get("scaler"):
        p.scaler.load_state_dict(state["scaler"])
    return state
