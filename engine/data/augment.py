"""Training-time augmentation (`data.augment`), in batches on the training device.

An `Augmenter` takes a training batch and the step number and returns the
transformed batch and its targets (soft targets after mixup or CutMix).
Every draw comes from a generator seeded with (run seed, process rank,
step), so a step's augmentation depends on nothing else: two runs with one
seed see the same batches, a resumed run continues the same sequence, and
dropout's use of the global generator does not shift it.

Geometric transforms that follow each other in the list (crop, flips,
rotation, affine) are composed into one matrix per sample and applied with
a single `grid_sample`, so a pipeline costs one resampling however many of
them it lists. Everything acts on normalized data: a pixel uncovered by a
shift or erased becomes 0, the training split's mean.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from engine.spec_augment import KINDS, MIXING, _Transform

GEOMETRIC = ("random_crop", "hflip", "vflip", "rotation", "affine")

Op = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class AugmentError(ValueError):
    """A transform that does not fit the dataset; the message names data.augment[i] and the fix."""


def check_augment(transforms: Sequence[_Transform], kind: str, task: str, loss: str) -> None:
    """Refuse transforms that do not fit the data (a flip of a table, mixup of token ids)."""
    for i, t in enumerate(transforms):
        where = f"data.augment[{i}] ({t.type})"
        fits = KINDS[t.type]
        if kind not in fits:
            raise AugmentError(f"{where} applies to {' or '.join(_plural(k) for k in fits)}, but this dataset "
                               f"holds {_plural(kind)}; remove it from data.augment")
        if t.type in MIXING and task == "classification" and loss != "cross_entropy":
            raise AugmentError(f"{where} mixes the targets of two samples, which needs the cross_entropy loss "
                               f"(training.loss is {loss}); use cross_entropy or remove {t.type}")
        if t.type == "cutmix" and task != "classification":
            raise AugmentError(f"{where} mixes class labels; for regression use mixup or remove it")


def _plural(kind: str) -> str:
    return {"image": "images", "tabular": "tables", "points": "points", "sequence": "sequences",
            "signal": "signals", "tokens": "token ids"}.get(kind, kind)


class Augmenter:
    """Applies `data.augment` to training batches; see the module's docstring."""

    def __init__(self, transforms: Sequence[_Transform], kind: str, num_classes: Optional[int],
                 seed: int, rank: int = 0):
        self.kind = kind
        self.num_classes = num_classes
        self.seed = seed
        self.rank = rank
        self.ops: list[Op] = _compile([t for t in transforms if t.type not in MIXING], kind)
        self.mixers = [t for t in transforms if t.type in MIXING]

    def __bool__(self) -> bool:
        return bool(self.ops or self.mixers)

    def generator(self, device: torch.device, step: int) -> torch.Generator:
        g = torch.Generator(device=device)
        g.manual_seed((self.seed * 1_000_003 + self.rank * 7_919 + step) % 2**63)
        return g

    def __call__(self, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(augmented x, targets): class indices, or probabilities (B, K) after mixing."""
        g = self.generator(x.device, step)
        x = self.transform(x, g)
        if self.mixers:
            host = np.random.default_rng([self.seed, self.rank, step])
            mixer = self.mixers[int(host.integers(len(self.mixers)))]
            if host.random() < mixer.p:
                return _mix(mixer, x, y, host, g, self.num_classes)
        return x, y

    def transform(self, x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """The per-sample transforms only (what the Data page previews)."""
        for op in self.ops:
            x = op(x, g)
        return x


# --- per-sample transforms ------------------------------------------------------------

def _compile(transforms: Sequence[_Transform], kind: str) -> list[Op]:
    """One op per transform, except that consecutive geometric ones share a warp."""
    ops: list[Op] = []
    run: list[_Transform] = []
    for t in [*transforms, None]:
        if t is not None and t.type in GEOMETRIC:
            run.append(t)
            continue
        if run:
            ops.append(_warp(list(run)))
            run = []
        if t is not None:
            ops.append(_OPS[t.type](t, kind))
    return ops


def _chosen(p: float, b: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    """(B,) bool: which samples get a transform applied with probability p."""
    return torch.rand(b, generator=g, device=device) < p


def _uniform(bounds: tuple[float, float], b: int, g: torch.Generator, device: torch.device) -> torch.Tensor:
    lo, hi = bounds
    return lo + (hi - lo) * torch.rand(b, generator=g, device=device)


def _warp(transforms: list[_Transform]) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        dev = x.device
        m = torch.eye(3, device=dev).repeat(b, 1, 1)  # forward map in pixel units about the centre
        for t in transforms:
            a = _matrix(t, b, h, w, g, dev)
            keep = ~_chosen(t.p, b, g, dev)
            a[keep] = torch.eye(3, device=dev)
            m = a @ m
        # grid_sample maps output to input coordinates, in [-1, 1] units: invert, then rescale.
        to_unit = torch.diag(torch.tensor([2.0 / w, 2.0 / h, 1.0], device=dev))
        from_unit = torch.diag(torch.tensor([w / 2.0, h / 2.0, 1.0], device=dev))
        theta = (to_unit @ _invert_affine(m) @ from_unit)[:, :2, :]
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    return op


def _invert_affine(m: torch.Tensor) -> torch.Tensor:
    """Inverse of (B, 3, 3) affine maps in closed form (torch.linalg.inv of many
    3x3 matrices costs milliseconds on a CPU, more than the rest of a step)."""
    a, b, c, d = m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1]
    det = a * d - b * c
    inv = torch.zeros_like(m)
    inv[:, 0, 0], inv[:, 0, 1], inv[:, 1, 0], inv[:, 1, 1] = d / det, -b / det, -c / det, a / det
    inv[:, :2, 2] = -(inv[:, :2, :2] @ m[:, :2, 2:]).squeeze(-1)
    inv[:, 2, 2] = 1.0
    return inv


def _matrix(t: Any, b: int, h: int, w: int, g: torch.Generator, dev: torch.device) -> torch.Tensor:
    """(B, 3, 3) forward maps for one geometric transform, x to the right and y down."""
    a = torch.eye(3, device=dev).repeat(b, 1, 1)
    if t.type == "hflip":
        a[:, 0, 0] = -1
    elif t.type == "vflip":
        a[:, 1, 1] = -1
    elif t.type == "random_crop":
        pad = t.padding
        shift = torch.randint(-pad, pad + 1, (b, 2), generator=g, device=dev).to(a.dtype)
        a[:, 0, 2], a[:, 1, 2] = shift[:, 0], shift[:, 1]
    elif t.type == "rotation":
        angle = torch.deg2rad(_uniform(t.degrees, b, g, dev))
        cos, sin = torch.cos(angle), torch.sin(angle)
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1] = cos, -sin, sin, cos
    elif t.type == "affine":
        scale = _uniform(t.scale, b, g, dev)
        shear = torch.tan(torch.deg2rad(_uniform(t.shear, b, g, dev)))
        lo, hi = t.translate
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 1] = scale, scale * shear, scale
        a[:, 0, 2] = _uniform((lo * w, hi * w), b, g, dev)
        a[:, 1, 2] = _uniform((lo * h, hi * h), b, g, dev)
    return a


def _per_sample(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """(B,) values shaped to broadcast over a batch like x."""
    return v.reshape(-1, *([1] * (x.ndim - 1))).to(x.dtype)


def _color_jitter(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, dev = x.shape[0], x.device
        on = _per_sample(x, _chosen(t.p, b, g, dev))
        flat = x.reshape(b, -1)
        span = _per_sample(x, flat.amax(1) - flat.amin(1))
        mean = _per_sample(x, flat.mean(1))
        contrast = _per_sample(x, _uniform(t.contrast, b, g, dev))
        offset = _per_sample(x, _uniform(t.brightness, b, g, dev)) * span
        jittered = (x - mean) * contrast + mean + offset
        return torch.lerp(x, jittered, on)

    return op


def _erasing(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        dev = x.device
        area = _uniform(t.area, b, g, dev) * h * w
        ratio = torch.exp(_uniform((math.log(0.3), math.log(1 / 0.3)), b, g, dev))  # as torchvision's
        eh = torch.sqrt(area * ratio).round().clamp(1, h)
        ew = torch.sqrt(area / ratio).round().clamp(1, w)
        top = (torch.rand(b, generator=g, device=dev) * (h - eh + 1)).floor()
        left = (torch.rand(b, generator=g, device=dev) * (w - ew + 1)).floor()
        rows = torch.arange(h, device=dev).view(1, h, 1)
        cols = torch.arange(w, device=dev).view(1, 1, w)
        box = ((rows >= top.view(b, 1, 1)) & (rows < (top + eh).view(b, 1, 1))
               & (cols >= left.view(b, 1, 1)) & (cols < (left + ew).view(b, 1, 1)))
        box &= _chosen(t.p, b, g, dev).view(b, 1, 1)
        return x.masked_fill(box.unsqueeze(1), 0.0)

    return op


def _gaussian_noise(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        on = _per_sample(x, _chosen(t.p, x.shape[0], g, x.device))
        return x + t.std * on * torch.randn(x.shape, generator=g, device=x.device, dtype=x.dtype)

    return op


def _feature_mask(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        # What a "feature" is: a column of a table, a channel of a sequence (all its steps),
        # a time step of a signal (all its channels), a pixel of an image (all its channels).
        shape = [x.shape[0], 1, *x.shape[2:]] if x.ndim > 2 else list(x.shape)
        drop = torch.rand(shape, generator=g, device=x.device) < t.rate
        drop &= _chosen(t.p, x.shape[0], g, x.device).view(-1, *([1] * (x.ndim - 1)))
        return x.masked_fill(drop, 0.0)

    return op


def _time_shift(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        axis = 1 if kind == "sequence" else x.ndim - 1  # (B, T, F) or (B, C, L)
        b, length, dev = x.shape[0], x.shape[axis], x.device
        lo, hi = t.steps
        shift = torch.randint(lo, hi + 1, (b,), generator=g, device=dev)
        shift = shift * _chosen(t.p, b, g, dev)
        index = (torch.arange(length, device=dev).view(1, -1) - shift.view(-1, 1)).clamp(0, length - 1)
        view = [b] + [1] * (x.ndim - 1)
        view[axis] = length
        return torch.gather(x, axis, index.view(view).expand_as(x))

    return op


def _scaling(t, kind: str) -> Op:
    def op(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        b, dev = x.shape[0], x.device
        factor = torch.where(_chosen(t.p, b, g, dev), _uniform(t.factor, b, g, dev), torch.ones(b, device=dev))
        return x * _per_sample(x, factor)

    return op


_OPS: dict[str, Callable[..., Op]] = {
    "color_jitter": _color_jitter, "erasing": _erasing, "gaussian_noise": _gaussian_noise,
    "feature_mask": _feature_mask, "time_shift": _time_shift, "scaling": _scaling,
}


# --- batch level: mixup and CutMix ----------------------------------------------------------

def _mix(t: Any, x: torch.Tensor, y: torch.Tensor, host: np.random.Generator, g: torch.Generator,
         num_classes: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
    b = x.shape[0]
    perm = torch.randperm(b, generator=g, device=x.device)
    lam = float(host.beta(t.alpha, t.alpha))
    if t.type == "cutmix":
        h, w = x.shape[-2:]
        cut_h, cut_w = int(round(h * math.sqrt(1 - lam))), int(round(w * math.sqrt(1 - lam)))
        top, left = int(host.integers(0, h - cut_h + 1)), int(host.integers(0, w - cut_w + 1))
        x = x.clone()
        x[..., top:top + cut_h, left:left + cut_w] = x[perm][..., top:top + cut_h, left:left + cut_w]
        lam = 1.0 - cut_h * cut_w / (h * w)  # the share actually kept
    else:
        x = lam * x + (1.0 - lam) * x[perm]
    if num_classes is None:  # regression: mix the values
        return x, lam * y + (1.0 - lam) * y[perm]
    one_hot = F.one_hot(y, num_classes).to(x.dtype)
    return x, lam * one_hot + (1.0 - lam) * one_hot[perm]


def make_augmenter(transforms: Sequence[_Transform], kind: str, task: str, loss: str,
                   num_classes: Optional[int], seed: int, rank: int = 0) -> Optional[Augmenter]:
    """The run's augmenter, or None without `data.augment`; AugmentError for a misfit."""
    if not transforms:
        return None
    check_augment(transforms, kind, task, loss)
    return Augmenter(transforms, kind, num_classes if task == "classification" else None, seed, rank)
