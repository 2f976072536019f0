"""Chart widgets of the Compare view: one MetricChart per metric key (a raw
and a smoothed curve per run), laid out and reused by a ChartGrid.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QWidget

from engine.compare import ema_smooth

COLUMNS = 3


class MetricChart(pg.PlotWidget):
    """One metric key: a raw (faint) and a smoothed curve per run.

    Curves are PlotCurveItems, reused across selections: the data arrive
    already reduced, so PlotDataItem's downsampling is not needed, and
    creating a PlotDataItem (with its scatter item) cost ~1.5 ms each, ~0.6 s
    for 20 runs x 10 charts. Log y is applied to the data here and to the
    axis by the PlotItem.
    """

    zoomed = Signal(str, float, float)
    """The user zoomed the x axis (payload: key, low step, high step)."""

    def __init__(self, key: str, system: bool = False, parent=None):
        super().__init__(parent=parent, background="w")
        self.key = key
        self.system = system
        self.items: dict[int, tuple[pg.PlotCurveItem, pg.PlotCurveItem]] = {}
        self._spare: list[tuple[pg.PlotCurveItem, pg.PlotCurveItem]] = []
        self.full: dict[int, Any] = {}  # run id -> the reduced, full-range Curve
        self.shown: dict[int, Any] = {}  # run id -> what is drawn (full or a zoomed re-read)
        self.log_y = False
        self.setObjectName(f"chart:{key}")
        self.setMinimumHeight(220)
        pi = self.getPlotItem()
        pi.setTitle(key, size="10pt")
        pi.showGrid(x=True, y=True, alpha=0.15)
        pi.hideButtons()
        pi.getAxis("left").enableAutoSIPrefix(False)
        self._programmatic = False
        self._timer = QTimer(self, singleShot=True, interval=300)
        self._timer.timeout.connect(self._emit_zoom)
        pi.getViewBox().sigXRangeChanged.connect(lambda *_: None if self._programmatic else self._timer.start())

    def set_curves(self, curves: Sequence[Any], colors: dict[int, QColor]) -> None:
        old = self.items
        self.items = {}
        self.full = {c.run_id: c for c in curves}
        self.shown = dict(self.full)
        for c in curves:
            pair = old.pop(c.run_id, None) or (self._spare.pop() if self._spare else None)
            if pair is None:
                pair = (pg.PlotCurveItem(), pg.PlotCurveItem())
                self.addItem(pair[0])
                self.addItem(pair[1])
            color = QColor(colors[c.run_id])
            faint = QColor(color)
            faint.setAlpha(55)
            pair[0].setPen(pg.mkPen(faint, width=1))
            pair[1].setPen(pg.mkPen(color, width=1.6))
            pair[1].setZValue(1)
            self.items[c.run_id] = pair
        for pair in old.values():  # runs no longer selected: park their items
            for item in pair:
                item.setData([], [])
                item.hide()
            self._spare.append(pair)

    def redraw(self, x_of: Callable[[Any], np.ndarray], weight: float, log_y: bool) -> None:
        self._programmatic = True
        try:
            if log_y != self.log_y:
                self.log_y = log_y
                pi = self.getPlotItem()
                for side in ("left", "right"):
                    pi.getAxis(side).setLogMode(False, log_y)
            for rid, (raw, smooth) in self.items.items():
                c = self.shown[rid]
                x = np.asarray(x_of(c), dtype=float)
                y = _log10(c.values) if log_y else np.asarray(c.values, dtype=float)
                if c.mins is not None:
                    # A reduced curve: its faint line strokes each bucket from
                    # min to max, so a spike inside a bucket still shows.
                    lo = _log10(c.mins) if log_y else c.mins
                    hi = _log10(c.maxs) if log_y else c.maxs
                    raw.setData(np.repeat(x, 2), np.column_stack([lo, hi]).ravel(), connect="finite")
                else:
                    raw.setData(x, y, connect="finite")
                raw.setVisible(weight > 0 or c.mins is not None)
                smooth.setData(x, ema_smooth(y, weight) if weight > 0 else y, connect="finite")
                smooth.show()
            self._floor_y_range()
        finally:
            self._programmatic = False

    def _floor_y_range(self) -> None:
        """A flat curve (a constant learning rate) must not be zoomed to its
        rounding noise: the y axis then labelled 0.001 as 0.00100000000000000003.
        The visible y range is kept at 1/1,000 of the values' size or more."""
        ys = [np.asarray(pair[1].getData()[1], dtype=float) for pair in self.items.values()]
        finite = np.concatenate([y[np.isfinite(y)] for y in ys]) if ys else np.empty(0)
        scale = float(np.abs(finite).max()) if finite.size else 0.0
        self.getPlotItem().getViewBox().setLimits(minYRange=max(scale * 1e-3, 1e-9))

    def curve_data(self, run_id: int) -> tuple[np.ndarray, np.ndarray]:
        """The smoothed curve as drawn, in data units (log y undone): (x, y)."""
        x, y = self.items[run_id][1].getData()
        y = np.asarray(y, dtype=float)
        return np.asarray(x, dtype=float), (10 ** y if self.log_y else y)

    def auto_range(self) -> None:
        """Fit the view to the data again (not a user zoom: no re-read)."""
        self._programmatic = True
        try:
            self.getPlotItem().enableAutoRange()
        finally:
            self._programmatic = False

    def _emit_zoom(self) -> None:
        lo, hi = self.getPlotItem().getViewBox().viewRange()[0]
        self.zoomed.emit(self.key, float(lo), float(hi))


class ChartGrid(QScrollArea):
    """Charts in a grid of COLUMNS, reused across selections (creating plots is the slow part)."""

    def __init__(self, empty_text: str, parent=None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.inner = QWidget()
        self.grid = QGridLayout(self.inner)
        self.grid.setContentsMargins(4, 4, 4, 4)
        self.grid.setSpacing(6)
        self.setWidget(self.inner)
        self.empty = QLabel(empty_text)
        self.empty.setAlignment(Qt.AlignCenter)
        self.empty.setStyleSheet("color: #666; padding: 24px;")
        self.charts: dict[str, MetricChart] = {}
        self._pool: dict[str, MetricChart] = {}

    def show_keys(self, keys: list[str], make: Callable[[str], MetricChart]) -> None:
        while self.grid.count():
            w = self.grid.takeAt(0).widget()
            if w is not None:
                w.hide()
        self.charts = {}
        for i, key in enumerate(keys):
            chart = self._pool.get(key) or make(key)
            self._pool[key] = chart
            self.charts[key] = chart
            self.grid.addWidget(chart, i // COLUMNS, i % COLUMNS)
            chart.show()
        if not keys:
            self.grid.addWidget(self.empty, 0, 0)
            self.empty.show()
        for c in range(COLUMNS):
            self.grid.setColumnStretch(c, 1)


def _log10(values: Any) -> np.ndarray:
    """log10 for a log axis; values <= 0 have none and leave a gap, not an error."""
    v = np.asarray(values, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)
