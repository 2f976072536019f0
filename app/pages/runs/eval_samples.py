"""The samples behind an evaluation: a gallery of thumbnails (true class,
predicted class, confidence under each), pictures for images and line
plots for signals and sequences, or a table of rows for tabular data, with
the feature values in their original units."""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from PySide6.QtCore import QPointF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPen, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

THUMB = 72
MAX_SHOWN = 300
MAX_FEATURES = 12
GALLERY_KINDS = ("image", "signal", "sequence")  # shown as thumbnails; tables and token ids as rows


def to_pixmap(x: np.ndarray, size: int = THUMB) -> QPixmap:
    """A (C, H, W) sample as a picture, each image stretched to its own value range."""
    a = np.asarray(x, dtype=np.float32)
    a = a[0] if a.shape[0] == 1 else a[:3].transpose(1, 2, 0)
    lo, hi = float(a.min()), float(a.max())
    a = ((a - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(a)).astype(np.uint8)
    a = np.ascontiguousarray(a)
    h, w = a.shape[:2]
    if a.ndim == 2:
        img = QImage(a.data, w, h, w, QImage.Format_Grayscale8)
    else:
        img = QImage(a.data, w, h, 3 * w, QImage.Format_RGB888)
    return QPixmap.fromImage(img.copy()).scaled(size, size, Qt.KeepAspectRatio, Qt.FastTransformation)


LINE_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def curve_pixmap(x: np.ndarray, time_last: bool, size: int = THUMB) -> QPixmap:
    """A 1-D sample as a small line plot, one line per channel (at most four):
    (channels, length) for a signal, (steps, features) for a sequence."""
    a = np.asarray(x, dtype=np.float64)
    a = a.reshape(1, -1) if a.ndim == 1 else (a if time_last else a.T)
    a = a[:len(LINE_COLORS)]
    pix = QPixmap(size, size)
    pix.fill(QColor("white"))
    lo, hi = float(a.min()), float(a.max())
    span = hi - lo if hi > lo else 1.0
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.Antialiasing)
    n = a.shape[1]
    for row, color in zip(a, LINE_COLORS):
        painter.setPen(QPen(QColor(color), 1.2))
        xs = np.linspace(2, size - 2, n)
        ys = size - 2 - (row - lo) / span * (size - 4)
        painter.drawPolyline(QPolygonF([QPointF(float(u), float(v)) for u, v in zip(xs, ys)]))
    painter.end()
    return pix


def thumbnail(x: np.ndarray, kind: str) -> QPixmap:
    return to_pixmap(x) if kind == "image" else curve_pixmap(x, time_last=kind == "signal")


class SampleList(QWidget):
    """objectName eval_samples; the gallery is sample_gallery, the table sample_table."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("eval_samples")
        self.title = QLabel(objectName="eval_samples_title")
        self.title.setWordWrap(True)
        self.gallery = QListWidget(objectName="sample_gallery")
        self.gallery.setViewMode(QListView.IconMode)
        self.gallery.setIconSize(QSize(THUMB, THUMB))
        self.gallery.setGridSize(QSize(THUMB + 56, THUMB + 62))  # room for three lines of labels
        self.gallery.setResizeMode(QListView.Adjust)
        self.gallery.setMovement(QListView.Static)
        self.gallery.setWordWrap(True)
        self.table = QTableWidget(0, 0, objectName="sample_table")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeToContents)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.gallery)
        self.stack.addWidget(self.table)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.title)
        lay.addWidget(self.stack, 1)

    @property
    def count(self) -> int:
        return self.gallery.count() if self.stack.currentWidget() is self.gallery else self.table.rowCount()

    def show_samples(self, title: str, samples: Sequence[dict[str, Any]], names: Sequence[str],
                     inputs: Optional[np.ndarray], feature_names: Sequence[str], kind: str) -> None:
        """samples: [{index, true, predicted, confidence}]; inputs: the split in original units (or None
        while it loads)."""
        shown = list(samples)[:MAX_SHOWN]
        more = f" (the first {MAX_SHOWN} shown)" if len(samples) > MAX_SHOWN else ""
        self.title.setText(f"{title}{more}")
        if kind in GALLERY_KINDS and inputs is not None:
            self.stack.setCurrentWidget(self.gallery)
            self.gallery.clear()
            for s in shown:
                ok = s["true"] == s["predicted"]
                item = QListWidgetItem(QIcon(thumbnail(inputs[s["index"]], kind)),
                                       f"{names[s['true']]} → {names[s['predicted']]}\n{s['confidence']:.0%}")
                item.setToolTip(f"sample {s['index']}: true {names[s['true']]}, predicted {names[s['predicted']]} "
                                f"with confidence {s['confidence']:.3f}")
                item.setForeground(QColor("#2e7d32" if ok else "#c62828"))
                self.gallery.addItem(item)
            return
        self.stack.setCurrentWidget(self.table)
        feats = list(feature_names)[:MAX_FEATURES] if inputs is not None and inputs.ndim == 2 else []
        headers = ["sample", "true", "predicted", "confidence"] + feats
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(shown))
        for r, s in enumerate(shown):
            cells = [str(s["index"]), names[s["true"]], names[s["predicted"]], f"{s['confidence']:.3f}"]
            if feats and inputs is not None:
                cells += [f"{v:.4g}" for v in inputs[s["index"]][:len(feats)]]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0 or c >= 3:
                    item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c == 2 and s["true"] != s["predicted"]:
                    item.setForeground(QColor("#c62828"))
                self.table.setItem(r, c, item)
