"""Pausing and resuming a run whose worker another (closed) app started:
SIGUSR1 / SIGUSR2 to its recorded pid, proven to be that run's worker
(engine.runner.control and .external), or the store channel where there
are no such signals, and what the worker does with them (engine.worker).

The detached workers are real `python -m engine.worker` processes training
iris (the pid proof checks that command line), left by a supervisor process
that has exited, as after "keep training in the background".
"""
from __future__ import annotations

import os
import signal
from types import SimpleNamespace

import pytest

from engine.runner import external
from engine.runner.control import route
from engine.store import RunStore
from engine.training.callbacks import Control
from engine.worker import CommandReader, LiveCommands, RunState
from tests.engine.test_runner import detach_in_another_process, iris_spec, running_row, wait_until

needs_signals = pytest.mark.skipif(not external.CAN_PAUSE_BY_SIGNAL, reason="no SIGUSR1/SIGUSR2 here")


def step_count(store: RunStore, run_id: int) -> int:
    return sum(len(c) for c in store.get_curves([run_id], ["train/loss_step"], buckets=None))


def writer_round(store: RunStore, run_id: int, timeout: float = 30.0) -> int:
    """Wait for the worker's store writer to finish another round, then return the
    step count. The run's heartbeat moves with every round that writes (metrics,
    or the heartbeat itself every few seconds, paused or not), after that round's
    points: whatever the loop logged before the round began is in the store."""
    beat = store.get_run(run_id).heartbeat_at
    wait_until(lambda: store.get_run(run_id).heartbeat_at != beat, timeout=timeout)
    return step_count(store, run_id)


def paused_steps(store: RunStore, run_id: int, rounds: int = 8) -> int:
    """The step count of a run whose row says paused, proven still: equal after two
    consecutive writer rounds (with no points to write, rounds are the heartbeat's, a
    few seconds apart), and again after one more. The pause stops the loop at its next
    batch, so points from the batch (or epoch end) in flight may land in the first
    rounds; a run that trains on changes between any two rounds and fails here."""
    last = writer_round(store, run_id)
    for _ in range(rounds):
        now = writer_round(store, run_id)
        if now == last:
            break
        last = now
    else:
        raise AssertionError(f"run {run_id} kept training while paused ({last} steps after {rounds} rounds)")
    assert writer_round(store, run_id) == last, f"run {run_id} trained on while paused"
    return last


@pytest.mark.slow
@needs_signals
def test_a_reopened_app_pauses_and_resumes_a_real_worker_left_training(db_url):
    run_id, worker = detach_in_another_process(db_url, iris_spec(epochs=2000), fake=False)
    try:
        with RunStore(db_url) as store:  # a fresh store, as a reopened app opens it
            assert store.get_run(run_id).status == "running"
            assert route(store, run_id, "resume").problem == f"run {run_id} is not paused (running)"

            assert route(store, run_id, "pause").channel == "signal"
            wait_until(lambda: store.get_run(run_id).status == "paused", timeout=30)
            paused_at = paused_steps(store, run_id)
            assert store.get_run(run_id).status == "paused"
            assert worker.is_running()  # paused, not stopped: it keeps its state
            assert route(store, run_id, "pause").problem == f"run {run_id} is already paused"

            assert route(store, run_id, "resume").channel == "signal"
            wait_until(lambda: store.get_run(run_id).status == "running", timeout=30)
            wait_until(lambda: step_count(store, run_id) > paused_at, timeout=60)

            assert route(store, run_id, "stop").channel == "signal"  # and it still stops gracefully
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
            assert route(store, run_id, "pause").problem == reused
            store.set_status(run_id, "paused")
            assert route(store, run_id, "resume").problem == reused
            assert store.pending_commands(run_id) == []  # nor asked through the store
            assert store.get_run(run_id).status == "paused"
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert got == []


def test_pause_and_resume_say_when_the_run_is_not_in_the_state_for_them(db_url):
    with RunStore(db_url) as store:
        run_id = running_row(store, os.getpid())
        store.set_status(run_id, "stopped")
        assert route(store, run_id, "pause").problem == f"run {run_id} has already ended (stopped)"
        assert route(store, run_id, "resume").problem == f"run {run_id} has already ended (stopped)"
        assert route(store, 999, "resume").problem == "run 999 is not in the store (deleted?)"


def test_without_pause_signals_a_proven_worker_is_paused_through_the_store(db_url, monkeypatch):
    import psutil

    monkeypatch.setattr(external, "CAN_PAUSE_BY_SIGNAL", False)  # as on Windows
    monkeypatch.setattr(external, "check", lambda store, run_id, action, modules: (psutil.Process(), None))
    with RunStore(db_url) as store:
        run_id = running_row(store, os.getpid())
        delivery = route(store, run_id, "pause")
        assert (bool(delivery), delivery.channel) == (True, "store")
        assert store.pending_commands(run_id) == ["pause"]


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


def test_detached_while_paused_stays_paused_for_whoever_adopts_it(capsys):
    reader, control, store = detached_reader()
    reader.commands.pause()
    reader.detach()
    assert control.paused and not control.stop_requested  # a reopened app can resume or stop it
    assert store.statuses == ["paused"]
    assert "staying paused" in capsys.readouterr().err
