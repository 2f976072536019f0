"""train(): metric keys, determinism, early stopping, NaN, stop/pause, resume,
regularizers. Small data (moons, curve, iris), 1-3 epochs."""
from __future__ import annotations

import math
import re
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from engine.spec import parse_spec
from engine.training import Callback, Control, TrainingError, train
from engine.training.checkpoint import load_checkpoint
from engine.training.device import seed_everything

MLP = [{"type": "Linear", "out_features": 16}, {"type": "ReLU"}]


def make_spec(dataset: str = "moons", *, out: int = 2, epochs: int = 2, n: int = 200, **sections: Any):
    d: dict[str, Any] = {
        "name": "t", "seed": 0,
        "data": {"name": dataset, "val_fraction": 0.2, "test_fraction": 0.1,
                 **({"options": {"n_samples": n}} if dataset in ("moons", "curve") else {})},
        "model": {"blocks": MLP + [{"type": "Linear", "out_features": out}]},
        "optimizer": {"type": "Adam", "lr": 0.01},
        "training": {"epochs": epochs, "batch_size": 16, "log_every_n_steps": 4},
    }
    for key, value in sections.items():
        d[key] = {**d.get(key, {}), **value} if isinstance(value, dict) else value
    return parse_spec(d)


class Recorder(Callback):
    def __init__(self) -> None:
        self.points: list = []
        self.logs: list[tuple[str, str]] = []
        self.checkpoints: list[tuple[str, str, int, int]] = []
        self.started = None
        self.ended: tuple[str, Any] | None = None
        self.epochs: list[int] = []

    def on_train_start(self, ctx):
        self.started = (ctx.device, ctx.total_epochs, ctx.steps_per_epoch, ctx.num_params, ctx.train_size)

    def on_metrics(self, ctx, points):
        self.points.extend(points)

    def on_epoch_end(self, ctx, epoch, metrics):
        self.epochs.append(epoch)

    def on_checkpoint(self, ctx, kind, path, step, epoch, metric_value):
        self.checkpoints.append((kind, path, step, epoch))

    def on_log(self, ctx, level, message):
        self.logs.append((level, message))

    def on_train_end(self, ctx, status, error):
        self.ended = (status, error)

    def keys(self, epoch: int) -> set[str]:
        return {p.key for p in self.points if p.epoch == epoch and not p.key.endswith("_step")}

    def values(self, key: str) -> list[float]:
        return [p.value for p in self.points if p.key == key]


def run(spec, tmp_path: Path, name: str = "ckpt", **kw):
    rec = kw.pop("recorder", None) or Recorder()
    result = train(spec, callbacks=[rec, *kw.pop("callbacks", [])], checkpoint_dir=tmp_path / name, **kw)
    return result, rec


# --- metrics ------------------------------------------------------------------------

def test_classification_reports_the_documented_keys(tmp_path):
    spec = make_spec(epochs=2)
    result, rec = run(spec, tmp_path)
    assert result.status == "completed" and result.error is None
    epoch_keys = {"train/loss", "train/accuracy", "val/loss", "val/accuracy", "lr", "throughput", "epoch_time"}
    assert rec.keys(1) == epoch_keys
    assert rec.keys(2) == epoch_keys | {"test/loss", "test/accuracy"}
    assert set(result.test_metrics) == {"test/loss", "test/accuracy"}
    device, total, spe, params, size = rec.started
    assert (device, total, size) == ("cpu", 2, 140) and spe == math.ceil(140 / 16)
    assert params == 2 * 16 + 16 + 16 * 2 + 2 == result.num_params
    # Per-step points every log_every_n_steps steps; epoch points at the step where the epoch ends.
    step_points = [p.step for p in rec.points if p.key == "train/loss_step"]
    assert step_points and all(s % 4 == 0 for s in step_points)
    assert [p.step for p in rec.points if p.key == "val/loss"] == [spe, 2 * spe]
    assert result.step == 2 * spe and result.epochs_done == 2 and rec.epochs == [1, 2]
    assert all(0.0 <= v <= 1.0 for v in rec.values("val/accuracy"))
    assert rec.ended == ("completed", None)


def test_the_host_reads_losses_only_at_the_logging_interval(tmp_path, monkeypatch):
    from engine.training.metrics import TrainMeter
    reads = []
    real = TrainMeter.flush

    def counting(self):
        out = real(self)
        reads.append(len(out))
        return out

    monkeypatch.setattr(TrainMeter, "flush", counting)
    spec = make_spec(epochs=3, training={"log_every_n_steps": 4})
    result, _ = run(spec, tmp_path)
    steps = result.step
    reads = [n for n in reads if n]  # empty flushes read nothing from the device
    assert sum(reads) == steps  # every step's loss is seen once...
    assert len(reads) <= steps // 4 + 3  # ...in one read per interval (plus one at each epoch end)


def test_regression_reports_mae_and_r2(tmp_path):
    spec = make_spec("curve", out=1, epochs=2, optimizer={"type": "Adam", "lr": 0.02})
    result, rec = run(spec, tmp_path)
    assert result.status == "completed"
    assert rec.keys(1) == {"train/loss", "val/loss", "val/mae", "val/r2", "lr", "throughput", "epoch_time"}
    assert set(result.test_metrics) == {"test/loss", "test/mae", "test/r2"}
    r2 = rec.values("val/r2")
    assert r2[-1] > r2[0]  # it learns something


def test_same_spec_and_seed_give_the_same_metrics(tmp_path):
    head = [{"type": "Dropout", "p": 0.3}, {"type": "Linear", "out_features": 2}]
    spec = make_spec(epochs=2, model={"blocks": MLP + head})
    timing = {"throughput", "epoch_time"}
    runs = [run(spec, tmp_path, f"r{i}")[1] for i in range(2)]
    a, b = ([(p.key, p.step, p.value) for p in r.points if p.key not in timing] for r in runs)
    assert a == b
    other = run(spec.copy_with(seed=1), tmp_path, "r2")[1]
    assert [(p.key, p.step, p.value) for p in other.points if p.key not in timing] != a


def test_data_that_does_not_fit_streams_through_a_dataloader_with_the_same_result(tmp_path, monkeypatch):
    spec = make_spec(epochs=2)
    _, resident = run(spec, tmp_path, "resident")
    monkeypatch.setattr("engine.training.device.fits_on_device", lambda nbytes, device: False)
    _, streamed = run(spec, tmp_path, "streamed")
    assert any("streamed from host memory" in m for _, m in streamed.logs)
    assert _curve(streamed) == _curve(resident)


def test_channels_last_on_the_cpu_trains_the_same_conv_net(tmp_path, monkeypatch):
    import engine.training.setup as setup

    blocks = [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1}, {"type": "BatchNorm2d"},
              {"type": "ReLU"}, {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": 1},
              {"type": "MaxPool2d", "kernel_size": 2}, {"type": "Flatten"},
              {"type": "Linear", "out_features": 10}]
    models = []
    real_build = setup._build_model
    monkeypatch.setattr(setup, "_build_model", lambda *a: models.append(real_build(*a)) or models[-1])
    base = make_spec("digits", epochs=1, model={"blocks": blocks}, data={"val_fraction": 0.2, "test_fraction": 0.0})
    _, plain = run(base, tmp_path, "nchw")
    _, fast = run(base.copy_with(training={**base.training.model_dump(), "channels_last": True}), tmp_path, "nhwc")
    conv_plain, conv_fast = models[0][3].weight, models[1][3].weight  # 4 channels in: the formats differ
    assert not conv_plain.is_contiguous(memory_format=torch.channels_last)
    assert conv_fast.is_contiguous(memory_format=torch.channels_last)  # the setting is honoured on the CPU
    for key in ("train/loss", "val/loss", "val/accuracy"):  # the same arithmetic in another memory order
        assert plain.values(key) == pytest.approx(fast.values(key), rel=1e-2)


def test_named_loss_and_a_loss_that_does_not_fit_the_task(tmp_path):
    result, _ = run(make_spec("curve", out=1, epochs=1, training={"loss": "huber"}), tmp_path)
    assert result.status == "completed"
    with pytest.raises(TrainingError, match="training.loss mse does not fit moons, a classification dataset"):
        run(make_spec(training={"loss": "mse"}), tmp_path)
    # One logit per sample for a two-class problem with BCE.
    result, rec = run(make_spec(out=1, epochs=1, training={"loss": "bce_with_logits"}), tmp_path, "bce")
    assert result.status == "completed" and "val/accuracy" in rec.keys(1)


def test_a_model_whose_output_does_not_fit_is_refused_before_training(tmp_path):
    rec = Recorder()
    expected = r"outputs shape \(5,\) per sample but moons has 2 classes .* out_features 2"
    with pytest.raises(TrainingError, match=expected):
        run(make_spec(out=5), tmp_path, recorder=rec)
    assert rec.started is None


# --- early stopping, best checkpoint, validation fraction 0 --------------------------------

def test_early_stopping_stops_and_says_why(tmp_path):
    spec = make_spec(epochs=10, optimizer={"type": "SGD", "lr": 1e-9},
                     regularization={"early_stopping": {"monitor": "val/loss", "patience": 2, "min_delta": 0.1}})
    result, rec = run(spec, tmp_path)
    assert result.status == "completed"
    assert result.epochs_done == 3  # epoch 1 sets the best, 2 and 3 do not improve by 0.1
    assert result.stop_reason.startswith("early stopping: val/loss did not improve by more than 0.1 for 2 epochs")
    assert ("info", result.stop_reason) in rec.logs
    assert result.best["monitor"] == "val/loss" and result.best["epoch"] == 1


def test_best_checkpoint_follows_the_monitor(tmp_path):
    spec = make_spec(epochs=3, regularization={"early_stopping": {"monitor": "val/accuracy", "patience": 5}})
    result, rec = run(spec, tmp_path)
    accs = rec.values("val/accuracy")
    assert result.best["monitor"] == "val/accuracy"
    assert result.best["value"] == max(accs) and accs.index(max(accs)) + 1 == result.best["epoch"]
    best = load_checkpoint(result.checkpoints["best"])
    assert best["epoch"] == result.best["epoch"] and best["kind"] == "best"
    kinds = [c[0] for c in rec.checkpoints]
    # 'last' after the first and the final epoch (in between at most every 2 s); 'best' on each improvement.
    assert kinds.count("last") in (2, 3) and rec.checkpoints[-1][0] == "last" and rec.checkpoints[-1][3] == 3
    assert 1 <= kinds.count("best") <= 3


@pytest.mark.parametrize("section,setting", [
    ({"regularization": {"early_stopping": {"monitor": "val/loss"}}}, "early stopping"),
    ({"scheduler": {"type": "ReduceLROnPlateau", "monitor": "val/loss"}}, "scheduler ReduceLROnPlateau"),
])
def test_val_monitor_without_validation_is_refused(tmp_path, section, setting):
    spec = make_spec(data={"val_fraction": 0.0}, **section)
    with pytest.raises(TrainingError) as e:
        run(spec, tmp_path)
    assert str(e.value) == (f"{setting} monitors val/loss but data.val_fraction is 0 — "
                            "set a validation fraction or monitor train/loss")


def test_unknown_monitor_is_refused(tmp_path):
    spec = make_spec(regularization={"early_stopping": {"monitor": "val/r2"}})
    with pytest.raises(TrainingError, match="monitors val/r2, which this run does not measure — use one of"):
        run(spec, tmp_path)


def test_without_validation_the_best_checkpoint_is_the_last(tmp_path):
    spec = make_spec(epochs=2, data={"val_fraction": 0.0},
                     regularization={"early_stopping": {"monitor": "train/loss", "patience": 3}})
    result, rec = run(spec, tmp_path)
    assert result.status == "completed"
    assert result.checkpoints["best"] == result.checkpoints["last"]
    assert result.best["epoch"] == 2
    assert not any(k.startswith("val/") for k in rec.keys(1))
    assert ("best", result.checkpoints["last"], result.step, 2) in rec.checkpoints


# --- failures -------------------------------------------------------------------------

def test_nan_loss_fails_the_run_with_the_step(tmp_path):
    spec = make_spec(epochs=3, optimizer={"type": "SGD", "lr": 1e12}, training={"log_every_n_steps": 50})
    result, rec = run(spec, tmp_path)
    assert result.status == "failed"
    m = re.fullmatch(r"loss became (NaN|inf) at epoch (\d+), step (\d+) — try a lower learning rate", result.error)
    assert m, result.error
    assert rec.ended == ("failed", result.error)
    # The step is exact although the host read losses only once per 50 steps.
    result1, _ = run(spec.copy_with(training={**spec.training.model_dump(), "log_every_n_steps": 1}), tmp_path, "b")
    assert result1.error == result.error
    bad = [p for p in rec.points if not math.isfinite(p.value)]
    assert bad and bad[0].key == "train/loss_step" and bad[0].step == int(m.group(3))


def test_out_of_gpu_memory_fails_with_the_batch_size(tmp_path, monkeypatch):
    class Hungry(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(2, 2)

        def forward(self, x):
            if self.training:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
            return self.fc(x)

    monkeypatch.setattr("engine.training.setup._build_model", lambda spec, shape: Hungry())
    result, rec = run(make_spec(), tmp_path)
    assert result.status == "failed"
    assert result.error == "out of GPU memory at batch size 16 — try a smaller batch size or fp16/bf16"


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_on_the_cpu_with_a_warning(tmp_path, precision):
    spec = make_spec(epochs=1, training={"precision": precision}, regularization={"grad_clip_norm": 1.0})
    result, rec = run(spec, tmp_path)
    assert result.status == "completed" and math.isfinite(rec.values("val/loss")[0])
    assert any(level == "warning" and f"precision {precision} on the CPU" in m for level, m in rec.logs)
    scaler = load_checkpoint(result.checkpoints["last"])["scaler"]
    assert bool(scaler) == (precision == "fp16")  # fp16 keeps its GradScaler's state


def test_an_unexpected_error_fails_the_run_with_the_traceback_in_the_log(tmp_path):
    class Broken(Callback):
        def on_epoch_end(self, ctx, epoch, metrics):
            raise RuntimeError("boom")

    result, rec = run(make_spec(epochs=2), tmp_path, callbacks=[Broken()])
    assert result.status == "failed" and result.error == "training failed: RuntimeError: boom"
    assert any(level == "error" and "Traceback" in m and "boom" in m for level, m in rec.logs)
    assert rec.ended == ("failed", result.error)


def test_unavailable_device_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(TrainingError, match="training.device is cuda:1 but no CUDA GPU is available"):
        train(make_spec(), checkpoint_dir="unused", device="cuda:1")


# --- control: stop, pause, resume ----------------------------------------------------------

class StopAt(Callback):
    def __init__(self, control: Control, *, step: int | None = None, epoch: int | None = None):
        self.control, self.step, self.epoch = control, step, epoch

    def on_metrics(self, ctx, points):
        if self.step is not None and any(p.key == "train/loss_step" and p.step >= self.step for p in points):
            self.control.stop()

    def on_epoch_end(self, ctx, epoch, metrics):
        if self.epoch == epoch:
            self.control.stop()


def test_stop_mid_epoch_finishes_the_batch_and_saves_last(tmp_path):
    control = Control()
    spec = make_spec(epochs=3, training={"log_every_n_steps": 1})
    result, rec = run(spec, tmp_path, control=control, callbacks=[StopAt(control, step=3)])
    assert result.status == "stopped" and result.error is None
    assert result.step == 3 and result.epochs_done == 0 and result.test_metrics == {}
    last = load_checkpoint(result.checkpoints["last"])
    assert (last["step"], last["epoch"], last["batch_in_epoch"]) == (3, 0, 3)
    assert rec.ended == ("stopped", None)


def test_pause_blocks_between_batches_until_resumed(tmp_path):
    control = Control()

    class PauseOnce(Callback):
        def on_metrics(self, ctx, points):
            if ctx.step == 4 and not hasattr(self, "done"):
                self.done = True
                control.pause()
                threading.Timer(0.3, control.resume).start()

    result, rec = run(make_spec(epochs=1), tmp_path, control=control, callbacks=[PauseOnce()])
    assert result.status == "completed"
    messages = [m for _, m in rec.logs]
    assert "paused at step 4" in messages and "resumed at step 4" in messages


def test_stop_while_paused_ends_the_run(tmp_path):
    control = Control()

    class PauseThenStop(Callback):
        def on_metrics(self, ctx, points):
            if ctx.step == 4 and not control.paused and not control.stop_requested:
                control.pause()
                threading.Timer(0.2, control.stop).start()

    result, _ = run(make_spec(epochs=2), tmp_path, control=control, callbacks=[PauseThenStop()])
    assert result.status == "stopped" and result.step == 4


def _curve(rec: Recorder) -> list[tuple[str, int, float]]:
    return [(p.key, p.step, p.value) for p in rec.points
            if p.key in ("val/loss", "val/accuracy", "test/loss", "test/accuracy")]


def test_resume_after_a_stop_continues_epochs_and_steps(tmp_path):
    head = [{"type": "Dropout", "p": 0.2}, {"type": "Linear", "out_features": 2}]
    spec = make_spec(epochs=3, model={"blocks": MLP + head})
    _, full = run(spec, tmp_path, "full")

    control = Control()
    first, rec1 = run(spec, tmp_path, "a", control=control, callbacks=[StopAt(control, epoch=1)])
    assert first.status == "stopped" and first.epochs_done == 1
    spe = rec1.started[2]
    assert first.step == spe

    second, rec2 = run(spec, tmp_path, "b", resume_from=first.checkpoints["last"])
    assert second.status == "completed" and second.epochs_done == 3 and second.step == 3 * spe
    assert rec2.epochs == [2, 3]
    assert [p.step for p in rec2.points if p.key == "val/loss"] == [2 * spe, 3 * spe]
    # Model, optimizer, RNG and batch order were all restored: the resumed run is the uninterrupted one.
    assert _curve(rec1) + _curve(rec2) == _curve(full)


def test_resume_from_mid_epoch_continues_exactly(tmp_path):
    spec = make_spec(epochs=2, training={"log_every_n_steps": 1})
    _, full = run(spec, tmp_path, "full")
    control = Control()
    first, rec1 = run(spec, tmp_path, "a", control=control, callbacks=[StopAt(control, step=5)])
    assert first.status == "stopped" and first.step == 5
    second, rec2 = run(spec, tmp_path, "b", resume_from=first.checkpoints["last"])
    assert second.step == full.points[-1].step
    assert [p.step for p in rec2.points if p.key == "train/loss_step"][0] == 6
    assert _curve(rec2) == _curve(full)


def test_resume_from_a_missing_checkpoint_is_refused(tmp_path):
    with pytest.raises(TrainingError, match="checkpoint not found"):
        run(make_spec(), tmp_path, resume_from=tmp_path / "nope.pt")


# --- regularizers change something measurable -----------------------------------------

def _weights(path: str) -> dict[str, torch.Tensor]:
    return load_checkpoint(path)["model"]


def test_l1_penalty_shrinks_the_weights(tmp_path):
    plain = run(make_spec(epochs=2), tmp_path, "plain")[0]
    l1 = run(make_spec(epochs=2, regularization={"l1": 0.05}), tmp_path, "l1")[0]

    def norm(r):
        return sum(w.abs().sum().item() for k, w in _weights(r.checkpoints["last"]).items() if k.endswith("weight"))

    assert norm(l1) < 0.7 * norm(plain)


def test_label_smoothing_makes_predictions_less_confident(tmp_path):
    spec = make_spec("iris", out=3, epochs=3, optimizer={"type": "Adam", "lr": 0.05})
    smooth_spec = spec.copy_with(regularization={"label_smoothing": 0.3})
    plain, smooth = run(spec, tmp_path, "p")[0], run(smooth_spec, tmp_path, "s")[0]

    def confidence(r):
        from engine.model import build_model
        model = build_model(spec.model, (4,))
        model.load_state_dict(_weights(r.checkpoints["last"]))
        with torch.no_grad():
            x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
            return torch.softmax(model(x), 1).max(1).values.mean().item()

    assert confidence(smooth) < confidence(plain) - 0.02


def test_gradient_clipping_bounds_each_step(tmp_path):
    from engine.model import build_model
    lr, clip = 0.1, 1e-4
    spec = make_spec(epochs=1, optimizer={"type": "SGD", "lr": lr}, regularization={"grad_clip_norm": clip})
    result = run(spec, tmp_path)[0]
    seed_everything(spec.seed)  # the loop builds the model right after this reseed: same initial weights
    init = build_model(spec.model, (2,)).state_dict()
    final = _weights(result.checkpoints["last"])
    moved = math.sqrt(sum(((final[k] - init[k]) ** 2).sum().item() for k in init))
    assert 0 < moved <= result.step * lr * clip * 1.0001
    unclipped = run(make_spec(epochs=1, optimizer={"type": "SGD", "lr": lr}), tmp_path, "u")[0]
    free = _weights(unclipped.checkpoints["last"])
    moved_free = math.sqrt(sum(((free[k] - init[k]) ** 2).sum().item() for k in init))
    assert moved_free > 10 * moved


def test_lr_metric_follows_the_scheduler(tmp_path):
    spec = make_spec(epochs=3, scheduler={"type": "StepLR", "step_size": 1, "gamma": 0.5})
    _, rec = run(spec, tmp_path)
    assert rec.values("lr") == pytest.approx([0.01, 0.005, 0.0025])
