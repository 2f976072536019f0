"""The Runs page on a big history: the first screen, sorted by the database,
comes before the rest (BIG_HISTORY and FIRST_SCREEN made small here: the
same code paths as 100,000 runs, with 40)."""
from __future__ import annotations

import json
import random
import threading

import pytest
from PySide6.QtCore import QSettings, Qt

import app.pages.runs.page as page_module
from app.pages.runs import RunsPage
from app.pages.runs.table_model import COLUMN_INDEX, COLUMN_SORT_KEYS, COLUMNS, RunsTableModel, build_rows
from app.state import AppState
from engine.store import RunStore

N_RUNS, SCREEN = 40, 6


def _spec(i: int, rnd: random.Random) -> dict:
    return {"name": f"run {i}", "data": {"name": rnd.choice(["digits", "Iris", "wine"])},
            "model": {"blocks": [{"type": "Linear", "out_features": 10}] * rnd.randint(1, 4)},
            "optimizer": {"type": rnd.choice(["AdamW", "sgd", "Adam"]), "lr": rnd.choice([1e-3, 3e-3, 1e-2])},
            "training": {"epochs": rnd.randint(1, 30), "batch_size": rnd.choice([16, 32, 64])}}


@pytest.fixture
def store(db_url):
    """40 runs: accuracies (some missing, one a string), params, tags, stars, statuses."""
    rnd = random.Random(7)
    s = RunStore(db_url)
    for i in range(N_RUNS):
        rid = s.create_run(_spec(i, rnd), name=rnd.choice(["Alpha", "beta", "Gamma", "delta"]) + f"-{i}",
                           tags=rnd.choice([[], ["a"], ["b", "c"]]))
        if i % 7:
            best = "n/a" if i == 13 else round(rnd.uniform(0.5, 0.99), 2)
            s.update_summary(rid, {"params": rnd.randint(100, 9000),
                                   "metrics": {"val/accuracy": {"best": best},
                                               "test/accuracy": {"last": round(rnd.uniform(0.4, 0.9), 2)}}})
        if i % 3 == 0:
            s.set_status(rid, "running")
            if i % 2:
                s.set_status(rid, rnd.choice(["completed", "failed"]))
        s.set_starred(rid, i % 5 == 0)
    yield s
    s.close()


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(page_module, "BIG_HISTORY", 10)
    monkeypatch.setattr(page_module, "FIRST_SCREEN", SCREEN)
    monkeypatch.setattr(page_module, "SLICE", 7)  # the rest in 6 slices


def _ids_in_view(page) -> list[int]:
    return [page.proxy.run_id(r) for r in range(page.proxy.rowCount())]


def _table_order(store, column: int, order) -> list[int]:
    """Every run in the order the table sorts them in Python."""
    from app.pages.runs.table_model import TABLE_METRICS
    rows = build_rows(store.list_run_rows(metrics=TABLE_METRICS))
    return [r.run_id for r in RunsTableModel._sorted(rows, column, order)]


def test_every_columns_database_order_is_the_tables_own(store):
    """The first screen of a big history comes sorted from the database: for
    every column and direction it must be the table's own top rows."""
    for i, col in enumerate(COLUMNS):
        for order in (Qt.AscendingOrder, Qt.DescendingOrder):
            top = store.list_run_rows(order_by=COLUMN_SORT_KEYS[col.key], descending=order == Qt.DescendingOrder,
                                      limit=SCREEN)
            assert [r.id for r in top] == _table_order(store, i, order)[:SCREEN], (col.key, order)


def test_a_big_history_shows_its_top_rows_first_then_every_run(qtbot, store, db_url, small_pages):
    QSettings().setValue("runs/sort", json.dumps({"column": "best_val", "descending": True}))
    release = threading.Event()
    page = RunsPage(AppState(db_url))
    qtbot.addWidget(page)
    read_rest = page._read_rows
    page._read_rows = lambda: (release.wait(20), read_rest())[1]  # the rest of the history waits
    page.show()
    with qtbot.waitSignal(page.first_screen, timeout=10_000):
        pass
    best_first = _table_order(store, COLUMN_INDEX["best_val"], Qt.DescendingOrder)
    assert _ids_in_view(page) == best_first[:SCREEN]  # the true best runs of all 40, not of the newest 6
    assert page.count.text() == f"The first {SCREEN} of {N_RUNS} runs · reading the rest…"

    # Sorted again before the rest arrives: the database gives the new top rows.
    with qtbot.waitSignal(page.first_screen, timeout=10_000):
        page.table.sortByColumn(COLUMN_INDEX["name"], Qt.AscendingOrder)
    by_name = _table_order(store, COLUMN_INDEX["name"], Qt.AscendingOrder)
    assert _ids_in_view(page) == by_name[:SCREEN]

    # A run beyond the first screen, asked for now (a sweep's trial picked), is selected once it arrives.
    wanted = by_name[-1]
    page.select_runs([wanted])
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        release.set()
    assert _ids_in_view(page) == by_name
    assert page.count.text().startswith(f"{N_RUNS} runs")
    assert page.selected_ids() == [wanted]

    # Re-read after a change (a run started or finished): the whole table stays until the new read is in.
    sizes, screens = [], []
    page.model.modelReset.connect(lambda: sizes.append(page.model.rowCount()))
    page.first_screen.connect(lambda: screens.append(1))
    with qtbot.waitSignal(page.loaded, timeout=20_000):
        page.reload()
    assert screens == [] and sizes == [N_RUNS] and page.selected_ids() == [wanted]


def test_a_small_history_comes_in_one_read(qtbot, store, db_url, monkeypatch):
    monkeypatch.setattr(page_module, "BIG_HISTORY", N_RUNS)
    page = RunsPage(AppState(db_url))
    qtbot.addWidget(page)
    screens = []
    page.first_screen.connect(lambda: screens.append(page.model.rowCount()))
    page.show()
    with qtbot.waitSignal(page.loaded, timeout=10_000):
        pass
    assert screens == [] and page.model.rowCount() == N_RUNS
    assert page.count.text() == f"{N_RUNS} runs"
