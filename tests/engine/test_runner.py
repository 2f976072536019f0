"""The Runner and its LocalExecutor: queues, concurrency, commands, crashes.

Workers here are the fake worker of tests/engine/test_worker.py (the real
worker plumbing around a sleep loop), so each run takes a few seconds at
most; tests/e2e/test_train_e2e.py runs the real training loop.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest

from engine.protocol import Finished, Log, Owned, Started, Status
from engine.runner import Runner
from engine.runner.local import NOT_STARTED_ON_DETACH
from engine.runner.paths import log_path
from engine.spec import SpecError
from engine.store import RunStore
from tests.engine.test_worker import FAKE_WORKER, ROOT, fake_spec
from tests.events import EventRecorder

# Every test here starts worker processes (fake training, real plumbing).
pytestmark = pytest.mark.slow


@pytest.fixture
def runner(db_url):
    r = Runner(db_url, worker_command=FAKE_WORKER)
    yield r
    r.shutdown(stop_runs=True, timeout=20)


def wait_until(read, timeout: float = 60.0):
    """Poll `read()` until it returns something truthy (rows a worker writes)."""
    deadline = time.monotonic() + timeout
    while not (value := read()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)
    return value


def started(run_id):
    return lambda e: isinstance(e, Started) and e.run_id == run_id


def test_submit_creates_the_queued_row_and_the_run_completes(runner, events):
    run_id = runner.submit(fake_spec("quick"), name="first")
    assert runner.store.get_run(run_id).name == "first"
    assert runner.wait(run_id, timeout=60) == "completed"
    assert runner.active_runs() == []
    mine = [e for e in events.events if e.run_id == run_id]
    assert mine[:2] == [Owned(run_id, name="first", status="queued", total_epochs=2), Status(run_id, "queued")]
    assert isinstance(mine[-1], Finished) and mine[-1].status == "completed"
    assert len([e for e in mine if isinstance(e, Finished)]) == 1
    assert runner.store.get_run(run_id).status == "completed"


def test_a_bad_spec_is_refused_before_any_row_or_worker_exists(runner):
    bad = fake_spec("quick")
    bad["training"]["batch_size"] = -1
    with pytest.raises(SpecError, match=r"training\.batch_size: must be >= 1"):
        runner.submit(bad)
    assert runner.store.list_runs() == [] and runner.active_runs() == []


def test_the_cpu_queue_runs_one_at_a_time_and_starts_the_next_when_one_ends(runner, events):
    first = runner.submit(fake_spec("endless"))
    second = runner.submit(fake_spec("quick"))
    events.wait_for(started(first))
    assert runner.store.get_run(second).status == "queued"
    assert runner.active_runs() == [first, second]
    assert not events.of(second, Started)

    runner.stop(first)
    assert runner.wait(first, timeout=60) == "stopped"
    assert runner.wait(second, timeout=60) == "completed"
    # The second worker started only after the first one was gone.
    first_end = events.events.index(events.of(first, Finished)[0])
    second_start = events.events.index(events.of(second, Started)[0])
    assert first_end < second_start


def test_a_higher_limit_runs_two_at_once(db_url):
    runner = Runner(db_url, worker_command=FAKE_WORKER, concurrency={"cpu": 2})
    rec = EventRecorder()
    runner.subscribe(rec)
    try:
        a, b = runner.submit(fake_spec("endless")), runner.submit(fake_spec("endless"))
        rec.wait_for(started(a))
        rec.wait_for(started(b))
        assert {r.status for r in runner.store.list_runs()} == {"running"}
    finally:
        runner.shutdown(stop_runs=True, timeout=30)
    assert {runner.store.get_run(i).status for i in (a, b)} == {"stopped"}


def test_cpu_runs_at_once_never_outnumber_the_cores(db_url):
    """Asked for more CPU runs at once than there are cores, the rest queue:
    more single-thread workers than cores only time-share them."""
    from engine.worker.threads import usable_cores

    cores = usable_cores()
    runner = Runner(db_url, worker_command=FAKE_WORKER, concurrency={"cpu": cores + 1})
    assert runner.executor.cpu_note == (f"{cores + 1} CPU runs at once asked for, {cores} at a time: this "
                                        f"machine has {cores} cores, and more runs than cores train slower in total")
    rec = EventRecorder()
    runner.subscribe(rec)
    try:
        ids = [runner.submit(fake_spec("endless")) for _ in range(cores + 1)]
        for rid in ids[:cores]:
            rec.wait_for(started(rid))
        assert runner.store.get_run(ids[-1]).status == "queued"
        assert f"shared by {cores} (the runner's CPU concurrency)" in log_path(db_url, ids[0]).read_text()
        runner.stop(ids[0])
        rec.wait_for(started(ids[-1]))  # a core freed: the queued run starts
    finally:
        runner.shutdown(stop_runs=True, timeout=30)


def test_kill_9_of_a_worker_marks_its_run_crashed_with_the_exit_and_stderr_tail(runner, events, db_url):
    run_id = runner.submit(fake_spec("endless"))
    start = events.wait_for(started(run_id))
    written = wait_until(lambda: runner.store.get_curves([run_id], ["train/loss_step"], buckets=None))
    os.kill(start.pid, signal.SIGKILL)

    assert runner.wait(run_id, timeout=60) == "crashed"
    run = runner.store.get_run(run_id)
    assert run.status == "crashed" and run.finished_at is not None
    assert "SIGKILL" in run.error
    assert f"fake worker {start.pid} training" in run.error  # the last stderr lines
    assert events.of(run_id, Finished)[-1].status == "crashed"
    assert "a stray print from user code" in log_path(db_url, run_id).read_text()
    # Metrics written before the kill are kept.
    [kept] = runner.store.get_curves([run_id], ["train/loss_step"], buckets=None)
    assert len(kept) >= len(written[0])


def test_pause_and_resume_through_the_runner(runner, events):
    run_id = runner.submit(fake_spec("endless"))
    events.wait_for(started(run_id))
    assert runner.pause(run_id)
    events.wait_for(lambda e: e == Status(run_id, "paused"))
    assert runner.store.get_run(run_id).status == "paused"
    seen = len(events.events)
    assert runner.resume(run_id)
    events.wait_for(lambda e: e == Status(run_id, "running"), after=seen)
    assert runner.store.get_run(run_id).status == "running"
    runner.stop(run_id)
    assert runner.wait(run_id, timeout=60) == "stopped"


def test_cancel_kills_the_worker_and_its_children(runner, events):
    run_id = runner.submit(fake_spec("endless-child"))
    pid = events.wait_for(started(run_id)).pid
    log = events.wait_for(lambda e: isinstance(e, Log) and e.message.startswith("child "))
    worker, child = psutil.Process(pid), psutil.Process(int(log.message.split()[1]))
    assert runner.cancel(run_id)
    assert runner.wait(run_id, timeout=60) == "stopped"
    for proc in (worker, child):
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    run = runner.store.get_run(run_id)
    assert run.status == "stopped" and "cancelled" in run.error


def test_stopping_a_queued_run_drops_it_without_starting_a_worker(runner, events):
    first = runner.submit(fake_spec("endless"))
    second = runner.submit(fake_spec("quick"))
    events.wait_for(started(first))
    assert runner.stop(second)
    assert runner.wait(second, timeout=5) == "stopped"
    assert not events.of(second, Started)
    assert runner.active_runs() == [first]


def test_a_failing_subscriber_does_not_stop_the_stream_for_others(runner, events, capsys):
    def broken(event):
        raise RuntimeError("a view with a bug")

    runner.subscribe(broken)
    run_id = runner.submit(fake_spec("quick"))
    assert runner.wait(run_id, timeout=60) == "completed"
    assert events.of(run_id, Finished)
    assert "a view with a bug" in capsys.readouterr().err


def test_unsubscribe_stops_delivery(runner):
    got = []
    unsubscribe = runner.subscribe(got.append)
    unsubscribe()
    run_id = runner.submit(fake_spec("quick"))
    runner.wait(run_id, timeout=60)
    assert got == []


def test_wait_times_out_with_none(runner, events):
    run_id = runner.submit(fake_spec("endless"))
    assert runner.wait(run_id, timeout=0.2) is None
    runner.stop(run_id)
    assert runner.wait(run_id, timeout=60) == "stopped"


def test_after_shutdown_submit_is_refused_and_leaves_no_queued_row(runner, events):
    runner.shutdown()
    with pytest.raises(RuntimeError, match="shutting down"):
        runner.submit(fake_spec("quick"))
    [run] = runner.store.list_runs()
    assert run.status == "failed" and "could not queue the run" in run.error
    assert events.of(run.id, Finished)[0].status == "failed"


# --- detaching: runs that outlive the app ------------------------------------------------------

def supervise(db_url: str, spec_json: str, fake: str) -> None:
    """A separate supervisor process, as the app is: submit, wait until the worker
    trains, detach, print "run_id pid", exit (its pipes close with it)."""
    runner = Runner(db_url, worker_command=FAKE_WORKER if fake == "fake" else None)
    rec = EventRecorder()
    runner.subscribe(rec)
    run_id = runner.submit(json.loads(spec_json))
    start = rec.wait_for(started(run_id), timeout=120)
    rec.wait_for(lambda e: getattr(e, "KIND", "") == "epoch", timeout=120)
    assert runner.detach() == [run_id]
    print(run_id, start.pid, flush=True)


def detach_in_another_process(db_url: str, spec: dict, fake: bool) -> tuple[int, psutil.Process]:
    code = "import sys; from tests.engine.test_runner import supervise; supervise(*sys.argv[1:])"
    out = subprocess.run([sys.executable, "-c", code, db_url, json.dumps(spec), "fake" if fake else "real"],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                         text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    run_id, pid = map(int, out.stdout.split())
    return run_id, psutil.Process(pid)


def test_a_detached_real_worker_trains_to_the_end_after_its_supervisor_exits(db_url):
    spec = {"name": "iris-detached", "data": {"name": "iris"},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "training": {"epochs": 12, "batch_size": 2, "device": "cpu"}}
    run_id, worker = detach_in_another_process(db_url, spec, fake=False)
    supervisor_gone = time.time()
    # The supervisor has exited; its pipes are closed. The worker trains on.
    with RunStore(db_url) as store:
        assert store.get_run(run_id).status in ("running", "completed")  # not crashed
    worker.wait(timeout=300)
    with RunStore(db_url) as store:
        run = store.get_run(run_id)
        assert run.status == "completed", run.error
        [loss] = store.get_curves([run_id], ["train/loss"], buckets=None)
        assert list(loss.epochs) == list(range(1, 13))
        # Epochs were written after the supervisor was gone, not all before it.
        assert max(loss.wall_times) > supervisor_gone
    log = log_path(db_url, run_id).read_text()
    assert "the supervisor detached; training on in the background" in log


def test_a_detached_worker_is_running_to_a_fresh_store_until_killed_then_crashed(db_url):
    run_id, worker = detach_in_another_process(db_url, fake_spec("endless"), fake=True)
    try:
        with RunStore(db_url) as store:  # opening a store checks for orphans
            assert store.get_run(run_id).status == "running"

            def steps() -> int:
                return len(store.get_curves([run_id], ["train/loss_step"], buckets=None)[0])

            before = steps()
            wait_until(lambda: steps() > before)  # still training, nobody listening
        log = log_path(db_url, run_id).read_text()
        assert f"fake worker {worker.pid} training" in log  # its stderr went straight to the file
        assert "the supervisor detached" in log
    finally:
        worker.kill()
        worker.wait(timeout=30)
    with RunStore(db_url) as store:
        run = store.get_run(run_id)
        assert run.status == "crashed" and f"pid {worker.pid}" in run.error


def test_detach_lets_go_at_once_and_ends_queued_runs_saying_they_never_started(runner, events):
    running = runner.submit(fake_spec("slow", epochs=8))
    queued = runner.submit(fake_spec("quick"))
    events.wait_for(started(running))
    assert runner.detach() == [running]
    assert runner.active_runs() == []
    assert events.of(queued, Finished) == [Finished(queued, status="stopped", error=NOT_STARTED_ON_DETACH)]
    assert runner.store.get_run(queued).status == "stopped"
    with pytest.raises(RuntimeError, match="shutting down"):
        runner.submit(fake_spec("quick"))
    # No more events from the detached run, and no crash: its row is the record.
    assert runner.wait(running, timeout=120) == "completed"
    assert not events.of(running, Finished)
    assert runner.store.get_run(running).status == "completed"


def test_shutdown_with_detach_returns_without_waiting_for_the_run(runner, events):
    run_id = runner.submit(fake_spec("endless"))
    pid = events.wait_for(started(run_id)).pid
    runner.shutdown(stop_runs=False, detach=True)
    assert runner.active_runs() == []
    assert runner.store.get_run(run_id).status == "running"
    assert runner.wait(run_id, timeout=0.1) is None
    os.kill(pid, signal.SIGKILL)
    # This process still lives, so it notices the death itself and says how.
    assert runner.wait(run_id, timeout=60) == "crashed"
    run = runner.store.get_run(run_id)
    assert "SIGKILL" in run.error and f"fake worker {pid} training" in run.error
    assert not events.of(run_id, Finished)


# --- rows for runs this process did not start (tests/engine/test_run_control.py and others) ----

def iris_spec(epochs: int) -> dict:
    """A real run that trains iris for as long as a test needs (batch 2: many steps an epoch)."""
    return {"name": "iris-stoppable", "data": {"name": "iris"},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "training": {"epochs": epochs, "batch_size": 2, "device": "cpu"}}


def running_row(store: RunStore, pid: int) -> int:
    """A `running` row whose worker is said to be `pid` on this machine."""
    run_id = store.create_run(fake_spec("endless"), name="not-mine")
    store.set_status(run_id, "running", pid=pid, device="cpu")
    return run_id


def test_a_store_password_reaches_the_worker_by_environment_never_on_its_command_line(pg_url):
    from engine.store.paths import PASSWORD_ENV_VAR, split_password

    public, password = split_password(pg_url)
    secret = f":{password}@"  # as a password appears in a URL (.ci/run's user and password are alike)
    assert password and secret in pg_url and secret not in public
    runner = Runner(pg_url, worker_command=FAKE_WORKER)
    try:
        run_id = runner.submit(fake_spec("endless"))
        pid = wait_until(lambda: runner.store.get_run(run_id).pid)
        worker = psutil.Process(pid)
        argv = worker.cmdline()
        assert public in argv and not any(secret in a for a in argv)
        assert worker.environ().get(PASSWORD_ENV_VAR) == password
        # The pid check still knows the worker as this store's (a signal reaches it).
        assert runner.pause(run_id) and wait_until(lambda: runner.store.get_run(run_id).status == "paused")
        assert runner.stop(run_id)
        assert runner.wait(run_id, timeout=60) == "stopped", runner.store.get_run(run_id).error
    finally:
        runner.shutdown(stop_runs=True, timeout=20)
