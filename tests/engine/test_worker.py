"""The worker process: rows it writes, events it streams, commands it obeys.

These tests run the real `engine.worker` plumbing (stdout claim, sender,
store writer, sampler, command reader) around a fake, fast training loop,
so they take a second or two each. Run as a module, this file IS that
worker: `python -m tests.engine.test_worker --run-id N --db URL`
(tests/engine/test_runner.py launches it through the Runner too).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.protocol import (
    Checkpoint,
    Detach,
    Epoch,
    Finished,
    Heartbeat,
    Metrics,
    Pause,
    Resume,
    Started,
    Status,
    Stop,
    System,
    decode_event,
    encode_command,
)
from engine.training.callbacks import CallbackList, MetricPoint, TrainContext

ROOT = Path(__file__).resolve().parents[2]
FAKE_WORKER = [sys.executable, "-m", "tests.engine.test_worker"]
# Every test here starts a worker process (fake training, real plumbing).
pytestmark = pytest.mark.slow
STEPS_PER_EPOCH = 4


def fake_spec(mode: str, epochs: int = 2) -> dict:
    """A valid spec whose name tells the fake loop what to do: quick (train and
    complete), slow (complete, 0.05 s a step), endless (until stopped),
    endless-child (also starts a child process, like a DataLoader worker),
    crash (SIGKILL itself at step 3)."""
    return {"name": f"fake-{mode}", "data": {"name": "iris"},
            "model": {"blocks": [{"type": "Linear", "out_features": 3}]},
            "training": {"epochs": epochs, "batch_size": 16, "device": "cpu"}}


def fake_train(spec, *, callbacks, control, checkpoint_dir, resume_from=None, device=None, **_options):
    """engine.training.train's contract, with sleeps instead of torch."""
    mode = spec.name.removeprefix("fake-")
    cbs = CallbackList(list(callbacks))
    ctx = TrainContext(spec=spec, device=device or "cpu", total_epochs=spec.training.epochs,
                       steps_per_epoch=STEPS_PER_EPOCH, num_params=42)
    ckpt_dir = Path(checkpoint_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)

    def save_last() -> None:
        path = ckpt_dir / "last.pt"
        path.write_bytes(b"fake checkpoint")
        cbs.on_checkpoint(ctx, "last", str(path), ctx.step, ctx.epoch, None)

    cbs.on_train_start(ctx)
    endless = mode.startswith("endless")
    if mode == "endless-child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
        cbs.on_log(ctx, "info", f"child {child.pid}")
    print("a stray print from user code, on stdout")  # must not corrupt the event stream
    sys.stderr.write(f"fake worker {os.getpid()} training\n")
    sys.stderr.flush()
    while endless or ctx.epoch < ctx.total_epochs:
        epoch = ctx.epoch + 1
        for _ in range(STEPS_PER_EPOCH):
            if control.paused and not control.stop_requested:
                cbs.on_log(ctx, "info", f"paused at step {ctx.step}")  # as the real loop says it
                control.wait_while_paused()
            if control.stop_requested:
                save_last()
                cbs.on_train_end(ctx, "stopped", None)
                return SimpleNamespace(status="stopped", error=None, device="cpu")
            ctx.step += 1
            if mode == "crash" and ctx.step == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            cbs.on_metrics(ctx, [MetricPoint("train/loss_step", ctx.step, epoch, 1.0 / ctx.step, time.time())])
            time.sleep(0.05 if endless or mode == "slow" else 0.01)
        ctx.epoch = epoch
        values = {"train/loss": 1.0 / epoch, "val/loss": 1.1 / epoch, "val/accuracy": 0.5 + 0.1 * epoch}
        cbs.on_metrics(ctx, [MetricPoint(k, ctx.step, epoch, v, time.time()) for k, v in values.items()])
        cbs.on_epoch_end(ctx, epoch, values)
        save_last()
    cbs.on_train_end(ctx, "completed", None)
    return SimpleNamespace(status="completed", error=None, device="cpu")


# --- driving one worker by hand ---------------------------------------------------------

class WorkerProcess:
    """A worker started the way the runner starts it, read line by line."""

    def __init__(self, db_url: str, run_id: int):
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([*FAKE_WORKER, "--run-id", str(run_id), "--db", db_url],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env, cwd=ROOT)
        self.events: list = []

    def next_event(self, kind: type, timeout: float = 30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            event = decode_event(line)  # raises on any corrupted line
            self.events.append(event)
            if isinstance(event, kind):
                return event
        raise AssertionError(f"no {kind.__name__} event; got {[type(e).__name__ for e in self.events]}")

    def send(self, command) -> None:
        self.proc.stdin.write(encode_command(command))
        self.proc.stdin.flush()

    def finish(self) -> tuple[Finished, str]:
        finished = self.next_event(Finished)
        rest = self.proc.stdout.read()
        assert rest == b""  # Finished is the last line
        stderr = self.proc.stderr.read().decode()
        assert self.proc.wait(timeout=30) == 0
        for pipe in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            pipe.close()
        return finished, stderr


@pytest.fixture
def store(db_url):
    from engine.store import RunStore

    s = RunStore(db_url)
    yield s
    s.close()


def test_worker_trains_writes_its_rows_and_streams_events_in_order(store, db_url):
    run_id = store.create_run(fake_spec("quick"))
    worker = WorkerProcess(db_url, run_id)
    finished, stderr = worker.finish()

    assert finished == Finished(run_id, status="completed", error=None)
    assert "a stray print from user code" in stderr  # it went to stderr, not into the stream
    kinds = [type(e) for e in worker.events]
    assert kinds.index(Started) < kinds.index(Metrics) < kinds.index(Epoch) < kinds.index(Finished)
    assert [e.seq for e in worker.events] == sorted(e.seq for e in worker.events)
    assert len({e.seq for e in worker.events}) == len(worker.events)
    started = worker.events[kinds.index(Started)]
    assert (started.pid, started.total_epochs, started.steps_per_epoch) == (worker.proc.pid, 2, 4)
    streamed = sorted(p.step for e in worker.events if isinstance(e, Metrics) for p in e.points
                      if p.key == "train/loss_step")
    assert streamed == list(range(1, 9))

    run = store.get_run(run_id)
    assert run.status == "completed" and run.pid == worker.proc.pid and run.device == "cpu"
    assert run.started_at is not None and run.finished_at is not None
    assert run.summary["params"] == 42
    assert run.summary["metrics"]["val/accuracy"]["best"] == pytest.approx(0.7)
    assert set(store.metric_keys([run_id])[run_id]) == {"train/loss_step", "train/loss", "val/loss",
                                                        "val/accuracy"}
    [ckpt] = store.checkpoints(run_id)
    assert (ckpt.kind, ckpt.step, ckpt.epoch) == ("last", 8, 2)
    assert Path(ckpt.path).parent == Path(db_url.removeprefix("sqlite:///")).parent / "checkpoints" / f"run-{run_id}"


def test_pause_resume_and_stop_change_the_status_and_leave_a_last_checkpoint(store, db_url):
    run_id = store.create_run(fake_spec("endless"))
    worker = WorkerProcess(db_url, run_id)
    worker.next_event(Metrics)

    worker.send(Pause())
    assert worker.next_event(Status) == Status(run_id, "paused")
    assert store.get_run(run_id).status == "paused"
    worker.next_event(Heartbeat)  # a paused worker stays visibly alive
    worker.send(Resume())
    assert worker.next_event(Status) == Status(run_id, "running")
    assert store.get_run(run_id).status == "running"

    worker.send(Stop())
    ckpt = worker.next_event(Checkpoint)
    finished, _ = worker.finish()
    assert finished.status == "stopped"
    assert store.get_run(run_id).status == "stopped"
    assert [(c.kind, c.path, c.step) for c in store.checkpoints(run_id)] == [("last", ckpt.path, ckpt.step)]


def test_worker_records_system_samples_with_its_run_id(store, db_url):
    run_id = store.create_run(fake_spec("endless"))
    worker = WorkerProcess(db_url, run_id)
    system = worker.next_event(System)
    assert {"cpu/percent", "ram/used_mb", "proc/rss_mb"} <= {k for k, _, _ in system.samples}
    worker.send(Stop())
    worker.finish()
    keys = {c.key for c in store.get_system_curves([run_id]) if len(c)}
    assert {"cpu/percent", "ram/used_mb", "proc/rss_mb"} <= keys


def test_closing_stdin_means_the_supervisor_is_gone_so_the_run_stops_with_a_checkpoint(store, db_url):
    run_id = store.create_run(fake_spec("endless"))
    worker = WorkerProcess(db_url, run_id)
    worker.next_event(Metrics)
    worker.proc.stdin.close()
    finished, stderr = worker.finish()
    assert finished.status == "stopped" and "supervisor gone" in stderr
    assert store.get_run(run_id).status == "stopped"
    assert [c.kind for c in store.checkpoints(run_id)] == ["last"]


def read_rest(worker: WorkerProcess) -> list:
    """Every event left on the stream, until the worker closes it."""
    rest = [decode_event(line) for line in worker.proc.stdout.read().splitlines()]
    worker.events += rest
    return rest


def test_after_detach_the_worker_ignores_stdin_closing_and_trains_to_the_end(store, db_url):
    run_id = store.create_run(fake_spec("slow", epochs=6))
    worker = WorkerProcess(db_url, run_id)
    worker.next_event(Metrics)
    worker.send(Detach())
    worker.proc.stdin.close()  # the supervisor is gone, as when the app exits

    read_rest(worker)  # the worker closed its end of the stream when detached
    assert not any(isinstance(e, Finished) for e in worker.events)  # it ended before the run did
    worker.proc.stdout.close()
    assert worker.proc.wait(timeout=60) == 0
    stderr = worker.proc.stderr.read().decode()
    worker.proc.stderr.close()

    assert "the supervisor detached; training on in the background" in stderr
    assert "supervisor gone" not in stderr
    run = store.get_run(run_id)
    assert run.status == "completed" and run.error is None
    [loss] = store.get_curves([run_id], ["train/loss"], buckets=None)
    assert list(loss.epochs) == [1, 2, 3, 4, 5, 6]
    [steps] = store.get_curves([run_id], ["train/loss_step"], buckets=None)
    assert list(steps.steps) == list(range(1, 25))
    assert [(c.kind, c.epoch) for c in store.checkpoints(run_id)][-1] == ("last", 6)


def test_a_broken_event_stream_does_not_stop_training(store, db_url):
    """The reader of its stdout vanished (no Detach; stdin still open): the
    worker stops sending and trains on; the store has everything."""
    run_id = store.create_run(fake_spec("slow", epochs=4))
    worker = WorkerProcess(db_url, run_id)
    worker.next_event(Metrics)
    worker.proc.stdout.close()  # the next event write fails with EPIPE
    assert worker.proc.wait(timeout=60) == 0
    worker.proc.stdin.close()
    worker.proc.stderr.close()
    assert store.get_run(run_id).status == "completed"
    [loss] = store.get_curves([run_id], ["train/loss"], buckets=None)
    assert list(loss.epochs) == [1, 2, 3, 4]


def poll(read, timeout: float = 30.0, message: str = "timed out"):
    """Wait for `read()` to return something truthy (rows the worker writes)."""
    deadline = time.monotonic() + timeout
    while not (value := read()):
        assert time.monotonic() < deadline, message
        time.sleep(0.05)
    return value


def test_a_run_detached_while_paused_stays_paused_and_a_signal_resumes_it(store, db_url):
    """After Detach no Resume command can arrive, but SIGUSR2 can (a reopened
    app's Resume): the run waits paused instead of stopping. Where there is
    no SIGUSR2 it stops with a checkpoint (tests/engine/test_external_pause.py)."""
    from engine.protocol import Log

    run_id = store.create_run(fake_spec("endless"))
    worker = WorkerProcess(db_url, run_id)

    def steps() -> int:
        return sum(len(c) for c in store.get_curves([run_id], ["train/loss_step"], buckets=None))

    try:
        worker.next_event(Metrics)
        worker.send(Pause())
        # The loop says where it stopped once it blocks; the Status may come before or after that.
        blocked = worker.next_event(Log)
        while not blocked.message.startswith("paused at step"):
            blocked = worker.next_event(Log)
        paused_at = int(blocked.message.rsplit(" ", 1)[1])  # one train/loss_step point per step
        if Status(run_id, "paused") not in worker.events:
            assert worker.next_event(Status) == Status(run_id, "paused")
        worker.send(Detach())
        worker.proc.stdin.close()
        read_rest(worker)  # the stream closes at Detach; the process lives on, paused
        assert worker.proc.poll() is None and store.get_run(run_id).status == "paused"
        poll(lambda: steps() >= paused_at)  # the points from before the pause, within a flush
        assert steps() == paused_at
        # A later round of the worker's store writer (its heartbeat moved) brings nothing new:
        # the detached worker had every chance to train on, and stayed paused.
        beat = store.get_run(run_id).heartbeat_at
        poll(lambda: store.get_run(run_id).heartbeat_at != beat)
        assert steps() == paused_at and store.get_run(run_id).status == "paused"
        assert worker.proc.poll() is None
        os.kill(worker.proc.pid, signal.SIGUSR2)
        poll(lambda: store.get_run(run_id).status == "running" and steps() > paused_at,
             message="not resumed by SIGUSR2")
        os.kill(worker.proc.pid, signal.SIGTERM)
        assert worker.proc.wait(timeout=60) == 0
    finally:
        if worker.proc.poll() is None:
            worker.proc.kill()  # never leave an endless orphan behind a failed test
            worker.proc.wait()
    stderr = worker.proc.stderr.read().decode()
    worker.proc.stdout.close()
    worker.proc.stderr.close()
    assert "detached while paused; staying paused" in stderr
    assert "SIGUSR2 received; resuming" in stderr
    assert store.get_run(run_id).status == "stopped"
    assert [c.kind for c in store.checkpoints(run_id)] == ["last"]


def test_an_invalid_spec_in_the_row_fails_the_run_in_words(store, db_url):
    spec = fake_spec("quick")
    spec["training"]["epochs"] = 0
    run_id = store.create_run(spec)
    worker = WorkerProcess(db_url, run_id)
    finished = worker.next_event(Finished)
    assert worker.proc.wait(timeout=30) == 1
    worker.proc.communicate()
    assert finished.status == "failed" and "training.epochs: must be >= 1" in finished.error
    run = store.get_run(run_id)
    assert run.status == "failed" and "training.epochs" in run.error


if __name__ == "__main__":
    # The fake worker: the real engine.worker with the loop above instead of torch.
    import engine.training
    from engine import worker

    engine.training.train = fake_train
    worker.run_and_exit()
