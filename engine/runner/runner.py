"""Runner: the one entry point for launching runs (CLI and GUI alike).

It validates the spec, creates the `queued` row, hands the run to an
executor and fans the executor's events out to subscribers. Workers write
their own rows; the runner only settles a row its worker could not.
"""
from __future__ import annotations

import sys
import threading
import time
import traceback
from typing import Any, Callable, Optional, Union

from engine.protocol import Event, Finished, Status
from engine.runner.executor import EventCallback, Executor
from engine.runner.local import LocalExecutor
from engine.spec import RunSpec, parse_spec
from engine.store import TERMINAL_STATUSES, RunStore

DETACHED_POLL_S = 0.5  # wait() on a detached run reads its row this often


class Runner:
    """Queue runs, command them, and watch their events.

    concurrency: runs at once per device queue ("cpu", "cuda:0", ...);
    default one per GPU and one on the CPU.
    executor: a factory `(db_url, store, on_event) -> Executor`; default local
    subprocesses (the seam for a Ray executor later).
    """

    def __init__(self, db_url: str, *, concurrency: Optional[dict[str, int]] = None,
                 executor: Optional[Callable[[str, Any, EventCallback], Executor]] = None,
                 worker_command: Optional[list[str]] = None):
        self.db_url = db_url
        self.store = RunStore(db_url)
        self._lock = threading.Lock()
        self._subscribers: list[EventCallback] = []
        self._done: dict[int, threading.Event] = {}
        self._final: dict[int, str] = {}
        self._detached: set[int] = set()
        if executor is not None:
            self.executor: Executor = executor(db_url, self.store, self._dispatch)
        else:
            self.executor = LocalExecutor(db_url, self.store, self._dispatch, concurrency=concurrency,
                                          worker_command=worker_command)

    # --- launching ----------------------------------------------------------------------
    def submit(self, spec: Union[RunSpec, dict[str, Any]], *, name: Optional[str] = None,
               parent_id: Optional[int] = None, resume_from: Optional[str] = None,
               device: Optional[str] = None) -> int:
        """Create the queued row and queue the run; returns its id.

        A dict is validated first: a bad spec raises engine.spec.SpecError and
        no row or worker is created.
        """
        if not isinstance(spec, RunSpec):
            spec = parse_spec(spec)
        run_id = self.store.create_run(spec.to_dict(), name=name or spec.name, parent_id=parent_id)
        with self._lock:
            self._done[run_id] = threading.Event()
        self._dispatch(Status(run_id, "queued"))  # before the worker's own events
        try:
            self.executor.submit(run_id, device=device or spec.training.device, resume_from=resume_from)
        except Exception as e:  # never leave a queued row that no worker will pick up
            error = f"could not queue the run: {e}"
            self.store.set_status(run_id, "failed", error=error)
            self._dispatch(Finished(run_id, status="failed", error=error))
            raise
        return run_id

    def pause(self, run_id: int) -> bool:
        return self.executor.pause(run_id)

    def resume(self, run_id: int) -> bool:
        return self.executor.resume(run_id)

    def stop(self, run_id: int) -> bool:
        """Graceful: the worker finishes its batch, saves a checkpoint and ends `stopped`."""
        return self.executor.stop(run_id)

    def cancel(self, run_id: int) -> bool:
        """Kill the worker and its children now; the run ends `stopped` without a checkpoint."""
        return self.executor.cancel(run_id)

    def active_runs(self) -> list[int]:
        return self.executor.active_runs()

    def detach(self, run_id: Optional[int] = None) -> list[int]:
        """Let running workers (all, or `run_id`) train on after this process
        exits; returns their ids at once. They send no more events and cannot
        be paused or stopped from here; each writes its own rows to the end
        (a paused one stops with a checkpoint). Detaching all also stops
        taking runs and ends queued ones `stopped` ("not started: ..."):
        nothing would be left to start them."""
        detached = self.executor.detach(run_id)
        with self._lock:
            self._detached.update(detached)
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
            return status if status in TERMINAL_STATUSES else None
        if not done.wait(timeout):
            return None
        return self._final.get(run_id)

    def _poll_store(self, run_id: int, timeout: Optional[float]) -> Optional[str]:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.store.get_run(run_id).status
            if status in TERMINAL_STATUSES:
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
        if detach and not stop_runs:
            self.detach()
            return
        self.executor.shutdown(stop_runs=stop_runs, timeout=timeout)

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
