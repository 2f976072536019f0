"""One event stream on the Train page for every run its runner owns: launched
here, resumed from the Runs page, or adopted from the store (left training by
a closed app, started elsewhere). A real Runner and real worker processes
(the fake-loop worker of tests/engine/test_worker.py: the real plumbing
around a sleep loop); the buttons reach each run on its own channel."""
from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.bridge import RunBridge, set_bridge
from app.pages.runs import RunsPage
from app.pages.train import TrainPage
from app.state import AppState
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from engine.runner import Runner
from engine.spec import parse_spec
from engine.store import RunStore
from engine.training.callbacks import MetricPoint
from tests.app.test_runs_page import click_row
from tests.engine.test_runner import detach_in_another_process
from tests.engine.test_worker import FAKE_WORKER, fake_spec

pytestmark = pytest.mark.slow


@pytest.fixture
def app_over(qtbot, db_url):
    """A Train page (and the state it shares with other pages) over a real Runner."""
    made = []

    def make():
        state = AppState(db_url, parse_spec(fake_spec("slow", epochs=3)))
        runner = Runner(db_url, worker_command=FAKE_WORKER, adopt=True, follow_interval_s=0.2)
        bridge = RunBridge(db_url, runner=runner, parent=state)
        set_bridge(state, bridge)
        page = TrainPage(state, bridge=bridge, sampler=SystemSampler(nvml=FakeNvml()))
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        made.append(page)
        return page, state, runner

    yield make
    for page in made:
        page.shutdown(stop_runs=True)


def test_a_run_already_training_is_adopted_with_its_curves_and_followed_to_its_end(qtbot, db_url, app_over):
    store = RunStore(db_url)
    run_id = store.create_run(fake_spec("slow", epochs=30), name="background-run")
    store.set_status(run_id, "running", pid=os.getpid(), device="cpu")  # a live pid on this machine
    store.add_metrics(run_id, [MetricPoint("train/loss_step", s, 0, 1.0 / s, 0.0) for s in range(1, 50)]
                      + [MetricPoint("train/loss", 49, 1, 0.1, 0.0)])
    page, _, _ = app_over()
    qtbot.waitUntil(lambda: page.runs.row(run_id) is not None, timeout=20_000)
    row = page.runs.row_widget(run_id)
    assert "running" in row.status.text() and "started elsewhere" in row.status.text()
    assert page.runs.selected_id() == run_id
    qtbot.waitUntil(lambda: row.progress.format().startswith("1/30 epochs"), timeout=10_000)
    qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() == 50, timeout=10_000)
    store.add_metrics(run_id, [MetricPoint("train/loss_step", 50, 1, 0.02, 0.0)])
    store.set_status(run_id, "completed")
    qtbot.waitUntil(lambda: "completed" in row.status.text(), timeout=20_000)
    qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() == 51, timeout=5000)  # its last point too
    store.close()


def test_a_reopened_page_pauses_resumes_and_stops_a_run_left_training(qtbot, db_url, app_over):
    """Detached by a supervisor process that has exited ("keep training"); the
    reopened page adopts it, its curves grow live, and its buttons command it."""
    run_id, worker = detach_in_another_process(db_url, fake_spec("endless"), fake=True)
    try:
        page, _, runner = app_over()
        qtbot.waitUntil(lambda: page.runs.row(run_id) is not None, timeout=20_000)
        row = page.runs.row_widget(run_id)
        qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() > 0, timeout=20_000)
        seen = page.live.plots["loss"].point_count()
        qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() > seen, timeout=20_000)  # live
        assert row.pause_button.isEnabled() and row.stop_button.isEnabled()
        qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "paused" in row.status.text(), timeout=30_000)
        assert runner.store.get_run(run_id).status == "paused"
        qtbot.mouseClick(row.resume_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "running" in row.status.text(), timeout=30_000)
        qtbot.mouseClick(row.stop_button, Qt.MouseButton.LeftButton)
        assert row.stop_button.text() == "Stopping…" and not row.stop_button.isEnabled()
        qtbot.waitUntil(lambda: "stopped" in row.status.text(), timeout=60_000)
        worker.wait(timeout=60)
    finally:
        if worker.is_running():
            worker.kill()  # never leave an endless orphan behind a failed test
    assert [c.kind for c in runner.store.checkpoints(run_id)] == ["last"]
    assert any("checkpoint (last) saved at epoch" in line for line in page.log.lines(run_id))


def test_a_run_that_cannot_be_reached_says_why_on_its_row_and_nothing_is_signalled(qtbot, db_url, app_over):
    got = []
    previous = signal.signal(signal.SIGTERM, lambda *_: got.append("SIGTERM"))
    try:
        with RunStore(db_url) as store:
            run_id = store.create_run(fake_spec("endless"), name="not-a-worker")
            store.set_status(run_id, "running", pid=os.getpid(), device="cpu")  # the test's pid
        page, state, _ = app_over()
        qtbot.waitUntil(lambda: page.runs.row(run_id) is not None, timeout=20_000)
        row = page.runs.row_widget(run_id)
        messages = []
        state.status_message.connect(messages.append)
        qtbot.mouseClick(row.stop_button, Qt.MouseButton.LeftButton)
        assert "is now another program" in row.message.text() and "nothing was signalled" in row.message.toolTip()
        assert messages[-1].startswith(f"Cannot stop run #{run_id}:")
        assert row.stop_button.isEnabled()  # nothing is pending
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert got == []


def test_a_run_resumed_from_the_runs_page_appears_on_the_train_page_live(qtbot, db_url, tmp_path, app_over):
    with RunStore(db_url) as store:
        old = store.create_run(fake_spec("slow", epochs=30), name="beta")
        checkpoint = tmp_path / "last.pt"
        checkpoint.write_bytes(b"fake checkpoint")
        store.set_status(old, "running", pid=os.getpid())
        store.add_checkpoint(old, "last", str(checkpoint), 8, 2, None)
        store.set_status(old, "stopped")
    page, state, runner = app_over()
    runs = RunsPage(state)
    qtbot.addWidget(runs)
    runs.resize(1400, 900)
    runs.show()
    qtbot.waitUntil(lambda: runs.model.rowCount() == 1, timeout=10_000)
    click_row(qtbot, runs, runs.model.rows[0].run.name)
    qtbot.waitUntil(runs.actions.resume_action.isEnabled, timeout=5000)
    runs.actions.resume_action.trigger()
    [new] = [r for r in runner.store.list_runs() if r.id != old]
    assert new.parent_id == old
    row = page.runs.row_widget(new.id)  # there at once: the bridge announced it
    assert row.row.name == "beta (resumed)"
    qtbot.waitUntil(lambda: "running" in row.status.text(), timeout=60_000)
    assert page.runs.selected_id() == new.id and page.live.run_id == new.id
    qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() > 0, timeout=60_000)
    qtbot.mouseClick(row.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "stopped" in row.status.text(), timeout=60_000)
    runs.worker.wait()
    assert Path(checkpoint).is_file()
