"""Data-parallel training across the processes torchrun started (training.distributed).

Every process runs the same loop on its share of each batch: the epoch's
permutation comes from one generator seeded alike in every process, each
global batch is cut into `world` contiguous shares (rank r takes share r),
and DistributedDataParallel averages the gradients. Validation and test
metrics are summed over the processes (one all_reduce per evaluation), the
training losses once per logging interval, so every process sees the same
numbers and takes the same decisions (early stopping, plateau schedules).

Rank 0 alone hears commands; `share_control` hands its pause/stop flags to
every process once per step (a two-number broadcast).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

import torch
import torch.distributed as dist

from engine.spec import RunSpec
from engine.training.errors import TrainingError

PAUSE_KEEPALIVE_S = 60.0  # a paused rank 0 re-sends "paused" this often, far inside the group's timeout


def launched_rank() -> Optional[tuple[int, int, int]]:
    """(rank, world size, local rank) when torchrun started this process, else None."""
    if "WORLD_SIZE" not in os.environ or "RANK" not in os.environ:
        return None
    return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", "0"))


@dataclass
class Group:
    """This process's place in the run's process group."""

    rank: int
    world: int
    local_rank: int
    backend: str
    comm_device: torch.device  # where collectives' tensors live (the GPU for nccl)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def share(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch's indices (sizes differ by at most one)."""
        return batch.tensor_split(self.world)[self.rank]

    def span(self, n: int) -> tuple[int, int]:
        """This process's rows [lo, hi) of an evaluation split of n rows."""
        return n * self.rank // self.world, n * (self.rank + 1) // self.world

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """`t` summed over all processes (a new tensor on t's device)."""
        out = t.to(self.comm_device, copy=True)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
        return out.to(t.device)

    def share_control(self, stop: bool, pause: bool) -> tuple[bool, bool]:
        """Rank 0's (stop, pause), in every process."""
        flags = torch.tensor([int(stop), int(pause)], dtype=torch.int32, device=self.comm_device)
        dist.broadcast(flags, src=0)
        got = flags.tolist()
        return bool(got[0]), bool(got[1])

    def barrier(self) -> None:
        dist.barrier()

    def place(self, device: torch.device) -> torch.device:
        """One GPU per process where there are enough (nccl cannot share one);
        nccl's collectives then run on this process's GPU."""
        if device.type != "cuda":
            return device
        count = torch.cuda.device_count()
        base = device.index or 0
        if self.backend == "nccl" and count < base + self.world:
            raise TrainingError(f"training.distributed needs {self.world} GPUs from cuda:{base} for nccl, "
                                f"but this machine has {count}; use fewer processes or backend gloo")
        placed = torch.device("cuda", (base + self.local_rank) % count)
        if self.backend == "nccl":
            self.comm_device = placed
        return placed


def join(spec: RunSpec) -> tuple[Optional[Group], Optional[str]]:
    """Join the run's process group when torchrun started this process:
    (the group, None), or (None, a warning) when the spec asks for processes
    this process was not started with, or (None, None) for a plain run."""
    wanted = spec.training.distributed
    launched = launched_rank()
    if wanted is None:
        return None, None
    if launched is None:
        return None, (f"training.distributed asks for {wanted.nproc} processes but this process was not "
                      "started by torchrun (the LocalExecutor does that): training in one process")
    rank, world, local_rank = launched
    if wanted.backend == "nccl" and not torch.cuda.is_available():
        raise TrainingError("training.distributed.backend is nccl but no CUDA GPU is available — use gloo")
    comm = torch.device("cpu")
    if wanted.backend == "nccl":
        comm = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(comm)
    if not dist.is_initialized():
        dist.init_process_group(wanted.backend)
    return Group(rank, world, local_rank, wanted.backend, comm), None


def leave(group: Optional[Group]) -> None:
    if group is None or not dist.is_initialized():
        return
    try:
        dist.destroy_process_group()
    except RuntimeError:
        pass  # a peer is already gone; the run's end is decided, this process is exiting


def peer_lost(e: BaseException) -> bool:
    """Whether an error says another process of the group went away (killed, crashed)."""
    text = str(e)
    return isinstance(e, RuntimeError) and any(
        words in text for words in ("closed by peer", "Connection reset", "Broken pipe", "remote worker"))
