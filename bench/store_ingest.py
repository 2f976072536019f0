"""Run-store speed (issue 3): metric points per second into SQLite through
RunStore, and one run's 1,000,000 points read back reduced to 2,000 buckets.

    python bench/store_ingest.py [--repeat N] [--dir DIR] [--quick] [--db URL ...]

With --db (repeatable) the same figures are measured on each database given,
side by side (e.g. a SQLite file and a PostgreSQL server:
--db sqlite:///runs.db --db postgresql+psycopg://USER:PASS@HOST/DB); the runs
written there are deleted at the end. Without it, fresh SQLite files in a
temporary folder, plus the synchronous=FULL comparison (SQLite's alone).

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
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.engine import make_url  # noqa: E402

from engine.store import RunStore, db  # noqa: E402
from engine.store.paths import normalize_db_url  # noqa: E402
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


# Where a measurement writes: a URL for the measurement's name (a fresh SQLite
# file each, or the one database given with --db).
UrlFor = Callable[[str], str]


@contextmanager
def bench_run(url: str, name: str, keep: bool) -> Iterator[tuple[RunStore, int]]:
    """A store and a new run in it; the run is deleted afterwards unless `keep`
    (a database given with --db is left as it was found)."""
    with RunStore(url) as store:
        rid = store.create_run({"name": name})
        try:
            yield store, rid
        finally:
            if not keep:
                store.delete_run(rid, delete_files=False)


def bench_batched(url: str, steps_per_batch: int, batches: int, keep: bool
                  ) -> tuple[list[float], list[float]]:
    """(wall, CPU) seconds per add_metrics call, one per batch of len(KEYS) *
    steps_per_batch points. The points are built before the clock starts:
    only the store is timed. CPU time is this thread's: SQLite runs in it (a
    server's own work is not counted)."""
    with bench_run(url, "bench", keep) as (store, rid):
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


def write_long_run(store: RunStore, rid: int, steps: int) -> float:
    """Seconds in add_metrics for one key of `steps` points written in
    10,000-point batches; each batch is built outside the clock."""
    now = time.time()
    spent = 0.0
    for start in range(0, steps, 10_000):
        pts = [MetricPoint(LONG_KEY, s, s // 1000, 1.0 / (s + 1), now)
               for s in range(start, min(steps, start + 10_000))]
        t = time.perf_counter()
        store.add_metrics(rid, pts)
        spent += time.perf_counter() - t
    return spent


def bench_read(store: RunStore, rid: int, reads: int) -> tuple[list[float], list[float], int]:
    """(wall, CPU) seconds per reduced read (a fresh store each time would time
    the migration check too; a plot re-reads through an open store), and the
    buckets returned."""
    store.get_curves([rid], [LONG_KEY], buckets=2000)  # first touch: page cache, pool
    times, cpu = [], []
    for _ in range(reads):
        t, c = time.perf_counter(), time.thread_time()
        (curve,) = store.get_curves([rid], [LONG_KEY], buckets=2000)
        times.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
    return times, cpu, len(curve)


def measure(url_for: UrlFor, repeat: int, steps: int, keep: bool) -> dict[str, list[float]]:
    """Every figure but the synchronous one, `repeat` times, on the database(s) of `url_for`."""
    m: dict[str, list[float]] = {k: [] for k in (
        "small", "small_cpu", "large", "large_cpu", "long_writes", "reads", "reads_cpu", "buckets")}
    for r in range(repeat):
        wall, cpu = bench_batched(url_for(f"b1k_{r}"), 100, 300, keep)
        m["small"] += wall
        m["small_cpu"] += cpu
        wall, cpu = bench_batched(url_for(f"b10k_{r}"), 1000, 30, keep)
        m["large"] += wall
        m["large_cpu"] += cpu
        with bench_run(url_for(f"read_{r}"), "long", keep) as (store, rid):
            m["long_writes"].append(steps / write_long_run(store, rid, steps))
            times, cpu, buckets = bench_read(store, rid, 5)
        m["reads"] += times
        m["reads_cpu"] += cpu
        m["buckets"].append(buckets)
    return m


def report(label: str, m: dict[str, list[float]], steps: int) -> None:
    print(f"== {label}")
    for name, n in (("1,000-point", 1000), ("10,000-point", 10_000)):
        key = "small" if n == 1000 else "large"
        times, cpu = m[key], m[key + "_cpu"]
        med = statistics.median(times)
        pps, overall = n / med, n * len(times) / sum(times)
        print(f"add_metrics, {name} batches: {pps:,.0f} points/s at the median batch "
              f"({med * 1000:.2f} ms, {len(times)} batches; overall {overall:,.0f} points/s) "
              f"-> {pps / WRITE_GOAL:.2f}x the {WRITE_GOAL:,} points/s goal; "
              f"CPU {statistics.median(cpu) * 1000:.2f} ms a batch = "
              f"{n / statistics.median(cpu):,.0f} points per CPU-second")
    print(f"{steps:,} points of one key written in 10,000-point batches: "
          f"{statistics.median(m['long_writes']):,.0f} points/s overall (all batches' time; "
          f"median of {len(m['long_writes'])} runs)")
    reads = m["reads"]
    read = statistics.median(reads)
    print(f"{steps:,} points read reduced to {int(m['buckets'][-1])} buckets: {read * 1000:.1f} ms median "
          f"(best {min(reads) * 1000:.1f} ms, {len(reads)} reads) -> "
          f"{read / READ_GOAL_S:.2f}x the {READ_GOAL_S} s goal (below 1 meets it); "
          f"CPU {statistics.median(m['reads_cpu']) * 1000:.1f} ms median")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="repeats of every measurement")
    ap.add_argument("--dir", default=None, help="folder for the temporary databases")
    ap.add_argument("--quick", action="store_true",
                    help="100,000 points for the long curve instead of 1,000,000")
    ap.add_argument("--db", action="append", default=[], metavar="URL",
                    help="measure this database instead (repeat for side by side); its runs are deleted after")
    args = ap.parse_args()
    steps = 100_000 if args.quick else 1_000_000
    print(f"start: {load()} ({os.cpu_count()} CPUs)")
    results: list[tuple[str, dict[str, list[float]]]] = []
    normal: list[float] = []
    full: list[float] = []
    if args.db:
        for url in args.db:
            label = make_url(normalize_db_url(url)).render_as_string(hide_password=True)
            results.append((label, measure(lambda _name, u=url: u, args.repeat, steps, keep=False)))
    else:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            folder = Path(tmp)

            def url_for(name: str) -> str:
                return f"sqlite:///{folder / name}.db"

            results.append(("SQLite, fresh files in a temporary folder",
                            measure(url_for, args.repeat, steps, keep=True)))
            for _ in range(args.repeat):
                normal += bench_sync(folder, "NORMAL", 200)
                full += bench_sync(folder, "FULL", 200)
    end = load()
    for label, m in results:
        report(label, m, steps)
    if normal:
        n_med, f_med = statistics.median(normal), statistics.median(full)
        print(f"one 10-point commit: NORMAL {n_med * 1000:.2f} ms, FULL {f_med * 1000:.2f} ms -> "
              f"FULL/NORMAL = {f_med / n_med:.2f}x")
    print(f"end: {end}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
