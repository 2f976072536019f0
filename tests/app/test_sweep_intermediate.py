"""The Sweep view's intermediate values (the metric per epoch of every trial)
against a real SQLite store holding a demo sweep: one line per trial with its
epochs, a pruned trial's line shorter and in the pruned colour, the best trial
drawn in its own colour, hovering naming a trial and clicking its line
selecting its run on the Runs page; the empty state says what will appear."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QToolTip

from app.pages.runs import RunsPage
from app.pages.runs.sweep_intermediate import IntermediatePlot
from app.pages.runs.sweep_plots import BEST
from app.pages.runs.table_model import STATUS_COLORS
from app.state import AppState
from engine.demo_sweep import create_demo_sweep
from engine.store import RunStore
from engine.sweep_report import build_report

TRIALS, EPOCHS = 12, 8


@pytest.fixture(scope="module")
def template_store(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sweep-intermediate")
    sweep_id = create_demo_sweep(f"sqlite:///{folder / 'runs.db'}", trials=TRIALS, epochs=EPOCHS, seed=2)
    return folder / "runs.db", sweep_id


@pytest.fixture
def sweep_id(db_url, template_store):
    source, sweep_id = template_store
    shutil.copyfile(source, db_url.removeprefix("sqlite:///"))
    return sweep_id


@pytest.fixture
def view(qtbot, db_url, sweep_id, monkeypatch):
    """The sweep's view opened from the Runs page's sweep tree, its epochs drawn."""
    from PySide6.QtWidgets import QApplication

    # Plain clicks: Qt's modifier state is global, and an earlier test's synthetic Ctrl+click can leave it set.
    monkeypatch.setattr(QApplication, "keyboardModifiers", staticmethod(lambda: Qt.KeyboardModifier.NoModifier))
    page = RunsPage(AppState(db_url))
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.waitUntil(lambda: page.sweeps.isVisible() and page.sweeps.item_of_sweep(sweep_id) is not None,
                    timeout=20_000)
    page.sweeps._on_clicked(page.sweeps.item_of_sweep(sweep_id))
    v = page.sweeps.views[sweep_id]
    v.resize(1400, 900)
    # The tree's report has no epochs: the view reads them itself.
    qtbot.waitUntil(lambda: v.intermediate.line_count() > 0, timeout=10_000)
    v.page = page
    yield v
    page.sweeps.close_views()
    page.worker.wait()


def stored_epochs(db_url: str, sweep_id: int) -> tuple[object, dict[int, tuple[list[int], list[float]]]]:
    """The report and each trial's val/accuracy per epoch, read through the store's curve reads."""
    with RunStore(db_url) as store:
        runs = store.list_runs(sweep_id=sweep_id)
        report = build_report(store.get_sweep(sweep_id), runs)
        curves = {c.run_id: (c.epochs.tolist(), c.values.tolist())
                  for c in store.get_curves([r.id for r in runs], ["val/accuracy"], buckets=None)}
    return report, curves


def test_each_trial_is_a_line_over_its_epochs_and_a_pruned_one_ends_early_in_the_pruned_colour(view, db_url, sweep_id):
    report, curves = stored_epochs(db_url, sweep_id)
    drawn = view.intermediate.drawn()
    assert set(drawn) == {t.run_id for t in report.trials} == set(curves)  # every trial, failed ones too
    for run_id, (epochs, values) in curves.items():
        xs, ys, _ = drawn[run_id]
        assert xs == [float(e) for e in epochs] and ys == pytest.approx(values)
    statuses = {t.run_id: t.status for t in report.trials}
    pruned = [r for r, s in statuses.items() if s == "pruned"]
    completed = [r for r, s in statuses.items() if s == "completed"]
    assert pruned and completed
    for run_id in pruned:
        xs, ys, colour = drawn[run_id]
        assert colour == STATUS_COLORS["pruned"]
        assert len(xs) < EPOCHS == len(drawn[completed[0]][0])  # stopped before the end...
        ends = [(float(p.pos().x()), float(p.pos().y())) for p in view.intermediate.pruned_ends.points()]
        assert (xs[-1], pytest.approx(ys[-1])) in ends  # ...with a cross where it stopped
    best = report.best.run_id
    assert drawn[best][2] == BEST
    assert all(drawn[r][2] not in (BEST, STATUS_COLORS["pruned"]) for r in completed if r != best)
    assert view.intermediate.plot.getPlotItem().getAxis("left").labelText == "val/accuracy (higher is better)"
    assert not view.intermediate.empty.isVisible()


def pixel_of(plot, x: float, y: float) -> QPoint:
    vb = plot.getPlotItem().getViewBox()
    return plot.mapFromScene(vb.mapViewToScene(QPointF(x, y)))


def loneliest_point(view) -> tuple[int, QPoint]:
    """A trial and the pixel of one of its points farthest from every other trial's line there."""
    drawn = view.intermediate.drawn()
    plot = view.intermediate.plot
    best: tuple[float, int, QPoint] = (-1.0, 0, QPoint())
    for run_id, (xs, ys, _) in drawn.items():
        for x, y in zip(xs, ys):
            here = pixel_of(plot, x, y)
            others = [pixel_of(plot, x, float(np.interp(x, oxs, oys)))
                      for other, (oxs, oys, _) in drawn.items() if other != run_id and oxs[0] <= x <= oxs[-1]]
            gap = min((abs(o.y() - here.y()) for o in others), default=1000)
            if gap > best[0]:
                best = (gap, run_id, here)
    assert best[0] > 12, "no point stands clear of the other lines"
    return best[1], best[2]


@pytest.mark.qt_log_ignore("does not support raise")  # the offscreen platform, showing the tooltip
def test_hovering_a_line_names_its_trial_and_clicking_it_selects_its_run(qtbot, view, db_url, sweep_id):
    report, _ = stored_epochs(db_url, sweep_id)
    view.tabs.setCurrentIndex(0)
    # Beside the page, not over it: the offscreen platform cannot raise a window, and the mouse
    # over two windows reaches the one below.
    view.move(view.page.frameGeometry().right() + 20, 0)
    qtbot.waitExposed(view)
    view.grab()  # laid out and painted: the plot's ranges are final
    plot = view.intermediate.plot
    run_id, pos = loneliest_point(view)
    trial = report.trial_of(run_id)

    QTest.mouseMove(plot.viewport(), pos)
    qtbot.waitUntil(lambda: view.intermediate.hovered == run_id, timeout=2_000)
    text = QToolTip.text()  # the tooltip shown
    assert text == view.intermediate.hover_text(run_id)
    assert text.startswith(f"trial {trial.number} · run #{run_id} ({trial.status}")
    epochs = view.intermediate.drawn()[run_id][0]
    assert f"at epoch {int(epochs[-1])}" in text
    assert list(view.intermediate.hover_line.getData()[0]) == view.intermediate.drawn()[run_id][0]

    QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
    assert view.page.selected_ids() == [run_id]

    # Far from every line (above the top of the plot's range) a click picks nothing.
    top = pixel_of(plot, 1.0, plot.getPlotItem().getViewBox().viewRange()[1][1])
    QTest.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(top.x() + 5, top.y() + 2))
    assert view.page.selected_ids() == [run_id]


def test_without_epochs_the_plot_says_what_will_appear(qtbot, db_url, sweep_id):
    with RunStore(db_url) as store:
        report = build_report(store.get_sweep(sweep_id), store.list_runs(sweep_id=sweep_id))  # no epochs read
    plot = IntermediatePlot()
    qtbot.addWidget(plot)
    plot.show()
    plot.set_report(report)
    assert plot.line_count() == 0 and plot.empty.isVisible()
    assert plot.empty.text().startswith("No epochs reported yet")


def test_a_trial_that_reports_another_epoch_grows_its_line_and_a_tree_refresh_keeps_the_lines(qtbot, view, db_url,
                                                                                            sweep_id):
    from engine.training.callbacks import MetricPoint

    report, curves = stored_epochs(db_url, sweep_id)
    pruned = next(t.run_id for t in report.trials if t.status == "pruned")
    epochs, _ = curves[pruned]
    # Re-read by the sweep tree (its reports carry no epochs): the lines stay.
    with qtbot.waitSignal(view.page.sweeps.loaded, timeout=10_000):
        view.page.sweeps.reload(force=True)
    assert view.intermediate.line_count() == TRIALS
    # As a running trial does: one more epoch in the store, then the view's next read.
    with RunStore(db_url) as store:
        store.add_metrics(pruned, [MetricPoint("val/accuracy", 10_000, epochs[-1] + 1, 0.5, 1.0)])
    view.reload()
    qtbot.waitUntil(lambda: len(view.intermediate.drawn()[pruned][0]) == len(epochs) + 1, timeout=10_000)
    assert view.intermediate.drawn()[pruned][1][-1] == pytest.approx(0.5)
