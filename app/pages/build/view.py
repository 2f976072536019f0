"""The model list's view: drag and drop in place, and an empty state that
says how to start."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTreeView

from app.pages.build.block_model import COL_BLOCK, COL_MACS, COL_NUMBER, COL_OUTPUT, COL_PARAMS, COL_TRAIN

EMPTY_TEXT = ("No blocks yet.\n\nDouble-click a block in the palette, select one and press Enter, "
              "or drag it here.\n\nFile ▸ New from Template starts from a working model.")


class BlockListView(QTreeView):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("block_list")
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.setDefaultDropAction(Qt.MoveAction)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setAllColumnsShowFocus(True)
        self.setExpandsOnDoubleClick(False)
        self.setIndentation(14)

    def setModel(self, model) -> None:  # type: ignore[override]
        super().setModel(model)
        h = self.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(COL_NUMBER, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(COL_BLOCK, QHeaderView.Stretch)
        h.setSectionResizeMode(COL_OUTPUT, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(COL_PARAMS, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(COL_MACS, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(COL_TRAIN, QHeaderView.ResizeToContents)
        h.setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            p = QPainter(self.viewport())
            p.setPen(self.palette().color(QPalette.PlaceholderText))
            r = self.viewport().rect().adjusted(16, 16, -16, -16)
            p.drawText(QRect(r), Qt.AlignCenter | Qt.TextWordWrap, EMPTY_TEXT)
            p.end()
