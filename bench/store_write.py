"""Run-store speed: batched metric writes, what synchronous=FULL would cost,
and reading a long curve reduced for a plot.

    /work/venv/bin/python bench/store_write.py [--dir DIR] [--quick]

Prints figures measured in this one run (goals from DESIGN.md §5 and issue 3):
  - points/s through RunStore.add_metrics in 1,000-point batches (goal >= 200,000/s)
  - per-commit cost of synchronous=FULL over NORMAL for epoch-sized batches (ratio)
  - get_curves for 100,000 and 1,000,000 steps reduced to 2,000 buckets (goal < 0.2 s for 1M)
The database lives in a temporary folder under --dir (default: the system temp
dir; use a folder on the disk you care about, fsync cost depends on it).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.store import RunStore, db  # noqa: E402

KEYS = ["train/loss_step", "train/accuracy_step", "lr", "throughput", "epoch_time",
        "val/loss", "val/accuracy", "train/loss", "train/accuracy", "grad_norm"]


def batch(start: int, n_steps: int, keys: list[str]) -> list[tuple]:
    now = time.time()
    return [(k, s, s // 100, 1.0 / (s + 1 + i), now) for s in range(start, start + n_steps)
            for i, k in enumerate(keys)]


def bench_batched(folder: Path, batches: int) -> tuple[float, float]:
    """(points/s, median ms per 1,000-point batch)."""
    with RunStore(f"sqlite:///{folder / 'batched.db'}") as store:
        rid = store.create_run({"name": "bench"})
        data = [batch(b * 100, 100, KEYS) for b in range(batches)]  # 10 keys x 100 steps
        times = []
        t0 = time.perf_counter()
        for pts in data:
            t = time.perf_counter()
            store.add_metrics(rid, pts)
            times.append(time.perf_counter() - t)
        total = time.perf_counter() - t0
    return batches * 1000 / total, statistics.median(times) * 1000


def bench_sync(folder: Path, mode: str, commits: int) -> float:
    """Median seconds per commit of a 10-point batch (one epoch's metrics)."""
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
    return statistics.median(times)


def bench_read(folder: Path, steps: int, repeats: int = 5) -> tuple[float, float, int]:
    """(seconds to write `steps` points of one key, best seconds to read them reduced, buckets)."""
    with RunStore(f"sqlite:///{folder / f'read_{steps}.db'}") as store:
        rid = store.create_run({"name": "long"})
        t = time.perf_counter()
        now = time.time()
        for start in range(0, steps, 10_000):
            store.add_metrics(rid, [("train/loss_step", s, s // 1000, 1.0 / (s + 1), now)
                                    for s in range(start, min(steps, start + 10_000))])
        write = time.perf_counter() - t
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            (curve,) = store.get_curves([rid], ["train/loss_step"], buckets=2000)
            best = min(best, time.perf_counter() - t)
    return write, best, len(curve)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", default=None, help="folder for the temporary databases")
    ap.add_argument("--quick", action="store_true", help="skip the 1,000,000-step curve")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"SQLite store in {folder}")
        pps, ms = bench_batched(folder, batches=200)
        print(f"batched add_metrics: {pps:,.0f} points/s overall, {1000 / ms * 1000:,.0f} "
              f"points/s at the median batch ({ms:.2f} ms per 1,000 points, 200 batches; "
              f"goal >= 200,000 points/s)")
        normal = bench_sync(folder, "NORMAL", 200)
        full = bench_sync(folder, "FULL", 200)
        print(f"one 10-point commit: NORMAL {normal * 1000:.2f} ms, FULL {full * 1000:.2f} ms "
              f"-> FULL costs {full / normal:.2f}x NORMAL")
        for steps in ([100_000] if args.quick else [100_000, 1_000_000]):
            write, read, n = bench_read(folder, steps)
            print(f"{steps:,} steps: written in {write:.2f} s ({steps / write:,.0f} points/s in "
                  f"10,000-point batches); read reduced to {n} buckets in {read * 1000:.1f} ms "
                  f"(best of 5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
