"""Pausing and resuming a run whose worker another (closed) app started:
SIGUSR1 / SIGUSR2 to its recorded pid, proven to be that run's worker
(engine.runner.external), and what the worker does with them (engine.worker).

The detached workers are real `python -m engine.worker` processes training
iris (the pid proof checks that command line), left by a supervisor process
that has exited, as after "keep training in the background".
"""
from __future__ import annotations

import os
import signal
import time
from types import SimpleNamespace

import pytest

from engine.runner import external
from engine.store import RunStore
from engine.training.callbacks import Control
from engine.worker import CommandReader, LiveCommands, RunState
from tests.engine.test_runner import detach_in_another_process, iris_spec, running_row, wait_until

needs_signals = pytest.mark.skipif(not external.CAN_PAUSE_BY_SIGNAL, reason="no SIGUSR1/SIGUSR2 here")


def step_count(store: RunStore, run_id: int) -> int:
    return sum(len(c) for c in store.get_curves([run_id], ["train/loss_step"], buckets=None))


def settled_steps(store: RunStore, run_id: int, timeout: float = 30.0) -> int:
    """The step count once it stops changing: points logged before a pause reach
    the store within the writer's flush interval (1 s); a run that still trains
    never settles and fails here."""
    deadline = time.monotonic() + timeout
    last = step_count(store, run_id)
    while True:
        time.sleep(1.5)
        now = step_count(store, run_id)
        if now == last:
            return now
        assert time.monotonic() < deadline, f"run {run_id} kept training while paused ({last} -> {now} steps)"
        last = now


@pytest.mark.slow
@needs_signals
def test_a_reopened_app_pauses_and_resumes_a_real_worker_left_training(db_url):
    run_id, worker = detach_in_another_process(db_url, iris_spec(epochs=2000), fake=False)
    try:
        with RunStore(db_url) as store:  # a fresh store, as a reopened app opens it
            assert store.get_run(run_id).status == "running"
            assert external.external_resume_problem(store, run_id) == f"run {run_id} is not paused (running)"
            assert external.external_pause_problem(store, run_id) is None

            assert external.pause_external(store, run_id) is None
            wait_until(lambda: store.get_run(run_id).status == "paused", timeout=30)
            paused_at = settled_steps(store, run_id)
            assert worker.is_running()  # paused, not stopped: it keeps its state
            assert external.pause_external(store, run_id) == f"run {run_id} is already paused"
            assert external.external_resume_problem(store, run_id) is None

            assert external.resume_external(store, run_id) is None
            wait_until(lambda: store.get_run(run_id).status == "running", timeout=30)
            wait_until(lambda: step_count(store, run_id) > paused_at, timeout=60)

            assert external.stop_external(store, run_id) is None  # and it still stops gracefully
            worker.wait(timeout=120)
            assert store.get_run(run_id).status == "stopped"
    finally:
        if worker.is_running():
            worker.kill()  # never leave a 2000-epoch orphan behind a failed test
    log = external_log(db_url, run_id)
    assert "SIGUSR1 received; pausing" in log and "SIGUSR2 received; resuming" in log


def external_log(db_url: str, run_id: int) -> str:
    from engine.runner.paths import log_path

    return log_path(db_url, run_id).read_text()


@needs_signals
def test_pause_and_resume_refuse_a_pid_that_is_not_the_runs_worker_and_signal_nothing(db_url):
    got = []
    previous = {sig: signal.signal(sig, lambda signum, _: got.append(signum))
                for sig in (signal.SIGUSR1, signal.SIGUSR2)}
    try:
        with RunStore(db_url) as store:
            run_id = running_row(store, os.getpid())  # a live pid, but the test runner's
            reused = (f"pid {os.getpid()} recorded for run {run_id} is now another program (the worker "
                      "is gone and its pid was reused); nothing was signalled")
            assert external.pause_external(store, run_id) == reused
            assert external.external_pause_problem(store, run_id) == reused
            store.set_status(run_id, "paused")
            assert external.resume_external(store, run_id) == reused
            assert store.get_run(run_id).status == "paused"
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert got == []


def test_pause_and_resume_say_when_the_run_is_not_in_the_state_for_them(db_url):
    with RunStore(db_url) as store:
        run_id = running_row(store, os.getpid())
        store.set_status(run_id, "stopped")
        assert external.pause_external(store, run_id) == f"run {run_id} has already ended (stopped)"
        assert external.resume_external(store, run_id) == f"run {run_id} has already ended (stopped)"
        assert external.resume_external(store, 999) == "run 999 is not in the store (deleted?)"


def test_without_pause_signals_the_problem_says_so(db_url, monkeypatch):
    monkeypatch.setattr(external, "CAN_PAUSE_BY_SIGNAL", False)
    with RunStore(db_url) as store:
        run_id = running_row(store, os.getpid())
        problem = external.pause_external(store, run_id)
        assert problem == (f"run {run_id} was left training by an app that has closed; on this system it "
                           "cannot be paused from a new window (no SIGUSR1/SIGUSR2 signals)")
        assert external.external_pause_problem(store, run_id) == problem


class FakeStore:
    def __init__(self) -> None:
        self.statuses: list[str] = []

    def set_status(self, run_id: int, status: str, **_) -> bool:
        self.statuses.append(status)
        return True


def detached_reader() -> tuple[CommandReader, Control, FakeStore]:
    control, store = Control(), FakeStore()
    sender = SimpleNamespace(send=lambda event: None, detach=lambda: None)
    reader = CommandReader(-1, LiveCommands(control, RunState(store, 1, sender, control)))
    return reader, control, store


def test_detached_while_paused_stays_paused_with_signals_and_stops_without(capsys):
    reader, control, store = detached_reader()
    reader.commands.pause()
    reader.detach(can_resume_by_signal=True)
    assert control.paused and not control.stop_requested  # a reopened app can resume or stop it
    assert store.statuses == ["paused"]
    assert "staying paused" in capsys.readouterr().err

    reader, control, store = detached_reader()
    reader.commands.pause()
    reader.detach(can_resume_by_signal=False)
    # Nothing could resume it (Windows): it stops with a checkpoint rather than hold its memory forever.
    assert control.stop_requested and not control.paused
    assert "detached while paused; stopping with a checkpoint" in capsys.readouterr().err
