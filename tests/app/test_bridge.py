"""app.bridge: runner events from worker threads arrive on the UI thread as
typed Qt signals, in order; commands reach the runner; one bridge per state."""
from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QCoreApplication, QThread

from app.bridge import RunBridge, get_bridge
from app.state import AppState
from engine.protocol import (
    Checkpoint,
    Epoch,
    Finished,
    Heartbeat,
    Log,
    Metrics,
    Started,
    Status,
    System,
    decode_event,
    encode_event,
)
from engine.spec import SpecError
from engine.training.callbacks import MetricPoint


class FakeRunner:
    """The Runner interface, with events pushed by the test."""

    def __init__(self) -> None:
        self.callbacks: list = []
        self.calls: list[tuple] = []
        self.next_id = 1

    def subscribe(self, callback):
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def emit(self, event) -> None:
        for cb in list(self.callbacks):
            cb(event)

    def submit(self, spec, *, name=None, parent_id=None, resume_from=None):
        run_id, self.next_id = self.next_id, self.next_id + 1
        self.calls.append(("submit", run_id))
        return run_id

    def pause(self, run_id):
        self.calls.append(("pause", run_id))
        return True

    def resume(self, run_id):
        self.calls.append(("resume", run_id))
        return True

    def stop(self, run_id):
        self.calls.append(("stop", run_id))
        return True

    def active_runs(self):
        return [1]

    def shutdown(self, stop_runs=True, timeout=None):
        self.calls.append(("shutdown", stop_runs))


def _events(run_id: int = 1) -> list:
    return [
        Status(run_id, "running"),
        Started(run_id, pid=123, device="cpu", num_params=10, total_epochs=2, steps_per_epoch=5),
        Metrics(run_id, [MetricPoint("train/loss_step", 1, 0, 2.0, 1.0),
                         MetricPoint("train/loss_step", 2, 0, 1.5, 1.1)]),
        System(run_id, [("cpu/percent", 1.0, 40.0)]),
        Log(run_id, "warning", "slow data"),
        Epoch(run_id, 1, 2, {"train/loss": 1.7}, 3.0),
        Checkpoint(run_id, "best", "/tmp/x.pt", 5, 1, 1.7),
        Heartbeat(run_id),
        Finished(run_id, "completed"),
    ]


def test_events_from_a_worker_thread_arrive_typed_in_order_on_the_ui_thread(qtbot):
    runner = FakeRunner()
    bridge = RunBridge("sqlite://", runner=runner)
    got: list = []
    threads: list = []
    for name in ("status", "started", "metrics", "system", "log", "epoch", "checkpoint", "finished"):
        getattr(bridge, name).connect(lambda e, n=name: (got.append((n, e)), threads.append(QThread.currentThread())))
    # The real path: lines encoded by the worker, decoded by the supervisor's reader thread.
    lines = [encode_event(e, i + 1) for i, e in enumerate(_events())]
    reader = threading.Thread(target=lambda: [runner.emit(decode_event(line)) for line in lines])
    with qtbot.waitSignal(bridge.finished, timeout=5000):
        reader.start()
    reader.join()
    assert [n for n, _ in got] == ["status", "started", "metrics", "system", "log", "epoch", "checkpoint",
                                   "finished"]  # heartbeats are not shown
    assert all(t is bridge.thread() for t in threads)
    metrics = dict(got)["metrics"]
    assert isinstance(metrics, Metrics) and [p.value for p in metrics.points] == [2.0, 1.5]
    assert dict(got)["epoch"].eta_s == 3.0 and dict(got)["checkpoint"].kind == "best"
    assert dict(got)["finished"].status == "completed"


def test_commands_reach_the_runner(qtbot):
    runner = FakeRunner()
    bridge = RunBridge("sqlite://", runner=runner)
    run_id = bridge.submit({"name": "x"})
    assert (bridge.pause(run_id), bridge.resume(run_id), bridge.stop(run_id)) == (None, None, None)  # all sent
    assert runner.calls == [("submit", 1), ("pause", 1), ("resume", 1), ("stop", 1)]
    assert bridge.active_runs() == [1]


def test_a_command_that_cannot_be_sent_comes_back_as_words(qtbot):
    from engine.runner import Delivery

    runner = FakeRunner()
    runner.pause = lambda run_id: Delivery(run_id, "pause", problem=f"run {run_id} is already paused")
    bridge = RunBridge("sqlite://", runner=runner)
    assert bridge.pause(3) == "run 3 is already paused"


def test_shutdown_stops_runs_or_leaves_them_to_a_runner_that_can_detach(qtbot):
    runner = FakeRunner()
    RunBridge("sqlite://", runner=runner).shutdown(stop_runs=True)
    assert runner.calls == [("shutdown", True)]

    kept = FakeRunner()
    bridge = RunBridge("sqlite://", runner=kept)
    assert not bridge.can_detach()
    bridge.shutdown(stop_runs=False)
    assert kept.calls == []  # Runner.shutdown(stop_runs=False) would block until the runs end

    kept.detach = lambda: kept.calls.append(("detach",))
    bridge = RunBridge("sqlite://", runner=kept)
    assert bridge.can_detach()
    bridge.shutdown(stop_runs=False)
    assert kept.calls == [("detach",)]
    kept.emit(Finished(1, "completed"))  # after shutdown: nothing is emitted, nothing breaks


@pytest.mark.slow
def test_keep_training_over_the_real_runner_lets_the_worker_train_on(qtbot, db_url):
    from engine.runner import Runner
    from tests.engine.test_worker import FAKE_WORKER, fake_spec

    bridge = RunBridge(db_url, runner_factory=lambda url: Runner(url, worker_command=FAKE_WORKER))
    with qtbot.waitSignal(bridge.started, timeout=60_000):
        run_id = bridge.submit(fake_spec("slow", epochs=10))
    assert bridge.can_detach()
    finished = []
    bridge.finished.connect(finished.append)
    bridge.shutdown(stop_runs=False)  # "Keep training in the background"
    runner = bridge.runner
    assert runner.active_runs() == [] and runner.store.get_run(run_id).status == "running"
    assert runner.wait(run_id, timeout=120) == "completed"  # read from the store
    [loss] = runner.store.get_curves([run_id], ["train/loss"], buckets=None)
    assert list(loss.epochs) == list(range(1, 11))
    QCoreApplication.sendPostedEvents()  # deliver any signal a reader thread queued for the bridge
    assert finished == []  # the bridge let go: no events after shutdown


def test_one_bridge_per_state_over_a_real_runner_that_rejects_a_bad_spec(qtbot, db_url, tmp_path):
    state = AppState(db_url)
    bridge = get_bridge(state)
    assert get_bridge(state) is bridge
    assert bridge.runner is not None  # started: two stores opening at once race in Alembic
    other = get_bridge(AppState(f"sqlite:///{tmp_path / 'other.db'}"))
    assert other is not bridge and other.runner is not None
    other.shutdown()
    with pytest.raises(SpecError) as err:
        bridge.submit({"name": "bad", "optimizer": {"type": "Adamm"}})
    assert "optimizer" in str(err.value)
    assert bridge.runner.store.list_runs() == []  # nothing was created
    bridge.shutdown()


def test_a_runner_that_cannot_start_says_why(qtbot):
    def broken(db_url):
        raise OSError("disk full")

    bridge = RunBridge("sqlite://", runner_factory=broken)
    with pytest.raises(RuntimeError, match="could not start: disk full"):
        bridge.submit({"name": "x"})
    assert bridge.active_runs() == []
