"""The Runner owns every active run in its store: it adopts runs it did not
start, streams their events, and reaches their workers on the channel that
works (signal on this machine, the store command channel anywhere); and
`layerdeck runs pause|resume|stop` does the same from a terminal.

Workers are real processes: the fake worker of tests/engine/test_worker.py
(the real worker plumbing around a sleep loop) where training itself does
not matter, the real one under `layerdeck train` for the CLI.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from sqlalchemy import create_engine, text

from engine.cli import main
from engine.protocol import Checkpoint, Epoch, Finished, Metrics, Started, Status
from engine.runner import Runner
from engine.runner.control import route
from engine.status import TERMINAL
from engine.store import RunStore
from engine.worker.commands import STORE_POLL_S
from tests.engine.test_cli_train import LAYERDECK, iris_spec, write
from tests.engine.test_runner import detach_in_another_process, wait_until
from tests.engine.test_worker import FAKE_WORKER, ROOT, fake_spec
from tests.events import EventRecorder

pytestmark = pytest.mark.slow


def of(run_id: int, kind: type, **fields):
    return lambda e: (isinstance(e, kind) and e.run_id == run_id
                      and all(getattr(e, k) == v for k, v in fields.items()))


def set_host(db_url: str, run_id: int, host: str) -> None:
    engine = create_engine(db_url)
    with engine.begin() as c:
        c.execute(text("UPDATE runs SET host = :h WHERE id = :id"), {"h": host, "id": run_id})
    engine.dispose()


def remote_worker(db_url: str) -> tuple[int, subprocess.Popen]:
    """An endless fake-loop run whose worker is started as a remote executor
    starts it (`--no-stdin`): no pipe to this process at all."""
    with RunStore(db_url) as store:
        run_id = store.create_run(fake_spec("endless"))
    worker = subprocess.Popen([*FAKE_WORKER, "--run-id", str(run_id), "--db", db_url, "--no-stdin"],
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT)
    return run_id, worker


@pytest.fixture
def adopter(db_url):
    runners: list[Runner] = []

    def make(**kwargs) -> tuple[Runner, EventRecorder]:
        runner = Runner(db_url, worker_command=FAKE_WORKER, follow_interval_s=0.2, **kwargs)
        rec = EventRecorder()
        runner.subscribe(rec)
        runners.append(runner)
        return runner, rec

    yield make
    for r in runners:
        r.shutdown(stop_runs=False, timeout=0)


def test_a_second_runner_adopts_a_detached_worker_streams_its_events_and_commands_it(db_url, adopter):
    run_id, worker = detach_in_another_process(db_url, fake_spec("endless"), fake=True)
    try:
        runner, rec = adopter(adopt=True)  # the app: every active run of the store
        assert runner.adopt() == [run_id] and runner.adopted_runs() == [run_id]
        rec.wait_for(of(run_id, Started, pid=worker.pid))
        first = rec.wait_for(of(run_id, Metrics))
        assert first.points and all(p.key for p in first.points)
        n = len(rec.events)
        assert rec.wait_for(of(run_id, Metrics), after=n).points[0].step > first.points[-1].step  # live, not a replay
        rec.wait_for(of(run_id, Epoch))

        delivery = runner.pause(run_id)
        assert delivery and delivery.channel == "signal"
        rec.wait_for(of(run_id, Status, status="paused"))
        assert runner.store.get_run(run_id).status == "paused"
        assert not runner.pause(run_id)  # already paused: said, not sent
        assert runner.pause(run_id).problem == f"run {run_id} is already paused"

        assert runner.resume(run_id).channel == "signal"
        rec.wait_for(of(run_id, Status, status="running"), after=n)

        assert runner.stop(run_id)
        finished = rec.wait_for(of(run_id, Finished))
        assert finished.status == "stopped"
        assert runner.wait(run_id, timeout=30) == "stopped"
        assert rec.wait_for(of(run_id, Checkpoint)).kind == "last"
        assert [c.kind for c in runner.store.checkpoints(run_id)] == ["last"]
        assert run_id not in runner.adopted_runs()
        worker.wait(timeout=30)
    finally:
        if worker.is_running():
            worker.kill()


def test_a_worker_with_no_stdin_and_no_signals_obeys_pause_resume_and_stop_through_the_store(db_url, adopter):
    run_id, worker = remote_worker(db_url)
    try:
        runner, rec = adopter(use_signals=False)
        wait_until(lambda: runner.store.get_run(run_id).status == "running")
        set_host(db_url, run_id, "gpu-box-7")  # as if it trained on another machine: no pid to signal
        assert STORE_POLL_S <= 1.0  # the channel's promised latency (measured: bench/store_channel.py)

        delivery = runner.pause(run_id)
        assert (bool(delivery), delivery.channel) == (True, "store")
        rec.wait_for(of(run_id, Status, status="paused"), timeout=30)
        assert runner.store.pending_commands(run_id) == []  # taken and applied
        paused_at = len(rec.events)
        assert runner.resume(run_id).channel == "store"
        rec.wait_for(of(run_id, Status, status="running"), timeout=30, after=paused_at)
        assert runner.stop(run_id).channel == "store"
        assert rec.wait_for(of(run_id, Finished), timeout=30).status == "stopped"
        assert worker.wait(timeout=30) == 0
        assert [c.kind for c in runner.store.checkpoints(run_id)] == ["last"]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()


def test_a_stop_asked_while_the_run_was_queued_applies_before_its_first_batch(db_url):
    with RunStore(db_url) as store:
        run_id = store.create_run(fake_spec("endless"))
        runner = Runner(db_url, worker_command=FAKE_WORKER)
        try:
            delivery = runner.stop(run_id)  # queued by nobody here: the store keeps the request
            assert delivery.channel == "store" and store.pending_commands(run_id) == ["stop"]
        finally:
            runner.shutdown(stop_runs=False, timeout=0)
        worker = subprocess.run([*FAKE_WORKER, "--run-id", str(run_id), "--db", db_url], stdin=subprocess.PIPE,
                                capture_output=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, cwd=ROOT,
                                timeout=120)
        assert worker.returncode == 0
        assert store.get_run(run_id).status == "stopped"
        [loss] = [c for c in store.get_curves([run_id], buckets=None) if c.key == "train/loss_step"] or [None]
        assert loss is None  # not one step trained


def test_a_pid_that_is_not_the_runs_worker_is_refused_and_nothing_is_signalled(db_url, adopter):
    got = []
    previous = signal.signal(signal.SIGTERM, lambda *_: got.append("SIGTERM"))
    try:
        runner, _ = adopter()
        run_id = runner.store.create_run(fake_spec("endless"), name="not-mine")
        runner.store.set_status(run_id, "running", pid=os.getpid(), device="cpu")  # a live pid: the test's
        delivery = runner.stop(run_id)
        assert not delivery
        assert delivery.problem == (f"pid {os.getpid()} recorded for run {run_id} is now another program (the "
                                    "worker is gone and its pid was reused); nothing was signalled")
        assert runner.store.pending_commands(run_id) == []
        assert runner.store.get_run(run_id).status == "running"
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert got == []


def test_a_worker_of_the_same_run_id_in_another_store_is_not_this_stores_run(db_url, tmp_path, adopter):
    other = f"sqlite:///{tmp_path / 'other.db'}"
    impostor = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-m", "engine.worker",
                                 "--run-id", "1", "--db", other])
    try:
        runner, _ = adopter()
        run_id = runner.store.create_run(fake_spec("endless"))
        runner.store.set_status(run_id, "running", pid=impostor.pid, device="cpu")
        assert run_id == 1
        assert "is now another program" in runner.pause(run_id).problem
        assert impostor.poll() is None  # not signalled
    finally:
        impostor.kill()
        impostor.wait()


def test_commands_say_why_not_for_ended_missing_and_dead_runs(db_url, adopter):
    runner, _ = adopter()
    store = runner.store
    done = store.create_run(fake_spec("quick"))
    store.set_status(done, "completed")
    assert runner.stop(done).problem == f"run {done} has already ended (completed)"
    assert runner.stop(999).problem == "run 999 is not in the store (deleted?)"
    dead = psutil.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = store.create_run(fake_spec("endless"))
    store.set_status(gone, "running", pid=dead.pid, device="cpu")
    # route() alone: a Runner that adopts it may first find the pid dead and mark it crashed
    assert f"(pid {dead.pid}) is gone, so nothing can reach it" in route(store, gone, "pause").problem
    queued = store.create_run(fake_spec("quick"))
    assert runner.pause(queued).problem == f"run {queued} is queued; it can be paused once it trains"
    assert runner.resume(queued).problem == f"run {queued} is not paused (queued)"


# --- the same from a terminal ----------------------------------------------------------------

def test_layerdeck_runs_pause_resume_stop_a_run_layerdeck_train_trains_in_another_process(
        tmp_path, db_url, capsys):
    spec = write(tmp_path, iris_spec(epochs=2000, batch_size=2))
    log = open(tmp_path / "train.out", "w+")  # a file, not a pipe nobody reads while it trains
    train = subprocess.Popen([*LAYERDECK, "train", spec, "--db", db_url], stdout=log, stderr=subprocess.STDOUT,
                             text=True, cwd=ROOT)
    try:
        with RunStore(db_url) as store:
            [run] = wait_until(lambda: [r for r in store.list_runs() if r.status == "running" and r.pid])
            run_id, name = run.id, run.name
            wait_until(lambda: store.get_curves([run_id], ["train/loss"], buckets=None))  # an epoch done

            assert main(["runs", "pause", str(run_id), "--db", db_url]) == 0
            assert capsys.readouterr().out.strip() == f"run {run_id} ({name}): paused"
            assert store.get_run(run_id).status == "paused"

            assert main(["runs", "pause", str(run_id), "--db", db_url]) == 1
            assert f"run {run_id} is already paused" in capsys.readouterr().err

            assert main(["runs", "resume", str(run_id), "--db", db_url]) == 0
            assert capsys.readouterr().out.strip() == f"run {run_id} ({name}): running"

            assert main(["runs", "stop", str(run_id), "--db", db_url]) == 0
            out = capsys.readouterr().out
            assert out.startswith(f"run {run_id} ({name}): stopped; last checkpoint at epoch ")
            assert f"`layerdeck train --resume {run_id}`" in out
            [last] = [c for c in store.checkpoints(run_id) if c.kind == "last"]
            assert Path(last.path).is_file()

            assert main(["runs", "stop", str(run_id), "--db", db_url]) == 1
            assert f"run {run_id} has already ended (stopped)" in capsys.readouterr().err
        train.wait(timeout=120)  # the terminal's `layerdeck train` ends when its run does
        log.seek(0)
        assert "stopped" in log.read()
    finally:
        if train.poll() is None:
            train.kill()
        train.wait()
        log.close()
    with RunStore(db_url) as store:
        assert store.get_run(run_id).status in TERMINAL


def test_cancel_kills_an_adopted_worker_now_and_records_why(db_url, adopter):
    from engine.worker.commands import CANCELLED

    run_id, worker = detach_in_another_process(db_url, fake_spec("endless"), fake=True)
    try:
        runner, rec = adopter()
        delivery = runner.cancel(run_id)
        assert (bool(delivery), delivery.channel) == (True, "signal")
        assert not worker.is_running()  # killed before cancel returned
        run = runner.store.get_run(run_id)
        assert (run.status, run.error) == ("stopped", CANCELLED)
        assert rec.wait_for(of(run_id, Finished)).status == "stopped"
    finally:
        if worker.is_running():
            worker.kill()


def test_cancel_through_the_store_ends_a_worker_no_signal_reaches(db_url, adopter):
    from engine.worker.commands import CANCELLED

    run_id, worker = remote_worker(db_url)
    try:
        runner, _ = adopter(use_signals=False)
        wait_until(lambda: runner.store.get_run(run_id).status == "running")
        set_host(db_url, run_id, "gpu-box-7")
        assert runner.cancel(run_id).channel == "store"
        assert worker.wait(timeout=30) == 0
        run = runner.store.get_run(run_id)
        assert (run.status, run.error) == ("stopped", CANCELLED)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
