"""A CSV's columns as the run will read them: kind, missing cells, and the
flags worth acting on (an identifier, a leak), with the warnings in words.
The fix is beside it: options.missing and options.drop in the form on the left.
Read off the UI thread (engine.data.csv_report.inspect_csv)."""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background

WARN_STYLE = "color: #b26a00;"
NOTES = {"identifier": "identifier? (drop it)", "leak": "leak: gives the target away"}


class ColumnsPanel(QWidget):
    shown = Signal()
    """The table shows the latest file (or the empty state)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("data_columns")
        self.worker = Background(self, latest_only=True)
        self.summary = QLabel()
        self.summary.setObjectName("columns_summary")
        self.summary.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setObjectName("columns_warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet(WARN_STYLE)
        self.warnings.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("columns_table")
        self.table.setHorizontalHeaderLabels(["column", "kind", "missing", "note"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(self.warnings)
        layout.addWidget(self.table, 1)
        self.show_for(None)

    def show_for(self, data: Optional[Any]) -> None:
        """A DataSpec: a CSV's columns are read; anything else shows the empty state."""
        if data is None or data.name != "csv" or not data.path:
            self.table.setRowCount(0)
            self.warnings.hide()
            self.summary.setText("Columns are listed for CSV files: open one with “Open CSV / NPZ / folder…”.")
            self.shown.emit()
            return

        def work() -> Any:
            from engine.data.csv_report import inspect_csv

            return inspect_csv(data)

        self.worker.submit(work, lambda report: self._fill(report, data), self._failed)

    def _fill(self, report: Any, data: Any) -> None:
        rows = [c for c in report.columns]
        self.table.setRowCount(len(rows))
        for r, c in enumerate(rows):
            note = NOTES.get(c.flag, "") or ("target" if c.role == "target" else
                                            "dropped (options.drop)" if c.role == "dropped" else "")
            cells = [c.name, c.kind, f"{c.missing:,}" if c.missing else "–", note]
            for k, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if k == 2:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if (k == 2 and c.missing) or (k == 3 and c.flag):
                    item.setForeground(QColor("#b26a00"))
                if c.role == "dropped":
                    item.setForeground(QColor("#999"))
                self.table.setItem(r, k, item)
        missing = sum(report.missing.values())
        mode = str(data.options.get("missing", "error"))
        self.summary.setText(
            f"{report.rows:,} rows · {len(rows)} columns · "
            + (f"{missing:,} missing cells in {len(report.missing)} column(s); options.missing is {mode!r} "
               f"(error refuses the file, drop_rows drops those rows, fill uses the training split's median "
               f"or most frequent value)" if missing else "no missing cells"))
        self.warnings.setText("\n".join(f"⚠ {w}" for w in report.warnings))
        self.warnings.setVisible(bool(report.warnings))
        self.shown.emit()

    def _failed(self, message: str, _trace: str) -> None:
        self.table.setRowCount(0)
        self.summary.setText(f"Could not read the columns: {message}")
        self.warnings.hide()
        self.shown.emit()
