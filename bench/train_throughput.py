"""Samples/s of a real LayerDeck run against the loops people write by hand.

The LayerDeck figure comes from a run as users get it: submitted through
engine.runner.Runner to a `python -m engine.worker` process, with a
subscriber consuming its live events and the worker writing to a SQLite
store in a temporary folder. Its samples/s is the `throughput` metric the
worker records each epoch, read back from that store.

The baselines (bench/train_loop.py's loops) run on the same model
(engine.model.build_model from the same spec), the same arrays
(engine.data.load_dataset), batch size, optimizer, epochs and torch threads
(OMP_NUM_THREADS), each in a fresh process in its own session as the worker
is, so all three start cold and get the same scheduler share:

  (a) dataloader  DataLoader(TensorDataset, shuffle=True), loss.item() and
                  accuracy .item() after every step
  (b) tight       resident tensors, torch.randperm batches, no per-step sync
  (c) tuned       (b) with what LayerDeck brings of its own: torch's fused
                  AdamW kernel, and channels-last tensors when the spec asks
                  for them (the digits CNN template does). No goal: it shows
                  how much of LayerDeck's lead over (a) and (b) is those
                  choices, and what the worker process itself costs.

Rounds are interleaved (the order rotates each round) and wall figures are
medians over epochs 2.. of all rounds, so load from other processes on a
shared machine hits all three alike; the ratios also come per round (loops
of one round ran close together). Per CPU-second figures are printed too,
the steadier measure there: one per run over epochs 2.., median of rounds.
The worker's CPU includes its event-sender, store-writer and system-sampler
threads.

Then, unless --skip-accuracy, `layerdeck train` on the digits CNN template
(a real CLI process) with its best val/accuracy and the time it took.

--augment measures what data augmentation costs instead: the digits CNN as a
LayerDeck run with and without AUGMENT (rounds interleaved, order rotating),
samples/s of each and the cost (goal: < 25 %); then, unless --skip-accuracy,
`layerdeck train` on the template with AUGMENT added and its val/accuracy
(goal: >= 97 %).

--worker-env NAME=VALUE sets a variable for the worker alone (the baselines
keep this process's environment), to try a setting against unchanged
baselines; e.g. `--worker-env OMP_WAIT_POLICY=PASSIVE` (idle OpenMP threads
sleep instead of spin: less CPU per sample, but on 2 free cores ~15-25%
fewer samples/s for the digits MLP and CNN; it pays off only on a loaded
machine).

    python bench/train_throughput.py [--epochs 20] [--rounds 5] [--threads 1] [--skip-accuracy]
                                     [--worker-env NAME=VALUE ...] [--augment]
"""
from __future__ import annotations

import argparse
import json
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
from typing import Callable, Optional

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))  # train_loop's baselines, so both benches measure the same loops

import psutil  # noqa: E402
from train_loop import TEMPLATES, dataloader_laps, spec_for, tight_laps  # noqa: E402

from engine.data import load_dataset  # noqa: E402
from engine.protocol import Epoch, Event, Started  # noqa: E402
from engine.runner import Runner  # noqa: E402
from engine.spec import RunSpec  # noqa: E402

MODELS = {"MLP": "digits_mlp.json", "CNN": "digits_cnn.json"}
GOAL_VS_DATALOADER, GOAL_VS_TIGHT = 1.2, 0.95
ACCURACY_GOAL = 0.97

Laps = list[tuple[float, float]]  # (wall s, CPU s) per epoch, epochs 2..


def set_threads(threads: int) -> str:
    """Give the worker and the baseline processes the same torch thread count.

    Each is a fresh interpreter that inherits this environment
    (LocalExecutor copies os.environ), and torch sizes its pool from
    OMP_NUM_THREADS. Returns what such a fresh interpreter reports.
    """
    if threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    seen = subprocess.run([sys.executable, "-c", "import torch; print(torch.get_num_threads())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    return f"{seen} torch thread(s) in the worker and in each baseline process"


@dataclass
class EventTally:
    """The live subscriber: counts every event, checks the worker's sequence
    numbers rise, and notes at each epoch end when it arrived and the
    worker's CPU time (all threads, and the training thread alone)."""

    counts: dict[str, int] = field(default_factory=dict)
    out_of_order: int = 0
    epoch_at: dict[int, float] = field(default_factory=dict)
    epoch_cpu: dict[int, float] = field(default_factory=dict)
    epoch_main_cpu: dict[int, float] = field(default_factory=dict)
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
                    threads = self._proc.threads()
                except psutil.NoSuchProcess:
                    return
                self.epoch_at[event.epoch] = time.time()  # the clock the worker stamps metrics with
                self.epoch_cpu[event.epoch] = sum(t.user_time + t.system_time for t in threads)
                self.epoch_main_cpu[event.epoch] = sum(t.user_time + t.system_time for t in threads
                                                       if t.id == self._proc.pid)


@dataclass
class LayerdeckRun:
    throughput: list[float]  # the worker's metric, epochs 2..
    end_to_end: list[float]  # samples/s from one epoch's end to the next (worker's stamps), epochs 2..
    lags: list[float]  # seconds from each epoch's end in the worker to its Epoch event here
    cpu: float  # samples per worker CPU-second over epochs 2..
    background_cpu: float  # share of that CPU outside the main thread: sender, writer, sampler (and torch's pool)
    events: int
    out_of_order: int
    metric_rows: int


WORKER_ENV: dict[str, str] = {}  # --worker-env: set for the worker process only, not the baselines


def layerdeck_run(spec: RunSpec, tmp: Path, n: int) -> LayerdeckRun:
    db_url = f"sqlite:///{tmp / 'runs.db'}"
    runner = Runner(db_url)
    tally = EventTally()
    runner.subscribe(tally)
    saved = {k: os.environ.get(k) for k in WORKER_ENV}
    os.environ.update(WORKER_ENV)  # LocalExecutor copies os.environ when it starts the worker
    try:
        run_id = runner.submit(spec)
        status = runner.wait(run_id, timeout=600)
        if status != "completed":
            run = runner.store.get_run(run_id)
            raise SystemExit(f"the LayerDeck run ended {status}: {run.error}")
        curves = {c.key: c for c in runner.store.get_curves([run_id], buckets=None)}
    finally:
        runner.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    # One figure over epochs 2..: the kernel counts a thread's CPU in 10 ms
    # ticks, too coarse for a single 40 ms MLP epoch.
    first, last = min(tally.epoch_cpu), max(tally.epoch_cpu)
    cpu_s = tally.epoch_cpu[last] - tally.epoch_cpu[first]
    ends = curves["throughput"].wall_times  # time.time() at each epoch's end, epoch 1 first
    main_s = tally.epoch_main_cpu[last] - tally.epoch_main_cpu[first]
    return LayerdeckRun(throughput=[float(v) for v in curves["throughput"].values[1:]],
                        end_to_end=[n / float(b - a) for a, b in zip(ends[:-1], ends[1:])],
                        lags=[tally.epoch_at[e] - float(ends[e - 1]) for e in tally.epoch_at],
                        cpu=n * (last - first) / cpu_s, background_cpu=1 - main_s / cpu_s,
                        events=sum(tally.counts.values()), out_of_order=tally.out_of_order,
                        metric_rows=sum(len(c.values) for c in curves.values()))


LOOPS = ("layerdeck", "dataloader", "tight", "tuned")
BASELINES: dict[str, Callable[[RunSpec], Laps]] = {
    "dataloader": dataloader_laps, "tight": lambda spec: tight_laps(spec, False),
    "tuned": lambda spec: tight_laps(spec, False, tuned=True)}


def baseline_laps(name: str, template: str, epochs: int) -> Laps:
    """One baseline run in a fresh interpreter in its own session, started
    as the runner starts a worker: nothing warmed up by earlier loops, and
    the same share of a loaded machine (Linux's autogroup scheduler shares
    the CPU between sessions first, then between the processes of one)."""
    cmd = [sys.executable, __file__, "--baseline", name, "--template", template, "--epochs", str(epochs)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, start_new_session=True)
    if done.returncode != 0:
        raise SystemExit(f"baseline {name} on {template} failed:\n{done.stderr[-3000:]}")
    return [(wall, cpu) for wall, cpu in json.loads(done.stdout.splitlines()[-1])]


@dataclass
class Figures:
    """Samples/s by loop and round: wall per epoch (epochs 2..), CPU one
    figure per run (epochs 2.. together)."""

    rounds: int
    wall: dict[str, list[list[float]]] = field(default_factory=dict)
    cpu: dict[str, list[list[float]]] = field(default_factory=dict)
    events: int = 0
    out_of_order: int = 0
    metric_rows: int = 0
    background_cpu: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        for kind in (self.wall, self.cpu):
            for name in (*LOOPS, "end_to_end"):
                kind[name] = [[] for _ in range(self.rounds)]

    def median(self, kind: str, name: str) -> float:
        return statistics.median(v for r in getattr(self, kind)[name] for v in r)

    def round_ratios(self, kind: str, name: str, other: str) -> list[float]:
        """Ratio of the two loops' medians within each round: loops of one
        round ran minutes apart at most, so they saw much the same load."""
        d = getattr(self, kind)
        return [statistics.median(x) / statistics.median(y) for x, y in zip(d[name], d[other]) if x and y]


def measure(template: str, epochs: int, rounds: int, tmp: Path) -> tuple[Figures, RunSpec, int]:
    spec = spec_for(template, epochs)
    n = len(load_dataset(spec.data, spec.seed).x_train)
    fig = Figures(rounds)

    def run_layerdeck(r: int) -> None:
        folder = tmp / f"{Path(template).stem}-{r}"
        folder.mkdir()
        got = layerdeck_run(spec, folder, n)
        fig.wall["layerdeck"][r] += got.throughput
        fig.wall["end_to_end"][r] += got.end_to_end
        fig.background_cpu.append(got.background_cpu)
        fig.lags += got.lags
        fig.cpu["layerdeck"][r].append(got.cpu)
        fig.events += got.events
        fig.out_of_order += got.out_of_order
        fig.metric_rows += got.metric_rows

    def baseline(name: str) -> Callable[[int], None]:
        def run(r: int) -> None:
            got = baseline_laps(name, template, epochs)
            fig.wall[name][r] += [n / wall for wall, _ in got]
            fig.cpu[name][r].append(n * len(got) / sum(cpu for _, cpu in got))  # as for the worker
        return run

    loops = [run_layerdeck, baseline("dataloader"), baseline("tight"), baseline("tuned")]
    for r in range(rounds):
        for loop in loops[r % len(loops):] + loops[:r % len(loops)]:  # rotated: no loop always runs first
            loop(r)
    return fig, spec, n


def _ratio(fig: Figures, kind: str, name: str, other: str, goal: float) -> str:
    pooled = fig.median(kind, name) / fig.median(kind, other)
    per_round = fig.round_ratios(kind, name, other)
    spread = (f"{statistics.median(per_round):.2f} [{min(per_round):.2f}-{max(per_round):.2f}]"
              if per_round else "")
    return f"{pooled:>5.3f}x {'ok' if pooled >= goal else 'MISS':<4} {spread:<16}"


def print_table(results: list[tuple[str, Figures, RunSpec, int]], epochs: int, threads: str) -> None:
    print(f"\nsamples/s over epochs 2..{epochs}, medians of every round ({threads}); ratios of those "
          f"medians, then the median [lowest-highest] of the per-round ratios")
    head = (f"{'model':<5} {'LayerDeck':>10} {'(a) DataLoader':>15} {'(b) tight':>10} {'(c) tuned':>10}   "
            f"{'vs (a), goal 1.2':<30}{'vs (b), goal 0.95':<30}{'vs (c), no goal':<20}")
    for title, kind in (("wall clock (LayerDeck: the worker's `throughput` metric)", "wall"),
                        ("per CPU-second (LayerDeck: every thread of the worker)", "cpu")):
        print(f"\n{title}\n{head}")
        for name, fig, _, _ in results:
            print(f"{name:<5} {fig.median(kind, 'layerdeck'):>10,.0f} {fig.median(kind, 'dataloader'):>15,.0f} "
                  f"{fig.median(kind, 'tight'):>10,.0f} {fig.median(kind, 'tuned'):>10,.0f}   "
                  f"{_ratio(fig, kind, 'layerdeck', 'dataloader', GOAL_VS_DATALOADER)}   "
                  f"{_ratio(fig, kind, 'layerdeck', 'tight', GOAL_VS_TIGHT)}   "
                  f"{_ratio(fig, kind, 'layerdeck', 'tuned', 0.0).replace(' ok  ', '')}")
    print("\nLayerDeck end to end (samples/s from one epoch's end to the next, their metrics and "
          "'last' checkpoints included), the worker's CPU outside its main thread (event sender, store "
          "writer, system sampler; with more than 1 torch thread, torch's pool too), and how late the "
          "Epoch events reached this process:")
    for name, fig, _, _ in results:
        e2e = fig.median("wall", "end_to_end")
        print(f"  {name:<5} {e2e:>8,.0f} samples/s = {e2e / fig.median('wall', 'dataloader'):.2f}x (a), "
              f"{e2e / fig.median('wall', 'tight'):.2f}x (b), {e2e / fig.median('wall', 'tuned'):.2f}x (c); "
              f"{100 * statistics.median(fig.background_cpu):.1f}% of the CPU off the main thread; event lag median "
              f"{1000 * statistics.median(fig.lags):.0f} ms, max {1000 * max(fig.lags):.0f} ms")
    print("\nLive side of the LayerDeck runs (all rounds):")
    for name, fig, spec, n in results:
        print(f"  {name:<5} {n} train samples, batch {spec.training.batch_size}: {fig.events} events consumed "
              f"({fig.out_of_order} out of order), {fig.metric_rows} metric rows read back from SQLite")


def accuracy(tmp: Path, augment: bool = False) -> None:
    """`layerdeck train` on the digits CNN template (with AUGMENT added), as a user runs it."""
    from engine.spec import load_spec, save_spec
    from engine.store import RunStore

    template = TEMPLATES / "digits_cnn.json"
    if augment:
        spec = load_spec(template)
        template = tmp / "digits_cnn_augmented.json"
        save_spec(with_augment(spec), template)
    db_url = f"sqlite:///{tmp / 'accuracy.db'}"
    cmd = [sys.executable, "-m", "app.launch", "train", str(template), "--db", db_url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    shown = template.relative_to(ROOT) if template.is_relative_to(ROOT) else template.name
    print(f"\n`layerdeck train {shown} --db {db_url}`: exit {done.returncode}, "
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
        print(f"  val/accuracy first >= {ACCURACY_GOAL} at epoch {acc.epochs[i]}, "
              f"{since:.1f} s after the worker started")
    else:
        print(f"  val/accuracy never reached {ACCURACY_GOAL}")
    store.close()


# An image pipeline as people use one on small digits: shifts, a small rotation, occasional erasing.
AUGMENT = [{"type": "random_crop", "padding": 1}, {"type": "rotation", "degrees": [-10, 10]},
           {"type": "erasing", "p": 0.25, "area": [0.02, 0.1]}]
AUGMENT_COST_GOAL = 0.25


def with_augment(spec: RunSpec) -> RunSpec:
    return spec.copy_with(data={**spec.data.model_dump(mode="json"), "augment": AUGMENT})


def augment_cost(epochs: int, rounds: int, tmp: Path) -> None:
    """The digits CNN run with and without AUGMENT, interleaved: samples/s and the cost."""
    plain = spec_for(MODELS["CNN"], epochs)
    augmented = with_augment(plain)
    n = len(load_dataset(plain.data, plain.seed).x_train)
    got: dict[str, list[list[float]]] = {"plain": [], "augmented": []}
    cpu: dict[str, list[float]] = {"plain": [], "augmented": []}  # samples per worker CPU-second
    for r in range(rounds):
        order = [("plain", plain), ("augmented", augmented)]
        for name, spec in order[r % 2:] + order[:r % 2]:
            folder = tmp / f"augment-{name}-{r}"
            folder.mkdir()
            result = layerdeck_run(spec, folder, n)
            got[name].append(result.throughput)
            cpu[name].append(result.cpu)
    med = {k: statistics.median(v for r in runs for v in r) for k, runs in got.items()}
    per_round = [1 - statistics.median(a) / statistics.median(p) for p, a in zip(got["plain"], got["augmented"])]
    cost = 1 - med["augmented"] / med["plain"]
    print(f"\ndigits CNN, LayerDeck runs, samples/s over epochs 2..{epochs}, medians of {rounds} rounds")
    print(f"  without augmentation {med['plain']:>10,.0f}")
    print(f"  with {len(AUGMENT)} transforms    {med['augmented']:>10,.0f}   ({json.dumps(AUGMENT)})")
    print(f"  cost {100 * cost:.1f} % (goal < {100 * AUGMENT_COST_GOAL:.0f} %: "
          f"{'ok' if cost < AUGMENT_COST_GOAL else 'MISS'}); per round "
          f"{', '.join(f'{100 * c:.1f} %' for c in per_round)}")
    # Per CPU-second: the steadier measure while other processes share the cores (wall time
    # stretches with their load; the worker's own CPU time much less).
    cpu_med = {k: statistics.median(v) for k, v in cpu.items()}
    cpu_cost = 1 - cpu_med["augmented"] / cpu_med["plain"]
    print(f"  per worker CPU-second: {cpu_med['plain']:,.0f} without, {cpu_med['augmented']:,.0f} with; "
          f"cost {100 * cpu_cost:.1f} % ({'ok' if cpu_cost < AUGMENT_COST_GOAL else 'MISS'})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads in this process and the worker (1: steadiest on a shared machine; "
                         "0: torch's default in both)")
    ap.add_argument("--models", default="MLP,CNN", help=f"comma-separated, from {', '.join(MODELS)}")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--worker-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment variable for the LayerDeck worker only (repeatable), "
                         "e.g. OMP_WAIT_POLICY=PASSIVE, to try a setting against unchanged baselines")
    ap.add_argument("--augment", action="store_true",
                    help="measure the digits CNN with and without data augmentation instead of the baselines")
    ap.add_argument("--baseline", choices=sorted(BASELINES), help=argparse.SUPPRESS)  # child mode
    ap.add_argument("--template", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.baseline:  # threads come from OMP_NUM_THREADS, as in the worker
        print(json.dumps(BASELINES[args.baseline](spec_for(args.template, args.epochs))))
        return
    threads = set_threads(args.threads)
    for item in args.worker_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"--worker-env {item!r} is not NAME=VALUE — e.g. --worker-env OMP_WAIT_POLICY=PASSIVE")
        WORKER_ENV[name] = value
    if WORKER_ENV:
        threads += f"; the worker alone also has {' '.join(f'{k}={v}' for k, v in WORKER_ENV.items())}"
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="layerdeck-bench-") as tmp:
        if args.augment:
            augment_cost(args.epochs, args.rounds, Path(tmp))
            if not args.skip_accuracy:
                accuracy(Path(tmp), augment=True)
            return
        results = []
        for name in args.models.split(","):
            results.append((name, *measure(MODELS[name], args.epochs, args.rounds, Path(tmp))))
        print_table(results, args.epochs, threads)
        print(f"\nload average (1 min) at the start {load[0]:.1f}, at the end {os.getloadavg()[0]:.1f}, "
              f"on {os.cpu_count()} CPUs")
        if not args.skip_accuracy:
            accuracy(Path(tmp))


if __name__ == "__main__":
    main()
