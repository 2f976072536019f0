"""Batches for the loop.

Data that fits on the device stays there as tensors and batches are formed
by indexing with a device-side permutation: no per-batch host work, no
copies, no collate. Data that does not fit goes through a DataLoader with
pinned memory and asynchronous copies. Both draw the batch order from one
seeded generator, so a run repeats and a resumed run continues exactly.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Optional

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

if TYPE_CHECKING:
    from engine.training.distributed import Group

Batch = tuple[torch.Tensor, torch.Tensor]


def batches_per_epoch(n: int, batch_size: int, processes: int = 1) -> int:
    # A trailing batch with fewer than two samples per process is dropped (it
    # is different samples each epoch): BatchNorm cannot normalize a single
    # sample in training mode, and every process needs a share.
    full, rest = divmod(n, batch_size)
    return full + (1 if rest >= 2 * processes else 0)


def as_tensors(x: np.ndarray, y: np.ndarray) -> Batch:
    # Integer x are token ids for an Embedding, which indexes with int64 and
    # rejects floats; everything else is a float32 feature.
    dtype = np.int64 if x.dtype.kind in "iu" else np.float32
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=dtype))
    yt = torch.from_numpy(np.ascontiguousarray(y))
    return xt, yt


class Feed:
    """One split's data on the device or on the host, batched."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, device: torch.device, *, resident: bool,
                 channels_last: bool = False):
        self.device = device
        self.resident = resident
        self.channels_last = channels_last and x.ndim == 4
        if resident:
            x, y = x.to(device), y.to(device)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
        self.x, self.y = x, y

    def make_generator(self, seed: int) -> torch.Generator:
        """The batch-order generator, on the device that holds the data."""
        gen = torch.Generator(device=self.x.device)
        gen.manual_seed(seed)
        return gen

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def _prepare(self, xb: torch.Tensor, yb: torch.Tensor) -> Batch:
        if not self.resident:
            xb = xb.to(self.device, non_blocking=True)
            yb = yb.to(self.device, non_blocking=True)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb, yb

    def train_batches(self, batch_size: int, generator: torch.Generator, start_batch: int = 0,
                      group: Optional[Group] = None) -> Iterator[Batch]:
        """Shuffled batches of one epoch, beginning at `start_batch` (resume).
        The permutation is drawn from `generator` on the generator's device;
        in a process group every process draws the same one and takes its
        share of each batch."""
        n = len(self)
        perm = torch.randperm(n, generator=generator, device=generator.device)
        if perm.device != self.x.device:
            perm = perm.to(self.x.device)
        count = batches_per_epoch(n, batch_size, group.world if group else 1)
        chunks = (perm[i * batch_size:(i + 1) * batch_size] for i in range(start_batch, count))
        if group is not None:
            chunks = (group.share(idx) for idx in chunks)
        if self.resident:
            for idx in chunks:
                yield self._prepare(self.x[idx], self.y[idx])
            return
        yield from self._loader(list(chunks))

    def eval_batches(self, batch_size: int, group: Optional[Group] = None) -> Iterator[Batch]:
        """In order; in a process group, this process's rows only."""
        lo, hi = group.span(len(self)) if group else (0, len(self))
        if self.resident:
            for i in range(lo, hi, batch_size):
                j = min(i + batch_size, hi)
                yield self._prepare(self.x[i:j], self.y[i:j])
            return
        yield from self._loader([torch.arange(i, min(i + batch_size, hi)) for i in range(lo, hi, batch_size)])

    def _loader(self, chunks: list[torch.Tensor]) -> Iterator[Batch]:
        # Each sampler item is a whole batch of indices: TensorDataset gathers
        # all of them at once instead of collating samples one by one, which
        # is fast enough in this process. No worker processes: they would be
        # forked from a process that holds CUDA state, which CUDA does not survive.
        loader = DataLoader(TensorDataset(self.x, self.y), sampler=chunks, batch_size=None,
                            num_workers=0, pin_memory=self.device.type == "cuda")
        for xb, yb in loader:
            yield self._prepare(xb, yb)
