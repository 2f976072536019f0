"""Runner: the one owner of every active run in its store (CLI and GUI alike).

It validates a spec, creates the `queued` row, hands the run to an executor
and fans the executor's events out to subscribers. Runs it did not start
(a closed app's, a terminal's `layerdeck train`, another machine's) it
adopts: a StoreFollower turns their rows into the same events. Commands
(`pause`, `resume`, `stop`, `cancel`) work for any run and pick the channel
themselves (engine.runner.control): the executor's pipe for its own runs, a
signal or the store command channel for the others. Workers write their
own rows; the runner only settles a row its worker could not.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any, Callable, Optional, Union

from engine.init_from import find_init_source
from engine.protocol import Event, Finished, Owned, Status
from engine.runner.control import Action, Delivery, refusal, route
from engine.runner.executor import EventCallback, Executor
from engine.runner.follow import POLL_S as FOLLOW_POLL_S
from engine.runner.follow import StoreFollower
from engine.runner.follow import total_epochs as _total_epochs
from engine.runner.local import WORKER_MODULE, LocalExecutor
from engine.spec import RunSpec, parse_spec
from engine.status import ACTIVE, TERMINAL, ordered
from engine.store import RunNotFoundError, RunStore
from engine.training.teacher import check_teacher

DETACHED_POLL_S = 0.5  # wait() on a detached run reads its row this often


class Runner:
    """Queue runs, command them, and watch their events.

    concurrency: runs at once per device queue ("cpu", "cuda:0", ...);
    default one per GPU and one on the CPU.
    executor: a factory `(db_url, store, on_event) -> Executor`; default local
    subprocesses (the seam for a Ray executor later).
    adopt: follow every active run of the store that this runner did not
    start, now and as they appear (the app); False: only those `adopt()`
    or a command names (the CLI).
    use_signals: reach other runs on this machine by signal (else the store
    channel only, as for a remote worker).
    follow_interval_s: how often adopted runs' rows are read (tests go faster).
    """

    def __init__(self, db_url: str, *, concurrency: Optional[dict[str, int]] = None,
                 executor: Optional[Callable[[str, RunStore, EventCallback], Executor]] = None,
                 worker_command: Optional[list[str]] = None, adopt: bool = False,
                 use_signals: bool = True, follow_interval_s: Optional[float] = None):
        self.db_url = db_url
        self.store = RunStore(db_url)
        self.use_signals = use_signals
        self._lock = threading.Lock()
        self._submit_lock = threading.Lock()  # a run being created is not adopted as someone else's
        self._subscribers: list[EventCallback] = []
        self._done: dict[int, threading.Event] = {}
        self._final: dict[int, str] = {}
        self._detached: set[int] = set()
        self._own: set[int] = set()
        self._auto_adopt = adopt
        self._follower = StoreFollower(self.store, self._dispatch, scan=self._scan if adopt else None,
                                       interval_s=follow_interval_s or FOLLOW_POLL_S)
        self._follower_started = False
        if executor is not None:
            self.executor: Executor = executor(db_url, self.store, self._dispatch)
        else:
            self.executor = LocalExecutor(db_url, self.store, self._dispatch, concurrency=concurrency,
                                          worker_command=worker_command)
        self._extra: dict[str, Executor] = {}  # more places to run, by name (a Ray cluster): submit(on=name)
        self._placed: dict[int, Executor] = {}  # runs submitted to one of them

    def add_executor(self, name: str, executor: Callable[[str, RunStore, EventCallback], Executor]) -> None:
        """Make `submit(..., on=name)` run there (once per name; the factory may
        refuse this store, e.g. a SQLite file for a cluster, by raising)."""
        with self._lock:
            if name in self._extra:
                return
        made = executor(self.db_url, self.store, self._dispatch)
        with self._lock:
            self._extra.setdefault(name, made)

    def _executors(self) -> list[Executor]:
        with self._lock:
            return [self.executor, *self._extra.values()]

    # --- launching ----------------------------------------------------------------------
    def submit(self, spec: Union[RunSpec, dict[str, Any]], *, name: Optional[str] = None,
               parent_id: Optional[int] = None, resume_from: Optional[str] = None,
               device: Optional[str] = None, on: Optional[str] = None,
               sweep_id: Optional[int] = None, trial_number: Optional[int] = None) -> int:
        """Create the queued row and queue the run; returns its id.

        A dict is validated first: a bad spec raises engine.spec.SpecError and
        no row or worker is created. on: the name of an executor added with
        add_executor (default: this runner's own). sweep_id, trial_number: the
        run is that sweep's trial (engine.sweeps).
        """
        if not isinstance(spec, RunSpec):
            spec = parse_spec(spec)
        teacher = check_teacher(self.store, spec)  # training.distill: a teacher that cannot teach is refused here
        find_init_source(self.store, spec)  # model.init_from: an unfinished or missing run is refused here
        with self._lock:
            if on is not None and on not in self._extra:
                raise ValueError(f"no place to run called {on!r} (add it with add_executor)")
            executor = self.executor if on is None else self._extra[on]
        with self._submit_lock:
            run_id = self.store.create_run(spec.to_dict(), name=name or spec.name, parent_id=parent_id,
                                           sweep_id=sweep_id, trial_number=trial_number,
                                           teacher_run_id=teacher.run_id if teacher else None)
            with self._lock:
                self._own.add(run_id)
                self._done[run_id] = threading.Event()
                if on is not None:
                    self._placed[run_id] = executor
        self._dispatch(Owned(run_id, name=name or spec.name, status="queued", total_epochs=spec.training.epochs,
                             parent_id=parent_id))  # before the worker's own events
        self._dispatch(Status(run_id, "queued"))
        try:
            executor.submit(run_id, device=device or spec.training.device, resume_from=resume_from)
        except Exception as e:  # never leave a queued row that no worker will pick up
            error = f"could not queue the run: {e}"
            self.store.set_status(run_id, "failed", error=error)
            self._dispatch(Finished(run_id, status="failed", error=error))
            raise
        return run_id

    # --- commands (any run in the store) -----------------------------------------------------
    def pause(self, run_id: int) -> Delivery:
        """Pause after the current batch; the worker keeps its state."""
        return self.command(run_id, "pause")

    def resume(self, run_id: int) -> Delivery:
        return self.command(run_id, "resume")

    def stop(self, run_id: int) -> Delivery:
        """Graceful: the worker finishes its batch, saves a checkpoint and ends `stopped`;
        a queued run is dropped."""
        return self.command(run_id, "stop")

    def cancel(self, run_id: int) -> Delivery:
        """Kill the worker and its children now; the run ends `stopped` without a checkpoint."""
        return self.command(run_id, "cancel")

    def command(self, run_id: int, action: Action) -> Delivery:
        """Send `action` to the run on the channel that reaches it; truthy once sent
        (the worker then writes the new status itself), else `.problem` says why not.
        A run this runner did not start is adopted, so its events arrive here too."""
        with self._lock:
            own = run_id in self._own and run_id not in self._detached
            executor = self._placed.get(run_id, self.executor)
        if own and run_id in executor.active_runs():
            if getattr(executor, action)(run_id):
                return Delivery(run_id, action, "pipe")
            status = self._status(run_id)
            return Delivery(run_id, action, problem=refusal(run_id, action, status or "queued")
                            or f"run {run_id}'s worker is not taking commands now ({status})")
        self.adopt([run_id])  # before the command: its effect (even a cancel's end) arrives as events
        return route(self.store, run_id, action, use_signals=self.use_signals,
                     worker_modules=self._worker_modules())

    def _worker_modules(self) -> list[str]:
        """What `python -m` runs as a worker: engine.worker, and this runner's own worker command's."""
        command = list(getattr(self.executor, "worker_command", []) or [])
        own = [command[i + 1] for i, a in enumerate(command[:-1]) if a == "-m"]
        return list(dict.fromkeys([WORKER_MODULE, *own]))

    def _status(self, run_id: int) -> Optional[str]:
        try:
            return self.store.get_run(run_id).status
        except RunNotFoundError:
            return None

    # --- adopting --------------------------------------------------------------------------
    def adopt(self, run_ids: Optional[list[int]] = None) -> list[int]:
        """Follow active runs this runner did not start (all of the store's, or
        `run_ids`): their events arrive like its own, read from the store, and
        `wait` works for them. Returns the ids newly adopted."""
        with self._submit_lock:
            runs = self.store.list_runs(status=ordered(ACTIVE))
            wanted = set(run_ids) if run_ids is not None else None
            with self._lock:
                known = (self._own - self._detached) | set(self._follower.following())
                new = [r for r in runs if r.id not in known and (wanted is None or r.id in wanted)]
                for r in new:
                    self._done.setdefault(r.id, threading.Event())
                    self._detached.discard(r.id)
        for r in new:
            self._dispatch(Owned(r.id, name=r.name, status=r.status, total_epochs=_total_epochs(r),
                                 parent_id=r.parent_id,
                                 adopted=True))
            self._follower.follow(r.id)
        if new or self._auto_adopt:
            self._start_follower()
        return [r.id for r in new]

    def adopted_runs(self) -> list[int]:
        """Runs followed from the store (started elsewhere), not yet ended."""
        return self._follower.following()

    def _scan(self) -> None:
        self.adopt()

    def _start_follower(self) -> None:
        with self._lock:
            if self._follower_started:
                return
            self._follower_started = True
        self._follower.start()

    def active_runs(self) -> list[int]:
        """Runs this runner started that are queued or running (adopted ones: adopted_runs)."""
        return sorted(r for executor in self._executors() for r in executor.active_runs())

    def detach(self, run_id: Optional[int] = None) -> list[int]:
        """Let running workers (all, or `run_id`) train on after this process
        exits; returns their ids at once. They send no more events and cannot
        be commanded through its pipe; each writes its own rows to the end,
        and any Runner can adopt it again. Detaching all also stops
        taking runs and ends queued ones `stopped` ("not started: ..."):
        nothing would be left to start them."""
        detached = [r for executor in self._executors() for r in executor.detach(run_id)]
        with self._lock:
            self._detached.update(detached)
        if run_id is None:  # letting go of everything: this process is about to leave
            self._follower.close()
        return detached

    # --- watching -----------------------------------------------------------------------
    def subscribe(self, callback: EventCallback) -> Callable[[], None]:
        """Call `callback(event)` for every event; returns an unsubscribe.

        Events arrive on the runner's reader threads (a `Status("queued")` on
        the thread that called submit): a GUI hands them to its own thread.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def wait(self, run_id: int, timeout: Optional[float] = None) -> Optional[str]:
        """Block until the run ends; its final status, or None on timeout.

        For a run this runner did not submit, the store's status if final; for
        one it detached, the store is polled (its worker sends nothing now).
        """
        with self._lock:
            done = self._done.get(run_id)
            detached = run_id in self._detached
        if detached:
            return self._poll_store(run_id, timeout)
        if done is None:
            status = self.store.get_run(run_id).status
            return status if status in TERMINAL else None
        if not done.wait(timeout):
            return None
        return self._final.get(run_id)

    def _poll_store(self, run_id: int, timeout: Optional[float]) -> Optional[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.store.get_run(run_id).status
            if status in TERMINAL:
                return status
            if deadline is not None and time.monotonic() >= deadline:
                return None
            time.sleep(DETACHED_POLL_S)

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0,
                 detach: bool = False) -> None:
        """Stop taking runs. stop_runs: stop queued and running ones gracefully,
        killing any still alive after `timeout`. detach (with stop_runs=False):
        let running ones train on after this process exits (see `detach`) and
        return at once. Neither: wait up to `timeout` for them to finish; a
        worker still running then stops itself (with a checkpoint) when this
        process exits and its stdin closes."""
        self._follower.close()
        if detach and not stop_runs:
            self.detach()
            return
        for executor in self._executors():
            executor.shutdown(stop_runs=stop_runs, timeout=timeout)

    def _dispatch(self, event: Event) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # one broken view must not stop the stream for the others
                print(f"layerdeck: event subscriber {callback!r} failed:", file=sys.stderr)
                traceback.print_exc()
        if isinstance(event, Finished):  # after the subscribers: wait() returns with their view complete
            with self._lock:
                self._final[event.run_id] = event.status
                done = self._done.setdefault(event.run_id, threading.Event())
            done.set()
