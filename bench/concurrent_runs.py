"""Total samples/s of 1, 2 and 4 CPU runs of the digits CNN trained at once.

Each setting submits N copies of the digits CNN template (resources/templates/
digits_cnn.json, no validation pass, device cpu) through one Runner whose
CPU concurrency is N, as a sweep with `parallel: N` does; the workers start
together. Total samples/s = every run's samples / the wall time from the
first worker's start to the last one's end (worker start-up included, as a
user waits for it), and, start-up excluded, the sum over runs of each run's
median `throughput` metric (epochs 2..).

  shared   what LayerDeck does: each worker sets torch's and OpenMP's threads
           to cores // N (engine/worker/threads.py)
  default  every worker with torch's default threads (OMP_NUM_THREADS = the
           core count), what four `layerdeck train` at once used to do

Goal: the shared total never falls as runs are added.

    python bench/concurrent_runs.py [--epochs 5] [--counts 1,2,4] [--modes shared,default]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from train_loop import spec_for  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.protocol import Event, Started  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.worker.threads import usable_cores  # noqa: E402


def measure(n: int, mode: str, epochs: int, tmp: Path) -> tuple[float, float, float]:
    """(total samples/s over the wall span, sum of median per-run throughputs, wall s)."""
    spec = spec_for("digits_cnn.json", epochs)
    db_url = f"sqlite:///{tmp / f'{mode}-{n}.db'}"
    saved = os.environ.get("OMP_NUM_THREADS")
    if mode == "default":
        os.environ["OMP_NUM_THREADS"] = str(usable_cores())  # the worker keeps a user's setting
    starts: list[float] = []

    def on_event(event: Event) -> None:
        if isinstance(event, Started):
            starts.append(time.time())

    runner = Runner(db_url, concurrency={"cpu": n})
    runner.subscribe(on_event)
    try:
        t0 = time.time()
        ids = [runner.submit(spec, name=f"{mode}-{n}-{i}") for i in range(n)]
        for run_id in ids:
            status = runner.wait(run_id, timeout=1800)
            if status != "completed":
                raise SystemExit(f"run {run_id} ended {status}: {runner.store.get_run(run_id).error}")
        wall = time.time() - t0
        rates = []
        for run_id in ids:
            curve = runner.store.get_curves([run_id], ["throughput"], buckets=None)[0]
            rates.append(float(statistics.median(curve.values[1:] if len(curve.values) > 1 else curve.values)))
        samples = len(load_dataset(spec.data, spec.seed).x_train) * epochs * n
        return samples / wall, sum(rates), wall
    finally:
        runner.shutdown()
        if saved is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--counts", default="1,2,4")
    ap.add_argument("--modes", default="shared,default")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    modes = args.modes.split(",")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"digits CNN, {args.epochs} epochs per run, {usable_cores()} cores, load average before: {load:.1f}")
    print(f"{'mode':<8} {'runs':>4} {'total samples/s':>16} {'sum of run throughputs':>23} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            for n in counts:
                total, summed, wall = measure(n, mode, args.epochs, Path(tmp))
                print(f"{mode:<8} {n:>4} {total:>16.0f} {summed:>23.0f} {wall:>7.1f}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after: {load:.1f}")


if __name__ == "__main__":
    main()
