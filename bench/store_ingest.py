"""Run-store speed (issue 3): metric points per second into SQLite through
RunStore, and one run's 1,000,000 points read back reduced to 2,000 buckets.

    python bench/store_ingest.py [--repeat N] [--dir DIR] [--quick]

Prints, all measured in this one run:
  - points/s through RunStore.add_metrics in 1,000- and 10,000-point batches
    (10 keys per batch, as a training run logs them), and the ratio to the
    goal of 200,000 points/s;
  - the time to read one run's 1,000,000 points reduced to 2,000 buckets
    (RunStore.get_curves) and its ratio to the goal of 0.2 s;
  - what synchronous=FULL costs per epoch-sized commit over NORMAL (ratio).

Every figure is a median: of the batches of all repeats for writes, of all
reads for the curve. The machine's load average is printed before and after,
because on a shared machine it moves the figures more than anything else;
CPU time (this thread's, SQLite's included) moves much less, so it is
printed too: points per CPU-second is what one free core would reach.
The databases live in a temporary folder under --dir (default: the system
temp dir; fsync cost depends on that disk).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store import RunStore, db  # noqa: E402
from engine.training.callbacks import MetricPoint  # noqa: E402

WRITE_GOAL = 200_000  # points/s
READ_GOAL_S = 0.2
KEYS = ["train/loss_step", "train/accuracy_step", "lr", "throughput", "epoch_time",
        "val/loss", "val/accuracy", "train/loss", "train/accuracy", "grad_norm"]
LONG_KEY = "train/loss_step"


def batch(start: int, n_steps: int, keys: list[str]) -> list[MetricPoint]:
    """n_steps steps of every key, step-major: the order a training loop logs them in."""
    now = time.time()
    return [MetricPoint(k, s, s // 100, 1.0 / (s + 1 + i), now)
            for s in range(start, start + n_steps) for i, k in enumerate(keys)]


def load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def bench_batched(folder: Path, name: str, steps_per_batch: int, batches: int
                  ) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds per add_metrics call, one per batch of len(KEYS) *
    steps_per_batch points. The points are built before the clock starts:
    only the store is timed. CPU time is this thread's: SQLite runs in it."""
    with RunStore(f"sqlite:///{folder / name}") as store:
        rid = store.create_run({"name": "bench"})
        data = [batch(b * steps_per_batch, steps_per_batch, KEYS) for b in range(batches)]
        times, cpu = [], []
        for pts in data:
            t, c = time.perf_counter(), time.thread_time()
            store.add_metrics(rid, pts)
            times.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
    return times, cpu


def bench_sync(folder: Path, mode: str, commits: int) -> list[float]:
    """Seconds per commit of a 10-point batch (one epoch's metrics) under `mode`."""
    db.SYNCHRONOUS = mode
    try:
        with RunStore(f"sqlite:///{folder / f'sync_{mode}.db'}") as store:
            rid = store.create_run({"name": mode})
            times = []
            for c in range(commits):
                pts = batch(c, 1, KEYS)
                t = time.perf_counter()
                store.add_metrics(rid, pts)
                times.append(time.perf_counter() - t)
    finally:
        db.SYNCHRONOUS = "NORMAL"
    return times


def write_long_run(folder: Path, steps: int) -> tuple[str, int, float]:
    """(url, run id, seconds in add_metrics) for one key of `steps` points written
    in 10,000-point batches; each batch is built outside the clock."""
    url = f"sqlite:///{folder / f'read_{steps}.db'}"
    with RunStore(url) as store:
        rid = store.create_run({"name": "long"})
        now = time.time()
        spent = 0.0
        for start in range(0, steps, 10_000):
            pts = [MetricPoint(LONG_KEY, s, s // 1000, 1.0 / (s + 1), now)
                   for s in range(start, min(steps, start + 10_000))]
            t = time.perf_counter()
            store.add_metrics(rid, pts)
            spent += time.perf_counter() - t
        return url, rid, spent


def bench_read(url: str, rid: int, reads: int) -> tuple[list[float], list[float], int]:
    """(wall, CPU) seconds per reduced read (a fresh store each time would time
    the migration check too; a plot re-reads through an open store), and the
    buckets returned."""
    with RunStore(url) as store:
        store.get_curves([rid], [LONG_KEY], buckets=2000)  # first touch: page cache, pool
        times, cpu = [], []
        for _ in range(reads):
            t, c = time.perf_counter(), time.thread_time()
            (curve,) = store.get_curves([rid], [LONG_KEY], buckets=2000)
            times.append(time.perf_counter() - t)
            cpu.append(time.thread_time() - c)
    return times, cpu, len(curve)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="repeats of every measurement")
    ap.add_argument("--dir", default=None, help="folder for the temporary databases")
    ap.add_argument("--quick", action="store_true",
                    help="100,000 points for the long curve instead of 1,000,000")
    args = ap.parse_args()
    steps = 100_000 if args.quick else 1_000_000
    print(f"start: {load()} ({os.cpu_count()} CPUs)")
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        small, large, small_cpu, large_cpu = [], [], [], []
        normal, full, reads, reads_cpu, long_writes = [], [], [], [], []
        for r in range(args.repeat):
            wall, cpu = bench_batched(folder, f"b1k_{r}.db", 100, 300)
            small, small_cpu = small + wall, small_cpu + cpu
            wall, cpu = bench_batched(folder, f"b10k_{r}.db", 1000, 30)
            large, large_cpu = large + wall, large_cpu + cpu
            normal += bench_sync(folder, "NORMAL", 200)
            full += bench_sync(folder, "FULL", 200)
            url, rid, w = write_long_run(folder, steps)
            long_writes.append(steps / w)
            times, cpu, buckets = bench_read(url, rid, 5)
            reads, reads_cpu = reads + times, reads_cpu + cpu
            Path(url.removeprefix("sqlite:///")).unlink()  # keep the temp folder small
        end = load()
    for label, times, cpu, n in (("1,000-point", small, small_cpu, 1000),
                                 ("10,000-point", large, large_cpu, 10_000)):
        med = statistics.median(times)
        pps, overall = n / med, n * len(times) / sum(times)
        print(f"add_metrics, {label} batches: {pps:,.0f} points/s at the median batch "
              f"({med * 1000:.2f} ms, {len(times)} batches; overall {overall:,.0f} points/s) "
              f"-> {pps / WRITE_GOAL:.2f}x the {WRITE_GOAL:,} points/s goal; "
              f"CPU {statistics.median(cpu) * 1000:.2f} ms a batch = "
              f"{n / statistics.median(cpu):,.0f} points per CPU-second")
    print(f"{steps:,} points of one key written in 10,000-point batches: "
          f"{statistics.median(long_writes):,.0f} points/s overall (all batches' time; "
          f"median of {len(long_writes)} runs)")
    read = statistics.median(reads)
    print(f"{steps:,} points read reduced to {buckets} buckets: {read * 1000:.1f} ms median "
          f"(best {min(reads) * 1000:.1f} ms, {len(reads)} reads) -> "
          f"{read / READ_GOAL_S:.2f}x the {READ_GOAL_S} s goal (below 1 meets it); "
          f"CPU {statistics.median(reads_cpu) * 1000:.1f} ms median")
    n_med, f_med = statistics.median(normal), statistics.median(full)
    print(f"one 10-point commit: NORMAL {n_med * 1000:.2f} ms, FULL {f_med * 1000:.2f} ms -> "
          f"FULL/NORMAL = {f_med / n_med:.2f}x")
    print(f"end: {end}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
