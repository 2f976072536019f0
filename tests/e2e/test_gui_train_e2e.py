"""End to end: the Train page launches a real worker process that trains an
MLP on digits on the CPU; the plots get points, the store has the run; and
Pause / Resume / Stop from the run list's buttons change the run's status
in the store and in the list."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.bridge import get_bridge
from app.pages.train import TrainPage
from app.state import AppState
from engine.spec import parse_spec
from engine.store import RunStore

pytestmark = pytest.mark.slow
TEMPLATE = Path(__file__).resolve().parents[2] / "resources" / "templates" / "digits_mlp.json"
RUN_TIMEOUT_MS = 240_000  # a worker imports torch and loads digits: slow on a busy 2-core machine


def digits_spec(epochs: int):
    data = json.loads(TEMPLATE.read_text())
    data["training"].update(epochs=epochs, device="cpu")
    data["regularization"]["early_stopping"] = None
    return parse_spec(data)


@pytest.fixture
def page(qtbot, db_url):
    state = AppState(db_url)
    page = TrainPage(state)
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    yield page
    page.shutdown(stop_runs=True)


def wait_launchable(qtbot, page):
    """Wait for the model check; fail with the page's own words if it finds a problem."""
    qtbot.waitUntil(lambda: page.launch_button.isEnabled() or page.problem() is not None,
                    timeout=RUN_TIMEOUT_MS)
    assert page.launch_button.isEnabled(), page.problem()


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_launch_trains_digits_and_the_run_is_in_the_store(qtbot, page, db_url):
    page.state.set_spec(digits_spec(epochs=2))
    wait_launchable(qtbot, page)
    bridge = get_bridge(page.state)
    with qtbot.waitSignal(bridge.finished, timeout=RUN_TIMEOUT_MS) as finished:
        click(qtbot, page.launch_button)
    run_id = finished.args[0].run_id
    assert finished.args[0].status == "completed", finished.args[0].error
    # Each plot redraws on its own timer, a frame apart from the others: wait for each.
    qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() >= 4,  # train/loss, val/loss per epoch, per step
                    timeout=10_000)
    qtbot.waitUntil(lambda: page.live.plots["accuracy"].point_count() >= 2, timeout=10_000)
    row = page.runs.row_widget(run_id)
    qtbot.waitUntil(lambda: "completed" in row.status.text() and row.message.text() == "2/2 epochs",
                    timeout=10_000)
    run = RunStore(db_url).get_run(run_id)
    assert run.status == "completed" and run.name == "digits-mlp"
    assert "started on cpu" in page.log.text.toPlainText()


def test_pause_resume_stop_buttons_change_the_run_status(qtbot, page, db_url):
    page.state.set_spec(digits_spec(epochs=500))
    wait_launchable(qtbot, page)
    bridge = get_bridge(page.state)
    store = RunStore(db_url)
    with qtbot.waitSignal(bridge.started, timeout=RUN_TIMEOUT_MS) as started:
        click(qtbot, page.launch_button)
    run_id = started.args[0].run_id
    row = page.runs.row_widget(run_id)
    qtbot.waitUntil(lambda: row.pause_button.isVisible() and row.pause_button.isEnabled(), timeout=5000)

    with qtbot.waitSignal(bridge.status, timeout=60_000, check_params_cb=lambda e: e.status == "paused"):
        click(qtbot, row.pause_button)
    qtbot.waitUntil(lambda: "paused" in row.status.text(), timeout=5000)
    assert store.get_run(run_id).status == "paused"

    with qtbot.waitSignal(bridge.status, timeout=60_000, check_params_cb=lambda e: e.status == "running"):
        click(qtbot, row.resume_button)
    qtbot.waitUntil(lambda: "running" in row.status.text(), timeout=5000)
    assert store.get_run(run_id).status == "running"

    with qtbot.waitSignal(bridge.finished, timeout=RUN_TIMEOUT_MS) as finished:
        click(qtbot, row.stop_button)
    assert finished.args[0].status == "stopped"
    qtbot.waitUntil(lambda: "stopped" in row.status.text(), timeout=5000)
    assert store.get_run(run_id).status == "stopped"
    assert [c.kind for c in store.checkpoints(run_id)].count("last") == 1  # stopped with a checkpoint
