"""Optimizers get the spec's arguments; every scheduler, with and without a
linear warm-up in front, gives the expected learning-rate sequence."""
from __future__ import annotations

import pytest
import torch

from engine.spec import RunSpec, parse_spec
from engine.training import TrainingError
from engine.training.optim import LRSchedule, build_optimizer

BASE = 0.1


def _opt(kind: str = "SGD", **args) -> torch.optim.Optimizer:
    spec = parse_spec({"optimizer": {"type": kind, "lr": BASE, **args}}).optimizer
    return build_optimizer(spec, [torch.nn.Parameter(torch.zeros(3))])


def _sched_spec(**args):
    return RunSpec.model_validate({"scheduler": args}).scheduler


def lr_sequence(sched: dict, *, epochs: int, spe: int, optimizer: str = "SGD", metrics=None) -> list[float]:
    """The lr used by every optimizer step of a run, as the loop drives LRSchedule."""
    opt = _opt(optimizer, **({"momentum": 0.9} if optimizer == "SGD" else {}))
    schedule = LRSchedule(opt, _sched_spec(**sched), epochs=epochs, steps_per_epoch=spe)
    seen = []
    for epoch in range(1, epochs + 1):
        for _ in range(spe):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            schedule.after_step()
        schedule.after_epoch(epoch, {"val/loss": (metrics or {}).get(epoch, 1.0)})
    return seen


def torch_reference(make, *, epochs: int, spe: int, per_step: bool = False) -> list[float]:
    """The same scheduler run alone by torch, one lr per step."""
    opt = _opt("SGD", momentum=0.9)
    sched = make(opt)
    seen = []
    for _ in range(epochs):
        for _ in range(spe):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            if per_step:
                sched.step()
        if not per_step:
            sched.step()
    return seen


def warmup(target: float, steps: int) -> list[float]:
    return [target * (0.1 + 0.9 * k / steps) for k in range(steps)]


def test_optimizers_receive_their_arguments():
    sgd = _opt("SGD", momentum=0.9, nesterov=True, weight_decay=0.01)
    assert isinstance(sgd, torch.optim.SGD)
    assert sgd.defaults["momentum"] == 0.9 and sgd.defaults["nesterov"] and sgd.defaults["weight_decay"] == 0.01
    adam = _opt("Adam", beta1=0.8, beta2=0.99, eps=1e-6, amsgrad=True)
    assert type(adam) is torch.optim.Adam and adam.defaults["betas"] == (0.8, 0.99) and adam.defaults["amsgrad"]
    adamw = _opt("AdamW")
    assert type(adamw) is torch.optim.AdamW and adamw.defaults["weight_decay"] == 0.01
    rms = _opt("RMSprop", alpha=0.9, centered=True, momentum=0.5)
    assert isinstance(rms, torch.optim.RMSprop) and rms.defaults["centered"] and rms.defaults["alpha"] == 0.9
    ada = _opt("Adagrad", lr_decay=0.01)
    assert isinstance(ada, torch.optim.Adagrad) and ada.defaults["lr_decay"] == 0.01


def test_nesterov_without_momentum_is_refused():
    with pytest.raises(TrainingError, match="optimizer.nesterov needs momentum > 0"):
        _opt("SGD", nesterov=True)


def test_no_scheduler_with_warmup_climbs_from_a_tenth_then_holds():
    seq = lr_sequence({"type": "none", "warmup_epochs": 1}, epochs=3, spe=4)
    assert seq[:4] == pytest.approx([0.01, 0.0325, 0.055, 0.0775])
    assert seq[4:] == pytest.approx([BASE] * 8)
    assert lr_sequence({"type": "none"}, epochs=2, spe=3) == pytest.approx([BASE] * 6)


def test_step_lr_by_hand():
    seq = lr_sequence({"type": "StepLR", "step_size": 2, "gamma": 0.5, "warmup_epochs": 1}, epochs=5, spe=2)
    assert seq == pytest.approx([0.01, 0.055, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05])


EPOCH_SCHEDULERS = [
    ({"type": "StepLR", "step_size": 2, "gamma": 0.5},
     lambda o, e: torch.optim.lr_scheduler.StepLR(o, step_size=2, gamma=0.5)),
    ({"type": "MultiStepLR", "milestones": [3, 1], "gamma": 0.3},
     lambda o, e: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[1, 3], gamma=0.3)),
    ({"type": "ExponentialLR", "gamma": 0.8},
     lambda o, e: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)),
    ({"type": "CosineAnnealingLR", "eta_min": 0.001},  # T_max defaults to the epochs after warm-up
     lambda o, e: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=e, eta_min=0.001)),
]


@pytest.mark.parametrize("warm", [0, 2])
@pytest.mark.parametrize("sched,make", EPOCH_SCHEDULERS, ids=[s["type"] for s, _ in EPOCH_SCHEDULERS])
def test_epoch_schedulers_run_after_warmup(sched, make, warm):
    epochs, spe = 6, 3
    seq = lr_sequence({**sched, "warmup_epochs": warm}, epochs=epochs, spe=spe)
    main = epochs - warm
    expected = warmup(BASE, warm * spe) + torch_reference(lambda o: make(o, main), epochs=main, spe=spe)
    assert seq == pytest.approx(expected)
    assert len(set(seq[warm * spe:])) > 1  # the schedule really moves


@pytest.mark.parametrize("warm", [0, 1])
def test_one_cycle_steps_per_batch_after_warmup(warm):
    epochs, spe = 4, 5
    sched = {"type": "OneCycleLR", "max_lr": 1.0, "pct_start": 0.25, "warmup_epochs": warm}
    seq = lr_sequence(sched, epochs=epochs, spe=spe)
    steps = (epochs - warm) * spe
    ref = torch_reference(lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=steps,
                                                                        pct_start=0.25),
                          epochs=epochs - warm, spe=spe, per_step=True)
    # Warm-up climbs to where the cycle starts (max_lr / 25).
    assert seq == pytest.approx(warmup(1.0 / 25, warm * spe) + ref)
    assert max(seq) == pytest.approx(1.0, rel=1e-2)


def test_one_cycle_defaults_to_ten_times_the_lr_and_works_without_momentum():
    seq = lr_sequence({"type": "OneCycleLR"}, epochs=2, spe=10, optimizer="Adagrad")
    assert max(seq) == pytest.approx(10 * BASE, rel=1e-3) and seq[0] == pytest.approx(10 * BASE / 25)


def test_reduce_on_plateau_uses_the_monitored_metric():
    flat = {e: 1.0 for e in range(1, 8)}
    seq = lr_sequence({"type": "ReduceLROnPlateau", "patience": 1, "factor": 0.5, "warmup_epochs": 1},
                      epochs=6, spe=1, metrics=flat)
    # Epoch 1 warms up; the plateau counts from epoch 2 (first best), 3 and 4 do not improve -> halve.
    assert seq == pytest.approx([0.01, 0.1, 0.1, 0.1, 0.05, 0.05])
    falling = {e: 1.0 / e for e in range(1, 8)}
    assert lr_sequence({"type": "ReduceLROnPlateau", "patience": 1}, epochs=5, spe=1,
                       metrics=falling) == pytest.approx([BASE] * 5)


def test_warmup_as_long_as_training_is_refused():
    with pytest.raises(TrainingError, match=r"scheduler.warmup_epochs \(3\) leaves no epochs for StepLR"):
        lr_sequence({"type": "StepLR", "warmup_epochs": 3}, epochs=3, spe=2)


@pytest.mark.parametrize("sched", [{"type": "OneCycleLR", "warmup_epochs": 1},
                                   {"type": "CosineAnnealingLR", "warmup_epochs": 1},
                                   {"type": "ReduceLROnPlateau", "patience": 0}])
def test_state_dict_continues_the_same_sequence(sched):
    epochs, spe = 5, 3
    full = lr_sequence(sched, epochs=epochs, spe=spe)
    # Run 2 epochs, save, rebuild, load, run the rest.
    opt = _opt("SGD", momentum=0.9)
    s = LRSchedule(opt, _sched_spec(**sched), epochs=epochs, steps_per_epoch=spe)
    seen = []
    for epoch in (1, 2):
        for _ in range(spe):
            seen.append(opt.param_groups[0]["lr"])
            opt.step()
            s.after_step()
        s.after_epoch(epoch, {"val/loss": 1.0})
    saved_opt, saved = opt.state_dict(), s.state_dict()
    opt2 = _opt("SGD", momentum=0.9)
    s2 = LRSchedule(opt2, _sched_spec(**sched), epochs=epochs, steps_per_epoch=spe)
    opt2.load_state_dict(saved_opt)
    s2.load_state_dict(saved)
    for epoch in range(3, epochs + 1):
        for _ in range(spe):
            seen.append(opt2.param_groups[0]["lr"])
            opt2.step()
            s2.after_step()
        s2.after_epoch(epoch, {"val/loss": 1.0})
    assert seen == pytest.approx(full)


def _updates(opt: torch.optim.Optimizer, param: torch.nn.Parameter, steps: int = 5) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        param.grad = torch.randn(param.shape, generator=gen)
        opt.step()
    return param.detach().clone()


@pytest.mark.parametrize("kind,args", [("SGD", {"momentum": 0.9, "nesterov": True}), ("Adam", {"amsgrad": True}),
                                       ("AdamW", {"weight_decay": 0.01}), ("Adagrad", {"lr_decay": 0.01})])
def test_fused_kernels_compute_what_torchs_default_computes(kind, args):
    spec = parse_spec({"optimizer": {"type": kind, "lr": BASE, **args}}).optimizer
    ours = torch.nn.Parameter(torch.linspace(-1, 1, 6))
    opt = build_optimizer(spec, [ours])
    assert opt.param_groups[0]["fused"] is True  # torch 2.13 has CPU kernels for these four
    plain = torch.nn.Parameter(torch.linspace(-1, 1, 6))
    kwargs = {k: v for k, v in opt.defaults.items() if k != "decoupled_weight_decay"}  # AdamW sets it itself
    reference = type(opt)([plain], **{**kwargs, "fused": None})  # torch's default kernel, same arguments
    assert torch.allclose(_updates(opt, ours), _updates(reference, plain), rtol=1e-5, atol=1e-6)


def test_without_a_fused_kernel_the_default_one_is_used(monkeypatch):
    class NoFusedAdamW(torch.optim.AdamW):
        def __init__(self, params, fused=None, **kwargs):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be floating point Tensors of "
                                   "supported devices: ['cuda']")  # torch < 2.4 on the CPU
            super().__init__(params, **kwargs)

    monkeypatch.setattr(torch.optim, "AdamW", NoFusedAdamW)
    opt = _opt("AdamW")
    assert isinstance(opt, NoFusedAdamW) and not opt.param_groups[0].get("fused")
    assert _updates(opt, opt.param_groups[0]["params"][0]).abs().sum() > 0  # it trains


def test_resuming_keeps_this_optimizers_kernel_and_the_saved_moments():
    from engine.training.optim import resume_state

    saved = _opt("AdamW")
    param = saved.param_groups[0]["params"][0]
    _updates(saved, param)
    state = saved.state_dict()
    state["param_groups"][0]["fused"] = None
    state["param_groups"][0]["foreach"] = True  # as a run on another device saved it
    fresh = _opt("AdamW")
    fresh.load_state_dict(resume_state(fresh, state))
    group = fresh.param_groups[0]
    assert group["fused"] is True and group["foreach"] is None and group["lr"] == BASE
    assert torch.equal(fresh.state[group["params"][0]]["exp_avg"], saved.state[param]["exp_avg"])
