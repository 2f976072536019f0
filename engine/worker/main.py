"""`python -m engine.worker`: the process that trains one run.

`main` reads the run's spec from its queued row, claims stdout for the event
stream, starts the threads (engine.worker.__init__ lists them) and trains;
`run_and_exit` is the process's entry point.

A data-parallel run (training.distributed) is several of these processes,
started by torchrun. Rank 0 is the run's worker as above: it records its pid,
hears the commands, writes the status, metrics and checkpoints and streams
the events. The others (`train_rank`) train their share and write only their
system samples, under `rank{N}/` keys; they leave stdout and stdin alone.
"""
from __future__ import annotations

import argparse
import faulthandler
import os
import sys
import traceback
from typing import Optional

from engine.evaluation.recording import record_evaluation, record_preprocessing
from engine.init_from import find_init_source
from engine.protocol import Finished, Log, Status
from engine.runner.paths import checkpoint_dir
from engine.store import RunStore
from engine.store.paths import with_env_password
from engine.training.callbacks import Control
from engine.training.teacher import check_teacher
from engine.worker.callback import WorkerCallback
from engine.worker.commands import CommandReader, LiveCommands, SignalRelay, StorePoller
from engine.worker.sender import EventSender
from engine.worker.state import RunState
from engine.worker.store_writer import StoreWriter
from engine.worker.system import SystemRecorder
from engine.worker.threads import apply_cpu_share


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m engine.worker", description="Train one queued run.")
    p.add_argument("--run-id", type=int, required=True, help="The queued run's id in the store.")
    p.add_argument("--db", required=True, help="Run store URL.")
    p.add_argument("--device", default=None, help="Override the spec's training.device.")
    p.add_argument("--resume-from", default=None, help="Checkpoint file to continue from.")
    p.add_argument("--no-stdin", action="store_true",
                   help="No supervisor pipe (a remote executor): commands come through the store alone, "
                        "and stdin closing means nothing.")
    args = p.parse_args(argv)
    args.db = with_env_password(args.db)  # a store password comes by environment, not argv
    return args


def process_rank() -> int:
    """This process's rank in a torchrun-started run; 0 for a plain worker."""
    return int(os.environ.get("RANK", "0")) if "WORLD_SIZE" in os.environ else 0


def train_rank(args: argparse.Namespace, rank: int) -> int:
    """A data-parallel run's process above rank 0: trains its share (rank 0
    tells it when to pause or stop), writes its system samples, nothing else."""
    from engine.spec import parse_spec
    from engine.training import train

    store = RunStore(args.db)
    spec = parse_spec(store.get_run(args.run_id).spec, f"run {args.run_id}")
    writer = StoreWriter(store, args.run_id)
    system = SystemRecorder(args.run_id, writer, None, prefix=f"rank{rank}/")
    writer.start()
    system.start()
    try:
        result = train(spec, checkpoint_dir=checkpoint_dir(args.db, args.run_id),
                       resume_from=args.resume_from, device=args.device, teacher=check_teacher(store, spec),
                       init_source=find_init_source(store, spec))
    finally:
        system.stop()
        writer.close()
    return 1 if result.status == "failed" else 0


def train_run(args: argparse.Namespace, store: RunStore, sender: EventSender) -> tuple[str, Optional[str]]:
    """Train the run; return its final (status, error). Rows are written as it goes."""
    from engine.spec import SpecError, parse_spec
    from engine.training import TrainingError, train

    run_id = args.run_id
    try:
        spec = parse_spec(store.get_run(run_id).spec, f"run {run_id}")
    except SpecError as e:
        problem = f"the run's spec is invalid: {e}"
        store.set_status(run_id, "failed", error=problem)
        return "failed", problem
    try:
        teacher = check_teacher(store, spec)  # training.distill: checked at launch, again now
        init_source = find_init_source(store, spec)  # model.init_from: the run may be gone since
    except SpecError as e:
        problem = "; ".join(e.errors)
        store.set_status(run_id, "failed", error=problem)
        return "failed", problem

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
    if not args.no_stdin:
        CommandReader(sys.stdin.fileno(), commands).start()
    poller = StorePoller(store, run_id, commands)
    poller.poll_once()  # a stop or pause asked while the run was queued applies before the first batch
    poller.start()
    status = "failed"
    error: Optional[str] = None
    device = "cpu"
    try:
        record_preprocessing(store, run_id, spec)  # what `layerdeck predict` needs, kept with the run
        result = train(spec, callbacks=[WorkerCallback(run_id, store, writer, sender, system, state)],
                       control=control, checkpoint_dir=checkpoint_dir(args.db, run_id),
                       resume_from=args.resume_from, device=args.device, teacher=teacher,
                       init_source=init_source)
        status, error, device = result.status, result.error, result.device
    except TrainingError as e:  # a setting that cannot work here: the message says which and why
        error = str(e)
    except Exception as e:
        traceback.print_exc()
        error = f"{type(e).__name__}: {e}"
    finally:
        poller.close()
        system.stop()
        writer.close()  # every point reaches the store before the final status
    if status in ("completed", "stopped"):  # the checkpoint rows are written: evaluate the best weights
        note = record_evaluation(store, run_id, device)
        print(note, file=sys.stderr)
        sender.send(Log(run_id, level="info", message=note))
    state.finish(status, error)
    return status, error


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a segfault in a native library leaves a traceback in the log
    proto_fd = claim_stdout()
    args = parse_args(argv)
    rank = process_rank()
    apply_cpu_share()  # torch's and OpenMP's threads: this worker's share of the cores, not all of them
    if rank:
        os.close(proto_fd)  # the stream and stdin are rank 0's; it hands pause and stop on to this rank
        return train_rank(args, rank)
    sender = EventSender(proto_fd)
    sender.start()

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
