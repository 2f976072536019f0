"""`layerdeck runs pause ID | resume ID | stop ID`: command any active run in the store.

The run may train in the app, in `layerdeck train` in another terminal, left
behind by a closed app, or on another machine: the Runner picks the channel
that reaches its worker (engine.runner.control). The command returns once
the worker has applied it, printing the run's new status, or exits 1 with
the reason (the run is not active, its worker cannot be reached, or it did
not answer in time).
"""
from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any, Callable

from engine.status import TERMINAL, RunStatus
from engine.store import RunStore

if TYPE_CHECKING:
    from engine.store import Run

APPLY_TIMEOUT_S = 60.0
POLL_S = 0.2
HELP = {"pause": "Pause an active run after its current batch (it keeps its state).",
        "resume": "Resume a paused run.",
        "stop": "Stop an active run gracefully: it finishes its batch and saves a `last` checkpoint."}
# The status that shows the worker applied the command.
APPLIED: dict[str, Callable[[str], bool]] = {
    "pause": lambda s: s == RunStatus.PAUSED or s in TERMINAL,
    "resume": lambda s: s != RunStatus.PAUSED,
    "stop": lambda s: s in TERMINAL,
}


def add_parsers(actions: Any, db_arg: Callable[[argparse.ArgumentParser], None]) -> None:
    for action, text in HELP.items():
        p = actions.add_parser(action, help=text, description=text + " Works for runs started anywhere "
                               "that share this store; prints the new status once the worker has applied it.")
        p.add_argument("run_id", type=int, metavar="ID")
        p.add_argument("--timeout", type=float, default=APPLY_TIMEOUT_S, metavar="SECONDS",
                       help=f"How long to wait for the worker to apply it (default {APPLY_TIMEOUT_S:.0f}).")
        db_arg(p)


def control(store: RunStore, args: argparse.Namespace) -> int:
    from engine.runner import Runner

    action = args.action
    store.get_run(args.run_id)  # RunNotFoundError: the caller says there is no such run
    runner = Runner(store.url)
    try:
        delivery = runner.command(args.run_id, action)
        if not delivery:
            print(f"layerdeck runs {action}: {delivery.problem}", file=sys.stderr)
            return 1
        run = _wait_applied(runner.store, args.run_id, APPLIED[action], args.timeout)
        if not APPLIED[action](run.status):
            print(f"layerdeck runs {action}: run {args.run_id} is still {run.status} after {args.timeout:g} s; "
                  f"the request was sent ({delivery.channel}) but its worker has not applied it. Is the worker "
                  "alive? `layerdeck runs show " f"{args.run_id}` shows its pid, host and log", file=sys.stderr)
            return 1
        print(_describe(runner.store, run))
        return 0
    finally:
        runner.shutdown(stop_runs=False, timeout=0)


def _wait_applied(store: RunStore, run_id: int, applied: Callable[[str], bool], timeout: float) -> Run:
    deadline = time.monotonic() + timeout
    while True:
        run = store.get_run(run_id)
        if applied(run.status) or time.monotonic() >= deadline:
            return run
        time.sleep(POLL_S)


def _describe(store: RunStore, run: Run) -> str:
    text = f"run {run.id} ({run.name}): {run.status}"
    if run.status == RunStatus.STOPPED:
        last = store.checkpoint(run.id, "last")
        if last is not None:
            text += f"; last checkpoint at epoch {last.epoch}: {last.path}"
            text += f" (continue with `layerdeck train --resume {run.id}`)"
    elif run.status in TERMINAL and run.error:
        text += f": {run.error.splitlines()[0]}"
    return text
