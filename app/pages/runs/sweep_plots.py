"""The Sweep view's charts over a SweepReport (engine.sweep_report):

- HistoryPlot: the metric of each trial by trial number, with the best so
  far as a step line (Optuna's optimization history); pruned trials hollow.
- ImportancePlot: each parameter's share of the metric's variance, as bars.
- SlicePlots: one small scatter per parameter (value against the metric, a
  log axis where the parameter is log scaled, words as categories).

Each reports a clicked trial as `trial_clicked(run_id)`; nothing here reads
the store or computes anything beyond placing points.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QGridLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from engine.status import RunStatus
from engine.sweep_report import SweepReport, Trial, best_so_far

POINT = "#2f7fd8"
BEST = "#d9480f"
PRUNED = "#7d6bb3"
SLICE_COLUMNS = 3


def _plot(title: str) -> pg.PlotWidget:
    # enableMenu=False: no context menu to build (a tenth of a second per plot on this machine).
    w = pg.PlotWidget(background="w", title=title, enableMenu=False)
    item = w.getPlotItem()
    item.showGrid(x=True, y=True, alpha=0.15)
    for side in ("left", "bottom"):
        item.getAxis(side).enableAutoSIPrefix(False)
    return w


def _empty_label(text: str) -> QLabel:
    label = QLabel(text, alignment=Qt.AlignmentFlag.AlignCenter)
    label.setWordWrap(True)
    label.setStyleSheet("color: #666; padding: 16px;")
    return label


class _Points:
    """A scatter whose points carry their run id and report clicks."""

    def __init__(self, plot: pg.PlotWidget, on_click: Any, tip: Any):
        self.item = pg.ScatterPlotItem(size=9, hoverable=True, tip=tip)
        self.item.sigClicked.connect(lambda _s, pts, _ev=None: pts and on_click(int(pts[0].data())))
        plot.addItem(self.item)

    def set(self, xs: list[float], ys: list[float], trials: list[Trial], by_number: bool = False) -> None:
        """by_number: completed trials coloured from early (dark) to late (light), as Optuna's slice plot."""
        last = max((t.number for t in trials), default=1)
        cmap = pg.colormap.get("viridis") if by_number else None
        brushes = [pg.mkBrush(PRUNED if t.status == RunStatus.PRUNED
                              else cmap.map(t.number / max(last, 1), mode="qcolor") if cmap is not None else POINT)
                   for t in trials]
        symbols = ["t" if t.status == RunStatus.PRUNED else "o" for t in trials]
        self.item.setData(x=np.asarray(xs, dtype=float), y=np.asarray(ys, dtype=float),
                          data=[t.run_id for t in trials], brush=brushes, symbol=symbols,
                          pen=pg.mkPen("#333", width=0.5))

    def count(self) -> int:
        return len(self.item.data)


class HistoryPlot(QWidget):
    """objectName sweep_history."""

    trial_clicked = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_history")
        self._report: Optional[SweepReport] = None
        self.plot = _plot("Optimization history")
        self.plot.getPlotItem().setLabel("bottom", "trial")
        legend = self.plot.getPlotItem().addLegend(offset=(-10, -10))
        self.best_line = self.plot.plot([], [], pen=pg.mkPen(BEST, width=2), stepMode=None, name="best so far")
        self.points = _Points(self.plot, self.trial_clicked.emit, self._tip)
        for symbol, colour, text in (("o", POINT, "completed"), ("t", PRUNED, "pruned (its last value)")):
            legend.addItem(pg.ScatterPlotItem(symbol=symbol, brush=pg.mkBrush(colour), size=9), text)
        self.empty = _empty_label("Each trial appears here as it finishes, with the best so far as a line.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.empty)
        self.empty.hide()

    def set_report(self, report: SweepReport) -> None:
        self._report = report
        trials = report.valued()
        self.empty.setVisible(not trials)
        xs = [float(t.number) for t in trials]
        ys = [float(t.value) for t in trials if t.value is not None]
        self.points.set(xs, ys, trials)
        done = [t for t in trials if t.status == RunStatus.COMPLETED]  # as report.best: pruned never wins
        best = best_so_far([float(t.value) for t in done if t.value is not None], report.goal)
        bx = [float(t.number) for t in done]
        # A step line: the best holds until a trial beats it.
        sx = np.repeat(bx, 2)[1:] if bx else np.array([])
        sy = np.repeat(best, 2)[:-1] if best else np.array([])
        self.best_line.setData(sx, sy)
        better = "higher" if report.goal == "maximize" else "lower"
        self.plot.getPlotItem().setLabel("left", f"{report.metric} ({better} is better)")
        self.plot.getPlotItem().enableAutoRange()

    def point_count(self) -> int:
        return self.points.count()

    def _tip(self, x: float, y: float, data: Any) -> str:
        t = self._report.trial_of(int(data)) if self._report else None
        if t is None:
            return ""
        return f"trial {t.number} · run #{t.run_id} ({t.status})\n{self._report.metric} = {y:.4g}"  # type: ignore[union-attr]


class ImportancePlot(QWidget):
    """objectName sweep_importance: horizontal bars, the most important parameter on top."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_importance")
        self.plot = _plot("Parameter importance")
        self.plot.getPlotItem().setMouseEnabled(x=False, y=False)
        self.plot.getPlotItem().setLabel("bottom", "share of the metric's variance")
        self.bars: Optional[pg.BarGraphItem] = None
        self.note = _empty_label("Importance appears once two or more trials have finished.")
        self.importances: dict[str, float] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.note)
        self.plot.hide()

    def set_message(self, text: str) -> None:
        self.importances = {}
        self.note.setText(text)
        self.note.show()
        self.plot.hide()

    def set_importances(self, importances: dict[str, float], evaluator: str = "") -> None:
        self.importances = dict(importances)
        item = self.plot.getPlotItem()
        if self.bars is not None:
            item.removeItem(self.bars)
        names = list(importances)[::-1]  # bottom to top: the largest ends on top
        values = [importances[n] for n in names]
        self.bars = pg.BarGraphItem(x0=0, y=np.arange(len(names)), height=0.6, width=values,
                                    brush=pg.mkBrush(POINT), pen=pg.mkPen(None))
        item.addItem(self.bars)
        left = item.getAxis("left")
        left.setTicks([[(i, n) for i, n in enumerate(names)]])
        # Room for the longest name: the axis does not widen itself for custom ticks.
        left.setWidth(max(QFontMetrics(left.font() if hasattr(left, "font") else self.font())
                          .horizontalAdvance(n) for n in names) + 16 if names else 40)
        item.setXRange(0, max(values + [0.01]) * 1.05, padding=0)
        item.setYRange(-0.6, len(names) - 0.4, padding=0)
        item.setTitle(f"Parameter importance ({evaluator})" if evaluator else "Parameter importance")
        self.note.hide()
        self.plot.show()


class SlicePlots(QWidget):
    """objectName sweep_slices: one scatter per parameter, in a scrollable grid; completed
    trials coloured by trial number (dark early, light late: where the sampler went)."""

    trial_clicked = Signal(int)

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_slices")
        self._report: Optional[SweepReport] = None
        self.plots: dict[str, pg.PlotWidget] = {}
        self._points: dict[str, _Points] = {}
        self._inner = QWidget()
        self._grid = QGridLayout(self._inner)
        self._grid.setContentsMargins(0, 0, 0, 0)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self._inner)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)

    def set_report(self, report: SweepReport) -> None:
        self._report = report
        paths = [p.path for p in report.params]
        if list(self.plots) != paths:
            for w in self.plots.values():
                self._grid.removeWidget(w)
                w.deleteLater()
            self.plots, self._points = {}, {}
            for i, path in enumerate(paths):
                w = _plot(path)
                w.setMinimumHeight(220)
                self._grid.addWidget(w, i // SLICE_COLUMNS, i % SLICE_COLUMNS)
                self.plots[path] = w
                self._points[path] = _Points(w, self.trial_clicked.emit, self._tip)
        trials = report.valued()
        for p in report.params:
            w, axis = self.plots[p.path], self.plots[p.path].getPlotItem().getAxis("bottom")
            have = [t for t in trials if p.path in t.params]
            values = [t.params[p.path] for t in have]
            if p.categorical or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                cats = list(dict.fromkeys([str(v) for v in p.values] + [str(v) for v in values]))
                xs = [float(cats.index(str(v))) for v in values]
                axis.setTicks([[(i, c) for i, c in enumerate(cats)]])
            else:
                xs = [float(v) for v in values]
                if p.log and all(x > 0 for x in xs):  # log10 by hand: a bare scatter ignores setLogMode
                    xs = [math.log10(x) for x in xs]
                    axis.setTicks(_decade_ticks(xs, p.low, p.high))
                    w.getPlotItem().setLabel("bottom", f"{p.path} (log scale)")
                else:
                    axis.setTicks(None)
            w.getPlotItem().setLabel("left", report.metric)
            self._points[p.path].set(xs, [float(t.value) for t in have if t.value is not None], have, by_number=True)
            w.getPlotItem().enableAutoRange()

    def point_counts(self) -> dict[str, int]:
        return {path: pts.count() for path, pts in self._points.items()}

    def _tip(self, x: float, y: float, data: Any) -> str:
        t = self._report.trial_of(int(data)) if self._report else None
        if t is None:
            return ""
        value = f"{y:.4g}" if math.isfinite(y) else "–"
        return f"trial {t.number} · run #{t.run_id} ({t.status})\n{self._report.metric} = {value}"  # type: ignore[union-attr]


def _decade_ticks(logs: list[float], low: Optional[float], high: Optional[float]) -> list[list[tuple[float, str]]]:
    """Ticks at whole decades (1e-4, 0.001, ...) over the data and the parameter's range."""
    ends = logs + [math.log10(v) for v in (low, high) if v and v > 0]
    if not ends:
        return [[]]
    lo, hi = math.floor(min(ends)), math.ceil(max(ends))
    return [[(float(d), f"{10.0 ** d:g}") for d in range(lo, hi + 1)]]
