"""A plausible finished (or running) sweep written straight to a store, for
the Sweep view's screenshot, its benchmark and tests, without training.

The sweep tunes the digits MLP (resources/templates/digits_mlp.json's
shape): learning rate (log scale), the first layer's width, the optimizer
and label smoothing, TPE-style: later trials crowd near the good region.
Each trial is a run with `sweep_id` and `trial_number`, a real spec (the
base with its parameters written in) and per-epoch curves whose final
accuracy follows a smooth function of the parameters plus noise; some are
pruned early, a few fail. Tagged `demo`, like engine.demo's runs.
"""
from __future__ import annotations

import copy
import math
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import numpy as np

from engine.training.callbacks import MetricPoint

DEMO_TAG = "demo"
PARAMETERS: dict[str, dict[str, list[Any]]] = {
    "optimizer.lr": {"log_uniform": [1e-4, 0.1]},
    "model.blocks.1.out_features": {"int": [16, 256]},
    "optimizer.type": {"values": ["Adam", "AdamW", "SGD"]},
    "regularization.label_smoothing": {"uniform": [0.0, 0.2]},
}


def base_spec(epochs: int) -> dict[str, Any]:
    return {
        "name": "digits-mlp", "seed": 0,
        "data": {"name": "digits", "val_fraction": 0.2, "test_fraction": 0.2, "normalize": "standard"},
        "model": {"blocks": [{"type": "Flatten"}, {"type": "Linear", "out_features": 128}, {"type": "ReLU"},
                             {"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 10}]},
        "optimizer": {"type": "AdamW", "lr": 0.001, "weight_decay": 0.01},
        "scheduler": {"type": "CosineAnnealingLR"},
        "regularization": {"label_smoothing": 0.0},
        "training": {"epochs": epochs, "batch_size": 64, "device": "cpu", "precision": "fp32"},
    }


def sweep_document(trials: int, epochs: int, parallel: int = 2) -> dict[str, Any]:
    return {"name": "digits-mlp-tpe", "base": base_spec(epochs), "method": "tpe", "metric": "val/accuracy",
            "goal": "maximize", "trials": trials, "parallel": parallel, "pruner": "median", "seed": 0,
            "parameters": copy.deepcopy(PARAMETERS)}


def _sample(rng: np.random.Generator, i: int, trials: int) -> dict[str, Any]:
    """Random at first, then closer to the good region (what TPE does)."""
    focus = min(1.0, i / max(1, trials * 0.6))
    log_lr = (1 - focus) * rng.uniform(-4, -1) + focus * rng.normal(-2.6, 0.35)
    width = int(np.clip((1 - focus) * rng.uniform(16, 256) + focus * rng.normal(190, 40), 16, 256))
    opt = str(rng.choice(["Adam", "AdamW", "SGD"], p=[0.4 * focus + 0.2, 0.45 * focus + 0.2, 0.6 - 0.85 * focus]
                         if focus < 0.7 else [0.45, 0.5, 0.05]))
    smoothing = float(np.clip(rng.uniform(0, 0.2) * (1 - focus) + focus * rng.normal(0.06, 0.03), 0, 0.2))
    return {"optimizer.lr": float(10 ** np.clip(log_lr, -4, -1)), "model.blocks.1.out_features": width,
            "optimizer.type": opt, "regularization.label_smoothing": round(smoothing, 4)}


def _final_accuracy(p: dict[str, Any]) -> float:
    log_lr = math.log10(p["optimizer.lr"])
    best_lr = -1.6 if p["optimizer.type"] == "SGD" else -2.6
    acc = 0.975 - 0.045 * (log_lr - best_lr) ** 2
    acc -= 0.03 if p["optimizer.type"] == "SGD" else 0.0
    acc += 0.012 * math.log2(p["model.blocks.1.out_features"] / 128)
    acc -= 0.08 * (p["regularization.label_smoothing"] - 0.06) ** 2
    return float(min(0.99, max(0.2, acc)))


def _apply(spec: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(spec)
    for path, value in params.items():
        node: Any = out
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[parts[-1]] = value
    if out["optimizer"]["type"] != "AdamW":
        out["optimizer"].pop("weight_decay", None)
    return out


def create_demo_sweep(url: str, *, trials: int = 40, epochs: int = 30, running: int = 0, seed: int = 0) -> int:
    """Write a sweep of `trials` trials × `epochs` epochs to the store at `url`;
    returns the sweep id. running > 0: the last `running` trials are still
    training (the sweep reads as running, with an ETA)."""
    from engine.demo import _set_times
    from engine.store import RunStore

    rng = np.random.default_rng(seed)
    doc = sweep_document(trials, epochs)
    store = RunStore(url)
    try:
        sweep_id = store.create_sweep(name=doc["name"], spec=doc, method="tpe", metric="val/accuracy",
                                      goal="maximize", status="running")
        best: tuple[float, int] | None = None
        start = datetime.now(timezone.utc) - timedelta(minutes=2.5 * trials)
        pruned_seen = 0
        for i in range(trials):
            number = i + 1
            params = _sample(rng, i, trials)
            spec = _apply(base_spec(epochs), params)
            spec["name"] = f"{doc['name']} #{number}"
            final = _final_accuracy(params) + float(rng.normal(0, 0.004))
            status = "completed"
            if i >= trials - running:
                status = "running"
            elif i in (7, 23):
                status = "failed"
            elif i in (4, 11) or (i > 5 and final < 0.9 and pruned_seen < trials // 5):
                status, pruned_seen = "pruned", pruned_seen + 1
            done = epochs if status in ("completed", "running") else max(2, epochs // (4 if status == "pruned" else 6))
            if status == "running":
                done = max(1, epochs // 3)
            run_id = store.create_run(spec, sweep_id=sweep_id, trial_number=number, tags=[DEMO_TAG, "sweep"])
            store.set_status(run_id, "running", device="cpu", pid=os.getpid() if status == "running" else None)
            t0 = (start + timedelta(minutes=2.5 * i)).timestamp()
            if status == "running":  # started a moment ago, epochs in
                t0 = datetime.now(timezone.utc).timestamp() - done * 4.5 - 2
            points: list[MetricPoint] = []
            rate = 0.25 + 0.1 * rng.random()
            for e in range(1, done + 1):
                frac = 1 - math.exp(-rate * e * 30 / epochs)
                acc = 0.1 + (final - 0.1) * frac + float(rng.normal(0, 0.003))
                loss = 2.3 * (1 - frac) + (1 - final) * 1.2 + float(rng.normal(0, 0.01))
                t = t0 + e * 4.5
                for key, v in (("val/accuracy", acc), ("val/loss", loss), ("train/loss", loss * 0.8),
                               ("train/accuracy", min(1.0, acc + 0.01))):
                    points.append(MetricPoint(key, e * 23, e, float(v), t))
            store.add_metrics(run_id, points)
            store.update_summary(run_id, {"params": 10_000 + 100 * params["model.blocks.1.out_features"],
                                          "total_epochs": epochs})
            error = "loss became NaN at epoch 3 — try a lower learning rate" if status == "failed" else None
            if status != "running":
                store.set_status(run_id, status, error=error)
                if status == "completed" and (best is None or final > best[0]):
                    best = (final, run_id)
            run_start = datetime.fromtimestamp(t0, timezone.utc)
            _set_times(url, run_id, run_start, done * 4.5 + 2, status != "running")
        final_status = "running" if running else "completed"
        store.update_sweep(sweep_id, status=final_status, best_run_id=best[1] if best else None)
    finally:
        store.close()
    return sweep_id
