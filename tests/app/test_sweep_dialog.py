"""Building a sweep from the forms: "Sweep this…" on the Train page's
learning rate and on a block width in the Build page's inspector, the
dialog's ranges, the planned count of a grid, problems named in the dialog,
and launching a sweep document (the supervisor replaced by a recorder:
tests/engine run real sweeps)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.bridge import RunBridge
from app.pages.build.page import BuildPage
from app.pages.train import TrainPage
from app.state import AppState
from app.sweep_ranges import grid_values, parse_domain, suggest_domain
from app.widgets.sweep_action import sweep_action
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from engine.spec import parse_spec
from tests.app.test_bridge import FakeRunner

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


@pytest.fixture
def page(qtbot, db_url):
    spec = parse_spec(json.loads((TEMPLATES / "digits_mlp.json").read_text()))
    state = AppState(db_url, spec)
    p = TrainPage(state, bridge=RunBridge(db_url, runner=FakeRunner()), sampler=SystemSampler(nvml=FakeNvml()))
    qtbot.addWidget(p)
    p.resize(1300, 850)
    p.show()
    yield p
    p.shutdown()


def checked(qtbot, dialog) -> None:
    """Wait for the dialog's background check of the document."""
    qtbot.waitUntil(lambda: not dialog.checking(), timeout=10_000)


def test_sweep_this_on_lr_and_a_block_width_builds_a_grid_with_its_planned_count(qtbot, page):
    state = page.state
    lr = page.settings.optimizer.form.field("lr")
    sweep_action(lr).trigger()
    dialog = page.sweeps.dialog
    assert dialog is not None and dialog.isVisible()
    # A learning rate is swept on a log scale, a decade either side of its value.
    kinds = dialog.row("optimizer.lr")[0]
    text = dialog.row("optimizer.lr")[1]
    assert kinds.currentData() == "log_uniform"
    lr_value = state.spec.optimizer.lr
    assert text.text() == f"{lr_value / 10:g} .. {lr_value * 10:g}"

    # A block's width from the Build page's inspector joins the same sweep as an int range.
    build = BuildPage(state)  # the Build page of the same window (one AppState)
    qtbot.addWidget(build)
    build.select([(1,)])
    assert build.inspector.path == (1,)
    dialog.hide()
    sweep_action(build.inspector.form.field("out_features")).trigger()
    assert dialog.isVisible()  # the Train page shows the sweep the Build page added to
    width = state.spec.to_dict()["model"]["blocks"][1]["out_features"]
    assert dialog.row("model.blocks.1.out_features")[0].currentData() == "int"
    assert dialog.row("model.blocks.1.out_features")[1].text() == \
        f"{width // 2} .. {width * 2}"
    assert page.sweeps.button.text() == "Sweep… (2)"

    # TPE: the budget is the trials box.
    dialog.trials.setValue(12)
    assert "Planned: 12 trials" in dialog.planned.text()
    # More at once than this machine has cores: the plan says CPU trials take turns.
    from engine.host import usable_cores
    cores = usable_cores()
    dialog.parallel.setValue(cores + 1)
    assert f"{cores + 1} at a time (CPU trials on this machine: {cores} at a time, one per core)" in \
        dialog.planned.text()
    dialog.parallel.setValue(1)
    assert "one per core" not in dialog.planned.text()
    checked(qtbot, dialog)
    assert dialog.launch_button.isEnabled()
    # Grid: ranges become 3 values each, and the plan is their product, said before launch.
    dialog.method.setCurrentIndex(dialog.method.findData("grid"))
    assert dialog.row("optimizer.lr")[0].currentData() == "values"
    assert "became 3 values" in dialog.note.text()
    assert "3 × 3 = 9 trials" in dialog.planned.text()
    assert dialog.trials.value() == 9 and not dialog.trials.isEnabled()
    # Editing the width's values changes the count.
    w_text = dialog.row("model.blocks.1.out_features")[1]
    w_text.setText("32, 64, 128, 256")
    w_text.textEdited.emit(w_text.text())
    assert "3 × 4 = 12 trials" in dialog.planned.text()

    launched = []
    page.sweeps.launcher.launch = launched.append  # the supervisor itself runs in tests/engine
    assert not dialog.launch_button.isEnabled()  # until the edit is checked
    checked(qtbot, dialog)
    dialog.launch_button.click()
    assert len(launched) == 1
    doc = launched[0]
    assert doc["method"] == "grid" and doc["trials"] == 12
    assert doc["parameters"]["model.blocks.1.out_features"] == {"values": [32, 64, 128, 256]}
    assert len(doc["parameters"]["optimizer.lr"]["values"]) == 3
    assert doc["base"]["model"]["blocks"][1]["out_features"] == width  # the base is the current spec


def test_bad_input_is_named_in_the_dialog_and_blocks_launch(qtbot, page):
    sweep_action(page.settings.optimizer.form.field("lr")).trigger()
    dialog = page.sweeps.dialog
    text = dialog.row("optimizer.lr")[1]
    checked(qtbot, dialog)
    assert dialog.launch_button.isEnabled()
    text.setText("0.1 .. 0.001")
    text.textEdited.emit(text.text())
    assert "optimizer.lr: low (0.1) must be below high (0.001)" in dialog.problem.text()
    assert not dialog.launch_button.isEnabled()
    dialog.method.setCurrentIndex(dialog.method.findData("random"))  # other edits keep the typed problem
    assert "optimizer.lr: low (0.1)" in dialog.problem.text() and not dialog.launch_button.isEnabled()
    launched = []
    dialog.launch_requested.connect(launched.append)
    dialog.launch()  # Enter in the dialog: refused, the problem stays said
    assert not launched and "optimizer.lr: low (0.1)" in dialog.problem.text()
    text.setText("0 .. 0.1")
    text.textEdited.emit(text.text())
    assert "optimizer.lr: a log scale needs a low above 0" in dialog.problem.text()
    text.setText("0.0001 .. 0.01")
    text.textEdited.emit(text.text())
    checked(qtbot, dialog)
    assert dialog.launch_button.isEnabled() and not dialog.problem.isVisible()
    # A value the run spec refuses is named by the engine's check (in the background), path first.
    page.sweeps.add("training.batch_size", {"values": [32, 0]})
    assert not dialog.launch_button.isEnabled()  # while it is checked
    checked(qtbot, dialog)
    assert "training.batch_size" in dialog.problem.text() and not dialog.launch_button.isEnabled()
    dialog.row("training.batch_size")[2].click()
    checked(qtbot, dialog)
    assert dialog.launch_button.isEnabled()
    # A grid with no value list can't be: removing everything says what to do.
    dialog.row("optimizer.lr")[2].click()
    assert dialog.empty.isVisible() and "Add at least one parameter" in dialog.problem.text()


def test_launch_failure_is_said_in_the_dialog(qtbot, page):
    sweep_action(page.settings.optimizer.form.field("lr")).trigger()
    dialog = page.sweeps.dialog
    checked(qtbot, dialog)
    page.sweeps.launcher.failed.emit("The sweep is not valid: base: the store is read-only")
    assert "the store is read-only" in dialog.problem.text() and dialog.launch_button.isEnabled()


def test_suggested_domains():
    assert suggest_domain("optimizer.lr", 0.001, kind="float", lo=1e-12) == {"log_uniform": [0.0001, 0.01]}
    assert suggest_domain("optimizer.weight_decay", 0.0, kind="float", lo=0.0) == {"log_uniform": [1e-05, 0.1]}
    assert suggest_domain("model.blocks.3.p", 0.2, kind="float", lo=0.0, hi=1.0) == {"uniform": [0.1, 0.4]}
    assert suggest_domain("regularization.label_smoothing", 0.0, kind="float", lo=0.0, hi=0.999) == \
        {"uniform": [0.0, 0.2]}
    assert suggest_domain("training.batch_size", 64, kind="int", lo=1) == {"int": [32, 128]}
    assert suggest_domain("optimizer.type", "Adam", kind="choice", choices=("SGD", "Adam")) == \
        {"values": ["SGD", "Adam"]}
    assert grid_values({"log_uniform": [0.0001, 0.01]}) == {"values": [0.0001, 0.001, 0.01]}
    assert grid_values({"int": [16, 256]}) == {"values": [16, 64, 256]}  # a size range: geometric
    assert grid_values({"int": [2, 6]}) == {"values": [2, 4, 6]}
    assert parse_domain("x", "values", "Adam, SGD, 3, true")[0] == {"values": ["Adam", "SGD", 3, True]}
    assert parse_domain("x", "int", "16 .. 25.5")[1] == "x: an int range takes whole numbers (e.g. 16 .. 256)"


def test_a_pruned_trial_reads_pruned_in_the_train_pages_run_list(qtbot, page):
    from PySide6.QtWidgets import QLabel

    from app.pages.train.run_list import STATUS_COLOURS, RunRow

    page.runs.upsert(RunRow(7, "digits-mlp-sweep #3", "pruned", epoch=4, total_epochs=20))
    label = next(w for w in page.runs.findChildren(QLabel, "run_status") if "pruned" in w.text())
    assert STATUS_COLOURS["pruned"] in label.text() and STATUS_COLOURS["pruned"] != STATUS_COLOURS["failed"]
    assert 7 not in page.runs.active_ids()  # ended: no Pause or Stop offered
    # The worker ends a pruned trial "stopped"; the supervisor's word (pruned) wins in the list.
    from engine.sweeps.supervisor import TrialResult

    page.runs.upsert(RunRow(8, "digits-mlp-sweep #4", "stopped", epoch=3, total_epochs=20))
    page.sweeps.launcher.trial_finished.emit(1, TrialResult(4, 8, {"optimizer.lr": 0.1}, 0.4, "pruned"))
    assert page.runs.row(8).status == "pruned"


def test_right_click_on_a_field_offers_sweep_this_after_its_own_actions(qtbot, page, monkeypatch):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication, QLineEdit

    from app.widgets import sweep_action as module

    shown: list[list[str]] = []  # the menu as it would pop up (offscreen Qt cannot show popups quietly)
    monkeypatch.setattr(module._ContextMenu, "show_menu",
                        staticmethod(lambda menu, at: shown.append([a.text() for a in menu.actions()
                                                                    if not a.isSeparator()])))

    def right_click(widget) -> list[str]:
        at = QPoint(5, 5)
        QApplication.sendEvent(widget, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, widget.mapToGlobal(at)))
        return shown[-1]

    lr = page.settings.optimizer.form.field("lr")
    texts = right_click(lr.findChild(QLineEdit))  # a spin box: the right-click lands on its line edit
    assert texts[-1] == "Sweep this… (optimizer.lr)"
    assert any("Copy" in t for t in texts)  # the field's own editing actions stay
    assert right_click(page.settings.optimizer.combo) == ["Sweep this… (optimizer.type)"]


def test_a_trial_pruned_by_a_supervisor_elsewhere_turns_pruned_in_the_run_list(qtbot, page, db_url):
    from app.pages.train.run_list import RunRow
    from engine.protocol import Finished
    from engine.store import RunStore

    with RunStore(db_url) as store:  # as `layerdeck sweep` leaves it: the worker said stopped, then pruned
        run_id = store.create_run(page.state.spec.to_dict())
        store.set_status(run_id, "pruned")
    page.runs.upsert(RunRow(run_id, "digits-mlp #2", "running", epoch=3, total_epochs=20, adopted=True))
    page.bridge.finished.emit(Finished(run_id, status="stopped"))
    assert page.runs.row(run_id).status == "stopped"
    qtbot.waitUntil(lambda: page.runs.row(run_id).status == "pruned", timeout=10_000)
