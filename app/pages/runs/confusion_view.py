"""The confusion matrix as a heatmap (rows: true class, columns: predicted),
each cell shaded by its share of the row, so a class with few samples shows
its mistakes as clearly as a large one. A click on a cell asks for its samples."""
from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

CORRECT = (33, 102, 172)  # blue on the diagonal
WRONG = (214, 96, 77)  # red elsewhere


def cell_color(count: int, row_total: int, diagonal: bool) -> QColor:
    share = count / row_total if row_total else 0.0
    r, g, b = CORRECT if diagonal else WRONG
    a = 0.0 if count == 0 else 0.15 + 0.85 * share
    return QColor(round(255 + (r - 255) * a), round(255 + (g - 255) * a), round(255 + (b - 255) * a))


class ConfusionView(QTableWidget):
    """objectName confusion_matrix."""

    cell_chosen = Signal(int, int)
    """The user clicked a cell (payload: true class, predicted class)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("confusion_matrix")
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setToolTip("Rows: true class · columns: predicted class · click a cell to list its samples")
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.Stretch)
            header.setMinimumSectionSize(22)
        self.cellClicked.connect(self.cell_chosen.emit)

    def show_matrix(self, matrix: Sequence[Sequence[int]], names: Sequence[str]) -> None:
        k = len(names)
        self.clear()
        self.setRowCount(k)
        self.setColumnCount(k)
        self.setHorizontalHeaderLabels([f"→ {n}" for n in names])
        self.setVerticalHeaderLabels(list(names))
        for r, row in enumerate(matrix):
            total = sum(row)
            for c, count in enumerate(row):
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignCenter)
                color = cell_color(count, total, r == c)
                item.setBackground(QBrush(color))
                if color.lightness() < 140:
                    item.setForeground(QBrush(Qt.white))
                share = f" ({count / total:.0%} of {names[r]})" if total else ""
                item.setToolTip(f"true {names[r]}, predicted {names[c]}: {count}{share}")
                self.setItem(r, c, item)
