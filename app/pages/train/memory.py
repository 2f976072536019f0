"""The memory check next to Launch: the model's estimated training memory
(engine.model summary, at this batch size) against the free memory of the
device the run will use, from the system sampler (NVML for GPUs, psutil
for RAM; never torch.cuda in the GUI).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional

from engine.formatting import nbytes

# A run needs more than the estimate (the CUDA context, allocator slack,
# the data when it is kept on the device): warn before the estimate alone
# fills the device.
HEADROOM = 0.9


def process_count(spec: Any) -> int:
    """How many processes train the run (training.distributed), 1 without it."""
    wanted = spec.training.distributed
    return wanted.nproc if wanted is not None else 1


def process_batch(spec: Any) -> int:
    """The batch one process trains on: its share of the global batch."""
    return math.ceil(spec.training.batch_size / process_count(spec))


@dataclass(frozen=True)
class Fit:
    need_bytes: int  # on the device, for all the processes that share it
    device: str  # what the run will use: cpu, cuda:0, ...
    free_bytes: Optional[int]  # None: not known (yet, or no such device)
    present: bool = True
    processes: int = 1  # processes sharing the device, each needing need_bytes / processes

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

    def fit(self, need_bytes: int, device: str, processes: int = 1) -> Fit:
        """`need_bytes` per process; a data-parallel run's processes share
        the CPU, and on GPUs take one each while there are enough."""
        target = self.resolve(device)
        sharing = processes if not target.startswith("cuda") else math.ceil(processes / max(1, len(self.gpus)))
        need = need_bytes * sharing
        if target == "mps":  # unified memory: the RAM is what there is
            free = self._free_mb.get("cpu")
            return Fit(need, target, None if free is None else int(free * 1024**2), processes=sharing)
        present = target == "cpu" or any(f"cuda:{g.index}" == target for g in self.gpus)
        free = self._free_mb.get(target)
        return Fit(need, target, None if free is None else int(free * 1024**2),
                   present=present or not self.known, processes=sharing)


def describe_fit(fit: Fit) -> tuple[str, str]:
    """(text, level): level 'ok', 'warn' or '' (unknown)."""
    need = f"~{nbytes(fit.need_bytes, digits=2)}"  # two figures are what a person compares
    if fit.processes > 1:
        need += f" ({fit.processes} processes)"
    if not fit.present:
        return f"{need} needed; {fit.device} is not on this machine — pick another device", "warn"
    if fit.free_bytes is None:
        return f"{need} needed on {fit.device} (free memory: checking…)", ""
    free = nbytes(fit.free_bytes, digits=2)
    if fit.fits:
        return f"{need} of {free} free on {fit.device} ✓", "ok"
    return (f"{need} needed but only {free} free on {fit.device} ⚠ — lower the batch size or "
            "pick another device"), "warn"
