"""Preview widgets that fit the data: a grid of labelled sample images, a
table of rows (token id sequences too, one id per cell), a scatter coloured by class, line plots of sequences, and the
class balance (or target histogram). Plots take the palette's colours; the
class colours are the same in every view so a class reads the same in the
scatter, the lines and the bars.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from app import theme

# Okabe-Ito (its pale yellow swapped for tab10's olive, which reads on white) plus tab10
# extras: distinct for colour-blind readers, readable on light and dark backgrounds.
_CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                 "#D55E00", "#BCBD22", "#7F7F7F", "#8C564B", "#17BECF"]
MAX_TICK_LABELS = 12  # more class names than this overlap on the axis; numbers are shown instead


def class_color(i: int, n: int) -> QColor:
    if n <= len(_CLASS_COLORS):
        return QColor(_CLASS_COLORS[i % len(_CLASS_COLORS)])
    return pg.intColor(i, hues=n, values=1, maxValue=220, minValue=150)


# --- samples ---------------------------------------------------------------------

class ImageGrid(QWidget):
    """Sample images, upscaled without smoothing, each with its label below.
    The cell size is the largest that fits every sample in the widget."""

    LABEL_GAP = 4
    MAX_CELL = 112

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("preview_images")
        self._images: list[QImage] = []
        self._labels: list[str] = []
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(240, 180)

    def set_samples(self, samples: Sequence[tuple[np.ndarray, Any]], labels: list[str]) -> None:
        xs = [np.asarray(x, dtype=np.float64) for x, _ in samples]
        lo = min((float(x.min()) for x in xs), default=0.0)
        hi = max((float(x.max()) for x in xs), default=1.0)
        scale = 255.0 / (hi - lo) if hi > lo else 0.0  # one range for all: relative brightness is kept
        self._images = [_to_qimage(np.clip((x - lo) * scale, 0, 255).astype(np.uint8)) for x in xs]
        self._labels = list(labels)
        self.update()

    def labels(self) -> list[str]:
        return list(self._labels)

    def sizeHint(self) -> QSize:
        return QSize(560, 420)

    def _layout(self) -> tuple[int, int, int]:
        """(columns, cell side, label height) that make the images largest."""
        n = len(self._images)
        label_h = self.fontMetrics().height() + self.LABEL_GAP
        best = (1, 0)
        for cols in range(1, n + 1):
            rows = math.ceil(n / cols)
            side = min(self.width() / cols, self.height() / rows - label_h) - 8
            if side > best[1]:
                best = (cols, int(side))
        return best[0], max(8, min(best[1], self.MAX_CELL)), label_h

    def paintEvent(self, event) -> None:
        if not self._images:
            return
        cols, side, label_h = self._layout()
        cell_w, cell_h = side + 8, side + label_h + 8
        x0 = (self.width() - cols * cell_w) / 2  # centred: a narrow grid does not hug the left edge
        y0 = 0.0  # top-aligned: the grid starts level with the bars beside it
        p = QPainter(self)
        p.setRenderHint(QPainter.SmoothPixmapTransform, False)  # nearest: pixels stay pixels
        frame = self.palette().color(QPalette.Mid)
        for i, img in enumerate(self._images):
            r, c = divmod(i, cols)
            x, y = x0 + c * cell_w + 4, y0 + r * cell_h + 4
            aspect = img.width() / max(img.height(), 1)
            w, h = (side, side / aspect) if aspect >= 1 else (side * aspect, side)
            target = QRectF(x + (side - w) / 2, y + (side - h) / 2, w, h)
            p.drawImage(target, img)
            p.setPen(frame)
            p.drawRect(target.adjusted(-0.5, -0.5, 0.5, 0.5))
            p.setPen(self.palette().color(QPalette.Text))  # class colours are too pale for text on white
            text = self._labels[i] if i < len(self._labels) else ""
            text = self.fontMetrics().elidedText(text, Qt.ElideRight, int(cell_w) - 2)
            label_box = QRectF(x - 4, y + side + self.LABEL_GAP / 2, cell_w, label_h)
            p.drawText(label_box, Qt.AlignHCenter | Qt.AlignTop, text)
        p.end()


def _to_qimage(x: np.ndarray) -> QImage:
    """(C, H, W) or (H, W) uint8 to a QImage that owns its pixels."""
    if x.ndim == 3 and x.shape[0] == 3:
        rgb = np.ascontiguousarray(np.transpose(x, (1, 2, 0)))
        h, w = rgb.shape[:2]
        return QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
    if x.ndim == 3:
        x = x[0]  # one channel (or an odd count): show the first
    grey = np.ascontiguousarray(x.reshape(x.shape[-2], x.shape[-1]) if x.ndim >= 2 else x[None, :])
    h, w = grey.shape
    return QImage(grey.data, w, h, w, QImage.Format_Grayscale8).copy()


class SampleTable(QTableWidget):
    """Rows of a tabular dataset in their original units; the target is the last column."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("preview_table")
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setAlternatingRowColors(True)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.verticalHeader().hide()  # row numbers of a sample say nothing; the width goes to the columns
        self.horizontalHeader().setStretchLastSection(True)
        self._natural: list[int] = []  # each column's width for its contents

    def set_rows(self, samples: Sequence[tuple[np.ndarray, Any]], features: list[str], target: str,
                 labels: list[str]) -> None:
        self.clear()
        width = len(np.asarray(samples[0][0]).reshape(-1)) if samples else len(features)
        names = list(features) if len(features) == width else [f"x{i + 1}" for i in range(width)]
        self.setColumnCount(width + 1)
        self.setRowCount(len(samples))
        self.setHorizontalHeaderLabels(names + [target])
        header_item = self.horizontalHeaderItem(width)
        font = header_item.font()
        font.setBold(True)
        header_item.setFont(font)
        for r, (x, _) in enumerate(samples):
            a = np.asarray(x)
            ids = a.dtype.kind in "iu"  # token ids: every digit, never 1.235e+05
            for c, v in enumerate(a.reshape(-1) if ids else a.astype(np.float64).reshape(-1)):
                # Un-normalizing in float32 leaves 1e-8 where the file says 0 (one-hot columns).
                item = QTableWidgetItem(str(int(v)) if ids else f"{0.0 if abs(v) < 1e-6 else v:.4g}")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                self.setItem(r, c, item)
            item = QTableWidgetItem(labels[r])
            self.setItem(r, width, item)
        for c, name in enumerate(names + [target]):
            self.horizontalHeaderItem(c).setToolTip(name)  # the full name where the header is elided
        self.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.resizeColumnsToContents()
        self._natural = [self.columnWidth(c) for c in range(self.columnCount())]
        self._fit_columns()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_columns()

    def _fit_columns(self) -> None:
        """A few columns share the width (headers elided) rather than hide the target
        behind a scroll bar; many columns keep their widths and scroll."""
        if not self._natural:
            return
        header = self.horizontalHeader()
        squeeze = sum(self._natural) > self.viewport().width() and len(self._natural) <= 8
        mode = QHeaderView.Stretch if squeeze else QHeaderView.Interactive
        if header.sectionResizeMode(0) != mode:
            header.setSectionResizeMode(mode)
            if mode == QHeaderView.Interactive:
                for c, w in enumerate(self._natural):
                    self.setColumnWidth(c, w)

    def headers(self) -> list[str]:
        return [self.horizontalHeaderItem(c).text() for c in range(self.columnCount())]


class ScatterView(pg.PlotWidget):
    """2-D points coloured by class; one input against the target for 1-D regression."""

    def __init__(self, parent: QWidget | None = None):
        background, _ = theme.plot_colors()
        super().__init__(parent, background=background)
        _style(self, "preview_scatter", "samples (training split)")
        self._legend = _legend(self)
        self.spots = 0

    def set_points(self, x: np.ndarray, y: np.ndarray, classification: bool, class_names: list[str],
                   features: list[str], target: str) -> None:
        item = self.getPlotItem()
        item.clear()
        self._legend.clear()
        x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
        names = features if features and len(features) == x.shape[1] else [f"x{i + 1}" for i in range(x.shape[1])]
        if x.shape[1] == 1 or not classification:
            xs = x[:, 0]
            ys = np.asarray(y, dtype=np.float64).reshape(len(y), -1)[:, 0] if x.shape[1] == 1 else x[:, 1]
            item.setLabel("bottom", names[0])
            item.setLabel("left", target if x.shape[1] == 1 else names[1])
        else:
            xs, ys = x[:, 0], x[:, 1]
            item.setLabel("bottom", names[0])
            item.setLabel("left", names[1])
        if classification:
            k = len(class_names)
            for c in range(k):
                mask = np.asarray(y) == c
                color = class_color(c, k)
                item.addItem(pg.ScatterPlotItem(xs[mask], ys[mask], size=6, pen=None,
                                                brush=pg.mkBrush(color.red(), color.green(), color.blue(), 190),
                                                name=class_names[c]))
        else:
            color = self.palette().color(QPalette.Highlight)
            item.addItem(pg.ScatterPlotItem(xs, ys, size=5, pen=None,
                                            brush=pg.mkBrush(color.red(), color.green(), color.blue(), 170)))
        self.spots = len(xs)
        item.autoRange()


class LinesView(pg.PlotWidget):
    """A few sequences or signals, one line each, coloured by class."""

    def __init__(self, parent: QWidget | None = None):
        background, _ = theme.plot_colors()
        super().__init__(parent, background=background)
        _style(self, "preview_lines", "samples")
        self._legend = _legend(self)
        self.lines = 0

    def set_lines(self, samples: Sequence[tuple[np.ndarray, Any]], classification: bool,
                  class_names: list[str], title: str) -> None:
        item = self.getPlotItem()
        item.clear()
        self._legend.clear()
        _, foreground = theme.plot_colors()
        item.setTitle(title, color=foreground, size="10pt")
        k = len(class_names)
        named: set[int] = set()
        highlight = self.palette().color(QPalette.Highlight)
        for x, y in samples:
            a = np.asarray(x, dtype=np.float64)
            series = a[:, 0] if a.ndim == 2 and a.shape[1] >= 1 and a.shape[0] > 1 else a.reshape(-1)
            if classification:
                c = int(y)
                color = class_color(c, k)
                name = class_names[c] if c not in named else None
                named.add(c)
            else:
                color, name = highlight, None
            item.plot(np.arange(len(series)), series, pen=pg.mkPen(color, width=1.4), name=name)
        item.setLabel("bottom", "step")
        self.lines = len(samples)
        item.autoRange()


class ClassBars(pg.PlotWidget):
    """Samples per class (all splits), or a histogram of the target for regression."""

    def __init__(self, parent: QWidget | None = None):
        background, _ = theme.plot_colors()
        super().__init__(parent, background=background)
        _style(self, "class_bars", "class balance")
        self.setMouseEnabled(x=False, y=False)
        self.bars: pg.BarGraphItem | None = None

    def set_counts(self, counts: dict[str, int]) -> None:
        names, heights = list(counts), [counts[n] for n in counts]
        k = len(names)
        self._reset("class balance (train + val + test)", "samples")
        colors = [class_color(i, k) for i in range(k)]
        self.bars = pg.BarGraphItem(x=np.arange(k), height=heights, width=0.7, pen=None,
                                    brushes=[pg.mkBrush(c) for c in colors])
        self.getPlotItem().addItem(self.bars)
        axis = self.getPlotItem().getAxis("bottom")
        if k <= MAX_TICK_LABELS:
            axis.setTicks([[(i, _short(n, max(6, 48 // k))) for i, n in enumerate(names)]])
        else:
            axis.setTicks(None)
        self.getPlotItem().setXRange(-0.6, k - 0.4, padding=0)
        self.getPlotItem().setYRange(0, max(heights, default=1) * 1.08, padding=0)

    def set_histogram(self, values: np.ndarray, target: str) -> None:
        self._reset(f"distribution of {target}", "samples")
        values = np.asarray(values, dtype=np.float64)
        values = values[np.isfinite(values)]
        bins = int(min(40, max(5, math.sqrt(max(len(values), 1)))))
        counts, edges = np.histogram(values, bins=bins) if len(values) else (np.zeros(1), np.array([0.0, 1.0]))
        color = self.palette().color(QPalette.Highlight)
        self.bars = pg.BarGraphItem(x0=edges[:-1], x1=edges[1:], height=counts, pen=None, brush=pg.mkBrush(color))
        self.getPlotItem().addItem(self.bars)
        self.getPlotItem().getAxis("bottom").setTicks(None)
        self.getPlotItem().setLabel("bottom", target)
        self.getPlotItem().autoRange()

    def clear_bars(self) -> None:
        self._reset("", "")
        self.bars = None

    def heights(self) -> list[float]:
        """The bars as drawn (tests read these)."""
        if self.bars is None:
            return []
        return [float(h) for h in np.asarray(self.bars.opts["height"]).reshape(-1)]

    def _reset(self, title: str, left: str) -> None:
        item = self.getPlotItem()
        item.clear()
        item.setLabel("bottom", "")
        _, foreground = theme.plot_colors()
        item.setTitle(title, color=foreground, size="10pt")
        item.setLabel("left", left)


def _style(w: pg.PlotWidget, name: str, title: str) -> None:
    w.setObjectName(name)
    _, foreground = theme.plot_colors()
    item = w.getPlotItem()
    item.setTitle(title, color=foreground, size="10pt")
    for axis in ("left", "bottom"):
        ax = item.getAxis(axis)
        ax.setPen(foreground)
        ax.setTextPen(foreground)
    item.showGrid(x=True, y=True, alpha=0.15)
    item.setMenuEnabled(False)
    w.setMinimumSize(240, 180)


def _legend(w: pg.PlotWidget) -> pg.LegendItem:
    """Top right, on a see-through panel of the plot's background so lines under it stay visible."""
    background, foreground = theme.plot_colors()
    fill = QColor(background)
    fill.setAlpha(210)
    return w.getPlotItem().addLegend(offset=(-10, 10), brush=pg.mkBrush(fill), labelTextColor=foreground)


def _short(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"


# --- the panel -----------------------------------------------------------------------

class SamplePreview(QStackedWidget):
    """Shows whichever view fits the dataset's kind; `view()` names the one showing."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sample_preview")
        self.empty = QLabel()
        self.empty.setObjectName("preview_empty")
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setWordWrap(True)
        self.images = ImageGrid()
        self.table = SampleTable()
        self.scatter = ScatterView()
        self.lines = LinesView()
        self._views = {"empty": self.empty, "images": self.images, "table": self.table,
                       "scatter": self.scatter, "lines": self.lines}
        for w in self._views.values():
            self.addWidget(w)

    def view(self) -> str:
        current = self.currentWidget()
        return next(k for k, w in self._views.items() if w is current)

    def show_empty(self, text: str) -> None:
        self.empty.setText(text)
        self.setCurrentWidget(self.empty)

    def show_result(self, result: Any, target_name: str) -> None:
        info = result.info
        classification = info.task == "classification"
        names = list(info.class_names)
        k = len(names)

        def label(y: Any) -> str:
            if classification:
                return names[int(y)] if 0 <= int(y) < k else str(y)
            return ", ".join(f"{float(v):.4g}" for v in np.asarray(y).reshape(-1))

        samples = result.samples
        if result.points is not None:
            x, y = result.points
            self.scatter.set_points(x, y, classification, names, info.feature_names or [], target_name)
            self.setCurrentWidget(self.scatter)
        elif info.kind == "image":
            self.images.set_samples(samples, [label(y) for _, y in samples])
            self.setCurrentWidget(self.images)
        elif info.kind in ("sequence", "signal"):
            shape = info.input_shape
            what = f"{len(samples)} samples" + (", coloured by class" if classification else "")
            if len(shape) == 2 and shape[-1] > 1:
                what += f" (feature 1 of {shape[-1]})"
            self.lines.set_lines(samples, classification, names, what)
            self.setCurrentWidget(self.lines)
        else:
            # Tabular rows, and token ids ("tokens"): ids are names, not amounts, so a
            # line through them would draw a rise and fall that means nothing.
            self.table.set_rows(samples, info.feature_names or [], target_name,
                                [label(y) for _, y in samples])
            self.setCurrentWidget(self.table)
