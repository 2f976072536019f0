"""The Train page's run list: one row per run with its status, a progress
bar with the ETA, and Pause / Resume / Stop.

Every run the bridge's runner owns has a row: the ones launched here and the
ones it adopted (left training by a closed app, started by `layerdeck train`
in a terminal, or on another machine), marked "started elsewhere". The
buttons work the same for all of them: the runner picks the channel that
reaches each worker, and when it cannot, the row says why.

Rows are plain views of `RunRow` facts the page hands in (`upsert`); the
buttons only emit `pause_requested` / `resume_requested` /
`stop_requested`, and the page asks the bridge. A failed or crashed run
shows its error's first line in words; the full text is in the tooltip
(and the traceback in the log pane).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from engine.formatting import clock
from engine.status import ACTIVE, RunStatus

ADOPTED_TIP = ("Started elsewhere (an app that has closed, another window, `layerdeck train` or another "
               "machine): its worker writes to the same store, and the buttons reach it from here")
STOP_TIP = "Finish the batch, save a checkpoint and end the run (a queued run is dropped)"
STATUS_COLOURS = {"running": "#2f8f46", "paused": "#b07d12", "queued": "#6b7280", "completed": "#2f6fb0",
                  "stopped": "#6b7280", "failed": "#c0392b", "crashed": "#c0392b",
                  "pruned": "#7d6bb3"}  # a sweep's pruner ended it early: not a failure


@dataclass(frozen=True)
class RunRow:
    """What a row shows about one run."""

    run_id: int
    name: str
    status: str = "queued"
    epoch: int = 0
    total_epochs: int = 0
    eta_s: Optional[float] = None
    error: Optional[str] = None
    adopted: bool = False  # started elsewhere; this window follows it through the store
    stopping: bool = False  # Stop was asked; the row says when the run has ended
    problem: Optional[str] = None  # why the last Pause / Resume / Stop could not be sent, in words


def format_eta(seconds: Optional[float]) -> str:
    """ETA 0:12, ETA 1:02:03; empty when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return ""
    return f"ETA {clock(seconds)}"


def first_line(text: Optional[str]) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


class RunRowWidget(QWidget):
    """Name, status, progress with ETA, and the buttons that fit the status."""

    def __init__(self, row: RunRow, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName(f"run_row_{row.run_id}")
        self.title = QLabel()
        self.title.setObjectName("run_title")
        self.status = QLabel()
        self.status.setObjectName("run_status")
        self.progress = QProgressBar()
        self.progress.setObjectName("run_progress")
        self.progress.setFixedHeight(16)
        self.progress.setMinimumWidth(120)
        self.message = QLabel()
        self.message.setObjectName("run_message")
        # One line (the error's first); the whole text is the tooltip and in the log pane.
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("pause_button")
        self.pause_button.setToolTip("Pause after the current batch (the worker keeps its state)")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resume_button")
        self.resume_button.setToolTip("Continue training")
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stop_button")
        self.stop_button.setToolTip(STOP_TIP)
        for b in (self.pause_button, self.resume_button, self.stop_button):
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click must not steal the list's selection
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title)
        top.addWidget(self.status)
        top.addStretch(1)
        top.addWidget(self.pause_button)
        top.addWidget(self.resume_button)
        top.addWidget(self.stop_button)
        box = QVBoxLayout(self)
        box.setContentsMargins(6, 4, 6, 4)
        box.setSpacing(3)
        box.addLayout(top)
        box.addWidget(self.progress)
        box.addWidget(self.message)
        box.addStretch(1)
        self.row = row
        self.show_row(row)

    def show_row(self, row: RunRow) -> None:
        self.row = row
        self.title.setText(f"<b>#{row.run_id}</b> {row.name}")
        colour = STATUS_COLOURS.get(row.status, "#6b7280")
        elsewhere = " <span style='color:#6b7280'>· started elsewhere</span>" if row.adopted else ""
        self.status.setText(f"<span style='color:{colour}'>{row.status}</span>{elsewhere}")
        self.status.setToolTip(ADOPTED_TIP if row.adopted else "")
        active = row.status in ACTIVE
        self.pause_button.setVisible(active and row.status != RunStatus.PAUSED)
        self.resume_button.setVisible(row.status == RunStatus.PAUSED)
        self.stop_button.setVisible(active)
        self.pause_button.setEnabled(row.status == RunStatus.RUNNING and not row.stopping)
        self.resume_button.setEnabled(not row.stopping)
        self.stop_button.setEnabled(not row.stopping)
        self.stop_button.setText("Stopping…" if row.stopping else "Stop")
        self.stop_button.setToolTip("Its worker is finishing the batch and saving a checkpoint" if row.stopping
                                    else STOP_TIP)
        total = max(row.total_epochs, 1)
        self.progress.setRange(0, total)
        self.progress.setValue(min(row.epoch, total))
        if row.status == "queued":
            self.progress.setFormat("waiting for a free worker")
        elif not row.total_epochs:
            self.progress.setFormat("starting…")
        else:
            eta = format_eta(row.eta_s) if row.status == "running" else ""
            self.progress.setFormat(f"{row.epoch}/{row.total_epochs} epochs" + (f"  ·  {eta}" if eta else ""))
        self.progress.setVisible(active)  # an ended run says how far it got in words
        line = first_line(row.problem if active and row.problem else row.error)
        if row.status in ("failed", "crashed") and line:
            self.message.setText(f"<span style='color:{STATUS_COLOURS['failed']}'>{line}</span>")
        elif active:
            self.message.setText(line)
        else:
            done = row.total_epochs if row.status == "completed" else row.epoch
            epochs = f"{done}/{row.total_epochs} epochs" if row.total_epochs else ""
            self.message.setText(" · ".join(t for t in (epochs, line) if t))
        self.message.setVisible(bool(self.message.text()))
        self.message.setToolTip((row.problem if active and row.problem else row.error) or "")


class RunList(QWidget):
    selected = Signal(int)
    """The user picked a run to watch (payload: run id)."""
    pause_requested = Signal(int)
    """Pause was clicked (payload: run id)."""
    resume_requested = Signal(int)
    """Resume was clicked (payload: run id)."""
    stop_requested = Signal(int)
    """Stop was clicked (payload: run id)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("run_list")
        self.list = QListWidget()
        self.list.setObjectName("run_list_view")
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.list.setVerticalScrollMode(QListWidget.ScrollMode.ScrollPerPixel)
        # A light selection tint: status colours and names stay readable on the selected row.
        self.list.setStyleSheet("QListWidget#run_list_view::item { border-bottom: 1px solid palette(midlight); }"
                                "QListWidget#run_list_view::item:selected { background: rgba(47, 111, 176, 45); }")
        self.empty = QLabel("No runs yet. Set up training on the left and press Launch (Ctrl+Enter).")
        self.empty.setObjectName("empty_state")
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(self.empty)
        box.addWidget(self.list, 1)
        self._items: dict[int, QListWidgetItem] = {}
        self._widgets: dict[int, RunRowWidget] = {}
        self.list.currentItemChanged.connect(self._on_current)
        self._refresh_empty()

    # --- rows ----------------------------------------------------------------------------
    def upsert(self, row: RunRow) -> None:
        """Add the run (newest on top) or update its row."""
        widget = self._widgets.get(row.run_id)
        if widget is not None:
            widget.show_row(row)
            self._items[row.run_id].setSizeHint(widget.sizeHint())
            return
        widget = RunRowWidget(row)
        widget.pause_button.clicked.connect(lambda: self.pause_requested.emit(row.run_id))
        widget.resume_button.clicked.connect(lambda: self.resume_requested.emit(row.run_id))
        widget.stop_button.clicked.connect(lambda: self.stop_requested.emit(row.run_id))
        item = QListWidgetItem()
        item.setData(Qt.ItemDataRole.UserRole, row.run_id)
        position = next((i for i in range(self.list.count())
                         if self.list.item(i).data(Qt.ItemDataRole.UserRole) < row.run_id), self.list.count())
        self.list.insertItem(position, item)
        self.list.setItemWidget(item, widget)
        item.setSizeHint(widget.sizeHint())
        self._items[row.run_id] = item
        self._widgets[row.run_id] = widget
        self._refresh_empty()

    def change(self, run_id: int, **changes) -> Optional[RunRow]:
        """Change some facts of a row; None if the run is not listed."""
        widget = self._widgets.get(run_id)
        if widget is None:
            return None
        row = replace(widget.row, **changes)
        self.upsert(row)
        return row

    def row(self, run_id: int) -> Optional[RunRow]:
        widget = self._widgets.get(run_id)
        return widget.row if widget is not None else None

    def row_widget(self, run_id: int) -> RunRowWidget:
        return self._widgets[run_id]

    def run_ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def active_ids(self) -> list[int]:
        return [rid for rid, w in self._widgets.items() if w.row.status in ACTIVE]

    # --- selection ---------------------------------------------------------------------------
    def select(self, run_id: int) -> None:
        item = self._items.get(run_id)
        if item is not None:
            self.list.setCurrentItem(item)

    def selected_id(self) -> Optional[int]:
        item = self.list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _on_current(self, item: Optional[QListWidgetItem], _previous) -> None:
        if item is not None:
            self.selected.emit(item.data(Qt.ItemDataRole.UserRole))

    def _refresh_empty(self) -> None:
        has = self.list.count() > 0
        self.empty.setVisible(not has)
        self.list.setVisible(has)
