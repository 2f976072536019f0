"""Stopping, pausing and resuming a run whose worker this process did not start.

A run left training by an app that has closed (DESIGN.md §3, "keep training
in the background") has no supervisor: nobody holds its command pipe. Its
worker still obeys signals (engine.worker): SIGTERM stops it gracefully
(finish the batch, save a `last` checkpoint, end `stopped`), SIGUSR1 pauses
it and SIGUSR2 resumes it, exactly as the Pause / Resume commands do (the
worker writes `paused` / `running` to its row itself). So a reopened app
can control it by its recorded pid, and only by that. Windows has no
SIGUSR1/SIGUSR2 (and no graceful SIGTERM): there such a run cannot be
controlled from a new window, and the problem functions say so.

A pid is signalled only when it is proven to be that run's worker: the row
says it runs on this host, the process is alive, and its command line is
`python -m engine.worker --run-id N --db <this store>`. A pid reused by any
other process (after a reboot, or a worker of another store) is refused.

    problem = external_stop_problem(store, run_id)   # None: Stop can work from here
    error = stop_external(store, run_id)             # None: SIGTERM sent; the row ends `stopped`
    external_pause_problem(store, run_id)            # None: the run is running and Pause can work
    pause_external(store, run_id)                    # None: SIGUSR1 sent; the row becomes `paused`
    external_resume_problem(store, run_id)           # None: the run is paused and Resume can work
    resume_external(store, run_id)                   # None: SIGUSR2 sent; the row becomes `running`
"""
from __future__ import annotations

import os
import signal
import socket
from typing import Any, Literal, Optional

import psutil

from engine.runner.local import WORKER_MODULE
from engine.store.paths import normalize_db_url, sqlite_path

# The worker's pause / resume signals (engine.worker installs handlers for
# them); None where the platform has none (Windows).
PAUSE_SIGNAL: Optional[int] = getattr(signal, "SIGUSR1", None)
RESUME_SIGNAL: Optional[int] = getattr(signal, "SIGUSR2", None)
CAN_PAUSE_BY_SIGNAL = PAUSE_SIGNAL is not None and RESUME_SIGNAL is not None

Action = Literal["stop", "pause", "resume"]
# The statuses each action applies to: a running run is paused, a paused one resumed.
ALLOWED: dict[str, tuple[str, ...]] = {"stop": ("running", "paused"), "pause": ("running",),
                                       "resume": ("paused",)}
STOPPABLE = ALLOWED["stop"]


def external_problem(store: Any, run_id: int, action: Action) -> Optional[str]:
    """Why this process cannot `action` the run through its worker's pid, in
    words; None when it can. Reads the run's row and asks psutil about the pid."""
    return _check(store, run_id, action)[1]


def external_stop_problem(store: Any, run_id: int) -> Optional[str]:
    """Why this process cannot stop the run through its worker's pid, in
    words; None when it can (see `stop_external`). Reads the run's row."""
    return external_problem(store, run_id, "stop")


def external_pause_problem(store: Any, run_id: int) -> Optional[str]:
    """Why this process cannot pause the run (it must be running), in words; None when it can."""
    return external_problem(store, run_id, "pause")


def external_resume_problem(store: Any, run_id: int) -> Optional[str]:
    """Why this process cannot resume the run (it must be paused), in words; None when it can."""
    return external_problem(store, run_id, "resume")


def stop_external(store: Any, run_id: int) -> Optional[str]:
    """Ask the run's worker (started by another, possibly closed, app) to stop
    gracefully: it finishes its batch, saves a `last` checkpoint and writes
    `stopped` itself. Returns None once the request is sent, else why not, in
    words; nothing is signalled then."""
    return _signal(store, run_id, "stop")


def pause_external(store: Any, run_id: int) -> Optional[str]:
    """Ask the run's worker to pause after its batch; it writes `paused` to its
    row itself. None once asked, else why not, in words (nothing was signalled)."""
    return _signal(store, run_id, "pause")


def resume_external(store: Any, run_id: int) -> Optional[str]:
    """Ask the paused run's worker to train on; it writes `running` to its row
    itself. None once asked, else why not, in words (nothing was signalled)."""
    return _signal(store, run_id, "resume")


def _signal(store: Any, run_id: int, action: Action) -> Optional[str]:
    proc, problem = _check(store, run_id, action)
    if problem is not None:
        return problem
    assert proc is not None
    sig = {"stop": signal.SIGTERM, "pause": PAUSE_SIGNAL, "resume": RESUME_SIGNAL}[action]
    assert sig is not None  # _check refused pause/resume where the platform has no such signal
    try:
        # psutil re-checks the process's create time before signalling, so a
        # pid that died and was reused since _check is not hit either.
        proc.send_signal(sig)
    except psutil.NoSuchProcess:
        return f"run {run_id}'s worker (pid {proc.pid}) has just ended; its row says how"
    except psutil.AccessDenied:
        return (f"run {run_id}'s worker (pid {proc.pid}) belongs to another user; "
                f"{action} it as that user")
    return None


def _check(store: Any, run_id: int, action: Action) -> tuple[Optional[psutil.Process], Optional[str]]:
    """(the run's worker process, None) when `action` can be done from here, else (None, why)."""
    from engine.store import RunNotFoundError

    try:
        run = store.get_run(run_id)
    except RunNotFoundError:
        return None, f"run {run_id} is not in the store (deleted?)"
    if run.status == "queued":
        return None, (f"run {run_id} is queued in another LayerDeck window or `layerdeck train`; "
                      f"{action} it there")
    if run.status not in STOPPABLE:
        return None, f"run {run_id} has already ended ({run.status})"
    if run.status not in ALLOWED[action]:
        return None, (f"run {run_id} is already paused" if action == "pause"
                      else f"run {run_id} is not paused ({run.status})")
    if os.name != "posix" or (action != "stop" and not CAN_PAUSE_BY_SIGNAL):
        # On Windows a signal is TerminateProcess: the worker would die mid-batch
        # without its checkpoint, and CTRL_BREAK_EVENT only reaches a process
        # that shares this process's console, which a worker left behind by a
        # closed app does not. Refuse rather than lose the run's last epochs.
        if action != "stop":
            return None, (f"run {run_id} was left training by an app that has closed; on this system "
                          f"it cannot be {action}d from a new window (no SIGUSR1/SIGUSR2 signals)")
        return None, (f"run {run_id} was left training by an app that has closed; on Windows it "
                      "cannot be stopped with a checkpoint from a new window. It ends by itself")
    host = run.host
    here = socket.gethostname()
    if host is not None and host != here:
        return None, f"run {run_id} is training on another machine ({host}); {action} it there"
    if run.pid is None:
        return None, f"run {run_id} has no worker process on record yet; try again in a moment"
    try:
        proc = psutil.Process(run.pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            raise psutil.NoSuchProcess(run.pid)
        argv = proc.cmdline()
    except psutil.NoSuchProcess:
        return None, (f"run {run_id}'s worker (pid {run.pid}) is gone; the store marks the run "
                      "crashed when it next checks")
    except psutil.AccessDenied:
        return None, (f"run {run_id}'s worker (pid {run.pid}) belongs to another user; "
                      f"{action} it as that user")
    if not _is_worker_of(argv, run_id, store):
        return None, (f"pid {run.pid} recorded for run {run_id} is now another program "
                      "(the worker is gone and its pid was reused); nothing was signalled")
    return proc, None


def _is_worker_of(argv: list[str], run_id: int, store: Any) -> bool:
    """Whether a command line is `... -m engine.worker --run-id <run_id> --db <store>`."""
    if WORKER_MODULE not in argv:
        return False
    return _option(argv, "--run-id") == str(run_id) and _same_store(_option(argv, "--db"), store)


def _option(argv: list[str], name: str) -> Optional[str]:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg[len(name) + 1:]
    return None


def _same_store(url: Optional[str], store: Any) -> bool:
    """A worker of run N in another store is not this store's run N."""
    if not url:
        return False
    try:
        url = normalize_db_url(url)
        theirs = sqlite_path(url)
    except Exception:  # an URL SQLAlchemy cannot parse: not a store we opened
        return False
    mine = getattr(store, "path", None)
    if theirs is not None or mine is not None:
        return theirs == mine
    return url == getattr(store, "url", None)
