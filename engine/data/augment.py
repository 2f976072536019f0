"""Training-time augmentation (`data.augment`), in batches on the training device.

An `Augmenter` takes a training batch and the step number and returns the
transformed batch and its targets (soft targets after mixup or CutMix).
Every draw comes from generators seeded with (run seed, process rank,
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

from engine.spec_augment import MIXING, AugmentError, _Transform, check_augment

__all__ = ["AugmentError", "Augmenter", "check_augment", "make_augmenter", "preview_draws"]

GEOMETRIC = ("random_crop", "hflip", "vflip", "rotation", "affine")

Op = Callable[[torch.Tensor, "Draws"], torch.Tensor]


class Draws:
    """The random sources of one step: `host` (numpy) for the few numbers per
    sample (angles, shifts, boxes, who gets a transform), `device` (torch)
    for values per element (noise, masks). Small draws on the host cost
    microseconds where a torch op costs tens of them, and a step's handful
    reaches the device in one copy per transform."""

    def __init__(self, seed: int, rank: int, step: int, device: torch.device):
        self.host = np.random.default_rng([seed, rank, step])
        self.device = torch.Generator(device=device)
        self.device.manual_seed((seed * 1_000_003 + rank * 7_919 + step) % 2**63)
        self.to = device

    def chosen(self, p: float, b: int) -> np.ndarray:
        """(B,) bool: which samples get a transform applied with probability p."""
        return np.ones(b, bool) if p >= 1 else self.host.random(b) < p

    def uniform(self, bounds: tuple[float, float], b: int) -> np.ndarray:
        return self.host.uniform(bounds[0], bounds[1], b)

    def tensor(self, values: np.ndarray, like: torch.Tensor) -> torch.Tensor:
        """Per-sample values as a (B, 1, ...) tensor that broadcasts over a batch like `like`."""
        t = torch.from_numpy(np.ascontiguousarray(values, dtype=np.float32))
        return t.to(like.device, non_blocking=True).view(-1, *([1] * (like.ndim - 1)))


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

    def draws(self, device: torch.device, step: int) -> Draws:
        return Draws(self.seed, self.rank, step, device)

    def __call__(self, x: torch.Tensor, y: torch.Tensor, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(augmented x, targets): class indices, or probabilities (B, K) after mixing."""
        d = self.draws(x.device, step)
        channels_last = x.ndim == 4 and x.is_contiguous(memory_format=torch.channels_last)
        x = self.transform(x, d)
        if channels_last:  # as the model expects it (training.channels_last); resampling returns NCHW
            x = x.contiguous(memory_format=torch.channels_last)
        if self.mixers:
            mixer = self.mixers[int(d.host.integers(len(self.mixers)))]
            if d.host.random() < mixer.p:
                return _mix(mixer, x, y, d, self.num_classes)
        return x, y

    def transform(self, x: torch.Tensor, d: Draws) -> torch.Tensor:
        """The per-sample transforms only (what the Data page previews)."""
        for op in self.ops:
            x = op(x, d)
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


def _warp(transforms: list[_Transform]) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        b, _, h, w = x.shape
        # grid_sample maps each output pixel to where it reads the input: the inverse of the
        # transforms, composed in reverse (M = A_k ... A_1, so M^-1 = A_1^-1 ... A_k^-1).
        inverse = np.broadcast_to(np.eye(3), (b, 3, 3)).copy()
        for t in transforms:
            a = _inverse_matrix(t, b, h, w, d.host)
            off = ~d.chosen(t.p, b)
            a[off] = np.eye(3)
            inverse = inverse @ a
        # Pixels about the centre -> grid_sample's [-1, 1] units.
        to_unit, from_unit = np.diag([2.0 / w, 2.0 / h, 1.0]), np.diag([w / 2.0, h / 2.0, 1.0])
        theta = torch.from_numpy((to_unit @ inverse @ from_unit)[:, :2, :].astype(np.float32))
        theta = theta.to(x.device, non_blocking=True).to(x.dtype)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    return op


def _inverse_matrix(t: Any, b: int, h: int, w: int, host: np.random.Generator) -> np.ndarray:
    """(B, 3, 3) inverses of one geometric transform's maps, x to the right and y down."""
    a = np.broadcast_to(np.eye(3), (b, 3, 3)).copy()
    if t.type == "hflip":
        a[:, 0, 0] = -1
    elif t.type == "vflip":
        a[:, 1, 1] = -1
    elif t.type == "random_crop":  # a shift by whole pixels; the inverse shifts back
        shift = host.integers(-t.padding, t.padding + 1, (b, 2))
        a[:, 0, 2], a[:, 1, 2] = -shift[:, 0], -shift[:, 1]
    elif t.type == "rotation":
        angle = np.deg2rad(host.uniform(t.degrees[0], t.degrees[1], b))
        cos, sin = np.cos(angle), np.sin(angle)
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 0], a[:, 1, 1] = cos, sin, -sin, cos
    elif t.type == "affine":  # forward: x' = s [[1, k], [0, 1]] x + t
        scale = host.uniform(t.scale[0], t.scale[1], b)
        k = np.tan(np.deg2rad(host.uniform(t.shear[0], t.shear[1], b)))
        tx = host.uniform(t.translate[0] * w, t.translate[1] * w, b)
        ty = host.uniform(t.translate[0] * h, t.translate[1] * h, b)
        a[:, 0, 0], a[:, 0, 1], a[:, 1, 1] = 1 / scale, -k / scale, 1 / scale
        a[:, 0, 2] = -(tx - k * ty) / scale
        a[:, 1, 2] = -ty / scale
    return a


def _color_jitter(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        b = x.shape[0]
        on = d.chosen(t.p, b)
        contrast = np.where(on, d.uniform(t.contrast, b), 1.0)
        brightness = np.where(on, d.uniform(t.brightness, b), 0.0)
        flat = x.reshape(b, -1)
        span = (flat.amax(1) - flat.amin(1)).view(-1, *([1] * (x.ndim - 1)))
        mean = flat.mean(1).view(-1, *([1] * (x.ndim - 1)))
        return (x - mean) * d.tensor(contrast, x) + mean + d.tensor(brightness, x) * span

    return op


def _erasing(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        b, _, h, w = x.shape
        area = d.uniform(t.area, b) * h * w
        ratio = np.exp(d.uniform((math.log(0.3), math.log(1 / 0.3)), b))  # as torchvision's
        eh = np.clip(np.round(np.sqrt(area * ratio)), 1, h)
        ew = np.clip(np.round(np.sqrt(area / ratio)), 1, w)
        top = np.floor(d.host.random(b) * (h - eh + 1))
        left = np.floor(d.host.random(b) * (w - ew + 1))
        eh = np.where(d.chosen(t.p, b), eh, 0)  # an empty box leaves the sample alone
        box = torch.from_numpy(np.stack([top, top + eh, left, left + ew], 1).astype(np.float32))
        box = box.to(x.device, non_blocking=True).view(b, 4, 1, 1)
        rows = torch.arange(h, device=x.device, dtype=box.dtype).view(1, h, 1)
        cols = torch.arange(w, device=x.device, dtype=box.dtype).view(1, 1, w)
        inside = ((rows >= box[:, 0]) & (rows < box[:, 1]) & (cols >= box[:, 2]) & (cols < box[:, 3]))
        return x.masked_fill(inside.unsqueeze(1), 0.0)

    return op


def _gaussian_noise(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        noise = torch.randn(x.shape, generator=d.device, device=x.device, dtype=x.dtype)
        if t.p >= 1:
            return x + t.std * noise
        return x + d.tensor(t.std * d.chosen(t.p, x.shape[0]), x) * noise

    return op


def _feature_mask(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        # What a "feature" is: a column of a table, a channel of a sequence (all its steps),
        # a time step of a signal (all its channels), a pixel of an image (all its channels).
        shape = [x.shape[0], 1, *x.shape[2:]] if x.ndim > 2 else list(x.shape)
        keep = torch.rand(shape, generator=d.device, device=x.device) >= t.rate
        if t.p < 1:
            keep |= d.tensor(~d.chosen(t.p, x.shape[0]), x).bool()
        return x * keep

    return op


def _time_shift(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        axis = 1 if kind == "sequence" else x.ndim - 1  # (B, T, F) or (B, C, L)
        b, length = x.shape[0], x.shape[axis]
        shift = d.host.integers(t.steps[0], t.steps[1] + 1, b) * d.chosen(t.p, b)
        index = np.clip(np.arange(length)[None, :] - shift[:, None], 0, length - 1)
        view = [b] + [1] * (x.ndim - 1)
        view[axis] = length
        index_t = torch.from_numpy(index).to(x.device, non_blocking=True).view(view)
        return torch.gather(x, axis, index_t.expand_as(x))

    return op


def _scaling(t: Any, kind: str) -> Op:
    def op(x: torch.Tensor, d: Draws) -> torch.Tensor:
        b = x.shape[0]
        return x * d.tensor(np.where(d.chosen(t.p, b), d.uniform(t.factor, b), 1.0), x)

    return op


_OPS: dict[str, Callable[..., Op]] = {
    "color_jitter": _color_jitter, "erasing": _erasing, "gaussian_noise": _gaussian_noise,
    "feature_mask": _feature_mask, "time_shift": _time_shift, "scaling": _scaling,
}


# --- batch level: mixup and CutMix ----------------------------------------------------------

def _mix(t: Any, x: torch.Tensor, y: torch.Tensor, d: Draws,
         num_classes: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
    b = x.shape[0]
    perm = torch.from_numpy(d.host.permutation(b)).to(x.device, non_blocking=True)
    lam = float(d.host.beta(t.alpha, t.alpha))
    if t.type == "cutmix":
        h, w = x.shape[-2:]
        cut_h, cut_w = int(round(h * math.sqrt(1 - lam))), int(round(w * math.sqrt(1 - lam)))
        top, left = int(d.host.integers(0, h - cut_h + 1)), int(d.host.integers(0, w - cut_w + 1))
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


def preview_draws(x: np.ndarray, transforms: Sequence[_Transform], kind: str, seed: int,
                  times: int) -> np.ndarray:
    """`times` augmented copies of a few samples (times, N, ...), in their own units.

    The transforms act on normalized data, as in training; here the samples
    are standardized with their own statistics (per channel for images),
    augmented per sample (mixing needs a batch and is left out), and scaled back.
    """
    per_sample = [t for t in transforms if t.type not in MIXING]
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32))
    # One statistic per channel, as fit_normalizer keeps them (images (N, C, H, W), signals (N, C, L),
    # sequences (N, T, F)), so the shifts and erasing fill with the channel's mean.
    axes = {4: (0, 2, 3), 3: (0, 1) if kind == "sequence" else (0, 2)}.get(xt.ndim, (0,))
    mean = xt.mean(dim=axes, keepdim=True)
    std = xt.std(dim=axes, keepdim=True).clamp_min(1e-6)
    z = (xt - mean) / std
    augmenter = Augmenter(per_sample, kind, None, seed)
    with torch.no_grad():
        draws = [augmenter.transform(z, augmenter.draws(z.device, i)) * std + mean for i in range(times)]
    return torch.stack(draws).numpy()
