"""The learning-rate range test (Smith 2015, as fastai and PyTorch Lightning run it).

About 100 optimizer steps on the run's own data, model and optimizer with
the learning rate growing exponentially from 1e-7 to 10; the loss is
smoothed with an exponential moving average (bias-corrected, so the first
points are not pulled towards zero) and the test stops once the smoothed
loss passes 4x the best seen. Two suggestions are read off the curve:

- steepest: where the smoothed loss falls fastest against log(lr);
- valley: inside the longest stretch where the loss keeps falling, a point
  a little past its middle (fastai's default since 2.5: less sensitive to
  noise than the steepest point).

The suggestion is the valley. `find_lr` trains the model it prepares, so
callers run it in its own process (engine.training.probe_process).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

from engine.spec import RunSpec

START_LR = 1e-7
END_LR = 10.0
STEPS = 100
SMOOTHING = 0.98  # weight of the running average; fastai's choice for a 100-step test
DIVERGE = 4.0  # stop once the smoothed loss passes this multiple of the best
SKIP_START, SKIP_END = 5, 2  # ends of the curve left out of "steepest": start-up noise, the blow-up


@dataclass
class LRFinderResult:
    lrs: list[float]
    losses: list[float]  # raw batch losses
    smoothed: list[float]
    steepest: Optional[float]
    valley: Optional[float]
    stop_reason: str  # why the test ended, in words
    dataset: str = ""
    optimizer: str = ""
    notes: list[str] = field(default_factory=list)  # what a user should know about the curve

    @property
    def suggested(self) -> Optional[float]:
        return self.valley if self.valley is not None else self.steepest

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "LRFinderResult":
        return cls(**d)


def lr_at(step: int, steps: int = STEPS, start: float = START_LR, end: float = END_LR) -> float:
    """The learning rate of step `step` (0-based) on the exponential ramp."""
    return start * (end / start) ** (step / max(steps - 1, 1))


def smooth(losses: list[float], beta: float = SMOOTHING) -> list[float]:
    """Exponential moving average with bias correction (divided by 1 - beta^n)."""
    avg, out = 0.0, []
    for i, loss in enumerate(losses, start=1):
        avg = beta * avg + (1 - beta) * loss
        out.append(avg / (1 - beta ** i))
    return out


def steepest(lrs: list[float], smoothed: list[float]) -> Optional[float]:
    """The lr where d(loss)/d(log lr) is most negative before the lowest loss, ends left out."""
    import numpy as np

    # Only up to the lowest loss: past it the loss climbs and may fall back from a blow-up,
    # a "descent" no one should train at.
    lowest = int(np.argmin(np.asarray(smoothed)))
    lo, hi = SKIP_START, min(len(smoothed) - SKIP_END, lowest + 1)
    if hi - lo < 3:
        lo, hi = 0, len(smoothed)
    if hi - lo < 3:
        return None
    grads = np.gradient(np.asarray(smoothed[lo:hi]), np.log10(np.asarray(lrs[lo:hi])))
    i = int(np.argmin(grads))
    return float(lrs[lo + i]) if grads[i] < 0 else None


def valley(lrs: list[float], smoothed: list[float]) -> Optional[float]:
    """fastai's valley: the longest decreasing run of the loss (not necessarily
    contiguous), and in it the point at half of its second third."""
    n = len(smoothed)
    if n < 4:
        return None
    length = [1] * n
    start = end = 0
    for i in range(1, n):
        for j in range(i):
            if smoothed[i] < smoothed[j] and length[i] < length[j] + 1:
                length[i] = length[j] + 1
        if length[i] > length[end]:
            end = i
            start = end - length[end]
    if length[end] < 3:
        return None
    third = (end - start) / 3
    return float(lrs[min(start + int(third) + int(third / 2), n - 1)])


def find_lr(spec: RunSpec, *, steps: int = STEPS, start_lr: float = START_LR, end_lr: float = END_LR,
            device: str | None = None, on_step: Callable[[int, float, float], None] | None = None) -> LRFinderResult:
    """Run the range test on the spec's data, model and optimizer (a fresh
    model, seeded like a run). Raises TrainingError for a spec that cannot
    train. `on_step(step, lr, smoothed_loss)` reports progress."""
    from engine.training.probe import endless_batches, prepare_probe, set_lr, train_step

    p = prepare_probe(spec, device)
    p.model.train()
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    best = math.inf
    avg = 0.0
    reason = f"finished all {steps} steps (up to lr {end_lr:g})"
    batches = endless_batches(p)
    for i in range(steps):
        lr = lr_at(i, steps, start_lr, end_lr)
        set_lr(p.optimizer, lr)
        xb, yb = next(batches)
        loss_t, _ = train_step(p, xb, yb)
        loss = float(loss_t)  # one sync per step: 100 steps, and the stop test needs it
        if not math.isfinite(loss):
            reason = f"stopped at step {i + 1}: the loss became {loss} at lr {lr:.3g}"
            break
        avg = SMOOTHING * avg + (1 - SMOOTHING) * loss
        value = avg / (1 - SMOOTHING ** (i + 1))
        lrs.append(lr)
        losses.append(loss)
        smoothed.append(value)
        if on_step is not None:
            on_step(i + 1, lr, value)
        if i > 0 and value > DIVERGE * best:
            reason = f"stopped at step {i + 1}: the loss passed {DIVERGE:g}× its best at lr {lr:.3g}"
            break
        best = min(best, value)
    result = LRFinderResult(lrs, losses, smoothed, steepest(lrs, smoothed), valley(lrs, smoothed), reason,
                            dataset=p.dataset, optimizer=spec.optimizer.type)
    if result.suggested is None:
        result.notes.append("the loss never fell steadily: check the model and the data with "
                            "'Check before training' before choosing a learning rate")
    return result


def summary_lines(r: LRFinderResult) -> list[str]:
    """The curve in a few lines for a terminal; the last reads `suggested lr: <value>`."""
    out = [f"LR range test on {r.dataset} with {r.optimizer}: {len(r.lrs)} steps, lr "
           f"{r.lrs[0]:.1e} → {r.lrs[-1]:.1e}" if r.lrs else "LR range test: no step finished",
           r.stop_reason]
    if r.lrs:
        best = min(range(len(r.smoothed)), key=r.smoothed.__getitem__)
        out.append(f"loss (smoothed): {r.smoothed[0]:.4g} at the start, lowest {r.smoothed[best]:.4g} "
                   f"at lr {r.lrs[best]:.2e}, {r.smoothed[-1]:.4g} at the end")
        # A coarse table: one row per decade of learning rate.
        out.append(f"{'lr':>10}  {'loss':>10}")
        decade = None
        for lr, loss in zip(r.lrs, r.smoothed):
            d = math.floor(math.log10(lr) + 1e-9)
            if d != decade:
                decade = d
                out.append(f"{lr:>10.1e}  {loss:>10.4g}")
    out.append(f"steepest descent: {_fmt(r.steepest)}")
    out.append(f"valley: {_fmt(r.valley)}")
    out.extend(r.notes)
    out.append(f"suggested lr: {_fmt(r.suggested)}")
    return out


def _fmt(lr: Optional[float]) -> str:
    return "none" if lr is None else f"{lr:.3g}"
