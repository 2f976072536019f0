"""Samples/s of a real LayerDeck run against the loops people write by hand.

The LayerDeck figure comes from a run as users get it: submitted through
engine.runner.Runner to a `python -m engine.worker` process, with a
subscriber consuming its live events and the worker writing to a SQLite
store in a temporary folder. Its samples/s is the `throughput` metric the
worker records each epoch, read back from that store.

The baselines run in this process on the same model (engine.model.build_model
from the same spec), the same arrays (engine.data.load_dataset), batch size,
optimizer, epochs and number of torch threads (bench/train_loop.py's loops):

  (a) dataloader  DataLoader(TensorDataset, shuffle=True), loss.item() and
                  accuracy .item() after every step
  (b) tight       resident tensors, torch.randperm batches, no per-step sync

Rounds are interleaved (the order rotates each round) and every figure is a
median over epochs 2.. of all rounds, so load from other processes on a
shared machine hits all three alike. Per CPU-second figures are printed too:
the steadier measure there. The worker's CPU includes its event-sender,
store-writer and system-sampler threads.

Then, unless --skip-accuracy, `layerdeck train` on the digits CNN template
(a real CLI process) with its best val/accuracy and the time it took.

    python bench/train_throughput.py [--epochs 10] [--rounds 3] [--threads 1] [--skip-accuracy]
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # train_loop's baselines, so both benches measure the same loops

import psutil  # noqa: E402
import torch  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.protocol import Epoch, Event, Started  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.spec import RunSpec  # noqa: E402
from train_loop import TEMPLATES, dataloader_laps, spec_for, tight_laps  # noqa: E402

MODELS = {"MLP": "digits_mlp.json", "CNN": "digits_cnn.json"}
GOAL_VS_DATALOADER, GOAL_VS_TIGHT = 1.2, 0.95
ACCURACY_GOAL = 0.97

Laps = list[tuple[float, float]]  # (wall s, CPU s) per epoch, epochs 2..


def set_threads(threads: int) -> str:
    """Give this process and every worker the same torch thread count.

    The worker is a fresh interpreter that inherits this environment
    (LocalExecutor copies os.environ), and torch sizes its pool from
    OMP_NUM_THREADS. Returns what such a fresh interpreter reports.
    """
    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
        torch.set_num_threads(threads)
    seen = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return f"{torch.get_num_threads()} torch threads here, {seen} in a worker"


@dataclass
class EventTally:
    """The live subscriber: counts every event, checks the worker's sequence
    numbers rise, and takes the worker's CPU time at each epoch end."""

    counts: dict[str, int] = field(default_factory=dict)
    out_of_order: int = 0
    epoch_cpu: dict[int, float] = field(default_factory=dict)
    _last_seq: int = 0
    _proc: Optional[psutil.Process] = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.counts[event.KIND] = self.counts.get(event.KIND, 0) + 1
            if event.seq:  # 0: made by the supervisor (queued, finished), not the worker
                self.out_of_order += event.seq <= self._last_seq
                self._last_seq = event.seq
            if isinstance(event, Started):
                self._proc = psutil.Process(event.pid)
            elif isinstance(event, Epoch) and self._proc is not None:
                try:
                    t = self._proc.cpu_times()  # every thread of the worker
                    self.epoch_cpu[event.epoch] = t.user + t.system
                except psutil.NoSuchProcess:
                    pass


@dataclass
class LayerdeckRun:
    throughput: list[float]  # the worker's metric, epochs 2..
    strict: list[float]  # samples / epoch_time: the epoch's end (metrics, events, checkpoint) included
    cpu: list[float]  # samples per worker CPU-second, epochs 2..
    events: int
    out_of_order: int
    metric_rows: int


def layerdeck_run(spec: RunSpec, tmp: Path, n: int) -> LayerdeckRun:
    db_url = f"sqlite:///{tmp / 'runs.db'}"
    runner = Runner(db_url)
    tally = EventTally()
    runner.subscribe(tally)
    try:
        run_id = runner.submit(spec)
        status = runner.wait(run_id, timeout=600)
        if status != "completed":
            run = runner.store.get_run(run_id)
            raise SystemExit(f"the LayerDeck run ended {status}: {run.error}")
        curves = {c.key: c for c in runner.store.get_curves([run_id], buckets=None)}
    finally:
        runner.shutdown()
    epochs = sorted(tally.epoch_cpu)
    cpu = [n / (tally.epoch_cpu[e] - tally.epoch_cpu[e - 1]) for e in epochs if e - 1 in tally.epoch_cpu]
    return LayerdeckRun(throughput=[float(v) for v in curves["throughput"].values[1:]],
                        strict=[n / float(v) for v in curves["epoch_time"].values[1:]], cpu=cpu,
                        events=sum(tally.counts.values()), out_of_order=tally.out_of_order,
                        metric_rows=sum(len(c.values) for c in curves.values()))


@dataclass
class Figures:
    layerdeck: list[float] = field(default_factory=list)
    layerdeck_strict: list[float] = field(default_factory=list)
    layerdeck_cpu: list[float] = field(default_factory=list)
    wall: dict[str, list[float]] = field(default_factory=lambda: {"dataloader": [], "tight": []})
    cpu: dict[str, list[float]] = field(default_factory=lambda: {"dataloader": [], "tight": []})
    events: int = 0
    out_of_order: int = 0
    metric_rows: int = 0


def measure(template: str, epochs: int, rounds: int, tmp: Path) -> tuple[Figures, RunSpec, int]:
    spec = spec_for(template, epochs)
    n = len(load_dataset(spec.data, spec.seed).x_train)
    fig = Figures()

    def run_layerdeck(r: int) -> None:
        folder = tmp / f"{Path(template).stem}-{r}"
        folder.mkdir()
        got = layerdeck_run(spec, folder, n)
        fig.layerdeck += got.throughput
        fig.layerdeck_strict += got.strict
        fig.layerdeck_cpu += got.cpu
        fig.events += got.events
        fig.out_of_order += got.out_of_order
        fig.metric_rows += got.metric_rows

    def baseline(name: str, laps: Callable[[], Laps]) -> Callable[[int], None]:
        def run(_: int) -> None:
            for wall, cpu in laps():
                fig.wall[name].append(n / wall)
                fig.cpu[name].append(n / max(cpu, 1e-9))
        return run

    loops = [run_layerdeck, baseline("dataloader", lambda: dataloader_laps(spec)),
             baseline("tight", lambda: tight_laps(spec, False))]
    for r in range(rounds):
        for loop in loops[r % 3:] + loops[:r % 3]:  # rotated, so no loop always runs first
            loop(r)
    return fig, spec, n


def report(name: str, fig: Figures, spec: RunSpec, n: int, rounds: int) -> dict[str, Any]:
    med = statistics.median
    ld, a, b = med(fig.layerdeck), med(fig.wall["dataloader"]), med(fig.wall["tight"])
    ld_cpu, a_cpu, b_cpu = med(fig.layerdeck_cpu), med(fig.cpu["dataloader"]), med(fig.cpu["tight"])
    return {"model": name, "n": n, "batch": spec.training.batch_size, "ld": ld, "a": a, "b": b,
            "strict": med(fig.layerdeck_strict), "ld_cpu": ld_cpu, "a_cpu": a_cpu, "b_cpu": b_cpu,
            "events": fig.events, "out_of_order": fig.out_of_order, "rows": fig.metric_rows, "rounds": rounds}


def print_table(rows: list[dict[str, Any]], epochs: int, threads: str) -> None:
    print(f"\nsamples/s, medians over epochs 2..{epochs} of every round ({threads})")
    head = (f"{'model':<5} {'LayerDeck':>10} {'(a) DataLoader':>15} {'(b) tight':>10} "
            f"{'vs (a), goal 1.2':>17} {'vs (b), goal 0.95':>18}")
    for title, ld, a, b in (("wall clock (LayerDeck: the worker's `throughput` metric)", "ld", "a", "b"),
                            ("per CPU-second (LayerDeck: all the worker's threads)", "ld_cpu", "a_cpu", "b_cpu")):
        print(f"\n{title}\n{head}")
        for r in rows:
            ra, rb = r[ld] / r[a], r[ld] / r[b]
            print(f"{r['model']:<5} {r[ld]:>10,.0f} {r[a]:>15,.0f} {r[b]:>10,.0f} "
                  f"{ra:>11.2f}x {'ok' if ra >= GOAL_VS_DATALOADER else 'MISS':<4} "
                  f"{rb:>12.2f}x {'ok' if rb >= GOAL_VS_TIGHT else 'MISS':<4}")
    print("\nLayerDeck with each epoch's end included (samples / epoch_time: metrics, events, checkpoint):")
    for r in rows:
        print(f"  {r['model']:<5} {r['strict']:>8,.0f} samples/s = {r['strict'] / r['a']:.2f}x (a), "
              f"{r['strict'] / r['b']:.2f}x (b)")
    print("\nLive side of the LayerDeck runs (all rounds):")
    for r in rows:
        print(f"  {r['model']:<5} {r['n']} train samples, batch {r['batch']}: {r['events']} events consumed "
              f"({r['out_of_order']} out of order), {r['rows']} metric rows read back from SQLite")


def accuracy(tmp: Path) -> None:
    """`layerdeck train` on the digits CNN template, as a user runs it."""
    from engine.store import RunStore

    template = TEMPLATES / "digits_cnn.json"
    db_url = f"sqlite:///{tmp / 'accuracy.db'}"
    cmd = [sys.executable, "-m", "app.launch", "train", str(template), "--db", db_url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"\n`layerdeck train {template.relative_to(ROOT)} --db {db_url}`: exit {done.returncode}, "
          f"{wall:.1f} s wall, {cpu:.1f} CPU-s (CLI + worker, start-up included)")
    print("  " + (done.stdout.strip().splitlines() or ["(no output)"])[-1])
    if done.returncode != 0:
        print(done.stderr[-2000:])
        return
    store = RunStore(db_url)
    run = store.list_runs()[0]
    acc = next(c for c in store.get_curves([run.id], ["val/accuracy"], buckets=None))
    best = run.summary["metrics"]["val/accuracy"]
    print(f"  best val/accuracy {best['best']:.4f} at epoch {best['best_epoch']}; "
          f"last {best['last']:.4f}; test/accuracy {run.summary['metrics']['test/accuracy']['last']:.4f}")
    reached = [i for i, v in enumerate(acc.values) if v >= ACCURACY_GOAL]
    if reached:
        i = reached[0]
        since = acc.wall_times[i] - run.started_at.timestamp()
        print(f"  val/accuracy first >= {ACCURACY_GOAL} at epoch {acc.epochs[i]}, {since:.1f} s after the worker started")
    else:
        print(f"  val/accuracy never reached {ACCURACY_GOAL}")
    store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads in this process and the worker (1: steadiest on a shared machine; "
                         "0: torch's default in both)")
    ap.add_argument("--models", default="MLP,CNN", help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--skip-accuracy", action="store_true")
    args = ap.parse_args()
    threads = set_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="layerdeck-bench-") as tmp:
        rows = []
        for name in args.models.split(","):
            fig, spec, n = measure(MODELS[name], args.epochs, args.rounds, Path(tmp))
            rows.append(report(name, fig, spec, n, args.rounds))
        print_table(rows, args.epochs, threads)
        if not args.skip_accuracy:
            accuracy(Path(tmp))


if __name__ == "__main__":
    main()
