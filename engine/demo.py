"""A store full of plausible runs, for screenshots, benchmarks and trying the
Runs page without training anything.

Every run is tagged `demo`. Its spec is a real, valid spec (parse_spec
accepts it, so "clone into the builder" works); its curves are synthesized:
losses decay with noise, accuracies saturate, a too-high learning rate
diverges, a stopped run ends early. System samples include fake `gpu0` /
`gpu1` keys so the Compare view's system charts have something to show.
No files are written: checkpoint rows point where a worker would have put
them, and the Runs page says they are missing.
"""
from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

import numpy as np

from engine.training.callbacks import MetricPoint

__all__ = ["create_demo_store", "demo_specs"]

DEMO_TAG = "demo"


def _cnn(channels: int, dropout: float = 0.2, batchnorm: bool = False) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [{"type": "Conv2d", "out_channels": channels, "kernel_size": 3, "padding": 1}]
    if batchnorm:
        blocks.append({"type": "BatchNorm2d"})
    blocks += [{"type": "ReLU"}, {"type": "MaxPool2d", "kernel_size": 2},
               {"type": "Conv2d", "out_channels": channels * 2, "kernel_size": 3, "padding": 1},
               {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Dropout", "p": dropout},
               {"type": "Linear", "out_features": 10}]
    return blocks


def _mlp(hidden: int, out: int) -> list[dict[str, Any]]:
    return [{"type": "Flatten"}, {"type": "Linear", "out_features": hidden}, {"type": "ReLU"},
            {"type": "Linear", "out_features": hidden}, {"type": "ReLU"},
            {"type": "Linear", "out_features": out}]


def _conv1d(channels: int) -> list[dict[str, Any]]:
    return [{"type": "Unflatten", "dim": 1, "unflattened_size": [1, 40]},
            {"type": "Conv1d", "out_channels": channels, "kernel_size": 5, "padding": 2},
            {"type": "BatchNorm1d"}, {"type": "ReLU"}, {"type": "MaxPool1d", "kernel_size": 2},
            {"type": "Conv1d", "out_channels": channels, "kernel_size": 5, "padding": 2},
            {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]


def _spec(name: str, dataset: str, blocks: list[dict[str, Any]], opt: dict[str, Any], batch: int,
          epochs: int, scheduler: str = "CosineAnnealingLR", seed: int = 0) -> dict[str, Any]:
    return {
        "name": name, "seed": seed,
        "data": {"name": dataset, "val_fraction": 0.2, "test_fraction": 0.1 if dataset != "mnist1d" else 0.0,
                 "normalize": "standard"},
        "model": {"blocks": blocks},
        "optimizer": opt,
        "scheduler": {"type": scheduler},
        "regularization": {"early_stopping": {"monitor": "val/loss", "patience": 5}},
        "training": {"epochs": epochs, "batch_size": batch, "device": "auto", "precision": "fp32"},
    }


@dataclass(frozen=True)
class _Plan:
    """How one demo run's curves look."""

    spec: dict[str, Any]
    status: str  # completed | stopped | failed | running
    final_acc: float  # where val accuracy saturates
    rate: float  # per-epoch speed of convergence
    tags: tuple[str, ...] = ()
    notes: str = ""
    stop_at: Optional[int] = None  # epochs done for stopped / failed / running runs
    device: str = "cuda:0"


def _plans() -> list[_Plan]:
    adamw = {"type": "AdamW", "lr": 0.001, "weight_decay": 0.01}
    return [
        _Plan(_spec("digits-cnn", "digits", _cnn(16), adamw, 64, 20), "completed", 0.981, 0.45,
              ("baseline",), "Reference CNN: 2 conv layers, cosine schedule."),
        _Plan(_spec("digits-cnn-wide", "digits", _cnn(32), adamw, 64, 20), "completed", 0.986, 0.5, ("sweep",)),
        _Plan(_spec("digits-cnn-sgd", "digits", _cnn(16), {"type": "SGD", "lr": 0.05, "momentum": 0.9}, 128, 20),
              "completed", 0.972, 0.3, ("sweep",), device="cuda:1"),
        _Plan(_spec("digits-cnn-lr3e-3", "digits", _cnn(16, 0.3), {**adamw, "lr": 0.003}, 32, 20), "stopped",
              0.975, 0.6, ("sweep",), "Stopped by hand: val loss was flat.", stop_at=11),
        _Plan(_spec("iris-mlp", "iris", _mlp(32, 3), {"type": "Adam", "lr": 0.01}, 16, 40, "none"),
              "completed", 0.967, 0.25, device="cpu"),
        _Plan(_spec("mnist1d-conv", "mnist1d", _conv1d(32), adamw, 128, 30), "completed", 0.912, 0.18),
        _Plan(_spec("digits-mlp-rmsprop", "digits", _mlp(128, 10), {"type": "RMSprop", "lr": 0.05}, 64, 20),
              "failed", 0.4, 0.2, (), stop_at=3, device="cuda:1"),
        _Plan(_spec("mnist1d-conv-bn", "mnist1d", _conv1d(64), {**adamw, "lr": 0.002}, 256, 30), "running",
              0.93, 0.2, ("sweep",), stop_at=13),
    ]


def demo_specs(n_runs: int = 8, seed: int = 0) -> list[tuple[dict[str, Any], str]]:
    """(spec, status) for each demo run: the eight hand-made ones, then variations."""
    plans = _plans()
    rng = np.random.default_rng(seed)
    out = [(p.spec, p.status) for p in plans[:n_runs]]
    for i in range(len(out), n_runs):
        out.append((_vary(plans[i % len(plans)], i, rng).spec, "completed"))
    return out


def _vary(plan: _Plan, i: int, rng: np.random.Generator) -> _Plan:
    spec = copy.deepcopy(plan.spec)
    spec["name"] = f"{spec['name']}-{i}"
    spec["optimizer"]["lr"] = float(f"{spec['optimizer']['lr'] * 10 ** rng.uniform(-0.7, 0.7):.2g}")
    spec["training"]["batch_size"] = int(rng.choice([16, 32, 64, 128, 256]))
    for b in spec["model"]["blocks"]:
        if "out_channels" in b:
            b["out_channels"] = int(rng.choice([8, 16, 32, 64]))
    spec["seed"] = i
    lr_penalty = abs(math.log10(spec["optimizer"]["lr"] / plan.spec["optimizer"]["lr"])) * 0.02
    return _Plan(spec, "completed", max(0.3, plan.final_acc - lr_penalty - rng.uniform(0, 0.01)),
                 plan.rate * rng.uniform(0.7, 1.3), ("sweep",), device=str(rng.choice(["cuda:0", "cuda:1"])))


def _count_params(spec: dict[str, Any]) -> int:
    """Trainable parameters of the demo architectures, from the catalogue's
    shape rules (no torch import: the demo is for quick screenshots)."""
    from engine import blocks as catalogue
    from engine.data import dataset_info
    from engine.spec import DataSpec

    shape = tuple(dataset_info(DataSpec(**spec["data"]), spec.get("seed", 0)).input_shape)
    total = 0
    for raw in spec["model"]["blocks"]:
        bt = catalogue.get_block_type(raw["type"])
        params = bt.resolve(raw)
        out = tuple(bt.infer(shape, params))
        t = raw["type"]
        if t == "Linear":
            total += shape[-1] * out[-1] + out[-1]
        elif t in ("Conv1d", "Conv2d"):
            k = params["kernel_size"]
            k = int(np.prod(k)) if isinstance(k, tuple) else k ** (1 if t == "Conv1d" else 2)
            total += shape[0] * out[0] * k + out[0]
        elif t.startswith("BatchNorm"):
            total += 2 * shape[0]
        shape = out
    return total


def _curves(plan: _Plan, rng: np.random.Generator, t0: float, train_size: int, classes: int
            ) -> tuple[list[MetricPoint], float, Optional[str]]:
    """Metric points for a run; returns (points, duration seconds, error)."""
    spec = plan.spec
    epochs_planned = spec["training"]["epochs"]
    batch = spec["training"]["batch_size"]
    steps_per_epoch = max(1, math.ceil(train_size / batch))
    epochs = plan.stop_at or epochs_planned
    chance = 1.0 / classes
    lr0 = spec["optimizer"]["lr"]
    log_every = 20
    # Small models on small data: per-epoch overhead (evaluation, logging)
    # dominates, as it does for real runs of this size.
    throughput = float(rng.uniform(1_500, 4_000)) * (batch / 64) ** 0.3
    pts: list[MetricPoint] = []
    t = t0
    step = 0
    error = None
    loss0, loss_inf = math.log(classes), max(0.02, -math.log(plan.final_acc) * 0.8)
    for e in range(1, epochs + 1):
        epoch_time = train_size / throughput * float(rng.uniform(0.95, 1.08)) + 0.8
        diverge = plan.status == "failed" and e >= epochs
        for s in range(steps_per_epoch):
            step += 1
            if step % log_every == 0:
                frac = (e - 1 + s / steps_per_epoch)
                v = loss_inf + (loss0 - loss_inf) * math.exp(-plan.rate * frac)
                v = float("nan") if diverge and s > steps_per_epoch // 2 else v * float(rng.lognormal(0, 0.12))
                pts.append(MetricPoint("train/loss_step", step, e, v, t + epoch_time * s / steps_per_epoch))
        t += epoch_time
        decay = math.exp(-plan.rate * e)
        overfit = max(0.0, e - 12) * 0.004
        train_loss = (loss_inf * 0.7 + (loss0 - loss_inf) * decay) * float(rng.lognormal(0, 0.03))
        val_loss = (loss_inf + (loss0 - loss_inf) * decay + overfit) * float(rng.lognormal(0, 0.05))
        val_acc = min(0.999, plan.final_acc - (plan.final_acc - chance) * decay + float(rng.normal(0, 0.003)))
        train_acc = min(0.999, val_acc + 0.01 + overfit * 2)
        lr = lr0
        if spec["scheduler"]["type"] != "none":  # cosine decay
            lr = lr0 * 0.5 * (1 + math.cos(math.pi * (e - 1) / epochs_planned))
        if diverge:
            train_loss = val_loss = float("nan")
            val_acc, train_acc = chance, chance
            error = f"loss became NaN at epoch {e}, step {step} — try a lower learning rate"
        for key, v in (("train/loss", train_loss), ("train/accuracy", train_acc), ("val/loss", val_loss),
                       ("val/accuracy", val_acc), ("lr", lr), ("throughput", train_size / epoch_time),
                       ("epoch_time", epoch_time)):
            pts.append(MetricPoint(key, step, e, float(v), t))
    if plan.status == "completed" and spec["data"].get("test_fraction", 0) > 0 or spec["data"]["name"] == "mnist1d":
        if plan.status == "completed":
            test_acc = plan.final_acc - float(rng.uniform(0.0, 0.012))
            pts.append(MetricPoint("test/accuracy", step, epochs, test_acc, t + 0.5))
            pts.append(MetricPoint("test/loss", step, epochs, -math.log(test_acc) * 1.1, t + 0.5))
    return pts, t - t0 + 1.0, error


def _system_samples(plan: _Plan, rng: np.random.Generator, t0: float, duration: float, params: int
                    ) -> list[tuple[str, float, float]]:
    n = int(min(600, max(20, duration // 2)))
    times = t0 + np.linspace(0, duration, n)
    gpu = plan.device.split(":")[1] if plan.device.startswith("cuda") else None
    out: list[tuple[str, float, float]] = []
    ramp = 1 - np.exp(-np.linspace(0, 8, n))
    series = {
        "cpu/percent": np.clip(35 + 15 * ramp + rng.normal(0, 6, n), 0, 100),
        "ram/used_mb": 9_800 + 600 * ramp + rng.normal(0, 15, n),
        "proc/rss_mb": 1_100 + 250 * ramp + rng.normal(0, 5, n),
    }
    mem_model = 900 + params * 16 / 2**20 + plan.spec["training"]["batch_size"] * 4.0
    for i in (0, 1):
        busy = gpu == str(i)
        series[f"gpu{i}/util_percent"] = np.clip(
            (85 if busy else 3) * ramp + rng.normal(0, 4 if busy else 1, n), 0, 100)
        series[f"gpu{i}/mem_used_mb"] = (
            (mem_model if busy else 310.0) * (ramp if busy else 1) + 300 + rng.normal(0, 3, n))
        series[f"gpu{i}/mem_total_mb"] = np.full(n, 24_564.0)
        series[f"gpu{i}/temp_c"] = 38 + (33 if busy else 4) * ramp + rng.normal(0, 0.5, n)
        series[f"gpu{i}/power_w"] = 30 + (250 if busy else 5) * ramp + rng.normal(0, 8 if busy else 1, n)
    for key, values in series.items():
        out.extend((key, float(tt), float(v)) for tt, v in zip(times, values))
    return out


def _set_times(url: str, run_id: int, start: datetime, duration: float, finished: bool) -> None:
    """Backdate a demo run: the store stamps 'now', a history needs days.
    Writes the `runs` columns directly (docs/ARCHITECTURE.md, "The store")."""
    from sqlalchemy import update

    from engine.store.db import create_db_engine, writer
    from engine.store.models import RunRow

    naive = start.astimezone(timezone.utc).replace(tzinfo=None)
    values: dict[str, Any] = {"created_at": naive - timedelta(seconds=5), "started_at": naive}
    values["finished_at"] = naive + timedelta(seconds=duration) if finished else None
    values["heartbeat_at"] = datetime.now(timezone.utc).replace(tzinfo=None)
    engine = create_db_engine(url)
    try:
        with writer(engine).begin() as conn:
            conn.execute(update(RunRow).where(RunRow.id == run_id).values(**values))
    finally:
        engine.dispose()


def create_demo_store(url: str, *, n_runs: int = 8, seed: int = 0) -> list[int]:
    """Fill the store at `url` with `n_runs` demo runs; returns their ids (oldest first).

    A `running` demo run carries this process's pid, so it reads as running
    while this process lives (screenshots) and as crashed afterwards, which
    is what the store would say about any worker that is gone.
    """
    from engine.data import dataset_info
    from engine.runner.paths import checkpoint_dir
    from engine.spec import DataSpec, parse_spec
    from engine.store import RunStore

    rng = np.random.default_rng(seed)
    plans = _plans()[:n_runs]
    plans += [_vary(_plans()[i % 8], i, rng) for i in range(len(plans), n_runs)]
    now = datetime.now(timezone.utc)
    store = RunStore(url)
    ids: list[int] = []
    info_cache: dict[str, Any] = {}
    try:
        for i, plan in enumerate(plans):
            spec = parse_spec(plan.spec).to_dict()  # exactly what a real run would store
            data = spec["data"]["name"]
            if data not in info_cache:
                info_cache[data] = dataset_info(DataSpec(**spec["data"]), spec["seed"])
            info = info_cache[data]
            params = _count_params(spec)
            run_id = store.create_run(spec, tags=[DEMO_TAG, *plan.tags])
            ids.append(run_id)
            # Oldest first, a few hours apart; the running one started minutes ago.
            start = now - timedelta(hours=3.5 * (len(plans) - i), minutes=float(rng.uniform(0, 50)))
            pts, duration, error = _curves(plan, rng, 0.0, info.sizes["train"], info.num_classes or 1)
            if plan.status == "running":
                start = now - timedelta(seconds=duration)
            t0 = start.timestamp()
            pts = [MetricPoint(p.key, p.step, p.epoch, p.value, p.wall_time + t0) for p in pts]
            store.set_status(run_id, "running", pid=os.getpid() if plan.status == "running" else None,
                             device=plan.device)
            store.update_summary(run_id, {"params": params, "total_epochs": spec["training"]["epochs"]})
            for k in range(0, len(pts), 5000):
                store.add_metrics(run_id, pts[k:k + 5000])
            store.add_system_metrics(run_id, _system_samples(plan, rng, t0, duration, params))
            last_step = max(p.step for p in pts)
            last_epoch = max(p.epoch for p in pts)
            if plan.status != "failed":
                folder = checkpoint_dir(url, run_id)
                best = store.get_run(run_id).summary["metrics"]["val/loss"]
                store.add_checkpoint(run_id, "best", str(folder / "best.pt"), best["best_step"] or last_step,
                                     best.get("best_epoch") or last_epoch, best["best"])
                store.add_checkpoint(run_id, "last", str(folder / "last.pt"), last_step, last_epoch,
                                     best["last"])
            if plan.notes:
                store.set_notes(run_id, plan.notes)
            if plan.status != "running":
                store.set_status(run_id, plan.status, error=error)
            _set_times(url, run_id, start, duration, plan.status != "running")
    finally:
        store.close()
    return ids
