"""Signals to a worker this process did not start, on this machine.

Its worker obeys signals (engine.worker.commands): SIGTERM stops it
gracefully (finish the batch, save a `last` checkpoint, end `stopped`),
SIGUSR1 pauses it and SIGUSR2 resumes it, exactly as the pipe commands do.
engine.runner.control decides when this channel is the one to use.

A pid is signalled only when it is proven to be that run's worker: the row
says it runs on this host, the process is alive, and its command line is
`python -m engine.worker --run-id N --db <this store>`. A pid reused by any
other process (after a reboot, or a worker of another store) is refused.

    proc, problem = check(store, run_id, "pause")   # (the worker, None) or (None, why not)
    problem = send(proc, run_id, "pause")           # None once the signal is sent
"""
from __future__ import annotations

import signal
import socket
from typing import TYPE_CHECKING, Literal, Optional, Sequence

import psutil

from engine.runner.local import WORKER_MODULE
from engine.store.paths import normalize_db_url, split_password, sqlite_path

# CAN_PAUSE_BY_SIGNAL is re-exported: engine.runner.control asks this module (tests patch it here).
from engine.worker.signals import CAN_PAUSE_BY_SIGNAL as CAN_PAUSE_BY_SIGNAL
from engine.worker.signals import PAUSE_SIGNAL, RESUME_SIGNAL

if TYPE_CHECKING:
    from engine.store import RunStore

Action = Literal["stop", "pause", "resume"]


def send(proc: psutil.Process, run_id: int, action: Action) -> Optional[str]:
    """Signal a worker `check` returned; None once sent, else why not, in words."""
    sig = {"stop": signal.SIGTERM, "pause": PAUSE_SIGNAL, "resume": RESUME_SIGNAL}[action]
    assert sig is not None  # control.route uses the store channel where the platform has no such signal
    try:
        # psutil re-checks the process's create time before signalling, so a
        # pid that died and was reused since `check` is not hit either.
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return f"run {run_id}'s worker (pid {proc.pid}) has just ended; its row says how"
    except psutil.AccessDenied:
        return (f"run {run_id}'s worker (pid {proc.pid}) belongs to another user; "
                f"{action} it as that user")
    return None


def check(store: RunStore, run_id: int, action: Action, worker_modules: Sequence[str] = (WORKER_MODULE,)
          ) -> tuple[Optional[psutil.Process], Optional[str]]:
    """(the run's worker process, None) when its recorded pid is provably its
    worker on this machine, else (None, why not, in words). worker_modules:
    what `python -m` runs as a worker (a runner with a test worker adds its own)."""
    from engine.store import RunNotFoundError

    try:
        run = store.get_run(run_id)
    except RunNotFoundError:
        return None, f"run {run_id} is not in the store (deleted?)"
    if run.host is not None and run.host != socket.gethostname():
        return None, f"run {run_id} is training on another machine ({run.host})"
    if run.pid is None:
        return None, f"run {run_id} has no worker process on record yet; try again in a moment"
    try:
        proc = psutil.Process(run.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            raise psutil.NoSuchProcess(run.pid)
        argv = proc.cmdline()
    except psutil.NoSuchProcess:
        return None, (f"run {run_id}'s worker (pid {run.pid}) is gone, so nothing can reach it; "
                      "the store marks the run crashed when it next checks")
    except psutil.AccessDenied:
        return None, (f"run {run_id}'s worker (pid {run.pid}) belongs to another user; "
                      f"{action} it as that user")
    if not _is_worker_of(argv, run_id, store, worker_modules):
        return None, (f"pid {run.pid} recorded for run {run_id} is now another program "
                      "(the worker is gone and its pid was reused); nothing was signalled")
    return proc, None


def _is_worker_of(argv: list[str], run_id: int, store: RunStore, worker_modules: Sequence[str]) -> bool:
    """Whether a command line is `... -m engine.worker --run-id <run_id> --db <store>`."""
    if not any(m in argv for m in worker_modules):
        return False
    return _option(argv, "--run-id") == str(run_id) and _same_store(_option(argv, "--db"), store)


def _option(argv: list[str], name: str) -> Optional[str]:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def _same_store(url: Optional[str], store: RunStore) -> bool:
    """A worker of run N in another store is not this store's run N."""
    if not url:
        return False
    try:
        url = split_password(normalize_db_url(url))[0]  # workers get the password by environment
        theirs = sqlite_path(url)
    except Exception:  # an URL SQLAlchemy cannot parse: not a store we opened
        return False
    mine = getattr(store, "path", None)
    if theirs is not None or mine is not None:
        return theirs == mine
    mine_url = getattr(store, "url", None)
    return mine_url is not None and url == split_password(mine_url)[0]
