"""The executor seam: where runs get a process to train in.

`Runner` creates the queued row and fans events out; an `Executor` starts,
commands and watches the workers. `LocalExecutor` (engine.runner.local) runs
them as subprocesses on this machine; a Ray executor can implement the same
methods later for people who outgrow one machine (docs/ARCHITECTURE.md,
"A run's life, and who owns it").

Every executor keeps one promise the runner relies on: each submitted run
ends with exactly one `Finished` event, after its worker is gone and its
row holds a final status, unless it was detached: a detached run trains on
without the executor, sends no more events, and its row is the record.
"""
from __future__ import annotations

from typing import Callable, Optional, Protocol

from engine.protocol import Event

EventCallback = Callable[[Event], None]


class Executor(Protocol):
    """Starts, commands and watches workers for runs whose queued row exists."""

    def submit(self, run_id: int, *, device: str, resume_from: Optional[str] = None) -> None:
        """Queue the run for `device` ("cpu", "cuda:0", "auto", ...)."""

    def pause(self, run_id: int) -> bool:
        """Ask a running worker to pause between batches; False if it is not running."""

    def resume(self, run_id: int) -> bool:
        """Ask a paused worker to continue; False if it is not running."""

    def stop(self, run_id: int) -> bool:
        """Graceful stop (batch finished, checkpoint, `stopped`); a queued run is dropped."""

    def cancel(self, run_id: int) -> bool:
        """Kill the worker's whole process tree now; a queued run is dropped."""

    def active_runs(self) -> list[int]:
        """Runs queued or running, oldest first."""

    def shutdown(self, stop_runs: bool = True, timeout: Optional[float] = 30.0) -> None:
        """Stop accepting runs; stop them (stop_runs) or let them finish."""

    def detach(self, run_id: Optional[int] = None) -> list[int]:
        """Let running workers (all, or `run_id`) train on without this process,
        returning at once with the ids detached. Detaching all also stops taking
        runs and ends queued ones `stopped` (they cannot start unsupervised)."""
