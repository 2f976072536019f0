"""`python -m engine.worker --run-id N --db URL`: one run, one process.

The worker owns its run's rows (DESIGN.md §3): it reads the spec from the
`queued` row, sets running/paused/completed/stopped/failed, writes metrics,
system samples and checkpoint records, and streams the same facts as typed
events (engine.protocol) on the original stdout. Commands (pause, resume,
stop, detach) arrive as JSON lines on stdin; stdin closing means the
supervisor is gone, and the run stops gracefully with a checkpoint.

Unless the supervisor detached first (the app closed with "keep training"):
then stdin closing is expected, the event stream is closed, and the run
trains on with nobody listening, writing its rows as always. Its stderr is
a file the supervisor opened for it (the run's log), not a pipe, so it
never depends on the supervisor process being alive.

Signals reach it whoever its supervisor was: SIGTERM and SIGINT stop it
gracefully, SIGUSR1 pauses and SIGUSR2 resumes it (POSIX only; a reopened
app sends them through engine.runner.external). A signal does exactly what
the matching stdin command does (`LiveCommands`), applied on a thread of
its own (`SignalRelay`), never inside the handler.

A run detached while paused stays paused where the platform has SIGUSR2: a
reopened app lists it `paused` and can resume or stop it. Without it (Windows)
nothing could ever resume it, so it stops with a `last` checkpoint instead
of holding its memory forever.

The training thread never blocks on the pipe or the database: events go
through `EventSender` and rows through `StoreWriter`, each a thread with its
own buffer.
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import queue
import signal
import sys
import threading
import time
import traceback
from typing import Any, Optional

from engine.protocol import (Checkpoint, Detach, Epoch, Finished, Heartbeat, Log, Metrics, Pause,
                             ProtocolError, Resume, Started, Status, Stop, System, decode_command,
                             iter_lines)
from engine.runner.external import CAN_PAUSE_BY_SIGNAL, PAUSE_SIGNAL, RESUME_SIGNAL
from engine.runner.paths import checkpoint_dir
from engine.runner.sender import EventSender
from engine.runner.store_writer import StoreWriter
from engine.training.callbacks import Callback, Control, MetricPoint, TrainContext

SAMPLE_INTERVAL_S = 1.0
AGGREGATE_PERIOD_S = 5.0  # a day-long run writes ~17k system rows per key instead of 86k
HEARTBEAT_INTERVAL_S = 2.0


def claim_stdout() -> int:
    """Keep the original stdout for the protocol; send fd 1 and sys.stdout to stderr.

    Libraries and user code print; after this, a stray print lands in the
    run's log instead of corrupting the event stream.
    """
    sys.stdout.flush()
    proto_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto_fd


class RunState:
    """The run's status as this process last wrote it; one lock orders the
    command thread's paused/running writes before the final status."""

    def __init__(self, store: Any, run_id: int, sender: EventSender, control: Control):
        self.store, self.run_id, self.sender, self.control = store, run_id, sender, control
        self.lock = threading.Lock()
        self.final = False

    def set_device(self, device: str) -> None:
        """Training has started on `device`: record it, keeping a pause that
        arrived while the data loaded (a signal can come as soon as the pid
        is recorded). Under the lock, so a pause written meanwhile stays."""
        with self.lock:
            if self.final:
                return
            status = "paused" if self.control.paused and not self.control.stop_requested else "running"
            self.store.set_status(self.run_id, status, device=device, only_from=("running", "paused"))

    def set_live(self, status: str) -> None:
        """running <-> paused, unless the run has already ended."""
        with self.lock:
            if self.final:
                return
            changed = self.store.set_status(self.run_id, status, only_from=("running", "paused"))
        if changed:
            self.sender.send(Status(self.run_id, status))

    def finish(self, status: str, error: Optional[str]) -> None:
        with self.lock:
            self.final = True
            self.store.set_status(self.run_id, status, error=error)


class LiveCommands:
    """Pause / resume / stop as this worker applies them, whoever asked: the
    stdin command reader and the signal relay call the same methods, so the
    run's status and events are the same either way."""

    def __init__(self, control: Control, state: RunState):
        self.control, self.state = control, state

    def pause(self) -> None:
        self.control.pause()
        self.state.set_live("paused")

    def resume(self) -> None:
        self.control.resume()
        self.state.set_live("running")

    def stop(self) -> None:
        self.control.stop()


class CommandReader(threading.Thread):
    """Reads pause/resume/stop/detach lines from stdin; EOF (supervisor gone)
    stops the run, unless the supervisor detached it first."""

    def __init__(self, fd: int, commands: LiveCommands):
        super().__init__(name="command-reader", daemon=True)
        self.fd, self.commands = fd, commands
        self.control, self.state = commands.control, commands.state
        self.detached = False

    def run(self) -> None:
        for line in iter_lines(self.fd):
            if not line.strip():
                continue
            try:
                command = decode_command(line)
            except ProtocolError as e:
                print(f"layerdeck worker: ignoring a command line: {e}", file=sys.stderr)
                continue
            if isinstance(command, Pause):
                self.commands.pause()
            elif isinstance(command, Resume):
                self.commands.resume()
            elif isinstance(command, Stop):
                self.commands.stop()
            elif isinstance(command, Detach):
                self.detach()
        if self.detached:
            return  # stdin closing is expected now; nothing more can arrive
        if not self.control.stop_requested and not self.state.final:
            print("layerdeck worker: supervisor gone (stdin closed); stopping with a checkpoint",
                  file=sys.stderr)
            self.commands.stop()

    def detach(self, can_resume_by_signal: bool = CAN_PAUSE_BY_SIGNAL) -> None:
        self.detached = True
        self.state.sender.detach()
        if self.control.paused and not self.state.final and not can_resume_by_signal:
            # No Resume can arrive any more: a run left paused would hold its
            # memory forever. It stops with a checkpoint and can be resumed later.
            print("layerdeck worker: detached while paused; stopping with a checkpoint",
                  file=sys.stderr)
            self.commands.stop()
        elif self.control.paused and not self.state.final:
            # A reopened app lists it `paused` and can resume (SIGUSR2) or stop it.
            print("layerdeck worker: detached while paused; staying paused until a reopened app "
                  "resumes or stops it", file=sys.stderr)
        else:
            print("layerdeck worker: the supervisor detached; training on in the background",
                  file=sys.stderr)
        sys.stderr.flush()


class SignalRelay(threading.Thread):
    """Applies signals on this thread: the handlers only queue the signal number.

    A Python handler runs on the main thread (the training loop) between two
    bytecodes, possibly while that thread holds the lock of the Control's
    Event or the store's connection, so the handler itself must not take
    either. SimpleQueue.put is safe there (reentrant); this thread then does
    what the stdin command would (LiveCommands)."""

    def __init__(self, commands: LiveCommands):
        super().__init__(name="signal-relay", daemon=True)
        self.commands = commands
        self._queue: queue.SimpleQueue[int] = queue.SimpleQueue()
        self._actions: dict[int, tuple[str, Any]] = {
            signal.SIGTERM: ("stopping with a checkpoint", commands.stop),
            signal.SIGINT: ("stopping with a checkpoint", commands.stop)}
        if PAUSE_SIGNAL is not None and RESUME_SIGNAL is not None:
            self._actions[PAUSE_SIGNAL] = ("pausing", commands.pause)
            self._actions[RESUME_SIGNAL] = ("resuming", commands.resume)

    def install(self) -> None:
        """Start the thread, then handle the signals (SIGUSR1/2 only where they exist)."""
        self.start()
        for sig in self._actions:
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self._queue.put(signum)

    def run(self) -> None:
        while True:
            signum = self._queue.get()
            what, action = self._actions[signum]
            try:
                action()
            except Exception:  # e.g. the store was busy: this thread must live for the next signal
                traceback.print_exc()
            try:  # after the action: a log that cannot be written must not cost the pause or the stop
                print(f"layerdeck worker: {signal.Signals(signum).name} received; {what}", file=sys.stderr)
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


class SystemRecorder:
    """System samples every second: raw to the live stream, 5 s means to the
    store (engine.monitor.Aggregator), plus a heartbeat event every few seconds."""

    def __init__(self, run_id: int, writer: StoreWriter, sender: EventSender):
        from engine.monitor import Aggregator, SamplerThread, SystemSampler

        self.run_id, self.writer, self.sender = run_id, writer, sender
        self.device: Optional[str] = None  # set once training has picked it
        self._agg = Aggregator(period=AGGREGATE_PERIOD_S)
        self._last_beat = 0.0
        self._thread = SamplerThread(SystemSampler(pids=[os.getpid()]), interval=SAMPLE_INTERVAL_S,
                                     on_samples=self._on_samples, name="system-sampler")

    def start(self) -> None:
        self._thread.start()

    def _on_samples(self, samples: list[tuple[str, float]]) -> None:
        if self.device and self.device.startswith("cuda"):
            from engine.monitor import torch_cuda_memory

            samples = samples + torch_cuda_memory(self.device)
        now = time.time()
        self.sender.send(System(self.run_id, [(k, now, float(v)) for k, v in samples]))
        self.writer.add_system([tuple(p) for p in self._agg.add(samples, now)])
        if now - self._last_beat >= HEARTBEAT_INTERVAL_S:
            self._last_beat = now
            self.sender.send(Heartbeat(self.run_id))

    def stop(self) -> None:
        self._thread.stop()
        self.writer.add_system([tuple(p) for p in self._agg.flush()])
        self._thread.sampler.close()


class WorkerCallback(Callback):
    """Hands every training fact to the store writer and the event sender."""

    def __init__(self, run_id: int, store: Any, writer: StoreWriter, sender: EventSender,
                 system: SystemRecorder, state: RunState):
        self.run_id, self.store, self.writer, self.sender = run_id, store, writer, sender
        self.state = state
        self.system = system
        self._t0 = time.monotonic()
        self._first_epoch = 0

    def on_train_start(self, ctx: TrainContext) -> None:
        self._t0 = time.monotonic()
        self._first_epoch = ctx.epoch  # > 0 when resuming
        self.system.device = ctx.device
        self.state.set_device(ctx.device)
        self.store.update_summary(self.run_id, {"params": ctx.num_params,
                                                "total_epochs": ctx.total_epochs})
        self.sender.send(Started(self.run_id, pid=os.getpid(), device=ctx.device,
                                 num_params=ctx.num_params, total_epochs=ctx.total_epochs,
                                 steps_per_epoch=ctx.steps_per_epoch))

    def on_metrics(self, ctx: TrainContext, points: list[MetricPoint]) -> None:
        self.writer.add_metrics(points)
        self.sender.send(Metrics(self.run_id, list(points)))

    def on_epoch_end(self, ctx: TrainContext, epoch: int, metrics: dict[str, float]) -> None:
        self.writer.flush_soon()
        done = epoch - self._first_epoch
        left = max(ctx.total_epochs - epoch, 0)
        eta = (time.monotonic() - self._t0) / done * left if done > 0 else None
        self.sender.send(Epoch(self.run_id, epoch=epoch, total_epochs=ctx.total_epochs,
                               metrics=dict(metrics), eta_s=eta))

    def on_checkpoint(self, ctx: TrainContext, kind: str, path: str, step: int, epoch: int,
                      metric_value: Optional[float]) -> None:
        self.writer.add_checkpoint(kind, path, step, epoch, metric_value)
        self.sender.send(Checkpoint(self.run_id, kind=kind, path=path, step=step, epoch=epoch,
                                    metric_value=metric_value))

    def on_log(self, ctx: TrainContext, level: str, message: str) -> None:
        self.sender.send(Log(self.run_id, level=level, message=message))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m engine.worker", description="Train one queued run.")
    p.add_argument("--run-id", type=int, required=True, help="The queued run's id in the store.")
    p.add_argument("--db", required=True, help="Run store URL.")
    p.add_argument("--device", default=None, help="Override the spec's training.device.")
    p.add_argument("--resume-from", default=None, help="Checkpoint file to continue from.")
    return p.parse_args(argv)


def train_run(args: argparse.Namespace, store: Any, sender: EventSender) -> tuple[str, Optional[str]]:
    """Train the run; return its final (status, error). Rows are written as it goes."""
    from engine.spec import SpecError, parse_spec
    from engine.training import TrainingError, train

    run_id = args.run_id
    try:
        spec = parse_spec(store.get_run(run_id).spec, f"run {run_id}")
    except SpecError as e:
        error = f"the run's spec is invalid: {e}"
        store.set_status(run_id, "failed", error=error)
        return "failed", error

    control = Control()
    state = RunState(store, run_id, sender, control)
    commands = LiveCommands(control, state)
    # A terminal's Ctrl-C or a plain `kill` stops the run gracefully too; SIGUSR1 /
    # SIGUSR2 pause and resume it (a reopened app's Pause / Resume). Installed
    # before the pid is recorded: nobody signals a run whose row has no pid.
    SignalRelay(commands).install()
    store.set_status(run_id, "running", pid=os.getpid())
    sender.send(Status(run_id, "running"))

    writer = StoreWriter(store, run_id)
    system = SystemRecorder(run_id, writer, sender)
    writer.start()
    system.start()
    CommandReader(sys.stdin.fileno(), commands).start()
    status, error = "failed", None
    try:
        result = train(spec, callbacks=[WorkerCallback(run_id, store, writer, sender, system, state)],
                       control=control, checkpoint_dir=checkpoint_dir(args.db, run_id),
                       resume_from=args.resume_from, device=args.device)
        status, error = result.status, result.error
    except TrainingError as e:  # a setting that cannot work here: the message says which and why
        error = str(e)
    except Exception as e:
        traceback.print_exc()
        error = f"{type(e).__name__}: {e}"
    finally:
        system.stop()
        writer.close()  # every point reaches the store before the final status
    state.finish(status, error)
    return status, error


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a segfault in a native library leaves a traceback in the log
    proto_fd = claim_stdout()
    args = parse_args(argv)
    sender = EventSender(proto_fd)
    sender.start()

    from engine.store import RunStore

    status, error = "failed", None
    store = None
    try:
        store = RunStore(args.db)
        status, error = train_run(args, store, sender)
    except Exception as e:
        traceback.print_exc()
        error = f"{type(e).__name__}: {e}"
        if store is not None:
            try:
                store.set_status(args.run_id, "failed", error=error)
            except Exception:
                traceback.print_exc()  # the supervisor then marks the run crashed
    sender.send(Finished(args.run_id, status=status, error=error))
    sender.close(timeout=10)
    return 1 if status == "failed" else 0


def run_and_exit(argv: list[str] | None = None) -> None:
    """main(), then leave without the interpreter's teardown: every row is
    written and the stream closed, and tearing down torch and its threads
    takes seconds on a busy machine that the next queued run could use."""
    code = main(argv)
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run_and_exit()
