"""Which channel reaches a run's worker, and sending a command down it.

The Runner asks its executor first: a run it started listens on its stdin
pipe. Any other run is reached by what its row says about it:

- on this machine, with a pid that is provably its worker: a signal
  (engine.runner.external verifies the pid; SIGUSR1/SIGUSR2 where they exist);
- anywhere else, or not started yet, or where the platform has no such
  signal: the store command channel (`run_commands`), which its worker polls
  twice a second wherever it runs.

    delivery = route(store, run_id, "pause", use_signals=True)
    if not delivery:
        print(delivery.problem)        # why nothing was sent, in words
    delivery.channel                   # "pipe" | "signal" | "store"
"""
from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Literal, Optional, Sequence

import psutil

from engine.runner import external
from engine.runner.local import kill_tree
from engine.status import LIVE, TERMINAL, RunStatus
from engine.store import RunNotFoundError, RunStore
from engine.worker.commands import CANCELLED

Action = Literal["pause", "resume", "stop", "cancel"]
Channel = Literal["pipe", "signal", "store"]
ACTIONS: tuple[str, ...] = ("pause", "resume", "stop", "cancel")


@dataclass(frozen=True)
class Delivery:
    """The outcome of a command: sent on `channel`, or not sent, with `problem` in words.

    True when sent. Sent is not applied: the worker applies it between two
    batches and writes the new status to its row (and says so in events)."""

    run_id: int
    action: str
    channel: Optional[Channel] = None
    problem: Optional[str] = None

    def __bool__(self) -> bool:
        return self.problem is None


def refusal(run_id: int, action: str, status: str) -> Optional[str]:
    """Why `action` does not apply to a run in `status`, in words; None when it does."""
    if status in TERMINAL:
        return f"run {run_id} has already ended ({status})"
    if action == "pause" and status == RunStatus.PAUSED:
        return f"run {run_id} is already paused"
    if action == "pause" and status == RunStatus.QUEUED:
        return f"run {run_id} is queued; it can be paused once it trains"
    if action == "resume" and status != RunStatus.PAUSED:
        return f"run {run_id} is not paused ({status})"
    return None


def route(store: RunStore, run_id: int, action: Action, *, use_signals: bool = True,
          worker_modules: Sequence[str] = (external.WORKER_MODULE,)) -> Delivery:
    """Send `action` to a run this process did not start (see the module's doc)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown run command {action!r}: use one of {', '.join(ACTIONS)}")
    try:
        run = store.get_run(run_id)
    except RunNotFoundError:
        return Delivery(run_id, action, problem=f"run {run_id} is not in the store (deleted?)")
    problem = refusal(run_id, action, run.status)
    if problem:
        return Delivery(run_id, action, problem=problem)
    here = run.host is None or run.host == socket.gethostname()
    if run.status in LIVE and run.pid is not None and here and os.name == "posix":
        return _by_pid(store, run_id, action, use_signals, worker_modules)
    # Not started yet, on another machine, or on Windows: the store reaches it.
    store.request_command(run_id, action)
    return Delivery(run_id, action, "store")


def _by_pid(store: RunStore, run_id: int, action: Action, use_signals: bool,
            worker_modules: Sequence[str]) -> Delivery:
    """A live run on this machine: a signal to its verified worker, else the store
    (the worker polls it too); a dead or reused pid is refused, nothing is sent."""
    check = "stop" if action == "cancel" else action
    proc, problem = external.check(store, run_id, check, worker_modules)
    if problem is not None:
        return Delivery(run_id, action, problem=problem)
    assert proc is not None
    if action == "cancel":
        return _kill(store, run_id, proc)
    if not use_signals or (action != "stop" and not external.CAN_PAUSE_BY_SIGNAL):
        store.request_command(run_id, action)
        return Delivery(run_id, action, "store")
    problem = external.send(proc, run_id, action)
    return Delivery(run_id, action, "signal", problem)


def _kill(store: RunStore, run_id: int, proc: psutil.Process) -> Delivery:
    """Cancel: write the run's end (its worker will not), then kill the worker and
    its children now. The row first: a Runner's orphan check that saw the pid
    dead before the row said so would record a crash instead."""
    store.set_status(run_id, RunStatus.STOPPED, error=CANCELLED, only_from=tuple(s.value for s in LIVE))
    kill_tree(proc)
    return Delivery(run_id, "cancel", "signal")
