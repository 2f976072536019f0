"""Distillation in the GUI: the Train page's "Distill from…" lists the
finished runs of the spec's dataset (those that cannot teach greyed out with
the reason) and writes training.distill; the Compare view draws a distilled
run's teacher accuracy as a reference line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.bridge import RunBridge
from app.pages.runs.compare import CompareView
from app.pages.runs.tasks import Worker
from app.pages.train import TrainPage
from app.state import AppState
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from engine.spec import parse_spec
from engine.store import RunStore
from engine.training.callbacks import MetricPoint
from tests.app.test_bridge import FakeRunner

TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "templates"


def template(stem: str) -> dict:
    return json.loads((TEMPLATES / f"{stem}.json").read_text())


def finished(store: RunStore, spec: dict, tmp_path, *, best_acc: float | None = None, checkpoint: bool = True,
             teacher: int | None = None) -> int:
    run_id = store.create_run(spec, status="running", teacher_run_id=teacher)
    if checkpoint:
        path = tmp_path / f"best-{run_id}.pt"
        path.write_bytes(b"weights")  # the picker checks the file is there; nothing trains here
        store.add_checkpoint(run_id, "best", str(path), 100, 5, 0.1)
    if best_acc is not None:
        store.add_metrics(run_id, [MetricPoint("val/accuracy", 10 * e, e, best_acc - 0.02 * (5 - e), 1000.0 + e)
                                   for e in range(1, 6)])
    store.set_status(run_id, "completed")
    return run_id


@pytest.fixture
def store(db_url, tmp_path):
    s = RunStore(db_url)
    yield s
    s.close()


def test_distill_from_lists_teachers_and_sets_training_distill(qtbot, db_url, store, tmp_path):
    cnn = finished(store, template("digits_cnn"), tmp_path, best_acc=0.98)
    bare = finished(store, template("digits_mlp"), tmp_path, checkpoint=False)
    finished(store, template("wine_mlp"), tmp_path, best_acc=0.95)  # another dataset: not listed
    spec = parse_spec({**template("digits_mlp"), "training": {"epochs": 2, "device": "cpu"}})
    state = AppState(db_url, spec)
    page = TrainPage(state, bridge=RunBridge(db_url, runner=FakeRunner()), sampler=SystemSampler(nvml=FakeNvml()))
    qtbot.addWidget(page)
    page.show()
    assert not page.distill.clear_button.isVisible()

    qtbot.mouseClick(page.distill.button, Qt.LeftButton)
    dialog = page.distill.dialog
    qtbot.waitUntil(lambda: not dialog.pending(), timeout=30_000)
    table = dialog.table
    rows = {table.item(r, 0).text(): r for r in range(table.rowCount())}
    assert set(rows) == {f"#{cnn}", f"#{bare}"}
    assert table.item(rows[f"#{cnn}"], 2).text() == "0.980"  # its best val accuracy
    why = table.item(rows[f"#{bare}"], 4).text()
    assert why.startswith("no:") and "no best checkpoint" in why
    assert not table.item(rows[f"#{bare}"], 0).flags() & Qt.ItemIsEnabled
    assert "1 of 2" in dialog.status.text()
    assert not dialog.ok.isEnabled()

    table.selectRow(rows[f"#{cnn}"])
    dialog.temperature.setValue(2.0)
    dialog.alpha.setValue(0.5)
    assert dialog.ok.isEnabled()
    qtbot.mouseClick(dialog.ok, Qt.LeftButton)
    d = state.spec.training.distill
    assert (d.teacher_run, d.temperature, d.alpha) == (cnn, 2.0, 0.5)
    assert page.distill.label.text() == f"teacher run #{cnn} · T 2 · α 0.5"
    assert page.distill.clear_button.isVisible()
    assert '"teacher_run"' in page.json_view.toPlainText()
    # Another setting edited in the form keeps the teacher.
    page.settings.optimizer.form.field("lr").setValue(0.004)
    assert state.spec.training.distill == d

    qtbot.mouseClick(page.distill.clear_button, Qt.LeftButton)
    assert state.spec.training.distill is None and page.distill.label.text() == ""
    page.shutdown()


def test_with_no_finished_run_the_dialog_says_what_to_do(qtbot, db_url, store):
    state = AppState(db_url, parse_spec(template("digits_mlp")))
    page = TrainPage(state, bridge=RunBridge(db_url, runner=FakeRunner()), sampler=SystemSampler(nvml=FakeNvml()))
    qtbot.addWidget(page)
    dialog = page.distill.open()
    qtbot.waitUntil(lambda: not dialog.pending(), timeout=30_000)
    assert dialog.table.rowCount() == 0
    assert "No finished run on digits yet" in dialog.status.text()
    page.shutdown()


def test_compare_draws_the_teachers_accuracy_as_a_reference_line(qtbot, db_url, store, tmp_path):
    teacher = finished(store, template("digits_cnn"), tmp_path, best_acc=0.98)
    student = finished(store, template("digits_mlp"), tmp_path, best_acc=0.95, teacher=teacher)
    other = finished(store, template("digits_mlp"), tmp_path, best_acc=0.93)
    worker = Worker()
    view = CompareView(lambda: store, worker)
    qtbot.addWidget(view)
    view.show()
    with qtbot.waitSignal(view.charts_ready, timeout=10_000):
        view.set_runs([store.get_run(student), store.get_run(other)])
    worker.wait()
    qtbot.waitUntil(lambda: bool(view.teacher_lines.lines("val/accuracy")), timeout=10_000)
    (line,) = view.teacher_lines.lines("val/accuracy")
    assert line.value() == pytest.approx(0.98)
    assert f"#{teacher}" in line.label.toPlainText() and "0.980" in line.label.toPlainText()
    # Runs without a teacher: no line.
    with qtbot.waitSignal(view.charts_ready, timeout=10_000):
        view.set_runs([store.get_run(other), store.get_run(teacher)])
    worker.wait()
    qtbot.wait(50)
    assert view.teacher_lines.lines("val/accuracy") == []
