"""The run details panel: header, summary, evaluation (evaluation_view.py),
spec (JSON and block list), notes (saved as you type), tags, checkpoints,
and the log tail or error.

It edits nothing itself: notes and tags leave as signals and the page
writes them to the store.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.pages.runs.evaluation_view import EvaluationView
from app.pages.runs.table_model import STATUS_COLORS, compact_count, format_duration
from engine.compare import format_value, key_order

NOTES_DEBOUNCE_MS = 600


def block_line(i: int, block: dict[str, Any], depth: int = 0) -> list[str]:
    args = ", ".join(f"{k}={format_value(v)}" for k, v in block.items() if k not in ("type", "blocks"))
    lines = [f"{'    ' * depth}{i + 1}. {block.get('type', '?')}" + (f"({args})" if args else "")]
    for j, child in enumerate(block.get("blocks") or []):
        lines += block_line(j, child, depth + 1)
    return lines


class RunDetails(QWidget):
    """objectName run_details."""

    notes_edited = Signal(int, str)
    """The user paused typing in the notes (payload: run id, text)."""
    tags_edited = Signal(int, list)
    """The user changed the tags (payload: run id, list of tags)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("run_details")
        self.run: Optional[Any] = None
        mono = QFontDatabase.systemFont(QFontDatabase.FixedFont)

        self.header = QLabel(objectName="run_details_header")
        self.header.setTextFormat(Qt.RichText)
        self.header.setWordWrap(True)
        self.facts = QLabel(objectName="run_details_facts")
        self.facts.setWordWrap(True)
        self.facts.setStyleSheet("color: #555;")
        self.error = QLabel(objectName="run_details_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #c62828;")
        self.error.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.tags = QLineEdit(objectName="run_tags")
        self.tags.setPlaceholderText("tags, comma-separated (Enter to save)")

        self.metrics = QTableWidget(0, 3, objectName="run_metrics")
        self.metrics.setHorizontalHeaderLabels(["metric", "best", "final"])
        self.metrics.verticalHeader().hide()
        self.metrics.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.metrics.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        self.metrics.verticalHeader().setDefaultSectionSize(20)

        self.spec_text = QPlainTextEdit(objectName="run_spec_json", readOnly=True)
        self.spec_text.setFont(mono)
        self.blocks = QListWidget(objectName="run_blocks")
        self.blocks.setFont(mono)
        spec_split = QSplitter(Qt.Vertical)
        spec_split.addWidget(self.blocks)
        spec_split.addWidget(self.spec_text)

        self.notes = QPlainTextEdit(objectName="run_notes")
        self.notes.setPlaceholderText("Notes about this run: what you tried, what you learned. Saved as you type.")
        self.checkpoints = QTableWidget(0, 5, objectName="run_checkpoints")
        self.checkpoints.setHorizontalHeaderLabels(["kind", "epoch", "step", "metric", "file"])
        self.checkpoints.verticalHeader().hide()
        self.checkpoints.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.checkpoints.horizontalHeader().setSectionResizeMode(4, QHeaderView.Stretch)
        for c in range(4):
            self.checkpoints.horizontalHeader().setSectionResizeMode(c, QHeaderView.ResizeToContents)
        self.checkpoints.verticalHeader().setDefaultSectionSize(20)
        self.log = QPlainTextEdit(objectName="run_log", readOnly=True)
        self.log.setFont(mono)

        self.tabs = QTabWidget(objectName="run_details_tabs")
        self.evaluation = EvaluationView()  # the page gives it the store (set_store)
        self.tabs.addTab(self.metrics, "Summary")
        self.tabs.addTab(self.evaluation, "Evaluation")
        self.tabs.addTab(spec_split, "Spec")
        self.tabs.addTab(self.notes, "Notes")
        self.tabs.addTab(self.checkpoints, "Checkpoints")
        self.tabs.addTab(self.log, "Log")

        self.empty = QLabel("Select a run to see its details.", alignment=Qt.AlignCenter)
        self.empty.setStyleSheet("color: #666;")
        self.tags_row = QWidget()
        form = QFormLayout(self.tags_row)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Tags", self.tags)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 0, 0, 0)
        lay.addWidget(self.empty)
        lay.addWidget(self.header)
        lay.addWidget(self.facts)
        lay.addWidget(self.error)
        lay.addWidget(self.tags_row)
        lay.addWidget(self.tabs, 1)

        self._notes_timer = QTimer(self, singleShot=True, interval=NOTES_DEBOUNCE_MS)
        self._notes_timer.timeout.connect(self.flush_notes)
        self.notes.textChanged.connect(self._on_notes_typed)
        self.tags.editingFinished.connect(self._on_tags)
        self._loading = False
        self._notes_dirty = False
        self.show_run(None)

    # showing -----------------------------------------------------------------------
    def show_run(self, run: Optional[Any]) -> None:
        if self.run is not None and run is not None and run.id == self.run.id:
            self._refresh_same(run)
            return
        self.flush_notes()
        self.run = run
        for w in (self.header, self.facts, self.tabs, self.tags_row):
            w.setVisible(run is not None)
        self.empty.setVisible(run is None)
        self.error.setVisible(bool(run is not None and run.error))
        self.evaluation.show_run(run)
        if run is None:
            return
        self._loading = True
        try:
            self._fill(run)
            self.notes.setPlainText(run.notes or "")
            self.tags.setText(", ".join(run.tags or []))
            self.checkpoints.setRowCount(0)
            self.log.setPlainText(run.error or "")
        finally:
            self._loading = False

    def _refresh_same(self, run: Any) -> None:
        """The same run re-read (a reload): update what the user is not editing."""
        self.run = run
        self._fill(run)
        self.error.setVisible(bool(run.error))
        self.evaluation.show_run(run)  # a run that just finished: its evaluation is in the store now
        if not self.tags.hasFocus():
            self.tags.setText(", ".join(run.tags or []))

    def _fill(self, run: Any) -> None:
        color = STATUS_COLORS.get(run.status, "#888")
        star = "★ " if run.starred else ""
        self.header.setText(f"<span style='font-size:14pt; font-weight:600'>{star}{_esc(run.name)}</span>"
                            f"&nbsp;&nbsp;<span style='color:{color}'>● {run.status}</span>"
                            f"&nbsp;&nbsp;<span style='color:#888'>#{run.id}</span>")
        spec = run.spec or {}
        summary = run.summary or {}
        started = run.started_at or run.created_at
        optimizer = spec.get('optimizer') or {}
        facts = [f"{(spec.get('data') or {}).get('name', '?')}",
                 f"{compact_count(summary.get('params'))} params",
                 f"{optimizer.get('type', '?')} lr {format_value(optimizer.get('lr'))}",
                 f"batch {(spec.get('training') or {}).get('batch_size', '?')}",
                 f"took {format_duration(run.duration_s)}",
                 f"started {started.astimezone():%Y-%m-%d %H:%M}" if started else "",
                 f"on {run.device}" if run.device else "",
                 f"cloned from #{run.parent_id}" if run.parent_id else ""]
        self.facts.setText(" · ".join(f for f in facts if f))
        self.error.setText(run.error or "")
        metrics = summary.get("metrics") or {}
        keys = sorted((k for k in metrics if not k.endswith("_step")), key=key_order)
        self.metrics.setRowCount(len(keys))
        for r, key in enumerate(keys):
            m = metrics[key] or {}
            for c, text in enumerate((key, format_value(m.get("best")), format_value(m.get("last")))):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.metrics.setItem(r, c, item)
        self.spec_text.setPlainText(json.dumps(spec, indent=2))
        self.blocks.clear()
        for i, block in enumerate((spec.get("model") or {}).get("blocks") or []):
            self.blocks.addItems(block_line(i, block))

    def set_files(self, run_id: int, checkpoints: Sequence[Any], log_tail: str) -> None:
        """Checkpoints and log, read off the UI thread by the page."""
        if self.run is None or self.run.id != run_id:
            return
        self.checkpoints.setRowCount(len(checkpoints))
        for r, ck in enumerate(checkpoints):
            exists = Path(ck.path).exists()
            cells = (ck.kind, str(ck.epoch), str(ck.step), format_value(ck.metric_value),
                     ck.path if exists else f"{ck.path} (file missing)")
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(ck.path)
                if not exists and c == 4:
                    item.setForeground(Qt.gray)
                self.checkpoints.setItem(r, c, item)
        parts = []
        if self.run.error:
            parts.append(f"Error: {self.run.error}")
        if log_tail:
            parts.append(log_tail)
        self.log.setPlainText("\n\n".join(parts) or "No log for this run.")
        self.log.verticalScrollBar().setValue(self.log.verticalScrollBar().maximum())

    # editing ------------------------------------------------------------------------
    def _on_notes_typed(self) -> None:
        if not self._loading and self.run is not None:
            self._notes_dirty = True
            self._notes_timer.start()

    def flush_notes(self) -> None:
        """Save pending notes now (when the debounce fires, and before showing another run)."""
        self._notes_timer.stop()
        if self._notes_dirty and self.run is not None:
            self._notes_dirty = False
            self.notes_edited.emit(self.run.id, self.notes.toPlainText())

    def _on_tags(self) -> None:
        if self.run is None:
            return
        tags = [t.strip() for t in self.tags.text().split(",") if t.strip()]
        if tags != list(self.run.tags or []):
            self.tags_edited.emit(self.run.id, tags)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
