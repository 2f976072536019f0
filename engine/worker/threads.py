"""CPU threads: each worker takes its share of the cores instead of all of them.

torch starts as many intra-op (OpenMP) threads as there are cores in every
process; four workers on two cores then run sixteen spinning threads and
total throughput collapses. A worker therefore sets torch's intra-op and
OpenMP threads to cores // workers, where `workers` is the CPU concurrency
of the executor that started it (LAYERDECK_CPU_WORKERS, set by the
LocalExecutor for its CPU queue), or else the number of LayerDeck workers
live on this host when it starts. An OMP_NUM_THREADS the user set is kept.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

import psutil

from engine.host import usable_cores

__all__ = ["CPU_WORKERS_ENV", "WORKER_MODULE", "usable_cores", "cpu_share", "live_workers", "planned_threads",
           "apply_cpu_share"]

CPU_WORKERS_ENV = "LAYERDECK_CPU_WORKERS"
WORKER_MODULE = "engine.worker"


def cpu_share(cores: int, workers: int) -> int:
    """Threads for one of `workers` processes sharing `cores`: at least one."""
    return max(1, cores // max(1, workers))


def live_workers() -> int:
    """LayerDeck worker processes on this host, this one included (a torchrun
    launcher is not counted: it trains nothing)."""
    count = 0
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info.get("cmdline") or []
        if any(a == WORKER_MODULE for a in cmd) and "torch.distributed.run" not in cmd:
            count += 1
    return max(1, count)


def planned_threads(env: Optional[dict[str, str]] = None) -> tuple[Optional[int], str]:
    """(threads, why) for this worker; threads None when the user chose them (OMP_NUM_THREADS)."""
    env = dict(os.environ if env is None else env)
    if env.get("OMP_NUM_THREADS"):
        return None, f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']} set by the user"
    cores = usable_cores()
    try:
        workers = int(env.get(CPU_WORKERS_ENV, ""))
        source = "the runner's CPU concurrency"
    except ValueError:
        workers, source = live_workers(), "LayerDeck workers live on this host"
    ranks = int(env.get("LOCAL_WORLD_SIZE", "1") or 1)  # a data-parallel run's processes share its share
    threads = cpu_share(cores, max(1, workers) * ranks)
    per = f" × {ranks} processes" if ranks > 1 else ""
    return threads, f"{cores} cores shared by {workers}{per} ({source})"


def apply_cpu_share() -> Optional[int]:
    """Set OpenMP's and torch's threads to this worker's share; returns the number
    (None: the user's OMP_NUM_THREADS stands). Call before training starts."""
    threads, why = planned_threads()
    if threads is None:
        print(f"layerdeck worker: CPU threads left to {why}", file=sys.stderr)
        return None
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    import torch

    torch.set_num_threads(threads)
    print(f"layerdeck worker: {threads} CPU thread{'s' if threads != 1 else ''}: {why}", file=sys.stderr)
    return threads
