"""Device-side metric accumulators: sums stay on the device and the host
reads them once per logging interval or evaluation (no host sync per
step: a sync stalls the queue of kernels)."""
from __future__ import annotations

from typing import Callable, Optional

import torch

from engine.training.losses import Objective, correct_count


def _acc_dtype(device: torch.device) -> torch.dtype:
    # float64 keeps sums of squares exact enough for r2; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


# Sums a tensor over the processes of a data-parallel run (engine.training.distributed).
Reduce = Callable[[torch.Tensor], torch.Tensor]


class TrainMeter:
    """Training losses per step and correct predictions, kept on the device.

    Each step's detached loss and correct count are kept as device scalars
    (no kernel, no sync); `flush()` stacks and reads them in one transfer,
    which also tells the exact step where the loss first went NaN or inf.
    With `reduce` (several processes), a flush reports every step's loss
    over all processes' shares, in one collective.
    """

    def __init__(self, device: torch.device, capacity: int, objective: Objective,
                 reduce: Optional[Reduce] = None):
        self.reduce = reduce
        self.objective = objective
        self.classification = objective.task == "classification"
        self.capacity = max(1, capacity)
        self._losses: list[torch.Tensor] = []
        self._sizes: list[int] = []
        self._correct: list[torch.Tensor] = []
        self._correct_total = 0

    @property
    def pending(self) -> int:
        return len(self._sizes)

    def add(self, loss: torch.Tensor, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        self._losses.append(loss.detach())
        self._sizes.append(int(targets.shape[0]))
        if self.classification:
            self._correct.append(correct_count(outputs.detach(), targets, self.objective.binary))

    def flush(self) -> list[tuple[float, int]]:
        """(loss, batch size) of each step since the last flush; syncs once."""
        if not self._sizes:
            return []
        values = torch.stack(self._losses).to(_acc_dtype(self._losses[0].device))
        n = len(self._sizes)
        sizes = self._sizes
        if self.reduce is not None:
            local = torch.tensor(self._sizes, dtype=values.dtype, device=values.device)
            summed = self.reduce(torch.cat([values * local, local]))
            values = summed[:n] / summed[n:]
            sizes = [round(v) for v in summed[n:].tolist()]
        if self._correct:
            correct = torch.stack(self._correct).sum().reshape(1).to(values.dtype)
            values = torch.cat([values, self.reduce(correct) if self.reduce is not None else correct])
        host = values.tolist()
        if self._correct:
            self._correct_total += int(host[n])
        out = list(zip(host[:n], sizes))
        self._losses, self._sizes, self._correct = [], [], []
        return out

    def take_correct(self) -> int:
        """Correct predictions counted by the flushes since the last call."""
        value, self._correct_total = self._correct_total, 0
        return value


class EvalMeter:
    """Loss and task metrics over a whole split, summed on the device."""

    def __init__(self, device: torch.device, objective: Objective, num_targets: int,
                 reduce: Optional[Reduce] = None):
        self.reduce = reduce  # several processes: each measured its rows, the result is over all
        self.objective = objective
        self.classification = objective.task == "classification"
        dt = _acc_dtype(device)
        self._loss = torch.zeros((), dtype=dt, device=device)
        self._correct = torch.zeros((), dtype=dt, device=device)
        width = 1 if self.classification else num_targets
        # Regression: sum |e|, sum e^2, sum y, sum y^2 per target column.
        self._reg = torch.zeros(4, width, dtype=dt, device=device)
        self.count = 0

    def add(self, outputs: torch.Tensor, targets: torch.Tensor) -> None:
        n = int(targets.shape[0])
        self.count += n
        outputs = outputs.float()
        self._loss += self.objective(outputs, targets).to(self._loss.dtype) * n
        if self.classification:
            self._correct += correct_count(outputs, targets, self.objective.binary)
            return
        y = targets.to(self._reg.dtype)
        err = outputs.to(self._reg.dtype) - y
        self._reg += torch.stack([err.abs().sum(0), (err * err).sum(0), y.sum(0), (y * y).sum(0)])

    def result(self, prefix: str) -> dict[str, float]:
        """{prefix/loss, prefix/accuracy} or {prefix/loss, prefix/mae, prefix/r2}; syncs once."""
        packed = torch.cat([self._loss.reshape(1), self._correct.reshape(1), self._reg.reshape(-1),
                            torch.tensor([float(self.count)], dtype=self._loss.dtype, device=self._loss.device)])
        if self.reduce is not None:
            packed = self.reduce(packed)
        flat = packed.tolist()
        n = round(flat[-1])
        if n == 0:
            return {}
        out = {f"{prefix}/loss": flat[0] / n}
        if self.classification:
            out[f"{prefix}/accuracy"] = flat[1] / n
            return out
        width = self._reg.shape[1]
        abs_err, sq_err, y_sum, y_sq = (flat[2 + i * width: 2 + (i + 1) * width] for i in range(4))
        out[f"{prefix}/mae"] = sum(abs_err) / (n * width)
        r2s = []
        for sse, s, ss in zip(sq_err, y_sum, y_sq):
            sst = ss - s * s / n
            # A constant target has no variance to explain: r2 is 1 when the
            # fit is exact and 0 otherwise (sklearn's convention).
            r2s.append((1.0 - sse / sst) if sst > 1e-12 else (1.0 if sse <= 1e-12 else 0.0))
        out[f"{prefix}/r2"] = sum(r2s) / len(r2s)
        return out
