"""The Runs page against a real SQLite store: table, filters, compare, actions."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QMessageBox

from app.pages.runs import RunsPage
from app.pages.runs.table_model import COLUMN_INDEX
from app.state import AppState
from engine.compare import ema_smooth
from engine.spec import parse_spec
from engine.store import RunStore
from engine.training.callbacks import MetricPoint

# The offscreen platform says this whenever a top-level window is shown; it is not ours to fix.


def make_spec(name: str, lr: float, batch: int, channels: int) -> dict:
    return parse_spec({
        "name": name,
        "data": {"name": "digits"},
        "model": {"blocks": [{"type": "Conv2d", "out_channels": channels, "kernel_size": 3, "padding": 1},
                             {"type": "ReLU"}, {"type": "Flatten"}, {"type": "Linear", "out_features": 10}]},
        "optimizer": {"type": "AdamW", "lr": lr},
        "training": {"epochs": 5, "batch_size": batch},
    }).to_dict()


# (name, lr, batch, channels, final val accuracy)
RUNS = [("alpha", 0.001, 64, 16, 0.95), ("beta", 0.01, 8, 16, 0.97), ("gamma", 0.001, 128, 32, 0.90)]


@pytest.fixture
def store(db_url, tmp_path):
    s = RunStore(db_url)
    for name, lr, batch, ch, acc in RUNS:
        rid = s.create_run(make_spec(name, lr, batch, ch), tags=["test"])
        s.set_status(rid, "running")
        pts = []
        for e in range(1, 6):
            pts.append(MetricPoint("val/accuracy", e * 10, e, acc - 0.5 / e ** 2, 1000.0 + e))
            pts.append(MetricPoint("val/loss", e * 10, e, (1 - acc) + 1.0 / e, 1000.0 + e))
        pts += [MetricPoint("train/loss_step", st, st // 10 + 1, 2.0 / (1 + st / 10), 1000.0 + st / 10)
                for st in range(1, 51)]
        s.add_metrics(rid, pts)
        s.add_system_metrics(rid, [(k, 1000.0 + t, 100.0 * ch + t) for t in range(5)
                                   for k in ("gpu0/mem_used_mb", "cpu/percent", "gpu0/mem_total_mb")])
        s.update_summary(rid, {"params": 1000 * ch})
        ck = tmp_path / f"ck-{rid}" / "last.pt"
        ck.parent.mkdir()
        ck.write_bytes(b"weights")
        s.add_checkpoint(rid, "last", str(ck), 50, 5, 0.1)
        s.set_status(rid, "completed")
    yield s
    s.close()


@pytest.fixture
def page(qtbot, store, db_url):
    state = AppState(db_url)
    p = RunsPage(state)
    qtbot.addWidget(p)
    p.resize(1400, 900)
    p.show()
    qtbot.waitUntil(lambda: p.model.rowCount() == len(RUNS), timeout=10_000)
    yield p
    p.worker.wait()


def names_in_view(page) -> list[str]:
    """The runs' names as the table lists them, without the ` #id` every label ends with."""
    return [page.proxy.index(r, COLUMN_INDEX["name"]).data().rsplit(" #", 1)[0]
            for r in range(page.proxy.rowCount())]


def click_row(qtbot, page, name: str, modifier=Qt.NoModifier) -> None:
    row = names_in_view(page).index(name)
    rect = page.table.visualRect(page.proxy.index(row, COLUMN_INDEX["name"]))
    qtbot.mouseClick(page.table.viewport(), Qt.LeftButton, modifier, rect.center())


def test_an_empty_store_says_what_to_do(qtbot, db_url):
    p = RunsPage(AppState(db_url))
    qtbot.addWidget(p)
    p.show()
    with qtbot.waitSignal(p.loaded, timeout=10_000):
        pass
    assert p.stack.currentWidget() is p.empty
    assert "No runs yet" in p.empty.text() and "layerdeck train SPEC.json" in p.empty.text()
    p.worker.wait()


def test_table_shows_each_run_and_sorts_numbers_by_value(qtbot, page):
    assert sorted(names_in_view(page)) == ["alpha", "beta", "gamma"]
    row = names_in_view(page).index("beta")
    cell = lambda key: page.proxy.index(row, COLUMN_INDEX[key]).data()  # noqa: E731
    assert (cell("status"), cell("dataset"), cell("lr"), cell("batch"), cell("best_val")) == \
        ("completed", "digits", "0.01", "8", "0.95")  # 0.97 - 0.5 / 5²
    header = page.table.horizontalHeader()
    x = header.sectionViewportPosition(COLUMN_INDEX["batch"]) + 10
    qtbot.mouseClick(header.viewport(), Qt.LeftButton, pos=QPoint(x, header.height() // 2))
    batches = [page.proxy.index(r, COLUMN_INDEX["batch"]).data() for r in range(3)]
    order = header.sortIndicatorOrder()
    expected = ["8", "64", "128"] if order == Qt.AscendingOrder else ["128", "64", "8"]
    assert batches == expected  # as numbers: text order would put "128" before "64" before "8"


def test_the_selection_and_details_follow_their_runs_through_a_sort(qtbot, page):
    click_row(qtbot, page, "gamma")
    qtbot.waitUntil(lambda: page.details.run is not None and page.details.run.name == "gamma", timeout=3000)
    for order in (Qt.AscendingOrder, Qt.DescendingOrder, Qt.DescendingOrder):  # the same order twice
        page.table.sortByColumn(COLUMN_INDEX["batch"], order)
        assert [r.name for r in page.selected_runs()] == ["gamma"]
        assert names_in_view(page)[page.table.currentIndex().row()] == "gamma"
    assert [page.proxy.index(r, COLUMN_INDEX["batch"]).data() for r in range(3)] == ["128", "64", "8"]
    assert page.details.run.name == "gamma" and "1 selected" in page.count.text()


def test_a_filter_expression_narrows_the_table(qtbot, page):
    box = page.filter_bar.text
    qtbot.keyClicks(box, 'val/accuracy > 0.92 and training.batch_size < 100')
    qtbot.waitUntil(lambda: page.proxy.rowCount() == 2, timeout=3000)
    assert sorted(names_in_view(page)) == ["alpha", "beta"]
    assert not page.filter_bar.error.isVisible()
    box.clear()
    qtbot.keyClicks(box, "gamma")  # free text
    qtbot.waitUntil(lambda: names_in_view(page) == ["gamma"], timeout=3000)
    assert page.count.text().startswith("1 of 3 runs")


def test_a_bad_expression_shows_its_message_and_keeps_the_last_filter(qtbot, page):
    qtbot.keyClicks(page.filter_bar.text, "val/accuracy > ")
    qtbot.waitUntil(page.filter_bar.error.isVisible, timeout=3000)
    assert "expected a value after '>' at column 16" in page.filter_bar.error.text()
    assert page.proxy.rowCount() == 3


def test_status_filter_and_saved_filters(qtbot, page):
    page.filter_bar.status.setCurrentIndex(page.filter_bar.status.findData("failed"))
    assert page.proxy.rowCount() == 0
    page.filter_bar.status.setCurrentIndex(0)
    page.filter_bar.save_filter("fast", "optimizer.lr >= 0.01")
    page.filter_bar.use_filter(page.filter_bar.saved_filters()["fast"])
    assert names_in_view(page) == ["beta"]


def test_compare_overlays_one_curve_per_run_with_smoothing_and_diffs(qtbot, page, store):
    ids = {r.name: r.id for r in store.list_runs()}
    with qtbot.waitSignal(page.compare.charts_ready, timeout=10_000):
        click_row(qtbot, page, "alpha")
        click_row(qtbot, page, "beta", Qt.ControlModifier)
        click_row(qtbot, page, "gamma", Qt.ControlModifier)
    assert page.bottom.currentWidget() is page.compare
    assert sorted(page.state.selected_runs) == sorted(ids.values())
    charts = page.compare.charts
    assert list(charts) == ["val/accuracy", "val/loss", "train/loss_step"]
    assert all(len(c.items) == 3 for c in charts.values())

    # Smoothing 0: the drawn curve is the stored data.
    page.compare.smoothing.setValue(0)
    x, y = charts["val/accuracy"].curve_data(ids["beta"])
    np.testing.assert_allclose(x, [10, 20, 30, 40, 50])
    np.testing.assert_allclose(y, [0.97 - 0.5 / e ** 2 for e in range(1, 6)])
    # Default-like smoothing: TensorBoard's debiased EMA over the same data, raw curve kept.
    page.compare.smoothing.setValue(60)
    _, ys = charts["val/accuracy"].curve_data(ids["beta"])
    np.testing.assert_allclose(ys, ema_smooth(y, 0.6))
    assert charts["val/accuracy"].items[ids["beta"]][0].isVisible()
    # One colour per run in every chart.
    pens = {key: c.items[ids["gamma"]][1].opts["pen"].color().name() for key, c in charts.items()}
    assert len(set(pens.values())) == 1

    # System samples overlay the same way; the constant memory total gets no chart.
    assert sorted(page.compare.system_charts) == ["cpu/percent", "gpu0/mem_used_mb"]
    assert len(page.compare.system_charts["gpu0/mem_used_mb"].items) == 3

    # Only the differing fields, each run's value in its column.
    order = [ids["alpha"], ids["beta"], ids["gamma"]]
    shown = [page.compare.diff.config_table.horizontalHeaderItem(c).text() for c in range(3)]
    col = {int(t.rsplit("#", 1)[1]): i for i, t in enumerate(shown)}
    rows = dict(page.compare.diff.rows())
    assert set(rows) == {"model.blocks[0].out_channels", "optimizer.lr", "training.batch_size"}
    assert [rows["training.batch_size"][col[i]] for i in order] == ["64", "8", "128"]
    # The best per summary row is highlighted: beta has the best val accuracy, gamma the worst.
    best = page.compare.summary.highlighted()
    assert best["val/accuracy · best"] == col[ids["beta"]]
    assert best["val/loss · final"] == col[ids["beta"]]


def test_a_flat_curve_is_not_zoomed_to_its_rounding_noise(qtbot, page, store):
    """A constant learning rate: its chart's y axis spans at least 1/1,000 of
    the value, not the float noise (it was labelled 0.00100000000000000003)."""
    ids = [r.id for r in store.list_runs()]
    for rid in ids[:2]:
        store.add_metrics(rid, [MetricPoint("lr", e * 10, e, 0.001 + (1e-19 if e % 2 else 0.0), 1000.0 + e)
                                for e in range(1, 6)])
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        page.reload()
    with qtbot.waitSignal(page.compare.charts_ready, timeout=10_000):
        page.select_runs(ids[:2])
    low, high = page.compare.charts["lr"].getPlotItem().getViewBox().viewRange()[1]
    assert high - low >= 0.001 * 1e-3 * 0.999 and low < 0.001 < high
    # A curve that does move keeps its own range.
    low, high = page.compare.charts["val/accuracy"].getPlotItem().getViewBox().viewRange()[1]
    assert high - low < 1.0


def test_x_axis_by_epoch_and_log_y(qtbot, page, store):
    ids = [r.id for r in store.list_runs()]
    with qtbot.waitSignal(page.compare.charts_ready, timeout=10_000):
        page.select_runs(ids[:2])
    page.compare.smoothing.setValue(0)
    page.compare.x_axis.setCurrentText("epoch")
    x, _ = page.compare.charts["train/loss_step"].curve_data(ids[0])
    assert x[0] == pytest.approx(0.1) and x[-1] == pytest.approx(5.0)  # fractional epochs from the steps
    page.compare.log_y.setChecked(True)
    chart = page.compare.charts["val/loss"]
    assert chart.getPlotItem().getAxis("left").logMode
    _, y = chart.curve_data(ids[0])
    raw = [c for c in store.get_curves([ids[0]], ["val/loss"])][0].values
    np.testing.assert_allclose(y, raw)  # drawn on a log axis, same values


def test_zoom_rereads_the_visible_range_at_full_resolution(qtbot, db_url):
    s = RunStore(db_url)
    ids = []
    for name in ("long-a", "long-b"):
        rid = s.create_run(make_spec(name, 0.001, 64, 8))
        s.add_metrics(rid, [MetricPoint("train/loss_step", st, 1, 1.0 / st, float(st)) for st in range(1, 10_001)])
        ids.append(rid)
    s.close()
    p = RunsPage(AppState(db_url))
    qtbot.addWidget(p)
    p.show()
    qtbot.waitUntil(lambda: p.model.rowCount() == 2, timeout=10_000)
    with qtbot.waitSignal(p.compare.charts_ready, timeout=10_000):
        p.select_runs(ids)
    chart = p.compare.charts["train/loss_step"]
    full = chart.shown[ids[0]]
    assert full.reduced and len(full) <= 800
    # The faint line of a reduced curve strokes each bucket from its min to its max.
    _, raw_y = chart.items[ids[0]][0].getData()
    np.testing.assert_allclose(raw_y[:4], [full.mins[0], full.maxs[0], full.mins[1], full.maxs[1]])
    chart.getPlotItem().setXRange(1000, 1500, padding=0)  # 501 steps: full resolution
    qtbot.waitUntil(lambda: not chart.shown[ids[0]].reduced, timeout=10_000)
    steps = chart.shown[ids[0]].steps
    assert steps[0] <= 1000 and steps[-1] >= 1500 and np.all(np.diff(steps) == 1)
    p.worker.wait()


def test_clone_into_the_builder_restores_the_spec_exactly(qtbot, page, store):
    stored = next(r for r in store.list_runs() if r.name == "gamma").spec
    click_row(qtbot, page, "gamma")
    qtbot.waitUntil(lambda: page.actions.clone_action.isEnabled(), timeout=3000)
    with qtbot.waitSignal(page.state.page_requested, timeout=3000) as sig:
        page.actions.clone_action.trigger()
    assert sig.args == ["build"]
    assert page.state.spec.to_dict() == stored


def test_delete_removes_the_rows_and_the_checkpoint_files(qtbot, page, store, monkeypatch):
    from pathlib import Path
    doomed = [r for r in store.list_runs() if r.name in ("alpha", "beta")]
    files = [Path(c.path) for r in doomed for c in store.checkpoints(r.id)]
    assert all(f.exists() for f in files)
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.Yes)
    click_row(qtbot, page, "alpha")
    click_row(qtbot, page, "beta", Qt.ControlModifier)
    qtbot.waitUntil(lambda: page.actions.delete_action.isEnabled() and len(page.selected_ids()) == 2, timeout=3000)
    page.actions.delete_action.trigger()
    qtbot.waitUntil(lambda: page.model.rowCount() == 1, timeout=10_000)
    assert "2 runs" in asked[0] and "checkpoint files" in asked[0]
    assert names_in_view(page) == ["gamma"]
    assert not any(f.exists() for f in files)
    assert [r.name for r in store.list_runs()] == ["gamma"]


def test_notes_are_saved_as_you_type_and_star_toggles(qtbot, page, store):
    click_row(qtbot, page, "alpha")
    qtbot.waitUntil(lambda: page.details.run is not None and page.details.run.name == "alpha", timeout=3000)
    rid = page.details.run.id
    page.details.tabs.setCurrentWidget(page.details.notes)
    qtbot.keyClicks(page.details.notes, "lr too low?")
    qtbot.waitUntil(lambda: store.get_run(rid).notes == "lr too low?", timeout=3000)
    star = page.proxy.index(names_in_view(page).index("alpha"), COLUMN_INDEX["star"])
    qtbot.mouseClick(page.table.viewport(), Qt.LeftButton, pos=page.table.visualRect(star).center())
    qtbot.waitUntil(lambda: store.get_run(rid).starred, timeout=3000)
    qtbot.waitUntil(lambda: page.proxy.index(names_in_view(page).index("alpha"),
                                             COLUMN_INDEX["star"]).data() == "★", timeout=5000)


def test_hidden_columns_are_remembered(qtbot, page, db_url):
    page.set_column_visible(COLUMN_INDEX["tags"], False)
    again = RunsPage(AppState(db_url))
    qtbot.addWidget(again)
    assert again.table.horizontalHeader().isSectionHidden(COLUMN_INDEX["tags"])
    assert not again.table.horizontalHeader().isSectionHidden(COLUMN_INDEX["name"])
    again.worker.wait()


class FakeRunner:
    """Stands in for engine.runner.Runner: records what the page asked for."""

    def __init__(self, store: RunStore):
        self.store = store
        self.calls: list[dict] = []

    def subscribe(self, callback):
        return lambda: None

    def submit(self, spec, *, name=None, parent_id=None, resume_from=None, device=None):
        self.calls.append({"spec": spec, "name": name, "parent_id": parent_id, "resume_from": resume_from})
        return self.store.create_run(spec, name=name, parent_id=parent_id)


def test_resume_continues_from_the_last_checkpoint_as_a_linked_run(qtbot, page, store):
    from app.bridge import RunBridge, set_bridge
    runner = FakeRunner(store)
    set_bridge(page.state, RunBridge(page.state.store_url, runner=runner, parent=page.state))
    old = next(r for r in store.list_runs() if r.name == "beta")
    store.set_status(old.id, "stopped")
    page.reload()
    qtbot.waitUntil(lambda: any(r.run.status == "stopped" for r in page.model.rows), timeout=5000)
    click_row(qtbot, page, "beta")
    qtbot.waitUntil(page.actions.resume_action.isEnabled, timeout=3000)
    page.actions.resume_action.trigger()
    assert runner.calls == [{"spec": old.spec, "name": "beta (resumed)", "parent_id": old.id,
                             "resume_from": store.checkpoints(old.id)[0].path}]
    qtbot.waitUntil(lambda: page.model.rowCount() == 4, timeout=5000)
    assert "Resuming run" in page.message.text()


def test_resume_without_a_checkpoint_file_says_so(qtbot, page, store):
    from pathlib import Path
    run = next(r for r in store.list_runs() if r.name == "alpha")
    store.set_status(run.id, "crashed", error="the worker process (pid 1234) is gone")
    Path(store.checkpoints(run.id)[0].path).unlink()
    page.reload()
    qtbot.waitUntil(lambda: any(r.run.status == "crashed" for r in page.model.rows), timeout=5000)
    click_row(qtbot, page, "alpha")
    qtbot.waitUntil(page.actions.resume_action.isEnabled, timeout=3000)
    page.actions.resume_action.trigger()
    assert page.message.isVisible() and "checkpoint of run" in page.message.text() and "missing" in page.message.text()
    assert page.details.error.text() == "the worker process (pid 1234) is gone"


def test_export_metrics_csv_and_model_python(qtbot, page, store, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog
    target = {"path": str(tmp_path / "out.csv")}
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (target["path"], ""))
    click_row(qtbot, page, "alpha")
    qtbot.waitUntil(page.actions.csv_action.isEnabled, timeout=3000)
    page.actions.csv_action.trigger()
    qtbot.waitUntil(lambda: "metric rows" in page.message.text(), timeout=10_000)
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0] == "key,step,epoch,value,wall_time" and len(lines) == 1 + 10 + 50
    assert "Wrote 60 metric rows" in page.message.text()

    target["path"] = str(tmp_path / "alpha.py")
    page.actions.python_action.trigger()
    qtbot.waitUntil(lambda: (tmp_path / "alpha.py").exists(), timeout=60_000)
    source = (tmp_path / "alpha.py").read_text()
    assert "import torch" in source and "Conv2d" in source
    compile(source, "alpha.py", "exec")  # valid Python (never executed here)


def test_five_runs_get_a_hyperparameter_scatter(qtbot, db_url):
    s = RunStore(db_url)
    ids = []
    for i, lr in enumerate([0.0001, 0.0003, 0.001, 0.003, 0.01]):
        rid = s.create_run(make_spec(f"lr-{i}", lr, 64, 16))
        s.add_metrics(rid, [MetricPoint("val/accuracy", 10, 1, 0.8 + i / 100, 1.0)])
        ids.append(rid)
    s.close()
    p = RunsPage(AppState(db_url))
    qtbot.addWidget(p)
    p.show()
    qtbot.waitUntil(lambda: p.model.rowCount() == 5, timeout=10_000)
    with qtbot.waitSignal(p.compare.charts_ready, timeout=10_000):
        p.select_runs(ids[:4])
    view = p.compare.parallel
    assert view.note.isVisibleTo(view) and "5 or more" in view.note.text()  # (its tab is not shown)
    with qtbot.waitSignal(p.compare.charts_ready, timeout=10_000):
        p.select_runs(ids)
    assert not view.note.isVisibleTo(view) and view.plot.isVisibleTo(view)
    assert view.param.currentText() == "optimizer.lr" and view.log_x.isChecked()  # spans two decades
    assert view.metric.currentText() == "val/accuracy · best"
    assert sorted((lr, round(m, 3)) for _, lr, m in view.points()) == \
        [(0.0001, 0.8), (0.0003, 0.81), (0.001, 0.82), (0.003, 0.83), (0.01, 0.84)]
    assert len(view.scatter.points()) == 5
    p.worker.wait()


def test_runs_changed_elsewhere_reloads_and_own_edits_are_announced(qtbot, page, store, monkeypatch):
    rid = store.create_run(make_spec("delta", 0.002, 32, 8))  # e.g. launched from the Train page
    page.state.runs_changed.emit()
    qtbot.waitUntil(lambda: "delta" in names_in_view(page), timeout=5000)
    click_row(qtbot, page, "delta")
    qtbot.waitUntil(page.actions.rename_action.isEnabled, timeout=3000)
    from PySide6.QtWidgets import QInputDialog
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("delta-2", True))
    with qtbot.waitSignal(page.state.runs_changed, timeout=3000):
        page.actions.rename_action.trigger()
    qtbot.waitUntil(lambda: "delta-2" in names_in_view(page), timeout=5000)
    assert store.get_run(rid).name == "delta-2"


def test_the_chosen_sort_is_remembered(qtbot, page, db_url):
    page.table.sortByColumn(COLUMN_INDEX["best_val"], Qt.AscendingOrder)
    assert names_in_view(page) == ["gamma", "alpha", "beta"]  # best val 0.88, 0.93, 0.95
    again = RunsPage(AppState(db_url))
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.model.rowCount() == 3, timeout=10_000)
    header = again.table.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (COLUMN_INDEX["best_val"], Qt.AscendingOrder)
    assert names_in_view(again) == ["gamma", "alpha", "beta"]
    again.worker.wait()


def test_runs_with_the_same_name_are_told_apart_in_every_list(qtbot, db_url):
    """A spec launched twice keeps its name: the table, the compare legend, the config
    and summary headers, the architecture diff and the scatter say `name #id`."""
    s = RunStore(db_url)
    ids = []
    for channels in (16, 32):
        rid = s.create_run(make_spec("twin", 0.001, 64, channels))
        s.add_metrics(rid, [MetricPoint("val/accuracy", 10, 1, 0.5, 1000.0)])
        s.set_status(rid, "completed")
        ids.append(rid)
    s.close()
    page = RunsPage(AppState(db_url))
    qtbot.addWidget(page)
    page.resize(1400, 900)
    page.show()
    qtbot.waitUntil(lambda: page.model.rowCount() == 2, timeout=10_000)
    labels = [f"twin #{i}" for i in ids]
    shown = [page.proxy.index(r, COLUMN_INDEX["name"]).data() for r in range(2)]
    assert sorted(shown) == labels

    with qtbot.waitSignal(page.compare.charts_ready, timeout=10_000):
        page.table.selectAll()
    compare = page.compare
    assert all(label in compare.legend.text() for label in labels)
    for table in (compare.diff.config_table, compare.summary.table):
        assert sorted(table.horizontalHeaderItem(c).text() for c in range(2)) == labels
    tree = compare.diff.arch_tree
    assert tree.topLevelItemCount() == 1 and tree.topLevelItem(0).text(0) in (
        f"{labels[0]} vs {labels[1]}", f"{labels[1]} vs {labels[0]}")
    assert compare.parallel._tip(0, 0.5, ids[0]).splitlines()[0] == labels[0]
    page.worker.wait()
