"""`layerdeck train SPEC.json [--db URL] [--device D] [--resume RUN_ID]`.

Trains through the Runner in a real worker process, exactly as the GUI
does, so a headless run and a GUI run leave identical rows. Exit codes:
0 completed, 1 failed / crashed / stopped elsewhere, 2 a bad spec,
130 stopped with Ctrl-C (a second Ctrl-C kills the worker).
"""
from __future__ import annotations

import argparse
import queue
import shutil
import signal
import sys
import time
from typing import TYPE_CHECKING, Any, Optional, TextIO

from engine.cli.options import add_db_option
from engine.formatting import clock, metric
from engine.status import RESUMABLE
from engine.store.paths import shown_url

if TYPE_CHECKING:  # the CLI imports these when a command runs, not when it is listed
    from engine.protocol import Finished
    from engine.runner import Runner
    from engine.spec import RunSpec
    from engine.store import Run, RunStore

EXIT_OK, EXIT_FAILED, EXIT_BAD_SPEC, EXIT_INTERRUPTED = 0, 1, 2, 130
# Shown on the progress line, in this order, when the run logs them.
SHOWN_KEYS = ("train/loss", "val/loss", "val/accuracy", "val/mae", "val/r2", "train/accuracy")
BAR_WIDTH = 24


class UserError(Exception):
    """Something the user can fix; printed as one line, no traceback."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("train", help="Train a run spec in a worker process.",
                       description="Train SPEC.json in a worker process, recording it in the run store.")
    p.add_argument("spec", nargs="?", metavar="SPEC.json",
                   help="Run spec file (with --resume it may be left out: the old run's spec is used).")
    add_db_option(p)
    p.add_argument("--device", help="Train on this device: auto, cpu, cuda, cuda:N or mps (overrides training.device).")
    p.add_argument("--resume", type=int, metavar="RUN_ID",
                   help="Continue a stopped or crashed run from its last checkpoint, as a new run.")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="Where the worker runs: this machine (local) or a Ray cluster (ray; needs a PostgreSQL "
                        "store every node reaches and `pip install layerdeck[ray]`).")
    p.add_argument("--ray-address", metavar="ADDRESS",
                   help="The Ray cluster's address (host:6379); default LAYERDECK_RAY_ADDRESS, else Ray's own.")


def run(args: argparse.Namespace) -> int:
    from engine.spec import SpecError
    from engine.store import resolve_db_url

    try:
        db_url = resolve_db_url(getattr(args, "db", None))
        if args.spec is None and args.resume is None:
            raise UserError("give a run spec file (layerdeck train SPEC.json) or --resume RUN_ID")
        from engine.runner import Runner

        runner = Runner(db_url, executor=executor_factory(args, db_url))
        spec, parent_id, resume_from = prepare(args, runner.store)
    except SpecError as e:
        print(f"layerdeck train: the spec cannot be used{' (' + e.source + ')' if e.source else ''}:",
              file=sys.stderr)
        for err in e.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_BAD_SPEC
    except (UserError, ValueError) as e:
        print(f"layerdeck train: {e}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:  # before any worker started: nothing to stop
        return EXIT_INTERRUPTED
    return train_and_watch(runner, spec, parent_id=parent_id, resume_from=resume_from)


def executor_factory(args: argparse.Namespace, db_url: str) -> Any:
    """None (local workers) or the Ray executor's factory; a store no remote
    worker can reach is refused here, before it is opened or any run exists."""
    if getattr(args, "executor", "local") != "ray":
        return None
    import os

    from engine.runner.ray_executor import ADDRESS_ENV, check_shared_store, ray_executor

    check_shared_store(db_url)  # a ValueError: printed as one line
    return ray_executor(args.ray_address or os.environ.get(ADDRESS_ENV) or None)


def prepare(args: argparse.Namespace, store: RunStore) -> tuple[RunSpec, Optional[int], Optional[str]]:
    """(spec, parent_id, checkpoint to resume from); SpecError or UserError if unusable."""
    from engine.spec import load_spec, parse_spec

    spec = load_spec(args.spec) if args.spec else None
    parent_id: Optional[int] = None
    resume_from: Optional[str] = None
    if args.resume is not None:
        from engine.store import RunNotFoundError

        try:
            old = store.get_run(args.resume)
        except RunNotFoundError:
            raise UserError(f"there is no run {args.resume} in this store (see `layerdeck runs list`)") from None
        if old.status not in RESUMABLE:
            raise UserError(f"run {old.id} is {old.status}; only a stopped or crashed run can be resumed")
        last = store.checkpoint(old.id, "last")
        if last is None:
            raise UserError(f"run {old.id} has no checkpoint to resume from "
                            "(it ended before its first checkpoint); start it again instead")
        resume_from = last.path
        parent_id = old.id
        if spec is None:
            spec = parse_spec(old.spec, f"run {old.id}")
    assert spec is not None
    if args.device:
        # Through the spec, so the value is checked and the run records where it trained.
        spec = spec.copy_with(training={**spec.training.model_dump(mode="json"), "device": args.device})
    check_model(spec)
    from engine.training.teacher import check_teacher
    check_teacher(store, spec)  # training.distill: the teacher exists, finished and fits
    return spec, parent_id, resume_from


def check_model(spec: RunSpec) -> None:
    """Refuse a model that does not fit its dataset before any worker starts
    (the same check as `layerdeck check`: shapes and the last layer's size)."""
    from engine.data import DataError
    from engine.model import summarize_spec
    from engine.spec import SpecError

    try:
        summary, _ = summarize_spec(spec)
    except DataError as e:
        raise SpecError([str(e)]) from None
    if not summary.valid:
        raise SpecError(summary.errors)


def train_and_watch(runner: Runner, spec: RunSpec, *, parent_id: Optional[int], resume_from: Optional[str]) -> int:
    from engine.protocol import Finished

    events: queue.Queue = queue.Queue()
    runner.subscribe(events.put)
    run_id = runner.submit(spec, parent_id=parent_id, resume_from=resume_from)
    resumed = f", resuming run {parent_id}" if parent_id is not None else ""
    print(f"run {run_id}: {spec.name} (store {shown_url(runner.db_url)}{resumed})", flush=True)

    interrupts = 0

    def on_sigint(*_: Any) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1:
            progress.note(f"stopping run {run_id} after this batch (saving a checkpoint); "
                          "press Ctrl-C again to kill it")
            runner.stop(run_id)
        else:
            progress.note(f"killing run {run_id}")
            runner.cancel(run_id)

    progress = Progress(sys.stdout)
    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        while True:
            try:
                event = events.get(timeout=0.25)
            except queue.Empty:
                progress.redraw()
                continue
            if event.run_id != run_id:
                continue
            progress.handle(event)
            if isinstance(event, Finished):
                break
    finally:
        signal.signal(signal.SIGINT, previous)
        runner.shutdown(stop_runs=True, timeout=30)
    return report(run_id, event, runner, stopped_by_user=interrupts > 0)


def report(run_id: int, finished: Finished, runner: Runner, *, stopped_by_user: bool) -> int:
    run = runner.store.get_run(run_id)
    if finished.status == "completed":
        print(f"run {run_id} completed{_duration(run)}{_best(run)}")
        return EXIT_OK
    if finished.status == "stopped":
        print(f"run {run_id} stopped{_duration(run)}{_best(run)}; continue it with "
              f"`layerdeck train --resume {run_id}`", file=sys.stderr)
        return EXIT_INTERRUPTED if stopped_by_user else EXIT_FAILED
    print(f"run {run_id} {finished.status}: {finished.error or 'no reason given'}", file=sys.stderr)
    if finished.status == "crashed":
        print(f"  continue it with `layerdeck train --resume {run_id}` if it saved a checkpoint",
              file=sys.stderr)
    return EXIT_FAILED


def _duration(run: Run) -> str:
    d = getattr(run, "duration_s", None)
    return f" in {d:.1f} s" if d is not None else ""


def _best(run: Run) -> str:
    metrics = (getattr(run, "summary", None) or {}).get("metrics", {})
    parts = [f"{k} {metric(metrics[k]['best'])}" for k in ("val/accuracy", "val/loss", "test/accuracy")
             if k in metrics and metrics[k].get("best") is not None]
    return (" · best " + ", ".join(parts)) if parts else ""


def format_eta(seconds: Optional[float]) -> str:
    """"1:35", "1:02:05"; "--:--" before the first estimate."""
    return "--:--" if seconds is None else clock(seconds)


class Progress:
    """One progress line: redrawn in place on a terminal, one line per epoch otherwise."""

    def __init__(self, stream: TextIO, *, tty: Optional[bool] = None):
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.total_epochs = 0
        self.steps_per_epoch = 0
        self.epoch = 0
        self.step = 0
        self.latest: dict[str, float] = {}
        self.eta_s: Optional[float] = None
        self.eta_at = 0.0
        self._drawn = 0.0
        self._line_open = False

    def handle(self, event: Any) -> None:
        from engine.protocol import Epoch, Finished, Log, Metrics, Started

        if isinstance(event, Started):
            self.total_epochs, self.steps_per_epoch = event.total_epochs, event.steps_per_epoch
            self.note(f"training on {event.device}, {event.num_params:,} parameters, "
                      f"{event.total_epochs} epochs")
        elif isinstance(event, Metrics):
            for p in event.points:
                self.step = max(self.step, p.step)
                self.latest[p.key.removesuffix("_step")] = p.value  # train/loss_step is live train/loss
            self.redraw()
        elif isinstance(event, Epoch):
            self.epoch, self.total_epochs = event.epoch, event.total_epochs
            self.latest.update(event.metrics)
            self.eta_s, self.eta_at = event.eta_s, time.monotonic()
            self.redraw(force=True)
            if not self.tty:
                self.stream.write(self.line() + "\n")
                self.stream.flush()
        elif isinstance(event, Log) and event.level in ("warning", "error"):
            self.note(f"{event.level}: {event.message}")
        elif isinstance(event, Finished) and self._line_open:
            self.stream.write("\n")
            self.stream.flush()
            self._line_open = False

    def fraction(self) -> float:
        total_steps = self.total_epochs * self.steps_per_epoch
        by_step = self.step / total_steps if total_steps else 0.0
        by_epoch = self.epoch / self.total_epochs if self.total_epochs else 0.0
        return min(1.0, max(by_step, by_epoch))

    def line(self) -> str:
        frac = self.fraction()
        filled = int(frac * BAR_WIDTH)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        eta = None if self.eta_s is None else self.eta_s - (time.monotonic() - self.eta_at)
        shown = " · ".join(f"{k} {metric(self.latest[k])}" for k in SHOWN_KEYS if k in self.latest)
        # A live line names the epoch in progress; a line per finished epoch, that one.
        current = self.epoch + 1 if self.tty and self.epoch < self.total_epochs else self.epoch
        epoch = f"epoch {current}/{self.total_epochs or '?'}"
        return f"[{bar}] {frac * 100:3.0f}% {epoch} · ETA {format_eta(eta)}" + (f" · {shown}" if shown else "")

    def redraw(self, force: bool = False) -> None:
        """Repaint the line on a terminal, at most 10 times a second."""
        if not self.tty or not self.total_epochs:
            return
        now = time.monotonic()
        if not force and now - self._drawn < 0.1:
            return
        self._drawn = now
        # A wrapped line cannot be redrawn with \r: cut it to the terminal's width.
        width = shutil.get_terminal_size().columns - 1
        self.stream.write("\r" + self.line()[:width] + "\x1b[K")
        self.stream.flush()
        self._line_open = True

    def note(self, message: str) -> None:
        """A message on its own line, the progress line redrawn under it."""
        if self._line_open:
            self.stream.write("\r\x1b[K")
            self._line_open = False
        self.stream.write(message + "\n")
        self.stream.flush()
        self.redraw(force=True)
