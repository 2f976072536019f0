"""The Runs page's sweeps against a real SQLite store: the sweep tree with its
trials, the Sweep view's plots showing every trial (points and lines
counted), clicking a trial selecting its run, brushing, top-k, importance
off the UI thread, and `pruned` shown as such (table, tree, view, compare)."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.pages.runs import RunsPage
from app.pages.runs.table_model import COLUMN_INDEX, STATUS_COLORS
from app.state import AppState
from engine.demo_sweep import create_demo_sweep
from engine.store import RunStore
from engine.sweep_report import build_report, top_trials

TRIALS = 14


@pytest.fixture(scope="module")
def template_store(tmp_path_factory):
    """One demo sweep written once for the module; each test gets its own copy of the file."""
    folder = tmp_path_factory.mktemp("sweep-template")
    sweep_id = create_demo_sweep(f"sqlite:///{folder / 'runs.db'}", trials=TRIALS, epochs=8, seed=1)
    return folder / "runs.db", sweep_id


@pytest.fixture
def sweep_id(db_url, template_store):
    source, sweep_id = template_store
    target = Path(db_url.removeprefix("sqlite:///"))
    for suffix in ("", "-wal", "-shm"):  # the store was closed: its WAL is folded in, but copy what is there
        if Path(f"{source}{suffix}").exists():
            shutil.copyfile(f"{source}{suffix}", f"{target}{suffix}")
    return sweep_id


@pytest.fixture
def page(qtbot, db_url, sweep_id):
    p = RunsPage(AppState(db_url))
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitUntil(lambda: p.model.rowCount() == TRIALS and p.sweeps.isVisible(), timeout=20_000)
    yield p
    p.sweeps.close_views()
    p.worker.wait()


def expected(db_url, sweep_id):
    store = RunStore(db_url)
    try:
        return build_report(store.get_sweep(sweep_id), store.list_runs(sweep_id=sweep_id))
    finally:
        store.close()


def test_the_tree_lists_the_sweep_as_the_parent_of_its_trials(qtbot, page, db_url, sweep_id):
    report = expected(db_url, sweep_id)
    item = page.sweeps.item_of_sweep(sweep_id)
    assert item.text(0) == "digits-mlp-tpe" and item.text(2) == f"{TRIALS}/{TRIALS}"
    assert item.childCount() == TRIALS
    statuses = [item.child(i).text(1) for i in range(TRIALS)]
    assert statuses == [t.status for t in report.trials]
    assert "pruned" in statuses and "failed" in statuses
    # Clicking a trial selects its run in the table: the details show it.
    third = item.child(2)
    page.sweeps.tree.setCurrentItem(third)
    page.sweeps._on_clicked(third)
    assert page.selected_ids() == [report.trials[2].run_id]
    assert page.details.run.id == report.trials[2].run_id


def test_pruned_is_shown_as_pruned_where_runs_are_listed(qtbot, page, db_url, sweep_id):
    pruned = [t for t in expected(db_url, sweep_id).trials if t.status == "pruned"]
    assert pruned
    row = page.model.row_of(pruned[0].run_id)
    index = page.model.index(row, COLUMN_INDEX["status"])
    assert index.data() == "pruned"
    assert index.data(Qt.DecorationRole) is not None and "pruned" in STATUS_COLORS
    assert page.filter_bar.status.findData("pruned") >= 0  # the status filter offers it
    # Compare says how a run that did not complete ended.
    done = next(t for t in expected(db_url, sweep_id).trials if t.status == "completed")
    page.select_runs([pruned[0].run_id, done.run_id])
    assert "(pruned)" in page.compare.legend.text()


def test_the_sweep_view_plots_every_trial_and_a_click_selects_its_run(qtbot, page, db_url, sweep_id, monkeypatch):
    from PySide6.QtWidgets import QApplication

    # Plain clicks: Qt's modifier state is global, and an earlier test's synthetic Ctrl+click can leave it set.
    monkeypatch.setattr(QApplication, "keyboardModifiers", staticmethod(lambda: Qt.KeyboardModifier.NoModifier))
    report = expected(db_url, sweep_id)
    valued = [t for t in report.trials if t.value is not None]
    page.sweeps._on_clicked(page.sweeps.item_of_sweep(sweep_id))
    view = page.sweeps.views[sweep_id]
    qtbot.waitUntil(lambda: view.report is not None, timeout=10_000)
    assert view.isVisible()
    # Progress: N of M, the best so far, done (no ETA for a finished sweep).
    assert view.progress.text() == f"{TRIALS} of {TRIALS} trials"
    assert f"trial {report.best.number} (run #{report.best.run_id})" in view.best.text()
    assert "sweep completed" in view.eta.text()
    # Every trial with a value is a point in the history, a line across the parallel
    # coordinates and a point in each parameter's slice; every trial is a table row.
    assert view.history.point_count() == len(valued)
    assert view.parallel.line_count() == len(valued)
    assert view.slices.point_counts() == {p.path: len(valued) for p in report.params}
    assert view.trials.rowCount() == TRIALS
    # The best-so-far line never gets worse.
    _, ys = view.history.best_line.getData()
    assert list(ys) == sorted(ys)
    # Log scaled parameters get log axes.
    assert [a.log for a in view.parallel.axes] == [p.log for p in report.params] + [False]

    # Clicking a trial (here: a point of the history) selects its run on the page.
    target = valued[3]
    view.history.trial_clicked.emit(target.run_id)
    assert page.selected_ids() == [target.run_id]
    # Clicking its parallel-coordinates line does the same.
    other = valued[5]
    view.parallel.lines[other.run_id].sigClicked.emit(view.parallel.lines[other.run_id], None)
    assert page.selected_ids() == [other.run_id]


def test_top_k_and_brushing_select_trials_for_compare(qtbot, page, db_url, sweep_id):
    report = expected(db_url, sweep_id)
    view = page.sweeps.open_view(sweep_id)
    qtbot.waitUntil(lambda: view.report is not None, timeout=10_000)
    view.parallel.top.setValue(25)
    best_quarter = top_trials(report, 25)
    assert view.parallel.line_count() == len(best_quarter)
    view.parallel.top.setValue(100)
    # Brushing the metric axis (the last) to its top half selects the trials up there, for compare.
    metric_axis = view.parallel.axes[-1]
    inside = sorted(t.run_id for t in report.valued() if metric_axis.position(t.value) >= 0.5)
    assert 2 <= len(inside) < len(report.valued())
    view.parallel.brush(len(view.parallel.axes) - 1, 0.5, 1.0)
    assert sorted(page.selected_ids()) == inside
    assert page.bottom.currentWidget() is page.compare
    view.parallel.clear_brushes()
    assert not view.parallel.is_brushed()


def test_importance_is_computed_off_the_ui_thread_and_shown_as_bars(qtbot, page, sweep_id):
    view = page.sweeps.open_view(sweep_id)
    qtbot.waitUntil(lambda: bool(view.importance.importances), timeout=30_000)
    imp = view.importance.importances
    assert set(imp) == {p.path for p in view.report.params}
    assert sum(imp.values()) == pytest.approx(1.0, abs=1e-6)
    assert view.importance.plot.isVisible()


def test_rerun_targets_the_failed_trial(qtbot, page, db_url, sweep_id):
    report = expected(db_url, sweep_id)
    view = page.sweeps.open_view(sweep_id)
    qtbot.waitUntil(lambda: view.report is not None, timeout=10_000)
    failed = [t for t in report.trials if t.status == "failed"]
    assert len(failed) == 1 and view.rerun_button.isEnabled()  # the only failed one
    asked = []
    view.rerun_requested.connect(asked.append)
    view.rerun_button.click()
    assert asked == [failed[0].run_id]
    # Selecting it in the table keeps it the target; a finished sweep cannot be paused or stopped.
    row = next(r for r in range(view.trials.rowCount())
               if view.trials.item(r, 0).data(Qt.UserRole) == failed[0].run_id)
    view.trials.selectRow(row)
    assert page.selected_ids() == [failed[0].run_id]  # the table selection selects the run too
    assert not view.pause_button.isEnabled() and not view.stop_button.isEnabled()


class StoreRunner:
    """Submits as the Runner does as far as the store sees (the row, linked to its sweep); no worker."""

    def __init__(self, store):
        self.store = store

    def submit(self, spec, *, name=None, parent_id=None, sweep_id=None, trial_number=None):
        return self.store.create_run(spec, name, parent_id=parent_id, sweep_id=sweep_id, trial_number=trial_number)


def test_rerun_trial_launches_the_next_trial_with_the_failed_ones_spec(db_url, sweep_id):
    import os
    import socket

    from app.pages.runs.sweep_commands import rerun_trial
    from engine.store.convert import utcnow

    store = RunStore(db_url)
    try:
        failed = next(r for r in store.list_runs(sweep_id=sweep_id) if r.status == "failed")
        new_id = rerun_trial(store, StoreRunner(store), failed.id)
        new = store.get_run(new_id)
        assert (new.sweep_id, new.trial_number, new.parent_id) == (sweep_id, TRIALS + 1, failed.id)
        assert {k: v for k, v in new.spec.items() if k != "name"} == \
            {k: v for k, v in failed.spec.items() if k != "name"}
        assert store.get_document(new_id, "sweep/params")["retry_of"] == failed.id
        # While a supervisor runs the sweep it numbers the trials: refused, with the way out.
        store.update_sweep(sweep_id, status="running", pid=os.getpid(), host=socket.gethostname(),
                           heartbeat_at=utcnow())
        with pytest.raises(ValueError, match="stop the sweep"):
            rerun_trial(store, StoreRunner(store), failed.id)
    finally:
        store.close()


def test_stop_from_the_view_goes_through_the_sweep_row(qtbot, page, db_url, sweep_id):
    store = RunStore(db_url)
    store.update_sweep(sweep_id, status="running")  # as a supervisor that died left it
    store.close()
    page.sweeps.reload(force=True)
    qtbot.waitUntil(lambda: page.sweeps.reports[0].status == "running", timeout=10_000)
    view = page.sweeps.open_view(sweep_id)
    assert view.report.status == "running"
    assert view.stop_button.isEnabled() and view.pause_button.isEnabled()
    view.pause_button.click()  # nobody runs it: pausing cannot be, and the view says how to go on
    qtbot.waitUntil(lambda: view.message.isVisible(), timeout=10_000)
    assert f"layerdeck sweep --resume {sweep_id}" in view.message.text()
    view.stop_button.click()
    qtbot.waitUntil(lambda: view.report.status == "stopped", timeout=10_000)
    assert "stopped" in view.message.text() and not view.stop_button.isEnabled()


def test_an_ended_sweeps_report_is_reused_until_its_row_changes(db_url, sweep_id):
    from app.pages.runs.sweep_tree import read_sweeps

    store = RunStore(db_url)
    try:
        first = read_sweeps(store)
        assert read_sweeps(store, {r.sweep_id: r for r in first})[0] is first[0]  # completed: kept
        store.update_sweep(sweep_id, status="running")
        again = read_sweeps(store, {r.sweep_id: r for r in first})[0]
        assert again is not first[0] and again.status == "running"
    finally:
        store.close()
