"""The Evaluation tab, the Predict dialog and Compare's per-class F1, driven
with pytest-qt over real runs (trained in-process, real SQLite store)."""
from __future__ import annotations

import csv
from types import SimpleNamespace

import pytest
from PySide6.QtCore import Qt

from engine.store import RunStore
from tests.trained import mlp_spec, trained_run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A digits run (images) with no evaluation yet, an evaluated iris run, and a CSV to predict on."""
    tmp = tmp_path_factory.mktemp("eval_gui")
    url = f"sqlite:///{tmp / 'runs.db'}"
    digits = trained_run(url, tmp, mlp_spec({"name": "digits", "val_fraction": 0.1, "test_fraction": 0.2}, 10,
                                            name="digits-mlp"))
    iris = trained_run(url, tmp, mlp_spec({"name": "iris", "val_fraction": 0.2, "test_fraction": 0.2}, 3,
                                          name="iris-mlp"), evaluate=True)
    diabetes = trained_run(url, tmp, mlp_spec({"name": "diabetes", "val_fraction": 0.2}, 1, name="diabetes-mlp"),
                           evaluate=True)
    return SimpleNamespace(url=url, digits=digits, iris=iris, diabetes=diabetes, tmp=tmp)


def view_for(qtbot, url: str, run_id: int):
    from app.pages.runs.evaluation_view import EvaluationView

    view = EvaluationView()
    qtbot.addWidget(view)
    view.resize(1000, 640)
    view.set_store(lambda: RunStore(url))
    with qtbot.waitSignal(view.loaded, timeout=20_000):
        view.show_run(RunStore(url).get_run(run_id))
    return view


def test_evaluate_then_click_a_heatmap_cell_to_list_its_samples(qtbot, runs):
    view = view_for(qtbot, runs.url, runs.digits)
    assert view.body.currentWidget() is view.empty and "Click Evaluate" in view.empty.text()
    assert view.evaluate_button.isEnabled()

    with qtbot.waitSignal(view.samples_ready, timeout=60_000):
        qtbot.mouseClick(view.evaluate_button, Qt.LeftButton)
    doc = RunStore(runs.url).get_document(runs.digits, "evaluation/test")
    assert doc is not None and doc["n"] == 359  # 20 % of 1,797 digits
    matrix = view.matrix
    assert (matrix.rowCount(), matrix.columnCount()) == (10, 10)
    assert [[int(matrix.item(r, c).text()) for c in range(10)] for r in range(10)] == doc["confusion_matrix"]
    assert "accuracy" in view.summary.text() and f"{doc['accuracy']:.4f}" in view.summary.text()
    assert view.per_class.rowCount() == 12  # ten classes, macro and weighted averages
    # Images: the misclassified samples show as a gallery, surest first.
    assert view.samples.stack.currentWidget() is view.samples.gallery
    assert view.samples.gallery.count() == min(len(doc["misclassified"]), 300)

    # A click on a cell lists exactly that cell's samples.
    cm = doc["confusion_matrix"]
    r, c = max(((r, c) for r in range(10) for c in range(10) if r != c), key=lambda rc: cm[rc[0]][rc[1]])
    if cm[r][c] == 0:
        r = c = 3  # a perfect model: the diagonal still lists samples
    rect = matrix.visualItemRect(matrix.item(r, c))
    qtbot.mouseClick(matrix.viewport(), Qt.LeftButton, pos=rect.center())
    assert view.samples.gallery.count() == doc["confusion_matrix"][r][c]
    assert f"true {r} → predicted {c}" in view.samples.title.text()
    first = view.samples.gallery.item(0).text()
    assert first.startswith(f"{r} → {c}")


def test_an_evaluated_table_run_lists_rows_with_features(qtbot, runs):
    view = view_for(qtbot, runs.url, runs.iris)
    assert view.body.currentWidget() is not view.empty
    assert view.evaluate_button.text() == "Evaluate again"
    qtbot.waitUntil(lambda: view.inputs is not None, timeout=20_000)
    rect = view.matrix.visualItemRect(view.matrix.item(0, 0))
    qtbot.mouseClick(view.matrix.viewport(), Qt.LeftButton, pos=rect.center())
    table = view.samples.table
    assert view.samples.stack.currentWidget() is table
    assert table.rowCount() == int(view.matrix.item(0, 0).text())
    headers = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
    assert headers[:4] == ["sample", "true", "predicted", "confidence"] and "sepal length (cm)" in headers
    assert table.item(0, 1).text() == "setosa" == table.item(0, 2).text()


def test_predict_dialog_shows_results_and_names_a_missing_column(qtbot, runs, tmp_path):
    from app.pages.runs.predict_dialog import PredictDialog

    names = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
    good = tmp_path / "flowers.csv"
    with open(good, "w", newline="") as fh:
        csv.writer(fh).writerows([names, [5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    dialog = PredictDialog(lambda: RunStore(runs.url), RunStore(runs.url).get_run(runs.iris))
    qtbot.addWidget(dialog)
    with qtbot.waitSignal(dialog.finished_predicting, timeout=30_000) as sig:
        dialog.predict(str(good))
    assert sig.args == [True]
    table = dialog.table
    assert table.rowCount() == 2
    headers = [table.horizontalHeaderItem(i).text() for i in range(table.columnCount())]
    assert headers == ["sample", "predicted", "confidence", "p(setosa)", "p(versicolor)", "p(virginica)"]
    assert table.item(0, 1).text() == "setosa"
    assert dialog.save_button.isEnabled()
    out = tmp_path / "out.csv"
    dialog.save(str(out))
    assert len(list(csv.reader(open(out)))) == 3

    bad = tmp_path / "short.csv"
    with open(bad, "w", newline="") as fh:
        csv.writer(fh).writerows([names[:3], [5.1, 3.5, 1.4]])
    with qtbot.waitSignal(dialog.finished_predicting, timeout=30_000) as sig:
        dialog.predict(str(bad))
    assert sig.args == [False]
    assert "missing column(s) 'petal width (cm)'" in dialog.message.text()
    assert table.rowCount() == 0 and not dialog.save_button.isEnabled()


def test_run_details_has_the_evaluation_tab(qtbot, runs):
    from app.pages.runs.details import RunDetails

    details = RunDetails()
    qtbot.addWidget(details)
    details.evaluation.set_store(lambda: RunStore(runs.url))
    tabs = [details.tabs.tabText(i) for i in range(details.tabs.count())]
    assert "Evaluation" in tabs
    with qtbot.waitSignal(details.evaluation.loaded, timeout=20_000):
        details.show_run(RunStore(runs.url).get_run(runs.iris))
    assert details.evaluation.matrix.rowCount() == 3


def test_compare_shows_per_class_f1_side_by_side(qtbot, runs):
    from PySide6.QtGui import QColor

    from app.pages.runs.class_f1_view import ClassF1View

    store = RunStore(runs.url)
    view = ClassF1View(lambda: RunStore(runs.url))
    qtbot.addWidget(view)
    chosen = [store.get_run(runs.iris), store.get_run(runs.digits)]
    with qtbot.waitSignal(view.loaded, timeout=20_000):
        view.set_runs(chosen, {r.id: QColor("#1f77b4") for r in chosen})
    table = view.table
    assert table.columnCount() == 2
    rows = [table.verticalHeaderItem(i).text() for i in range(table.rowCount())]
    iris_doc = store.get_document(runs.iris, "evaluation/test")
    assert rows[:3] == ["setosa", "versicolor", "virginica"] and rows[-1] == "macro F1"
    assert table.item(0, 0).text() == f"{iris_doc['per_class'][0]['f1']:.3f}"
    assert table.item(0, 1).text() == "–"  # digits has no class 'setosa'


def test_a_regression_run_shows_residuals_against_predictions(qtbot, runs):
    view = view_for(qtbot, runs.url, runs.diabetes)
    doc = RunStore(runs.url).get_document(runs.diabetes, "evaluation/val")
    assert view.body.currentWidget() is view._pages["regression"]
    assert "MAE" in view.summary.text() and "validation split" in view.summary.text()
    points = view.residuals.getPlotItem().listDataItems()[0].getData()
    assert len(points[0]) == doc["n"] == 88
    assert list(points[1][:3]) == pytest.approx([r[0] for r in doc["residuals"]["residual"][:3]])
    assert view.per_target.item(0, 0).text() == "target"
    assert view.per_target.item(0, 3).text() == f"{doc['r2']:.4f}"


def test_a_finished_run_without_a_checkpoint_says_so_and_offers_no_evaluate(qtbot, runs):
    store = RunStore(runs.url)
    run_id = store.create_run(mlp_spec({"name": "iris"}, 3, name="no-checkpoint"), status="completed")
    view = view_for(qtbot, runs.url, run_id)
    assert "no checkpoint to evaluate" in view.empty.text()
    assert not view.evaluate_button.isEnabled()


def test_open_in_window_shows_the_same_evaluation_with_room(qtbot, runs):
    from app.pages.runs.evaluation_view import NARROW

    view = view_for(qtbot, runs.url, runs.iris)
    view.resize(NARROW - 300, 600)  # beside the runs table: matrix and samples stack
    view.show()
    qtbot.waitUntil(lambda: view.classify.orientation() == Qt.Vertical, timeout=3000)
    assert view.window_button.isVisible()
    qtbot.mouseClick(view.window_button, Qt.LeftButton)
    window = view._windows[-1]
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.doc is not None, timeout=20_000)
    assert window.isWindow() and "iris-mlp" in window.windowTitle()
    assert window.classify.orientation() == Qt.Horizontal and not window.window_button.isVisible()
    assert window.matrix.item(1, 1).text() == view.matrix.item(1, 1).text()


def test_signals_and_sequences_show_as_line_plots_and_tables_as_rows(qtbot):
    import numpy as np

    from app.pages.runs.eval_samples import SampleList

    samples = SampleList()
    qtbot.addWidget(samples)
    wrong = [{"index": 1, "true": 0, "predicted": 1, "confidence": 0.8}]
    signals = np.sin(np.linspace(0, 6, 40))[None, None].repeat(3, axis=0)  # (N, channels, length)
    samples.show_samples("mistakes", wrong, ["a", "b"], signals, [], "signal")
    assert samples.stack.currentWidget() is samples.gallery and samples.count == 1
    icon = samples.gallery.item(0).icon().pixmap(72, 72).toImage()
    colours = {icon.pixelColor(x, y).name() for x in range(0, 72, 3) for y in range(0, 72, 3)}
    assert len(colours) > 2  # a drawn line, not a blank square
    assert samples.gallery.item(0).text() == "a → b\n80%"
    samples.show_samples("mistakes", wrong, ["a", "b"], np.ones((3, 5)), ["f1", "f2"], "tabular")
    assert samples.stack.currentWidget() is samples.table
    assert [samples.table.horizontalHeaderItem(i).text() for i in range(6)] == [
        "sample", "true", "predicted", "confidence", "f1", "f2"]


def test_the_tab_waits_for_a_running_run_and_shows_its_evaluation_once_it_ends(qtbot, runs):
    from app.pages.runs.details import RunDetails
    from engine.evaluation.run_eval import evaluate_run

    store = RunStore(runs.url)
    run_id = store.create_run(store.get_run(runs.iris).spec, "iris-live", status="running")
    for ck in store.checkpoints(runs.iris):  # the worker's rows of a run that is still training
        store.add_checkpoint(run_id, ck.kind, ck.path, ck.step, ck.epoch, ck.metric_value)
    details = RunDetails()
    qtbot.addWidget(details)
    view = details.evaluation
    view.set_store(lambda: RunStore(runs.url))
    with qtbot.waitSignal(view.loaded, timeout=20_000):
        details.show_run(store.get_run(run_id))
    assert view.body.currentWidget() is view.empty and "when the run finishes" in view.empty.text()
    assert not view.evaluate_button.isEnabled()

    evaluate_run(store, run_id)  # what the worker does as the run ends
    store.set_status(run_id, "completed")
    with qtbot.waitSignal(view.loaded, timeout=20_000):
        details.show_run(store.get_run(run_id))  # the page's reload: same run, now completed
    assert view.matrix.rowCount() == 3 and "accuracy" in view.summary.text()
