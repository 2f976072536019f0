"""Metric accumulators, losses, output checks and device resolution."""
from __future__ import annotations

import math

import pytest
import torch
from sklearn.metrics import mean_absolute_error, r2_score

from engine.training import TrainingError
from engine.training.device import autocast, check_precision, resolve_device
from engine.training.feeds import Feed, batches_per_epoch
from engine.training.losses import check_outputs, make_objective, resolve_loss_name
from engine.training.metrics import EvalMeter, TrainMeter

CPU = torch.device("cpu")


def test_eval_meter_matches_sklearn_for_regression():
    g = torch.Generator().manual_seed(0)
    y = torch.randn(50, 2, generator=g)
    pred = y + 0.3 * torch.randn(50, 2, generator=g)
    meter = EvalMeter(CPU, make_objective("mse", "regression", 2), num_targets=2)
    for i in range(0, 50, 16):  # uneven batches
        meter.add(pred[i:i + 16], y[i:i + 16])
    out = meter.result("val")
    assert set(out) == {"val/loss", "val/mae", "val/r2"}
    assert out["val/loss"] == pytest.approx(torch.nn.functional.mse_loss(pred, y).item(), rel=1e-6)
    assert out["val/mae"] == pytest.approx(mean_absolute_error(y.numpy(), pred.numpy()), rel=1e-6)
    assert out["val/r2"] == pytest.approx(r2_score(y.numpy(), pred.numpy()), rel=1e-6)


def test_eval_meter_accuracy_and_empty_split():
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0], [3.0, 1.0], [0.0, 2.0]])
    y = torch.tensor([0, 1, 1, 1])
    meter = EvalMeter(CPU, make_objective("cross_entropy", "classification", 2), num_targets=2)
    meter.add(logits, y)
    out = meter.result("test")
    assert out["test/accuracy"] == 0.75
    assert out["test/loss"] == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item())
    assert EvalMeter(CPU, make_objective("mse", "regression", 1), 1).result("val") == {}


def test_train_meter_keeps_every_step_until_flushed():
    meter = TrainMeter(CPU, capacity=3, objective=make_objective("cross_entropy", "classification", 2))
    logits = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    for v in (0.5, float("nan"), 0.25):
        meter.add(torch.tensor(v), logits, torch.tensor([0, 0]))
    values = meter.flush()
    assert values[0] == (0.5, 2) and math.isnan(values[1][0]) and values[2] == (0.25, 2)
    assert meter.flush() == [] and meter.take_correct() == 3 and meter.take_correct() == 0


def test_binary_bce_reads_one_logit_and_smooths_towards_a_half():
    obj = make_objective("bce_with_logits", "classification", 1, label_smoothing=0.2)
    assert obj.binary
    out = torch.tensor([[0.0], [0.0]])
    # With a logit of 0 every target gives log(2): smoothing keeps it so.
    assert obj(out, torch.tensor([0, 1])).item() == pytest.approx(math.log(2))
    multi = make_objective("bce_with_logits", "classification", 3)
    assert not multi.binary and multi(torch.zeros(2, 3), torch.tensor([0, 2])).item() == pytest.approx(math.log(2))


def test_label_smoothing_raises_the_floor_of_cross_entropy():
    confident = torch.tensor([[20.0, -20.0]])
    y = torch.tensor([0])
    assert make_objective("cross_entropy", "classification", 2)(confident, y).item() < 1e-6
    assert make_objective("cross_entropy", "classification", 2, 0.2)(confident, y).item() > 1.0


def test_loss_names_and_output_checks_say_what_to_fix():
    assert resolve_loss_name(None, "classification", "iris") == "cross_entropy"
    assert resolve_loss_name(None, "regression", "curve") == "mse"
    with pytest.raises(TrainingError, match="training.loss cross_entropy does not fit curve, a regression dataset"):
        resolve_loss_name("cross_entropy", "regression", "curve")
    with pytest.raises(TrainingError, match=r"shape \(16, 4, 4\) per sample .* out_features 10 \(after a Flatten\)"):
        check_outputs((8, 16, 4, 4), task="classification", loss="cross_entropy", num_classes=10,
                      num_targets=10, dataset="digits")
    with pytest.raises(TrainingError, match="has 1 target — end the model with a Linear block with out_features 1"):
        check_outputs((8, 3), task="regression", loss="mse", num_classes=None, num_targets=1, dataset="curve")
    check_outputs((8, 1), task="classification", loss="bce_with_logits", num_classes=2, num_targets=2, dataset="moons")


def test_devices_resolve_and_precision_is_checked():
    assert resolve_device("cpu") == CPU
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert resolve_device("auto") == CPU
        with pytest.raises(TrainingError, match="no CUDA GPU is available — set it to auto or cpu"):
            resolve_device("cuda")
    assert check_precision(CPU, "fp32") is None
    assert "slower" in check_precision(CPU, "bf16")
    with autocast(CPU, "bf16"):
        assert torch.nn.Linear(2, 2)(torch.ones(1, 2)).dtype == torch.bfloat16


def test_feeds_batch_the_same_way_resident_or_loaded():
    x = torch.arange(20, dtype=torch.float32).reshape(10, 2)
    y = torch.arange(10)
    assert batches_per_epoch(10, 3) == 3 + 0  # the lone tenth sample is dropped for BatchNorm's sake
    assert batches_per_epoch(11, 3) == 4
    resident, loaded = Feed(x, y, CPU, resident=True), Feed(x, y, CPU, resident=False)
    a = [b for b in resident.train_batches(4, resident.make_generator(7))]
    b = [b for b in loaded.train_batches(4, loaded.make_generator(7))]
    assert len(a) == len(b) == 3
    for (xa, ya), (xb, yb) in zip(a, b):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert sorted(torch.cat([yb for _, yb in a]).tolist()) == list(range(10))
    ev = [yb for _, yb in loaded.eval_batches(4)]
    assert torch.cat(ev).tolist() == list(range(10))
    # Resuming at batch 2 with the epoch's generator state gives the same last batch.
    gen = resident.make_generator(7)
    assert torch.equal(next(resident.train_batches(4, gen, start_batch=2))[1], a[2][1])
