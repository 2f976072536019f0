"""A compact, read-only picture of the model next to the list: one box per
block, top to bottom, with the shape each one outputs; a Residual is a frame
around its blocks with the skip connection drawn beside them. Clicking a box
selects that block in the list (the list stays the editor)."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.pages.build import format as fmt
from app.pages.build.block_model import ERROR_COLOR, default_label, row_path

BOX_H, GAP, PAD, INDENT = 36, 14, 10, 14


class ModelDiagram(QWidget):
    block_clicked = Signal(object)
    """A box was clicked (payload: the block's path)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("model_diagram")
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.setMinimumWidth(190)
        self.setToolTip("The model at a glance; click a block to select it in the list.")
        self._blocks: list[dict] = []
        self._rows: dict[tuple, Any] = {}
        self._input: str = ""
        self._boxes: list[tuple[QRectF, tuple]] = []
        self._selected: set[tuple] = set()
        self._height = 80

    def set_selected(self, paths: list[tuple]) -> None:
        self._selected = {tuple(p) for p in paths}
        self.update()

    def set_model(self, blocks: list[dict], rows: list[Any] | None, input_shape: Any) -> None:
        self._blocks = blocks
        self._rows = {row_path(r): r for r in rows or []}
        self._input = fmt.shape(input_shape) if input_shape is not None else "…"
        self._height = PAD * 2 + BOX_H // 2 + GAP + self._measure(blocks)
        self.setMinimumHeight(self._height)
        self.updateGeometry()
        self.update()

    def _measure(self, blocks: list[dict]) -> int:
        return sum(GAP + (self._measure(b["blocks"]) + 26 if b.get("blocks") is not None else BOX_H)
                   for b in blocks)

    def sizeHint(self) -> QSize:
        return QSize(220, self._height)

    def mousePressEvent(self, event) -> None:
        for rect, path in reversed(self._boxes):  # innermost first
            if rect.contains(event.position()):
                self.block_clicked.emit(path)
                return

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        pal = self.palette()
        self._boxes = []
        w = self.width() - 2 * PAD
        pill = QRectF(PAD + w * 0.2, PAD, w * 0.6, BOX_H // 2)
        p.setPen(QPen(pal.color(QPalette.Mid)))
        p.setBrush(pal.color(QPalette.AlternateBase))
        p.drawRoundedRect(pill, 9, 9)
        p.setPen(pal.color(QPalette.Text))
        p.drawText(pill, Qt.AlignCenter, f"input {self._input}")
        y = pill.bottom()
        self._draw_list(p, self._blocks, (), PAD, w, y)
        p.end()

    def _arrow(self, p: QPainter, x: float, y0: float, y1: float) -> None:
        p.setPen(QPen(self.palette().color(QPalette.Mid), 1.2))
        p.drawLine(QPointF(x, y0), QPointF(x, y1))
        p.drawLine(QPointF(x - 3.5, y1 - 5), QPointF(x, y1))
        p.drawLine(QPointF(x + 3.5, y1 - 5), QPointF(x, y1))

    def _draw_list(self, p: QPainter, blocks: list[dict], parent: tuple, x: float, w: float, y: float) -> float:
        pal = self.palette()
        for i, b in enumerate(blocks):
            path = parent + (i,)
            row = self._rows.get(path)
            error = bool(getattr(row, "error", None))
            self._arrow(p, x + w / 2, y, y + GAP)
            y += GAP
            if b.get("blocks") is not None:
                top = y
                inner_w = w - 2 * INDENT
                y = self._draw_list(p, b["blocks"], path, x + INDENT, inner_w, y + 12) + 14
                frame = QRectF(x, top, w, y - top)
                p.setPen(QPen(ERROR_COLOR if error else pal.color(QPalette.Highlight), 1.2, Qt.DashLine))
                p.setBrush(Qt.NoBrush)
                p.drawRoundedRect(frame, 6, 6)
                p.setPen(ERROR_COLOR if error else pal.color(QPalette.Highlight))
                f = p.font()
                f.setPointSizeF(f.pointSizeF() * 0.85)
                p.setFont(f)
                p.drawText(QRectF(x + 6, top, w - 12, 12), Qt.AlignLeft | Qt.AlignVCenter, "Residual  (+ input)")
                p.setFont(self.font())
                self._boxes.append((frame, path))
                continue
            box = QRectF(x, y, w, BOX_H)
            chosen = path in self._selected
            edge = ERROR_COLOR if error else pal.color(QPalette.Highlight) if chosen else pal.color(QPalette.Mid)
            p.setPen(QPen(edge, 2 if error or chosen else 1))
            p.setBrush(QColor(ERROR_COLOR.red(), ERROR_COLOR.green(), ERROR_COLOR.blue(), 28) if error
                       else pal.color(QPalette.Base))
            p.drawRoundedRect(box, 5, 5)
            label = getattr(row, "label", None) or ""
            title = label if label.startswith(b["type"]) else f"{b['type']} {label}".strip() if row else default_label(b)
            p.setPen(ERROR_COLOR if error else pal.color(QPalette.Text))
            top_half = QRectF(box.left() + 6, box.top() + 2, box.width() - 12, BOX_H / 2)
            p.drawText(top_half, Qt.AlignLeft | Qt.AlignVCenter, p.fontMetrics().elidedText(title, Qt.ElideRight, int(top_half.width())))
            p.setPen(ERROR_COLOR if error else pal.color(QPalette.PlaceholderText))
            shape = "⚠ does not fit" if error else ("→ " + fmt.shape(getattr(row, "out_shape", None)) if row else "")
            p.drawText(QRectF(box.left() + 6, box.center().y(), box.width() - 12, BOX_H / 2 - 2),
                       Qt.AlignLeft | Qt.AlignVCenter, shape)
            self._boxes.append((box, path))
            y += BOX_H
        return y
