"""The Runs page's sweeps: each sweep a parent row (name, method, status,
N of M trials, best value), expanded to its trials (number, run, status,
value). Clicking a trial selects its run in the table (Ctrl/Shift-click
several to compare); clicking a sweep opens its Sweep view, one window per
sweep, kept until closed.

Hidden while the store has no sweep, so a history without sweeps looks as
it always did. Reads go through the page's Worker (off the UI thread).
"""
from __future__ import annotations

import math
import time
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QLabel, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.background import Background
from app.pages.runs.sweep_view import SweepView
from app.pages.runs.table_model import STATUS_COLORS, status_icon
from app.sweep_draft import bring_to_front
from engine.formatting import metric as fmt_metric
from engine.sweep_report import SweepReport, build_report

ENDED = ("completed", "stopped", "failed")
REREAD_ENDED_S = 30.0  # how stale an ended sweep's trial list may get between forced reads
SWEEP_ROLE = int(Qt.ItemDataRole.UserRole.value) + 1  # a sweep row: its id
RUN_ROLE = int(Qt.ItemDataRole.UserRole.value) + 2  # a trial row: its run id
SWEEP_COLOURS = {"running": "#2f7fd8", "paused": "#d9a400", "completed": "#2e9d57", "stopped": "#e08a1e",
                 "failed": "#d33d3d", "queued": "#8a8f98"}


def read_sweeps(store: Any, reuse: Optional[dict[int, SweepReport]] = None) -> list[SweepReport]:
    """Every sweep with its trials, newest first (worker thread). `reuse`: reports of
    ended sweeps read lately, kept as they are when the sweep's row has not changed
    (the page re-reads every few seconds while runs train; ended sweeps rarely change)."""
    reuse = reuse or {}
    out = []
    for s in store.list_sweeps():
        old = reuse.get(s.id)
        if old is not None and old.status == s.status and s.status in ENDED:
            out.append(old)
        else:
            out.append(build_report(s, store.list_runs(sweep_id=s.id)))
    return out


class SweepTree(QWidget):
    """objectName sweep_panel; the tree itself is sweep_tree."""

    runs_picked = Signal(list)
    """Trials were clicked (payload: their run ids): select those runs."""
    view_opened = Signal(object)
    """A Sweep view window opened (payload: the SweepView), for the page to connect."""
    loaded = Signal()

    def __init__(self, store: Callable[[], Any], worker: Background, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_panel")
        self._store, self._worker = store, worker
        self._gen = 0
        self.reports: list[SweepReport] = []
        self._full_read_at = -math.inf
        self.views: dict[int, SweepView] = {}
        title = QLabel("<b>Sweeps</b>")
        hint = QLabel("Click a sweep for its view; click trials to select their runs.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #666;")
        self.tree = QTreeWidget(objectName="sweep_tree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Sweep / trial", "Status", "Value"])
        self.tree.header().setStretchLastSection(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setColumnWidth(0, 150)
        self.tree.setColumnWidth(1, 92)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 4, 0)
        lay.setSpacing(2)
        lay.addWidget(title)
        lay.addWidget(self.tree, 1)
        lay.addWidget(hint)
        self.tree.itemClicked.connect(self._on_clicked)
        self.tree.itemActivated.connect(self._on_clicked)
        self.hide()

    # --- reading -----------------------------------------------------------------------------
    def reload(self, force: bool = False) -> None:
        """Re-read the sweeps; an ended sweep's trials at most every REREAD_ENDED_S (force: now)."""
        self._gen += 1
        gen = self._gen
        fresh = time.monotonic() - self._full_read_at < REREAD_ENDED_S and not force
        reuse = {r.sweep_id: r for r in self.reports} if fresh else {}
        if not fresh:
            self._full_read_at = time.monotonic()
        self._worker.submit(lambda: read_sweeps(self._store(), reuse), lambda r: self._on_loaded(gen, r),
                            lambda m, t: None)  # the page reports store errors already

    def _on_loaded(self, gen: int, reports: list[SweepReport]) -> None:
        if gen != self._gen:
            return
        self.set_reports(reports)

    def set_reports(self, reports: list[SweepReport]) -> None:
        expanded = {self._sweep_of(self.tree.topLevelItem(i)) for i in range(self.tree.topLevelItemCount())
                    if self.tree.topLevelItem(i).isExpanded()}
        selected = {it.data(0, RUN_ROLE) for it in self.tree.selectedItems()}
        self.reports = reports
        self.tree.blockSignals(True)
        self.tree.clear()
        for r in reports:
            parent = QTreeWidgetItem([r.name, f"{r.status}", f"{r.done}/{r.planned or '?'}"])
            parent.setData(0, SWEEP_ROLE, r.sweep_id)
            tip = (f"sweep {r.sweep_id} · {r.method}: {r.done} of {r.planned or '?'} trials done; "
                   f"best {r.metric} ({r.goal}): {self._best(r)}")
            for col in range(3):
                parent.setToolTip(col, tip)
            parent.setForeground(1, QColor(SWEEP_COLOURS.get(r.status, "#444")))
            font = parent.font(0)
            font.setBold(True)
            parent.setFont(0, font)
            for t in r.trials:
                child = QTreeWidgetItem([f"trial {t.number}  (#{t.run_id})", t.status,
                                         "–" if t.value is None else fmt_metric(t.value)])
                child.setData(0, RUN_ROLE, t.run_id)
                child.setIcon(1, status_icon(t.status))
                child.setForeground(1, QColor(STATUS_COLORS.get(t.status, "#444")))
                child.setToolTip(0, "\n".join(f"{k} = {v}" for k, v in t.params.items()))
                parent.addChild(child)
                if t.run_id in selected:
                    child.setSelected(True)
            self.tree.addTopLevelItem(parent)
            parent.setExpanded(r.sweep_id in expanded)
        self.tree.blockSignals(False)
        self.setVisible(bool(reports))
        for r in reports:
            view = self.views.get(r.sweep_id)
            if view is not None and view.isVisible():
                view.set_report(r)
        self.loaded.emit()

    @staticmethod
    def _best(r: SweepReport) -> str:
        return "–" if r.best_value is None or r.best is None else f"{fmt_metric(r.best_value)} (trial {r.best.number})"

    @staticmethod
    def _sweep_of(item: Optional[QTreeWidgetItem]) -> Optional[int]:
        return None if item is None else item.data(0, SWEEP_ROLE)

    # --- clicks ------------------------------------------------------------------------------
    def item_of_sweep(self, sweep_id: int) -> Optional[QTreeWidgetItem]:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, SWEEP_ROLE) == sweep_id:
                return item
        return None

    def _on_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        sweep_id = item.data(0, SWEEP_ROLE)
        if sweep_id is not None:
            item.setExpanded(True)
            self.open_view(int(sweep_id))
            return
        ids = [int(it.data(0, RUN_ROLE)) for it in self.tree.selectedItems() if it.data(0, RUN_ROLE) is not None]
        if ids:
            self.runs_picked.emit(ids)

    def open_view(self, sweep_id: int) -> SweepView:
        """The sweep's view window (made on first use), shown and raised."""
        view = self.views.get(sweep_id)
        if view is None:
            view = SweepView(self._store, self._worker)
            view.setWindowFlag(Qt.WindowType.Window, True)
            view.setParent(self, Qt.WindowType.Window)
            view.resize(1280, 820)
            self.views[sweep_id] = view
            self.view_opened.emit(view)
        report = next((r for r in self.reports if r.sweep_id == sweep_id), None)
        view.setWindowTitle(f"Sweep {report.name if report else sweep_id} — LayerDeck")
        bring_to_front(view)
        view.show_sweep(sweep_id, report)
        return view

    def close_views(self) -> None:
        for view in self.views.values():
            view.stop()
            view.close()
