"""Total samples/s of 1, 2 and 4 CPU runs of the digits CNN trained at once.

Each setting submits N copies of the digits CNN template (resources/templates/
digits_cnn.json, no validation pass, device cpu) through one Runner whose
CPU concurrency is N, as a sweep with `parallel: N` does. Total samples/s =
every run's samples / the wall time from submitting them to the last one's
end (worker start-up included, as a user waits for it), and, start-up
excluded, the throughput of the runs training at once: each run's median
`throughput` metric (epochs 2..) summed, times at-once / N.

  shared    what LayerDeck does: at most one CPU run per core at once (the
            LocalExecutor queues the rest), each worker with torch's and
            OpenMP's threads set to cores // runs at once (engine/worker/threads.py)
  uncapped  the same threads, but all N at once (LayerDeck before the cap)
  default   all N at once with torch's default threads (OMP_NUM_THREADS =
            the core count), what four `layerdeck train` at once used to do

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


def measure(n: int, mode: str, epochs: int, tmp: Path) -> tuple[float, float, float, int]:
    """(total samples/s over the wall span, throughput of the runs at once, wall s, runs at once)."""
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
    if mode != "shared":
        runner.executor.cpu_at_once = n  # type: ignore[attr-defined]  # the behaviour before the cap
    at_once = runner.executor.cpu_at_once  # type: ignore[attr-defined]
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
        return samples / wall, sum(rates) * at_once / n, wall, at_once
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
    ap.add_argument("--modes", default="shared,uncapped,default")
    args = ap.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    modes = args.modes.split(",")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"digits CNN, {args.epochs} epochs per run, {usable_cores()} cores, load average before: {load:.1f}")
    print(f"{'mode':<8} {'runs':>4} {'at once':>7} {'total samples/s':>16} {'throughput at once':>19} {'wall s':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for mode in modes:
            for n in counts:
                total, summed, wall, at_once = measure(n, mode, args.epochs, Path(tmp))
                print(f"{mode:<8} {n:>4} {at_once:>7} {total:>16.0f} {summed:>19.0f} {wall:>7.1f}", flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average after: {load:.1f}")


if __name__ == "__main__":
    main()
