"""The Monitor page's table of running workers, with an empty state that
says what to do when nothing is training."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app.pages.monitor.collect import WorkerRow
from app.pages.monitor.panels import fmt_mb
from engine.labels import run_label

COLUMNS = ["Run", "Device", "GPU memory", "RSS", "Status"]
EMPTY_TEXT = "No run is training. Launch one on the Train page (Ctrl+Enter) to see its memory here."


class WorkersView(QStackedWidget):
    """The table while runs train, a one-line explanation otherwise."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("monitor_workers")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for col in range(1, len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("monitor_workers_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.addWidget(self.empty)
        self.addWidget(self.table)

    def set_rows(self, rows: list[WorkerRow], error: str | None = None) -> None:
        if error:
            self.empty.setText(error)
        elif not rows:
            self.empty.setText(EMPTY_TEXT)
        self.setCurrentWidget(self.table if rows else self.empty)
        self.table.setRowCount(len(rows))
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for r, row in enumerate(rows):
            cells = [(run_label(row.run_id, row.name), None), (row.device, None),
                     (fmt_mb(row.gpu_mem_mb), right), (fmt_mb(row.rss_mb), right), (row.status, None)]
            for c, (text, align) in enumerate(cells):
                item = QTableWidgetItem(text)
                if align is not None:
                    item.setTextAlignment(align)
                if c == 0 and row.pid:
                    item.setToolTip(f"process {row.pid}")
                self.table.setItem(r, c, item)

    def rows_text(self) -> list[list[str]]:
        """What the table shows, row by row (for tests and screenshots)."""
        t = self.table
        return [[t.item(r, c).text() for c in range(t.columnCount())] for r in range(t.rowCount())]
