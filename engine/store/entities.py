"""What the store hands out: plain dataclasses, never ORM rows or sessions,
so a caller keeps them after the session has closed. Datetimes are
timezone-aware UTC."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Optional

import numpy as np

from engine.status import LIVE


@dataclass(frozen=True)
class Run:
    id: int
    name: str
    status: str  # queued|running|paused|completed|stopped|failed|crashed|pruned
    spec: dict[str, Any]
    created_at: datetime
    started_at: Optional[datetime]
    finished_at: Optional[datetime]
    device: Optional[str]
    pid: Optional[int]
    error: Optional[str]
    summary: dict[str, Any]  # format: engine.store.summary
    notes: str
    tags: list[str]
    parent_id: Optional[int]
    starred: bool = False
    heartbeat_at: Optional[datetime] = None
    host: Optional[str] = None  # the machine `pid` belongs to
    sweep_id: Optional[int] = None  # a sweep's trial: its sweep and trial number
    trial_number: Optional[int] = None
    teacher_run_id: Optional[int] = None  # a distilled run: the run it learned from

    @property
    def duration_s(self) -> Optional[float]:
        return duration_s(self.started_at, self.finished_at)

    @property
    def is_active(self) -> bool:
        """A worker process holds the run (running or paused)."""
        return self.status in LIVE



def duration_s(started_at: Optional[datetime], finished_at: Optional[datetime]) -> Optional[float]:
    """Seconds from start to finish (to now while unfinished); None if never started."""
    if started_at is None:
        return None
    end = finished_at or datetime.now(timezone.utc)
    return max(0.0, (end - started_at).total_seconds())


@dataclass
class Curve:
    """One metric of one run, ordered by step.

    Reduced curves (mins/maxs set) have one point per bucket: steps, epochs,
    values and wall_times are those of the bucket's last point, mins/maxs the
    extremes of its finite values. NaN stands for a value stored as NULL.
    """

    run_id: Optional[int]
    key: str
    steps: np.ndarray  # int64 for metrics; float64 seconds for system curves
    epochs: np.ndarray  # int64; -1 for system curves (not tied to epochs)
    values: np.ndarray  # float64
    wall_times: np.ndarray  # float64, seconds since the Unix epoch
    mins: Optional[np.ndarray] = None
    maxs: Optional[np.ndarray] = None

    @property
    def reduced(self) -> bool:
        return self.mins is not None

    def __len__(self) -> int:
        return int(self.steps.shape[0])


@dataclass(frozen=True)
class Sweep:
    """A hyperparameter sweep (engine.store.sweeps); its trials are runs with
    `sweep_id` set. `spec` is the sweep document with its base spec inlined;
    `state` is the supervisor's own JSON (budget used, failures, ...)."""

    id: int
    name: str
    spec: dict[str, Any]
    method: str  # grid | random | tpe
    metric: str  # e.g. "val/accuracy"
    goal: str  # maximize | minimize
    status: str  # queued | running | paused | completed | stopped | failed
    created_at: datetime
    finished_at: Optional[datetime] = None
    best_run_id: Optional[int] = None
    pid: Optional[int] = None
    host: Optional[str] = None
    heartbeat_at: Optional[datetime] = None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointRecord:
    run_id: int
    kind: str  # best | last
    path: str
    step: int
    epoch: int
    metric_value: Optional[float]


def empty_curve(run_id: Optional[int], key: str, *, float_steps: bool = False) -> Curve:
    steps = np.empty(0, dtype=np.float64 if float_steps else np.int64)
    return Curve(run_id, key, steps, np.empty(0, np.int64), np.empty(0), np.empty(0))


class RunNotFoundError(KeyError):
    """`run 12 not found`; a KeyError whose str() is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "run not found"


class SweepNotFoundError(KeyError):
    """`sweep 3 not found`; a KeyError whose str() is the plain message."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "sweep not found"


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message names it and what to do."""
