"""The memory check next to Launch: the model's estimated training memory
(engine.model summary, at this batch size) against the free memory of the
device the run will use, from the system sampler (NVML for GPUs, psutil
for RAM; never torch.cuda in the GUI).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from engine.formatting import nbytes

# A run needs more than the estimate (the CUDA context, allocator slack,
# the data when it is kept on the device): warn before the estimate alone
# fills the device.
HEADROOM = 0.9


@dataclass(frozen=True)
class Fit:
    need_bytes: int
    device: str  # what the run will use: cpu, cuda:0, ...
    free_bytes: Optional[int]  # None: not known (yet, or no such device)
    present: bool = True

    @property
    def fits(self) -> Optional[bool]:
        if self.free_bytes is None:
            return None
        return self.need_bytes <= HEADROOM * self.free_bytes


class MemoryCheck:
    """Free memory per device, from the newest system sample."""

    def __init__(self) -> None:
        self.gpus: list[Any] = []
        self._free_mb: dict[str, float] = {}
        self.known = False

    def update(self, gpus: list[Any], samples: dict[str, float]) -> None:
        self.gpus = list(gpus)
        free: dict[str, float] = {}
        used, total = samples.get("ram/used_mb"), samples.get("ram/total_mb")
        if used is not None and total:
            free["cpu"] = total - used
        for g in gpus:
            used = samples.get(f"gpu{g.index}/mem_used_mb")
            total = samples.get(f"gpu{g.index}/mem_total_mb", g.mem_total_mb)
            if used is not None and total:
                free[f"cuda:{g.index}"] = total - used
        self._free_mb = free
        self.known = True

    def resolve(self, device: str) -> str:
        """The device a spec's `training.device` lands on here (auto: the first GPU, else the CPU)."""
        if device == "auto":
            return "cuda:0" if self.gpus else "cpu"
        if device == "cuda":
            return "cuda:0"
        return device

    def fit(self, need_bytes: int, device: str) -> Fit:
        target = self.resolve(device)
        if target == "mps":  # unified memory: the RAM is what there is
            free = self._free_mb.get("cpu")
            return Fit(need_bytes, target, None if free is None else int(free * 1024**2))
        present = target == "cpu" or any(f"cuda:{g.index}" == target for g in self.gpus)
        free = self._free_mb.get(target)
        return Fit(need_bytes, target, None if free is None else int(free * 1024**2),
                   present=present or not self.known)


def describe_fit(fit: Fit) -> tuple[str, str]:
    """(text, level): level 'ok', 'warn' or '' (unknown)."""
    need = f"~{nbytes(fit.need_bytes, digits=2)}"  # two figures are what a person compares
    if not fit.present:
        return f"{need} needed; {fit.device} is not on this machine — pick another device", "warn"
    if fit.free_bytes is None:
        return f"{need} needed on {fit.device} (free memory: checking…)", ""
    free = nbytes(fit.free_bytes, digits=2)
    if fit.fits:
        return f"{need} of {free} free on {fit.device} ✓", "ok"
    return (f"{need} needed but only {free} free on {fit.device} ⚠ — lower the batch size or "
            "pick another device"), "warn"
