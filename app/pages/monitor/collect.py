"""What the Monitor page asks for each second, gathered off the UI thread:
one machine sample, and every few seconds the running workers with their
memory. Plain Python (no Qt), called by a BackgroundCollector.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from engine.monitor import GpuInfo, SystemSampler

WORKER_STATUSES = ["running", "paused"]


@dataclass(frozen=True)
class WorkerRow:
    """One running or paused run, as the workers table shows it."""

    run_id: int
    name: str
    device: str
    status: str
    pid: int | None
    gpu_mem_mb: float | None  # None: unknown (no NVIDIA GPU, or the driver cannot tell)
    rss_mb: float | None  # None: the process is not on this machine or is gone


@dataclass(frozen=True)
class Snapshot:
    wall_time: float
    samples: dict[str, float]
    gpus: list[GpuInfo]
    message: str | None  # why GPU figures are missing, in words
    workers: list[WorkerRow] | None = None  # None: not re-read this time
    workers_error: str | None = None


class MonitorCollector:
    """Callable that returns a Snapshot; owns the sampler and the store.

    Both are created on first use, on the collecting thread: nvmlInit and
    opening the store (migrations) must not run on the UI thread.
    """

    def __init__(self, store_url: str | None, sampler: SystemSampler | None = None, *,
                 make_sampler: Callable[[], SystemSampler] = SystemSampler,
                 workers_every: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.store_url = store_url
        self._sampler = sampler
        self._make_sampler = make_sampler
        self._store: Any = None
        self._workers_every = workers_every
        self._clock = clock
        self._workers_at: float | None = None
        self.refresh_workers = False  # set from the UI thread when runs changed

    @property
    def sampler(self) -> SystemSampler:
        if self._sampler is None:
            self._sampler = self._make_sampler()
        return self._sampler

    def __call__(self) -> Snapshot:
        sampler = self.sampler
        samples = dict(sampler.sample())
        now = self._clock()
        workers, error = None, None
        due = self._workers_at is None or now - self._workers_at >= self._workers_every
        if self.store_url and (due or self.refresh_workers):
            self.refresh_workers = False
            self._workers_at = now
            try:
                workers = self._read_workers(sampler)
            except Exception as exc:  # noqa: BLE001 - shown in the workers area, in words
                workers, error = [], f"Could not read the run store ({self.store_url}): {exc}"
                self._store = None  # reopen next time: the file may have been replaced
        return Snapshot(time.time(), samples, sampler.gpus, sampler.message, workers, error)

    def _read_workers(self, sampler: SystemSampler) -> list[WorkerRow]:
        if self._store is None:
            from engine.store import RunStore  # not at import time: SQLAlchemy + Alembic are slow to load

            self._store = RunStore(self.store_url)
        runs = self._store.list_runs(status=WORKER_STATUSES, order_by="id", descending=False)
        pids = [r.pid for r in runs if r.pid]
        rss = sampler.process_rss(pids)
        gpu = sampler.process_gpu_mem(pids)
        return [WorkerRow(r.id, r.name, r.device or "—", r.status, r.pid,
                          gpu.get(r.pid) if r.pid else None, rss.get(r.pid) if r.pid else None)
                for r in runs]

    def close(self) -> None:
        if self._sampler is not None:
            self._sampler.close()
        if self._store is not None:
            self._store.close()


def backfill(collector: MonitorCollector, seconds: int, interval: float = 1.0,
             pause: float = 0.02) -> list[Snapshot]:
    """`seconds` worth of snapshots sampled now in a quick burst and dated
    back over the last `seconds`, so a demo screenshot shows full charts.
    Only for demos: it blocks for about seconds / interval * pause seconds."""
    n = max(1, int(seconds / interval))
    end = time.time()
    out = []
    for k in range(n):
        snap = collector()
        out.append(Snapshot(end - (n - 1 - k) * interval, snap.samples, snap.gpus, snap.message,
                            snap.workers, snap.workers_error))
        time.sleep(pause)
    return out
