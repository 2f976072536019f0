"""Averages 1 s samples into longer windows so a long run writes few rows
(a day at 1 s with two GPUs is ~1.5 M rows; at 5 s means, ~300 k)."""
from __future__ import annotations

import math
import time
from typing import Iterable, NamedTuple


class SystemPoint(NamedTuple):
    """One row of `system_metrics` (the run id is added by whoever writes it)."""

    key: str
    wall_time: float
    value: float


class Aggregator:
    """Means of each key over consecutive windows of `period` seconds.

    add() returns the points of a window once a sample arrives past its end
    (so a window closes one sample late, never early); flush() returns the
    open window at the end of a run. A point's wall_time is the mean time of
    the samples it averages. Non-finite values are skipped.
    """

    def __init__(self, period: float = 5.0):
        if period <= 0:
            raise ValueError(f"aggregation period must be > 0 seconds, got {period}")
        self.period = period
        self._start: float | None = None
        self._sums: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._times: dict[str, float] = {}

    def add(self, samples: Iterable[tuple[str, float]], wall_time: float | None = None) -> list[SystemPoint]:
        t = time.time() if wall_time is None else wall_time
        done: list[SystemPoint] = []
        if self._start is not None and t - self._start >= self.period:
            done = self.flush()
        if self._start is None:
            self._start = t
        for key, value in samples:
            value = float(value)
            if not math.isfinite(value):
                continue
            self._sums[key] = self._sums.get(key, 0.0) + value
            self._counts[key] = self._counts.get(key, 0) + 1
            self._times[key] = self._times.get(key, 0.0) + t
        return done

    def flush(self) -> list[SystemPoint]:
        """The means of the open window (empty when nothing was added), and start afresh."""
        points = [SystemPoint(key, self._times[key] / n, self._sums[key] / n)
                  for key, n in self._counts.items()]
        self._start = None
        self._sums, self._counts, self._times = {}, {}, {}
        return points
