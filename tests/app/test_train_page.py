"""The Train page with a fake runner (no worker processes): generated forms
edit the spec at once, the memory check, launch refusal in words, the run
list's status/progress/buttons, run ends, closing, and runs read from the
store. The real worker path is tests/e2e/test_gui_train_e2e.py."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QGroupBox, QLineEdit, QMessageBox, QSpinBox, QWidget

from app.bridge import RunBridge
from app.pages.train import TrainPage
from app.pages.train.closing import KEEP_TEXT, STOP_TEXT
from app.state import AppState
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from engine.protocol import Epoch, Finished, Log, Metrics, Started, Status
from engine.spec import parse_spec
from engine.training.callbacks import MetricPoint
from tests.app.test_bridge import FakeRunner

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def digits_mlp(**training):
    d = json.loads((TEMPLATES / "digits_mlp.json").read_text())
    d["training"].update(training)
    return parse_spec(d)


@pytest.fixture
def make_page(qtbot, db_url):
    pages = []

    def make(spec=None, runner=None):
        state = AppState(db_url, spec or digits_mlp(epochs=3, device="cpu"))
        runner = runner or FakeRunner()
        page = TrainPage(state, bridge=RunBridge(db_url, runner=runner), sampler=SystemSampler(nvml=FakeNvml()))
        qtbot.addWidget(page)
        page.resize(1400, 900)
        page.show()
        pages.append(page)
        return page, state, runner

    yield make
    for page in pages:
        page.shutdown()


def ready(qtbot, page):
    """Wait for the model check and the first system sample."""
    qtbot.waitUntil(lambda: page._summary is not None or page._model_error is not None, timeout=90_000)
    qtbot.waitUntil(lambda: page.memory.known, timeout=10_000)


def test_forms_edit_the_spec_at_once_and_every_field_has_a_tooltip(qtbot, make_page):
    page, state, _ = make_page()
    s = page.settings
    lr = s.optimizer.form.field("lr")
    lr.setValue(0.003)
    assert state.spec.optimizer.lr == pytest.approx(0.003)
    # The optimizer's form swaps with its type.
    s.optimizer.combo.setCurrentIndex(s.optimizer.combo.findData("SGD"))
    assert state.spec.optimizer.type == "SGD"
    s.optimizer.form.field("momentum").setValue(0.9)
    assert state.spec.optimizer.momentum == pytest.approx(0.9)
    s.scheduler.combo.setCurrentIndex(s.scheduler.combo.findData("StepLR"))
    s.scheduler.form.field("warmup_epochs").setValue(2)
    assert state.spec.scheduler.type == "StepLR" and state.spec.scheduler.warmup_epochs == 2
    # Optional fields have an empty state: grad clipping none <-> a value.
    clip = s.regularization.field("grad_clip_norm")
    assert clip.text() == "none" and state.spec.regularization.grad_clip_norm is None
    clip.setValue(1.5)
    assert state.spec.regularization.grad_clip_norm == pytest.approx(1.5)
    clip.setValue(clip.minimum())
    assert state.spec.regularization.grad_clip_norm is None
    # Early stopping: a group with an enable check box.
    group = s.regularization.field("early_stopping")
    assert isinstance(group, QGroupBox) and group.isChecked()
    group.setChecked(False)
    assert state.spec.regularization.early_stopping is None
    group.setChecked(True)
    s.regularization.field("early_stopping.patience").setValue(4)
    assert state.spec.regularization.early_stopping.patience == 4
    s.training.field("precision").setCurrentIndex(s.training.field("precision").findData("bf16"))
    s.training.field("batch_size").setValue(32)
    s.run_form.field("seed").setValue(7)
    assert (state.spec.training.precision, state.spec.training.batch_size, state.spec.seed) == ("bf16", 32, 7)
    # The JSON view shows the spec that will be launched.
    assert json.loads(page.json_view.toPlainText())["optimizer"]["type"] == "SGD"
    # Ranges come from the models: batch_size >= 1, label_smoothing < 1.
    assert s.training.field("batch_size").minimum() == 1
    assert s.regularization.field("label_smoothing").maximum() < 1
    inputs = (QSpinBox, QDoubleSpinBox, QComboBox, QCheckBox, QLineEdit, QGroupBox)
    fields = [w for w in s.findChildren(QWidget) if isinstance(w, inputs) and w.objectName().startswith(
        ("field_", "optimizer_type", "scheduler_type", "device_combo"))]
    assert len(fields) > 20
    assert [w.objectName() for w in fields if not w.toolTip()] == []


def test_a_spec_opened_elsewhere_shows_in_the_forms(qtbot, make_page):
    page, state, _ = make_page()
    spec = digits_mlp(epochs=5, batch_size=16)
    spec = spec.copy_with(optimizer={"type": "RMSprop", "lr": 0.02}, scheduler={"type": "OneCycleLR"})
    state.set_spec(spec)
    s = page.settings
    assert s.optimizer.combo.currentData() == "RMSprop"
    assert s.optimizer.form.field("lr").value() == pytest.approx(0.02)
    assert s.scheduler.form.field("max_lr").text() == "auto"  # None: 10 x lr
    assert s.training.field("epochs").value() == 5 and s.training.field("batch_size").value() == 16


def test_devices_are_the_ones_present_and_memory_is_checked_against_free_memory(qtbot, make_page):
    page, state, _ = make_page()
    ready(qtbot, page)
    combo = page.settings.device
    items = [combo.itemText(i) for i in range(combo.count())]
    assert items[1] == "cpu" and items[0].startswith("auto — ")
    assert any(t.startswith("cuda:0 — ") for t in items) and any(t.startswith("cuda:1 — ") for t in items)
    combo.setCurrentIndex(combo.findData("cuda:1"))
    assert state.spec.training.device == "cuda:1"
    qtbot.waitUntil(lambda: page._summary is not None, timeout=90_000)
    text = page.memory_label.text()
    assert "free on cuda:1" in text and "✓" in text
    # A model far too big for the device at this batch size: a warning in words.
    data = state.spec.to_dict()
    data["model"]["blocks"][1]["out_features"] = 200_000
    data["training"]["batch_size"] = 100_000
    state.set_spec(parse_spec(data))
    qtbot.waitUntil(lambda: page._summary is not None and "only" in page.memory_label.text(), timeout=90_000)
    assert "lower the batch size" in page.memory_label.text()


def test_a_spec_with_an_error_cannot_be_launched_and_the_page_says_why(qtbot, make_page):
    data = json.loads((TEMPLATES / "digits_mlp.json").read_text())
    data["model"]["blocks"][-1]["out_features"] = 7  # digits has 10 classes
    page, state, runner = make_page(parse_spec(data))
    ready(qtbot, page)
    assert not page.launch_button.isEnabled()
    assert "10 classes" in page.problem_label.text() and page.problem_label.isVisible()
    qtbot.mouseClick(page.launch_button, Qt.MouseButton.LeftButton)
    messages = []
    state.status_message.connect(messages.append)
    state.launch_requested.emit()  # Run > Launch (Ctrl+Enter) says why too
    assert runner.calls == [] and messages and "Cannot launch" in messages[0]
    # Fixing the model makes it launchable.
    state.set_spec(digits_mlp(epochs=2))
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    assert not page.problem_label.isVisible()


def test_run_list_follows_the_run_and_its_buttons_command_it(qtbot, make_page):
    page, state, runner = make_page()
    ready(qtbot, page)
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    assert page.live.empty.isVisible() and not page.live.plot_area.isVisible()  # says what to do
    changed = []
    state.runs_changed.connect(lambda: changed.append(True))
    qtbot.mouseClick(page.launch_button, Qt.MouseButton.LeftButton)
    assert page.live.plot_area.isVisible() and not page.live.empty.isVisible()
    assert runner.calls == [("submit", 1)] and changed
    row = page.runs.row_widget(1)
    assert "queued" in row.status.text()
    runner.emit(Status(1, "running"))
    runner.emit(Started(1, pid=1, device="cpu", num_params=100, total_epochs=3, steps_per_epoch=10))
    runner.emit(Metrics(1, [MetricPoint("train/loss_step", s, 0, 2.0 / s, 0.0) for s in range(1, 11)]))
    runner.emit(Epoch(1, 1, 3, {"train/loss": 1.0, "val/accuracy": 0.8, "throughput": 900.0}, 65.0))
    runner.emit(Metrics(1, [MetricPoint("train/loss", 10, 1, 1.0, 0.0), MetricPoint("val/loss", 10, 1, 1.1, 0.0)]))
    qtbot.waitUntil(lambda: row.progress.value() == 1)
    assert row.progress.format() == "1/3 epochs  ·  ETA 1:05"
    assert "running" in row.status.text() and row.pause_button.isVisible() and not row.resume_button.isVisible()
    assert page.live.title.text() == "Live: digits-mlp #1" and "epoch 1/3" in page.live.latest.text()
    qtbot.waitUntil(lambda: page.live.plots["loss"].point_count() == 12, timeout=2000)
    qtbot.mouseClick(row.pause_button, Qt.MouseButton.LeftButton)
    runner.emit(Status(1, "paused"))
    qtbot.waitUntil(lambda: "paused" in row.status.text())
    assert row.resume_button.isVisible() and not row.pause_button.isVisible()
    qtbot.mouseClick(row.resume_button, Qt.MouseButton.LeftButton)
    runner.emit(Status(1, "running"))
    qtbot.waitUntil(lambda: "running" in row.status.text())
    qtbot.mouseClick(row.stop_button, Qt.MouseButton.LeftButton)
    assert runner.calls[1:] == [("pause", 1), ("resume", 1), ("stop", 1)]
    messages = []
    state.status_message.connect(messages.append)
    runner.emit(Finished(1, "stopped"))
    qtbot.waitUntil(lambda: "stopped" in row.status.text())
    assert not row.stop_button.isVisible() and messages[-1].startswith("Run #1 digits-mlp stopped")


def test_a_failed_run_says_why_in_words_and_the_traceback_goes_to_the_log(qtbot, make_page):
    page, state, runner = make_page()
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    page.launch()
    runner.emit(Log(1, "info", "loading digits"))
    error = ("out of memory on cpu: lower the batch size\nTraceback (most recent call last):\n"
             "  File \"loop.py\", line 3, in step\nRuntimeError: boom")
    messages = []
    state.status_message.connect(messages.append)
    runner.emit(Finished(1, "failed", error))
    row = page.runs.row_widget(1)
    qtbot.waitUntil(lambda: "failed" in row.status.text())
    assert "out of memory on cpu: lower the batch size" in row.message.text()
    assert "Traceback" not in row.message.text() and "Traceback" in row.message.toolTip()
    log = page.log.text.toPlainText()
    assert "loading digits" in log and "RuntimeError: boom" in log
    assert "failed: out of memory" in messages[-1]


def test_closing_with_active_runs_asks_and_stops_them_when_told(qtbot, make_page, monkeypatch):
    page, state, runner = make_page()
    asked = []
    monkeypatch.setattr(page, "_ask_close", lambda n, can_keep: asked.append((n, can_keep)) or "cancel")
    assert page.confirm_close() is False and asked == [(1, False)]
    assert ("shutdown", True) not in runner.calls
    monkeypatch.setattr(page, "_ask_close", lambda n, can_keep: "stop")
    assert page.confirm_close() is True
    assert ("shutdown", True) in runner.calls


class DetachingRunner(FakeRunner):
    """A runner whose runs can outlive the window (engine.runner.Runner has detach)."""

    def detach(self, run_id=None):
        self.calls.append(("detach", run_id))
        return [1]


def test_closing_offers_stop_keep_or_cancel_and_keep_detaches_the_runs(qtbot, make_page, monkeypatch):
    page, state, runner = make_page(runner=DetachingRunner())
    offered, offered_text = [], []

    def pick_keep(box):  # the real dialog, answered as a person would
        offered.extend(b.text().replace("&", "") for b in box.buttons())
        offered_text.append(box.informativeText())
        next(b for b in box.buttons() if b.text() == KEEP_TEXT).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", pick_keep)
    messages = []
    state.status_message.connect(messages.append)
    assert page.confirm_close() is True
    assert sorted(offered) == sorted([STOP_TEXT, KEEP_TEXT, "Cancel"])
    assert "reopening LayerDeck shows them with live curves, and it can pause, resume or stop them" \
        in " ".join(offered_text)  # what a reopened window can do with them (Linux: by signals)
    assert runner.calls == [("detach", None)]  # not stopped, not shut down: let go
    assert "keep training in the background" in messages[-1].lower()


def test_closing_dialog_cancel_keeps_the_window_and_the_runs(qtbot, make_page, monkeypatch):
    page, state, runner = make_page(runner=DetachingRunner())

    def pick_cancel(box):
        next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole).click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", pick_cancel)
    assert page.confirm_close() is False
    assert runner.calls == []


def test_a_settings_error_blocks_launch_in_words_until_fixed(qtbot, make_page):
    page, state, runner = make_page()
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    name = page.settings.run_form.field("name")
    name.setText("")
    name.textEdited.emit("")  # what typing the last character away does
    assert not page.launch_button.isEnabled()
    assert "name" in page.problem_label.text() and "Fix the settings" in page.problem_label.text()
    assert state.spec.name == "digits-mlp"  # the state keeps the last valid spec
    name.setText("renamed")
    name.textEdited.emit("renamed")
    assert state.spec.name == "renamed"
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)


def test_run_menu_stop_stops_the_selected_run(qtbot, make_page):
    page, state, runner = make_page()
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    messages = []
    state.status_message.connect(messages.append)
    state.stop_requested.emit()
    assert messages == ["Nothing to stop: no run is training"]
    first, second = page.launch(), page.launch()
    assert page.runs.selected_id() == second  # a launch shows the new run
    page.runs.select(first)
    state.stop_requested.emit()
    assert runner.calls[-1] == ("stop", first)


def test_the_log_pane_shows_the_workers_stderr(qtbot, make_page, db_url):
    from engine.runner.paths import log_path

    page, state, runner = make_page()
    qtbot.waitUntil(page.launch_button.isEnabled, timeout=90_000)
    run_id = page.launch()
    path = log_path(db_url, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("UserWarning: a stray print\nTraceback (most recent call last):\n  half a li")
    qtbot.waitUntil(lambda: "a stray print" in page.log.text.toPlainText(), timeout=5000)
    assert "half a li" not in page.log.text.toPlainText()  # whole lines only
    with path.open("a") as f:
        f.write("ne\n")
    qtbot.waitUntil(lambda: "half a line" in page.log.text.toPlainText(), timeout=5000)


def test_scrolling_past_a_field_does_not_change_it(qtbot, make_page):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    page, state, _ = make_page()
    epochs = page.settings.training.field("epochs")
    assert not epochs.hasFocus()
    wheel = QWheelEvent(QPointF(5, 5), QPointF(epochs.mapToGlobal(QPoint(5, 5))), QPoint(0, 0), QPoint(0, 120),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                        False)
    QApplication.sendEvent(epochs, wheel)
    assert epochs.value() == 3 and state.spec.training.epochs == 3
