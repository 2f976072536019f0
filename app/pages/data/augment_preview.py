"""The augmentation preview: the same few training samples, each drawn
several times through the checked transforms (engine.data.augment.preview_draws,
off the UI thread). Images show as pictures; tables, sequences and signals
as a line over their features or steps, the original in grey beneath.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.background import Background
from engine.spec_augment import TITLES

ROWS, DRAWS = 4, 6
CELL = 72  # pixels per tile


def tile(x: np.ndarray, kind: str, original: Optional[np.ndarray] = None, lo: float = 0.0,
         hi: float = 1.0) -> QPixmap:
    """One sample as a CELL × CELL picture on the shared value range [lo, hi]."""
    span = (hi - lo) or 1.0
    if kind == "image":
        img = np.clip((np.asarray(x, np.float32) - lo) / span, 0, 1)
        chans = img.shape[0]
        if chans == 3:
            data = np.ascontiguousarray((img.transpose(1, 2, 0) * 255).astype(np.uint8))
            q = QImage(data.data, data.shape[1], data.shape[0], 3 * data.shape[1], QImage.Format_RGB888)
        else:
            data = np.ascontiguousarray((img[0] * 255).astype(np.uint8))
            q = QImage(data.data, data.shape[1], data.shape[0], data.shape[1], QImage.Format_Grayscale8)
        return QPixmap.fromImage(q.copy()).scaled(CELL, CELL, Qt.KeepAspectRatio, Qt.FastTransformation)
    pix = QPixmap(CELL, CELL)
    pix.fill(QColor("white"))
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.Antialiasing)
    for values, colour in ((original, QColor(180, 180, 180)), (x, QColor(25, 118, 210))):
        if values is None:
            continue
        line = _series(np.asarray(values), kind)
        n = max(len(line) - 1, 1)
        points = [QPointF(2 + (CELL - 4) * i / n, CELL - 3 - (CELL - 6) * (v - lo) / span)
                  for i, v in enumerate(line)]
        painter.setPen(QPen(colour, 1.4))
        painter.drawPolyline(QPolygonF(points))
    painter.end()
    return pix


def _series(x: np.ndarray, kind: str) -> np.ndarray:
    """What a line shows: the features of a row, a sequence's first feature over its steps, a signal's
    first channel."""
    if kind == "sequence" and x.ndim == 2:
        return x[:, 0]
    if x.ndim == 2:
        return x[0]
    return x.reshape(-1)


class AugmentPreview(QWidget):
    drawn = Signal()
    """A new grid is on screen (or the empty state that says why not)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("augment_preview")
        self.worker = Background(self, latest_only=True)
        self._samples: Optional[np.ndarray] = None
        self._kind = "image"
        self._transforms: list[Any] = []
        self._seed = 0
        self._draw = 0
        self.caption = QLabel()
        self.caption.setObjectName("augment_caption")
        self.caption.setWordWrap(True)
        self.again = QPushButton("New draw")
        self.again.setObjectName("augment_redraw")
        self.again.setToolTip("Draw the transforms again (training draws anew at every step)")
        self.again.clicked.connect(self.redraw)
        head = QHBoxLayout()
        head.addStretch(1)
        head.addWidget(self.again)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        self.cells: list[list[QLabel]] = []
        for r in range(ROWS):
            row = []
            for c in range(DRAWS + 1):
                cell = QLabel()
                cell.setFixedSize(CELL, CELL)
                cell.setAlignment(Qt.AlignCenter)
                cell.setStyleSheet("border: 1px solid #ddd;" if c else "border: 2px solid #888;")
                self.grid.addWidget(cell, r + 1, c)
                row.append(cell)
            self.cells.append(row)
        for c, text in enumerate(["original"] + [f"draw {i}" for i in range(1, DRAWS + 1)]):
            label = QLabel(text)
            label.setAlignment(Qt.AlignCenter)
            label.setStyleSheet("color: #666;")
            self.grid.addWidget(label, 0, c)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.caption)
        layout.addLayout(self.grid)
        layout.addStretch(1)

    def show_samples(self, samples: list[np.ndarray], kind: str, transforms: list[Any], seed: int) -> None:
        """Samples in their own units (the Data page's preview), and the transforms to draw."""
        self._samples = np.stack(samples[:ROWS]) if samples else None
        self._kind, self._transforms, self._seed = kind, list(transforms), seed
        self._draw = 0
        self._request()

    def set_transforms(self, transforms: list[Any]) -> None:
        self._transforms = list(transforms)
        self._request()

    def redraw(self) -> None:
        self._draw += 1
        self._request()

    def _request(self) -> None:
        x = self._samples
        if x is None or self._kind == "tokens":
            self._empty("No samples to preview: choose a dataset that loads." if x is None else
                        "Token ids are not augmented.")
            return
        if not self._transforms:
            self._empty("Check a transform on the left to see what it does to these training samples.")
            self._paint(x, np.repeat(x[None], DRAWS, axis=0))
            return
        kind, transforms, seed = self._kind, self._transforms, self._seed * 1000 + self._draw

        def work() -> np.ndarray:
            from engine.data.augment import preview_draws

            return preview_draws(x, transforms, kind, seed, DRAWS)

        self.worker.submit(work, lambda draws: self._paint(x, draws), self._failed)

    def _paint(self, x: np.ndarray, draws: np.ndarray) -> None:
        lo, hi = float(min(x.min(), draws.min())), float(max(x.max(), draws.max()))
        if self._transforms:
            names = ", ".join(TITLES[t.type].lower() for t in self._transforms)
            mixing = [t.type for t in self._transforms if t.type in ("mixup", "cutmix")]
            note = f" ({' and '.join(mixing)} mix pairs within each training batch; not shown here)" if mixing else ""
            self.caption.setText(f"{len(x)} training samples, each drawn {DRAWS} times through: {names}{note}")
        for r, row in enumerate(self.cells):
            for c, cell in enumerate(row):
                if r >= len(x):
                    cell.clear()
                    continue
                value = x[r] if c == 0 else draws[c - 1, r]
                cell.setPixmap(tile(value, self._kind, None if c == 0 else x[r], lo, hi))
        self.drawn.emit()

    def _empty(self, text: str) -> None:
        self.caption.setText(text)
        if self._samples is None:
            for row in self.cells:
                for cell in row:
                    cell.clear()
            self.drawn.emit()

    def _failed(self, message: str, _trace: str) -> None:
        self.caption.setText(f"Preview failed: {message}")
        self.drawn.emit()
