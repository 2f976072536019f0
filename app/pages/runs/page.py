"""The Runs page: every run in a sortable, filterable table, the selected
run's details beside it, and the Compare view below once 2+ runs are
selected.

The page reads the store off the UI thread (tasks.Worker) and shows what
comes back; it shares the selection through AppState.selected_runs and
re-reads the store on AppState.runs_changed.
"""
from __future__ import annotations

import gc
import json
import threading
import time
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSplitter,
    QStackedWidget,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.pages.runs.actions import RunActions
from app.pages.runs.compare import CompareView
from app.pages.runs.details import RunDetails
from app.pages.runs.filter_bar import FilterBar
from app.pages.runs.sweep_commands import connect_view
from app.pages.runs.sweep_tree import SweepTree
from app.pages.runs.table_model import (
    COLUMN_INDEX,
    COLUMN_SORT_KEYS,
    COLUMNS,
    TABLE_METRICS,
    RunsFilterProxy,
    RunsTableModel,
    build_rows,
)
from app.pages.runs.tasks import Worker
from engine.runner.paths import log_path
from engine.status import ACTIVE, ordered
from engine.store.listing import paused_gc
from engine.store.listing_order import SortKey

EMPTY_TEXT = ("No runs yet — launch one from the Train page or run `layerdeck train SPEC.json`.\n"
              "Runs appear here as they start; select two or more to compare them.")
HIDDEN_COLUMNS_KEY = "runs/hidden_columns"
SORT_KEY = "runs/sort"
REFRESH_MS = 3000  # re-read the active runs while some run is queued or running
BIG_HISTORY = 20_000  # more runs than this: the first screen is read first, the rest after it
FIRST_SCREEN = 300  # rows in that first read
SLICE = 10_000  # the rest of a big history is read in slices of this many runs, newest first
WARM_SLICE_S = 0.004  # UI-thread time per idle slice spent decoding listed runs' JSON


class RunsPage(QWidget):
    """objectName page_runs."""

    loaded = Signal()
    """The table shows a fresh read of the store."""
    first_screen = Signal()
    """A big history's first rows are shown (in the table's sort); the rest is being read."""

    def __init__(self, state: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("page_runs")
        self.state = state
        self.worker = Worker(self)
        self._store_obj: Any = None
        self._store_lock = threading.Lock()
        self._load_gen = 0
        self._partial_total = 0  # while only a big history's first screen is shown: how many runs in all
        self._pending_select: list[int] = []  # runs asked for before the rest of the history arrived
        self._screen_read_done = threading.Event()  # cleared while a sorted first screen is read
        self._screen_read_done.set()
        self._warm_rows: list = []
        self._warm_pos = 0
        self._compared: list[tuple[int, str]] = []  # (id, status) of the runs in the compare view
        self._announcing = False  # our own runs_changed: already handled run by run
        # Read the store now, not once the widgets exist: building them (the
        # compare charts most) takes ~50 ms that the read can use.
        self._read_store()

        self.filter_bar = FilterBar()
        self.model = RunsTableModel(self)
        self.proxy = RunsFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView(objectName="runs_table")
        self.table.setModel(self.proxy)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.table.setSortingEnabled(True)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setShowGrid(False)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setContextMenuPolicy(Qt.CustomContextMenu)
        header.customContextMenuRequested.connect(self._column_menu)
        header.setSectionsMovable(True)
        header.setToolTip("Click to sort; right-click to choose columns")
        for key, width in (("star", 26), ("name", 170), ("status", 96), ("dataset", 70), ("model", 112),
                           ("optimizer", 76), ("lr", 56), ("batch", 48), ("epochs", 52), ("best_val", 66),
                           ("test", 58), ("duration", 64), ("started", 116), ("tags", 110), ("id", 40)):
            self.table.setColumnWidth(COLUMN_INDEX[key], width)

        self.empty = QLabel(EMPTY_TEXT, objectName="runs_empty", alignment=Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #555; font-size: 11pt; padding: 40px;")
        self.stack = QStackedWidget()
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.empty)

        self.details = RunDetails()
        self.details.evaluation.set_store(self.store)
        self.compare = CompareView(self.store, self.worker)
        self.compare_hint = QLabel("Select two or more runs (Ctrl+click or Shift+click) to compare them.",
                                   alignment=Qt.AlignCenter, objectName="compare_hint")
        self.compare_hint.setStyleSheet("color: #666; padding: 16px;")
        self.bottom = QStackedWidget()
        self.bottom.addWidget(self.compare_hint)
        self.bottom.addWidget(self.compare)

        self.message = QLabel(objectName="runs_message")
        self.message.setWordWrap(True)
        self.message.hide()
        self.count = QLabel(objectName="runs_count")
        self.count.setStyleSheet("color: #666;")
        self.actions = RunActions(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for act in self.actions.toolbar_actions():
            bar.addWidget(QToolButton(defaultAction=act, toolButtonStyle=Qt.ToolButtonTextOnly))
        bar.addStretch(1)
        bar.addWidget(self.count)

        # Sweeps as parents of their trials, left of the table (hidden while there is none).
        self.sweeps = SweepTree(self.store, self.worker)
        self.sweeps.runs_picked.connect(self.select_runs)
        self.sweeps.view_opened.connect(lambda view: connect_view(self, view))
        top = QSplitter(Qt.Horizontal)
        top.addWidget(self.sweeps)
        top.addWidget(self.stack)
        top.addWidget(self.details)
        top.setStretchFactor(0, 1)
        top.setStretchFactor(1, 3)
        top.setStretchFactor(2, 1)
        top.setSizes([330, 900, 380])
        self.split = QSplitter(Qt.Vertical, objectName="runs_splitter")
        self.split.addWidget(top)
        self.split.addWidget(self.bottom)
        self.bottom.setCurrentWidget(self.compare)  # switched to the hint (and sized) below
        self.split.setSizes([380, 520])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.setSpacing(6)
        lay.addWidget(self.filter_bar)
        lay.addLayout(bar)
        lay.addWidget(self.message)
        lay.addWidget(self.split, 1)

        self._apply_hidden_columns()
        self._apply_sort()
        header.sortIndicatorChanged.connect(self._on_sort_changed)
        # Clicks settle for a moment first: a shift-click range or a drag
        # should load the comparison once, not once per row.
        self._select_timer = QTimer(self, singleShot=True, interval=80)
        self._select_timer.timeout.connect(self._on_selection_settled)
        self._warm_timer = QTimer(self, interval=0)
        self._warm_timer.timeout.connect(self._warm_step)
        self._refresh = QTimer(self, interval=REFRESH_MS)
        self._refresh.timeout.connect(self._auto_refresh)
        self.filter_bar.filter_changed.connect(self._on_filter)
        self.table.selectionModel().selectionChanged.connect(lambda *_: self._select_timer.start())
        self.table.clicked.connect(self._on_clicked)
        self.table.doubleClicked.connect(lambda idx: self.actions.rename())
        self.details.notes_edited.connect(self.actions.save_notes)
        self.details.tags_edited.connect(self.actions.save_tags)
        self.compare.error.connect(self.show_error)
        state.runs_changed.connect(self._on_runs_changed)
        self.count.setText("Reading the run history…")

    # the store ---------------------------------------------------------------------
    def store(self) -> Any:
        """The page's RunStore, opened on first use (on a worker thread: it migrates)."""
        with self._store_lock:
            if self._store_obj is None:
                from engine.store import RunStore
                self._store_obj = RunStore(self.state.store_url)
            return self._store_obj

    def reload(self) -> None:
        """Re-read the runs in the background; the selection survives by run id.

        Rows come from the store's light listing (RunStore.list_run_rows: no
        spec or summary JSON decoded per run). Up to BIG_HISTORY runs come in
        one read (~0.25 s for 10,000): a first screen read beside it made the
        whole list arrive ~0.1 s later (two readers and the first paint
        taking turns at the GIL). Past that, reading every run takes seconds
        (~2 s for 100,000), so the first FIRST_SCREEN rows in the table's
        sort come first -- sorted by the database, so they are the true top
        of the whole history -- and the rest after them.
        """
        if self.model.rowCount() == 0:
            self.count.setText("Reading the run history…")
        self._read_store()

    def _read_store(self) -> None:
        self._load_gen += 1
        gen = self._load_gen
        if hasattr(self, "model"):
            key = self.model.sort_key()
        else:  # the first read, started before the table exists: in the sort it will have
            column, order = _saved_sort()
            key = (COLUMN_SORT_KEYS[COLUMNS[column].key], order == Qt.DescendingOrder)
        # A table already showing the whole history keeps it until the new read is
        # complete: a first screen of 300 rows would make it shrink on every change.
        whole = hasattr(self, "model") and self.model.rowCount() > 0 and not self._partial_total
        self.worker.submit(lambda: self._read_first(key, whole), lambda res: self._on_first(gen, key, res),
                           self._on_load_failed)

    def _read_first(self, key: tuple[SortKey, bool], whole: bool = False) -> tuple[list, int]:
        """(rows, runs in all) (worker thread): every run of a small history
        (or with `whole`), the first screen in the table's sort of a big one."""
        total = 0 if whole else self.store().count_runs()
        if whole or total <= BIG_HISTORY:
            rows = self._read_rows()
            return rows, len(rows)
        return self._read_screen(key), total

    def _read_screen(self, key: tuple[SortKey, bool]) -> list:
        with paused_gc():
            return build_rows(self._listings(order_by=key[0], descending=key[1], limit=FIRST_SCREEN))

    def _on_first(self, gen: int, key: tuple[SortKey, bool], result: tuple[list, int]) -> None:
        rows, total = result
        if gen != self._load_gen:
            return
        if len(rows) >= total:
            self._on_loaded(gen, rows)
            return
        self._show_first_screen(rows, total)
        self.worker.submit(self._read_rows, lambda rows: self._on_loaded(gen, rows), self._on_load_failed)
        if key != self.model.sort_key():  # sorted again while this screen was read
            self._read_sorted_screen()

    def _show_first_screen(self, rows: list, total: int) -> None:
        """A big history's first rows while the rest is read: the table, the
        selection it can show, and a count that says the rest is coming."""
        keep = self.selected_ids()
        self._partial_total = total
        self.model.set_rows(rows)
        self.stack.setCurrentWidget(self.table)
        self.bottom.setVisible(True)
        self.select_runs(keep, emit=False)
        self._on_selection_settled(force=False)  # the details, the actions and the compare hint
        self._fit_id_column(rows)
        self._update_count()
        self.first_screen.emit()

    def _fit_id_column(self, rows: list) -> None:
        """Widen the # column to the longest run id shown ("#100000" clipped at 40 px)."""
        longest = max((r.run_id for r in rows), default=0)
        width = self.table.fontMetrics().horizontalAdvance(str(longest)) + 16
        column = COLUMN_INDEX["id"]
        if width > self.table.columnWidth(column):
            self.table.setColumnWidth(column, width)

    def _on_sort_changed(self, column: int, order) -> None:
        """Sorted before the whole history is read: the top rows of the new
        order come from the database (the rows at hand are only its first screen)."""
        self._save_sort(column, order)
        if self._partial_total:
            self._read_sorted_screen()

    def _read_sorted_screen(self) -> None:
        gen, key = self._load_gen, self.model.sort_key()
        self.count.setText(f"Sorting {self._partial_total:,} runs…")
        self._screen_read_done.clear()  # the slices of the rest wait: this is what the user waits for

        def work() -> list:
            try:
                return self._read_screen(key)
            finally:
                self._screen_read_done.set()

        def done(rows: list) -> None:
            if gen == self._load_gen and self._partial_total and key == self.model.sort_key():
                self._show_first_screen(rows, self._partial_total)
        self.worker.submit(work, done, self._on_load_failed)

    def _listings(self, **query: Any) -> list:
        """The store's table listing (worker thread), with the summary values the table shows."""
        return self.store().list_run_rows(metrics=TABLE_METRICS, **query)

    def _read_rows(self) -> list:
        """Table rows for every run (worker thread), in slices of SLICE runs,
        newest first. Between slices it waits while a sorted first screen is
        read: on two cores the two reads side by side made that screen, which
        the user is looking at, 2-3x slower.

        The rows stay until the next read, so they go straight into the
        GC's permanent generation, as app/__main__.py does with everything
        alive once torch is loaded. Why: left young, the collector walked
        the 40,000 new objects on the UI thread as they aged (20-40 ms as the
        rows arrived, then a full collection of 100-150 ms a moment later).
        Nothing is lost: they are freed by reference counting when the next
        read replaces them (rows, listings and their values form no cycles)."""
        rows: list = []
        below = None
        with paused_gc():  # ~40,000 new objects for 10,000 runs: see paused_gc
            while True:
                self._screen_read_done.wait()
                part = build_rows(self._listings(limit=SLICE, below_id=below))
                rows += part
                if len(part) < SLICE:
                    break
                below = part[-1].run_id
            gc.freeze()
        return rows

    def _warm(self, rows: list) -> None:
        """Decode the listed runs' spec and summary in slices on the UI thread
        while it is idle, so that the first filter over a spec path or a
        free-text search does not decode 10,000 documents at once.

        Why not on the worker: a Python thread decoding beside the UI thread
        makes every data() call of a repaint wait for the GIL (the switch
        interval, 5 ms), which stalled the first paint of 10,000 runs by
        ~0.6 s; a slice of WARM_SLICE_S between events costs nothing visible."""
        self._warm_rows, self._warm_pos = rows, 0
        self._warm_timer.start()

    def _warm_step(self) -> None:
        rows, end = self._warm_rows, time.perf_counter() + WARM_SLICE_S
        while self._warm_pos < len(rows) and time.perf_counter() < end:
            row = rows[self._warm_pos]
            row.run.spec, row.run.summary, row.haystack  # noqa: B018 - decoded and kept
            self._warm_pos += 1
        if self._warm_pos >= len(rows):
            self._warm_timer.stop()
            self._warm_rows = []

    def _on_loaded(self, gen: int, rows: list) -> None:
        if gen != self._load_gen:
            return  # a newer read is on its way
        keep = self.selected_ids() + [rid for rid in self._pending_select if rid not in self.selected_ids()]
        self._partial_total, self._pending_select = 0, []
        current = self.details.run.id if self.details.run is not None else None
        self.model.set_rows(rows)
        self._fit_id_column(rows)
        self.stack.setCurrentWidget(self.empty if not rows else self.table)
        # An empty history is one message, not three empty panels.
        self.bottom.setVisible(bool(rows))
        self.select_runs(keep, emit=False)
        shown = None if current is None else next((r.run for r in rows if r.run_id == current), None)
        self.details.show_run(shown)
        self.details.setVisible(self.details.run is not None)
        self._update_count()
        self._warm(rows)
        active = any(r.run.status in ACTIVE for r in rows)
        if active and not self._refresh.isActive():
            self._refresh.start()
        elif not active:
            self._refresh.stop()
        self._on_selection_settled(force=False)
        self.sweeps.reload()
        self.loaded.emit()

    def _on_runs_changed(self) -> None:
        if not self._announcing:
            self.reload()

    def announce_change(self) -> None:
        """Emit AppState.runs_changed for the other views, without re-reading everything here."""
        self._announcing = True
        try:
            self.state.runs_changed.emit()
        finally:
            self._announcing = False

    def refresh_runs(self, run_ids: list[int]) -> None:
        """Re-read these runs only (a rename, a star, a delete): with 10,000
        runs a full re-read would keep the change from showing for seconds."""
        gen = self._load_gen

        def work() -> tuple[list, list[int]]:
            found = self._listings(run_ids=run_ids)
            seen = {r.id for r in found}
            return build_rows(found), [rid for rid in run_ids if rid not in seen]

        def done(result: tuple[list, list[int]]) -> None:
            rows, gone = result
            if gen != self._load_gen:
                return
            by_id = {r.run_id: r for r in self.model.rows if r.run_id not in gone}
            by_id.update({r.run_id: r for r in rows})
            self._merge_rows(gen, list(by_id.values()))
        self.worker.submit(work, done, self._on_load_failed)

    def _merge_rows(self, gen: int, rows: list) -> None:
        """Rows re-read in place: the whole table, or still the first screen
        when the rest of a big history has not arrived."""
        if self._partial_total:
            if gen == self._load_gen:
                self._show_first_screen(rows, self._partial_total)
        else:
            self._on_loaded(gen, rows)

    def _on_load_failed(self, message: str, trace: str) -> None:
        self.show_error(f"Could not read the run history at {self.state.store_url}: {message}")

    def _auto_refresh(self) -> None:
        """While runs are active, re-read only those (and the ones that just
        finished): re-reading 10,000 runs every few seconds would be waste."""
        if not self.isVisible():
            return
        known = [r.run_id for r in self.model.rows if r.run.status in ACTIVE]
        gen = self._load_gen

        def work() -> list:
            active = self._listings(status=ordered(ACTIVE))
            seen = {r.id for r in active}
            ended = [rid for rid in known if rid not in seen]
            return build_rows(active + (self._listings(run_ids=ended) if ended else []))

        def done(changed: list) -> None:
            if gen != self._load_gen:
                return
            by_id = {r.run_id: r for r in self.model.rows}
            by_id.update({r.run_id: r for r in changed})
            self._merge_rows(gen, list(by_id.values()))
        self.worker.submit(work, done, self._on_load_failed)

    # selection ---------------------------------------------------------------------
    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.run_id(r) for r in rows]

    def selected_runs(self) -> list[Any]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        source = self.model.rows
        return [source[self.proxy.mapToSource(self.proxy.index(r, 0)).row()].run for r in rows]

    def select_runs(self, run_ids: list[int], emit: bool = True) -> None:
        """Select these runs in the table (those the filter hides stay unselected)."""
        sel = QItemSelection()
        if self._partial_total:  # runs past the first screen are selected once they arrive
            self._pending_select = [rid for rid in run_ids if self.model.row_of(rid) < 0]
        for rid in run_ids:
            src = self.model.row_of(rid)
            if src < 0:
                continue
            idx = self.proxy.mapFromSource(self.model.index(src, 0))
            if idx.isValid():
                sel.select(idx, idx)
        sm = self.table.selectionModel()
        flags = QItemSelectionModel.ClearAndSelect | QItemSelectionModel.Rows
        if not emit:
            sm.blockSignals(True)
        sm.select(sel, flags)
        if not sel.isEmpty():
            sm.setCurrentIndex(sel.indexes()[0], QItemSelectionModel.NoUpdate)
        if not emit:
            sm.blockSignals(False)
            self.table.viewport().update()
        else:  # a programmatic choice is final: no need to wait for more clicks
            self._select_timer.stop()
            self._on_selection_settled()

    def _on_selection_settled(self, force: bool = True) -> None:
        runs = self.selected_runs()
        ids = [r.id for r in runs]
        # A selected run that started or finished since the comparison was
        # drawn changes it too (its curves grew, its summary is final).
        shown = [(r.id, r.status) for r in runs]
        changed = ids != self.state.selected_runs or shown != self._compared
        self.state.set_selected_runs(ids)
        current = self.table.currentIndex()
        cur_id = self.proxy.run_id(current.row()) if current.isValid() and ids else None
        by_id = {r.id: r for r in runs}
        self.details.show_run(by_id.get(cur_id) or (runs[0] if runs else None))
        # The table gets the full width until there is a run to detail.
        self.details.setVisible(self.details.run is not None)
        if self.details.run is not None:
            self._load_files(self.details.run.id)
        self.actions.update_enabled(runs)
        if len(runs) >= 2:
            if self.bottom.currentWidget() is not self.compare:
                self.bottom.setCurrentWidget(self.compare)
                self.bottom.setMaximumHeight(16_777_215)  # QWIDGETSIZE_MAX
                self.split.setSizes([380, max(400, self.split.height() - 380)])
            if changed or force:
                self._compared = shown
                self.compare.set_runs(runs)
        elif self.bottom.currentWidget() is not self.compare_hint:
            # The one-line hint needs little room: give it back to the table.
            self.bottom.setCurrentWidget(self.compare_hint)
            self.bottom.setMaximumHeight(56)
        self._update_count()

    def _load_files(self, run_id: int) -> None:
        def read() -> tuple:
            ck = self.store().checkpoints(run_id)
            path = log_path(self.state.store_url, run_id)
            tail = ""
            if path.exists():
                with open(path, "rb") as f:
                    f.seek(0, 2)
                    f.seek(max(0, f.tell() - 16_000))
                    tail = f.read().decode("utf-8", "replace")
                tail = "\n".join(tail.splitlines()[-200:])
            return ck, tail
        self.worker.submit(read, lambda res: self.details.set_files(run_id, *res), lambda m, t: None)

    def _on_clicked(self, index) -> None:
        if index.column() == COLUMN_INDEX["star"]:
            self.actions.toggle_star([self.proxy.run_id(index.row())])

    # filtering and columns ------------------------------------------------------------
    def _on_filter(self, predicate) -> None:
        self.proxy.set_predicate(predicate)
        self._update_count()

    def _update_count(self) -> None:
        shown, total = self.proxy.rowCount(), self.model.rowCount()
        n = len(self.table.selectionModel().selectedRows())
        if self._partial_total:
            matching = f"{shown} of them match · " if shown != total else ""
            self.count.setText(f"The first {total} of {self._partial_total:,} runs · {matching}reading the rest…")
            return
        if total and not shown:
            text = f"No run matches this filter ({total} runs in all)"
        else:
            text = f"{shown} of {total} runs" if shown != total else f"{total} runs"
        self.count.setText(text + (f" · {n} selected" if n else ""))

    def _column_menu(self, pos) -> None:
        menu = QMenu(self)
        header = self.table.horizontalHeader()
        for i, col in enumerate(COLUMNS):
            act = menu.addAction(col.title if col.key != "star" else "★ star")
            act.setCheckable(True)
            act.setChecked(not header.isSectionHidden(i))
            act.toggled.connect(lambda on, i=i: self.set_column_visible(i, on))
        menu.exec(header.mapToGlobal(pos))

    def set_column_visible(self, column: int, visible: bool) -> None:
        self.table.horizontalHeader().setSectionHidden(column, not visible)
        hidden = [c.key for i, c in enumerate(COLUMNS) if self.table.horizontalHeader().isSectionHidden(i)]
        QSettings().setValue(HIDDEN_COLUMNS_KEY, json.dumps(hidden))

    def _save_sort(self, column: int, order) -> None:
        QSettings().setValue(SORT_KEY, json.dumps({"column": COLUMNS[column].key,
                                                   "descending": order == Qt.DescendingOrder}))

    def _apply_sort(self) -> None:
        """The sort the user chose last time (newest first the very first time)."""
        self.table.sortByColumn(*_saved_sort())

    def _apply_hidden_columns(self) -> None:
        try:
            hidden = json.loads(QSettings().value(HIDDEN_COLUMNS_KEY, "[]"))
        except (TypeError, json.JSONDecodeError):
            hidden = []
        for key in hidden if isinstance(hidden, list) else []:
            if key in COLUMN_INDEX:
                self.table.horizontalHeader().setSectionHidden(COLUMN_INDEX[key], True)

    # messages ---------------------------------------------------------------------------
    def show_error(self, text: str) -> None:
        self.message.setStyleSheet("color: #c62828;")
        self.message.setText(text)
        self.message.show()
        self.state.status_message.emit(text)

    def show_info(self, text: str) -> None:
        self.message.setStyleSheet("color: #2e7d32;")
        self.message.setText(text)
        self.message.show()
        self.state.status_message.emit(text)


def _saved_sort() -> tuple[int, Qt.SortOrder]:
    """(column, order) the user sorted the table by last time; newest first the very first time."""
    try:
        saved = json.loads(QSettings().value(SORT_KEY, "{}"))
    except (TypeError, json.JSONDecodeError):
        saved = {}
    column = COLUMN_INDEX.get(saved.get("column") if isinstance(saved, dict) else None, COLUMN_INDEX["id"])
    ascending = isinstance(saved, dict) and saved.get("descending") is False
    return column, Qt.AscendingOrder if ascending else Qt.DescendingOrder
