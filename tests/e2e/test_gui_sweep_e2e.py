"""A sweep launched from the Train page's Sweep dialog runs for real: the
app's SweepLauncher runs the engine's supervisor on a background thread,
every trial a real worker process training iris for one epoch; the trials
are runs linked to the sweep, and the Runs page's tree and Sweep view show
them."""
from __future__ import annotations

import pytest

from app.bridge import RunBridge
from app.pages.runs import RunsPage
from app.pages.train import TrainPage
from app.state import AppState
from app.widgets.sweep_action import sweep_action
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from engine.spec import parse_spec
from engine.store import RunStore
from tests.app.test_bridge import FakeRunner

pytestmark = pytest.mark.slow


def iris() -> dict:
    return {"name": "iris-mlp", "seed": 1, "data": {"name": "iris", "val_fraction": 0.3},
            "model": {"blocks": [{"type": "Linear", "out_features": 16}, {"type": "ReLU"},
                                 {"type": "Linear", "out_features": 3}]},
            "optimizer": {"type": "Adam", "lr": 0.01},
            "training": {"epochs": 1, "batch_size": 16, "device": "cpu"}}


def test_a_grid_launched_from_the_dialog_runs_its_trials_and_the_runs_page_shows_them(qtbot, db_url):
    state = AppState(db_url, parse_spec(iris()))
    # The Train page's own runner is a fake: the sweep's trials go through the supervisor's Runner.
    page = TrainPage(state, bridge=RunBridge(db_url, runner=FakeRunner()), sampler=SystemSampler(nvml=FakeNvml()))
    qtbot.addWidget(page)
    page.show()
    sweep_action(page.settings.optimizer.form.field("lr")).trigger()
    dialog = page.sweeps.dialog
    dialog.method.setCurrentIndex(dialog.method.findData("grid"))
    _kinds, text, _remove = dialog.row("optimizer.lr")
    text.setText("0.003, 0.03")
    text.textEdited.emit(text.text())
    assert "= 2 trials" in dialog.planned.text()
    qtbot.waitUntil(lambda: dialog.launch_button.isEnabled(), timeout=10_000)  # checked in the background
    finished = []
    page.sweeps.launcher.finished.connect(lambda sid, status: finished.append((sid, status)))
    with qtbot.waitSignal(page.sweeps.launcher.started, timeout=30_000):
        dialog.launch_button.click()
    assert not dialog.isVisible()
    qtbot.waitUntil(lambda: bool(finished), timeout=180_000)
    sweep_id, status = finished[0]
    assert status == "completed"
    with RunStore(db_url) as store:
        runs = store.list_runs(sweep_id=sweep_id)
        assert sorted(r.trial_number for r in runs) == [1, 2]
        assert sorted(r.spec["optimizer"]["lr"] for r in runs) == [0.003, 0.03]
        assert {r.status for r in runs} == {"completed"}

    runs_page = RunsPage(state)
    qtbot.addWidget(runs_page)
    runs_page.show()
    qtbot.waitUntil(lambda: runs_page.sweeps.item_of_sweep(sweep_id) is not None, timeout=20_000)
    item = runs_page.sweeps.item_of_sweep(sweep_id)
    assert item.childCount() == 2 and item.text(1) == "completed"
    view = runs_page.sweeps.open_view(sweep_id)
    assert view.history.point_count() == 2 and view.parallel.line_count() == 2
    runs_page.sweeps.close_views()
    runs_page.worker.wait()
    page.shutdown()
