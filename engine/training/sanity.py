"""Check before training: three quick tests that catch a broken set-up in
seconds instead of after an hour (Karpathy's "recipe for training neural
networks"):

1. Initial loss: a fresh classifier knows nothing, so its cross-entropy
   should be about ln(number of classes); much more means over-confident
   random outputs (initialization, unnormalized inputs).
2. Overfit one batch: the model, loss and optimizer as configured must be
   able to memorize at most 32 samples in about 200 steps (the loss falls
   below 1 % of its start, or train accuracy reaches 100 %).
3. Zeroed inputs: once fitted, the model's loss with the inputs zeroed must
   be worse than with the real inputs; if not, the model is not using them.

`sanity_check` trains the model it prepares, so callers run it in its own
process (engine.training.probe_process).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal, Optional

from engine.spec import RunSpec

OVERFIT_SAMPLES = 32
OVERFIT_STEPS = 200
OVERFIT_TARGET = 0.01  # the loss must fall below this share of its start
INITIAL_SAMPLES = 512  # samples averaged for the initial loss
INITIAL_TOLERANCE = 0.5  # passes within ±50 % of ln(K)
ZEROED_MARGIN = 1.1  # zeroed-input loss must exceed the real one by 10 %

# Learning rates above these rarely train with this optimizer (adaptive ones step ~lr per weight).
HIGH_LR = {"SGD": 1.0, "Adam": 0.1, "AdamW": 0.1, "RMSprop": 0.1, "Adagrad": 1.0}

Outcome = Literal["pass", "fail", "skip"]


@dataclass
class CheckItem:
    name: str
    outcome: Outcome
    measured: str  # what was measured, in words with numbers
    advice: str = ""  # what to do, for a failure (or why it was skipped)


@dataclass
class SanityReport:
    items: list[CheckItem]
    dataset: str = ""
    curve: list[float] = field(default_factory=list)  # the overfit run's loss per step

    @property
    def passed(self) -> bool:
        return all(i.outcome != "fail" for i in self.items)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SanityReport":
        return cls([CheckItem(**i) for i in d["items"]], d.get("dataset", ""), list(d.get("curve", [])))


def sanity_check(spec: RunSpec, *, device: str | None = None,
                 on_step: Callable[[int, float], None] | None = None) -> SanityReport:
    """Run the three checks; raises TrainingError for a spec that cannot train at all."""
    from engine.training.probe import prepare_probe

    p = prepare_probe(spec, device)
    n = min(len(p.train), max(INITIAL_SAMPLES, OVERFIT_SAMPLES))
    x_all, y_all = p.train.x[:n].to(p.device), p.train.y[:n].to(p.device)
    # A fixed batch: the first samples of the (already shuffled) training split.
    xb, yb = x_all[:OVERFIT_SAMPLES], y_all[:OVERFIT_SAMPLES]
    items = [_initial_loss(p, x_all, y_all)]
    curve, overfit = _overfit(p, xb, yb, on_step)
    items.append(overfit)
    items.append(_zeroed_inputs(p, xb, yb, fitted=overfit.outcome == "pass"))
    return SanityReport(items, p.dataset, curve)


def _loss(p: Any, x: Any, y: Any) -> tuple[float, Optional[float]]:
    """(loss, accuracy or None) in eval mode, no gradients."""
    import torch

    from engine.training import device as dev
    from engine.training.losses import correct_count

    was = p.model.training
    p.model.eval()
    try:
        with torch.inference_mode(), dev.autocast(p.device, p.spec.training.precision):
            out = p.model(x)
            loss = float(p.objective(out.float(), y))
            acc = (float(correct_count(out, y, p.objective.binary)) / len(y)
                   if p.task == "classification" else None)
    finally:
        p.model.train(was)
    return loss, acc


def _initial_loss(p: Any, x: Any, y: Any) -> CheckItem:
    name = "Initial loss"
    loss, _ = _loss(p, x, y)
    if not math.isfinite(loss):
        return CheckItem(name, "fail", f"the untrained model's loss is {loss}",
                         "the model produces NaN or inf before any training: check the data for missing values "
                         "and the model for divisions (Softmax before a cross-entropy loss, huge layers)")
    if p.task == "classification":
        k = p.num_targets
        expected = math.log(2) if p.objective.name == "bce_with_logits" else math.log(k)
        what = "ln 2 (one yes/no logit per output)" if p.objective.name == "bce_with_logits" else f"ln({k})"
        measured = f"{loss:.3f} on {len(y)} training samples; a model that knows nothing scores {what} = {expected:.3f}"
        if abs(loss - expected) <= INITIAL_TOLERANCE * expected:
            return CheckItem(name, "pass", measured)
        if loss > expected:
            return CheckItem(name, "fail", measured,
                             "the fresh model is confidently wrong: normalize the inputs (data.normalize "
                             "'standard'), keep the last Linear's default initialization, and remove any "
                             "Softmax at the end (the loss applies it)")
        return CheckItem(name, "fail", measured,
                         "the fresh model already does better than chance: check that the target is not among the "
                         "inputs (a leak) and that the classes are not nearly all one class")
    # Regression: a model that predicts the mean scores the targets' variance (MSE).
    var = float(y.float().var(unbiased=False).mean()) if len(y) > 1 else 0.0
    measured = (f"{loss:.4g} on {len(y)} training samples; predicting the mean target would score "
                f"{var:.4g} (MSE)")
    if p.objective.name != "mse" or var <= 0:
        return CheckItem(name, "pass", measured + " (not compared: the loss is not MSE)")
    if loss <= 10 * var:
        return CheckItem(name, "pass", measured)
    return CheckItem(name, "fail", measured,
                     "the fresh model's outputs are far from the targets' scale: normalize the inputs "
                     "(data.normalize 'standard') or scale the targets")


def _overfit(p: Any, xb: Any, yb: Any,
             on_step: Callable[[int, float], None] | None) -> tuple[list[float], CheckItem]:
    import torch

    from engine.training.probe import train_step

    name = f"Overfit one batch ({len(yb)} samples, {OVERFIT_STEPS} steps)"
    lr = p.spec.optimizer.lr
    losses = torch.empty(OVERFIT_STEPS, device=p.device)
    p.model.train()
    for i in range(OVERFIT_STEPS):
        loss, _ = train_step(p, xb, yb)
        losses[i] = loss.float()
        if on_step is not None and (i + 1) % 20 == 0:
            on_step(i + 1, float(loss))
    curve = [float(v) for v in losses.cpu()]
    start = curve[0]
    final, acc = _loss(p, xb, yb)
    bad = next((i for i, v in enumerate(curve) if not math.isfinite(v)), None)
    if bad is not None or not math.isfinite(final):
        at = f"at step {bad + 1}" if bad is not None else "at the end"
        return curve, CheckItem(name, "fail", f"the loss became NaN or inf {at} (it started at {start:.3g})",
                                f"lower optimizer.lr (now {lr:g}); run the LR finder for a value, and consider "
                                "regularization.grad_clip_norm 1.0")
    acc_text = f", accuracy {acc:.0%}" if acc is not None else ""
    measured = (f"loss {start:.3g} → {final:.3g} ({final / start:.1%} of its start){acc_text}"
                if start > 0 else f"loss {start:.3g} → {final:.3g}{acc_text}")
    if final < OVERFIT_TARGET * start or acc == 1.0:
        return curve, CheckItem(name, "pass", measured)
    if final > 0.5 * start:
        # Steps that overshoot make the loss jump above its start; steps too small barely move it.
        if max(curve) > 1.5 * start or lr >= HIGH_LR.get(p.spec.optimizer.type, 1.0):
            why = f"optimizer.lr {lr:g} is too high: the steps overshoot. Lower it"
        else:
            why = f"optimizer.lr {lr:g} may be too low, or the model cannot fit. Try a higher one"
        advice = (f"the loss hardly moved: {why} — run the LR finder and use its suggestion. Also check that "
                  "the last block is a Linear with one output per class and no activation after it")
    else:
        advice = (f"the loss fell but not to {OVERFIT_TARGET:.0%} of its start: the model may be too small or too "
                  "regularized for even one batch (lower Dropout, weight_decay, label_smoothing), or "
                  f"optimizer.lr {lr:g} is off; run the LR finder")
    return curve, CheckItem(name, "fail", measured, advice)


def _zeroed_inputs(p: Any, xb: Any, yb: Any, fitted: bool) -> CheckItem:
    import torch

    name = "Loss with inputs zeroed"
    if not fitted:
        return CheckItem(name, "skip", "not measured",
                         "this check needs a model that fits one batch; fix the overfit check first")
    real, _ = _loss(p, xb, yb)
    zeroed, _ = _loss(p, torch.zeros_like(xb), yb)
    measured = f"{zeroed:.3g} with zeroed inputs against {real:.3g} with the real ones"
    if zeroed > ZEROED_MARGIN * real + 1e-6:
        return CheckItem(name, "pass", measured)
    return CheckItem(name, "fail", measured,
                     "the model does as well without its inputs: it is not using them. Check that the "
                     "inputs reach the model (a block that discards them, a Dropout with p close to 1) "
                     "and that the target is not predictable from the class balance alone")


def checklist_lines(report: SanityReport) -> list[str]:
    """The checklist for a terminal: one line per check, advice indented under a failure."""
    marks = {"pass": "[pass]", "fail": "[FAIL]", "skip": "[skip]"}
    out = [f"Check before training on {report.dataset}:"]
    for item in report.items:
        out.append(f"{marks[item.outcome]} {item.name}: {item.measured}")
        if item.advice:
            out.append(f"       → {item.advice}")
    out.append("all checks passed" if report.passed else
               f"{sum(i.outcome == 'fail' for i in report.items)} check(s) failed")
    return out
