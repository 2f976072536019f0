"""Parallel coordinates of a sweep: one vertical axis per swept parameter and
one for the metric, one line per trial across them (coloured by its metric
value, the best drawn thick).

An axis of a log-scaled parameter (log_uniform in the sweep document) is a
log axis; words (optimizer.type) are evenly spaced categories. "Top k %"
keeps the best trials' lines. Each axis carries a brush: drag its top or
bottom handle to narrow it, and the trials whose lines pass every brush are
the selection (`brushed`), as in HiPlot and the Optuna dashboard. Clicking a
line reports its trial (`trial_clicked`).
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from engine.formatting import metric as fmt_metric
from engine.sweep_report import SweepParam, SweepReport, top_trials

MARGIN = 0.35  # view units left and right of the outer axes
HALF_BRUSH = 0.07  # half the drawn width of an axis' brush, in view units
FADED = QColor(180, 180, 180, 70)
FADED_PEN = pg.mkPen(FADED, width=1)


def trial_colour(value: float, lo: float, hi: float, goal: str) -> QColor:
    """viridis from the worst value (dark) to the best (yellow)."""
    t = 0.5 if hi <= lo else (value - lo) / (hi - lo)
    if goal == "minimize":
        t = 1 - t
    return pg.colormap.get("viridis").map(float(min(1.0, max(0.0, t))), mode="qcolor")


class Axis:
    """How one coordinate maps its values onto 0..1 (and back, for labels)."""

    def __init__(self, name: str, values: list[Any], param: Optional[SweepParam] = None):
        self.name = name
        self.log = bool(param is not None and param.log)
        numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
        self.categories: list[str] = []
        if param is not None and (param.categorical or len(numbers) < len(values)):
            seen = [str(v) for v in (param.values or values)]
            self.categories = list(dict.fromkeys(seen + [str(v) for v in values]))
            self.lo, self.hi = 0.0, float(max(1, len(self.categories) - 1))
            return
        lo_hi = [float(v) for v in numbers]
        if param is not None and param.low is not None and param.high is not None:
            lo_hi += [param.low, param.high]
        if self.log:
            lo_hi = [v for v in lo_hi if v > 0]
        lo, hi = (min(lo_hi), max(lo_hi)) if lo_hi else (0.0, 1.0)
        self.lo, self.hi = (math.log10(lo), math.log10(hi)) if self.log else (lo, hi)

    def position(self, value: Any) -> float:
        """0 (bottom) .. 1 (top); NaN when the value does not fit the axis."""
        if self.categories:
            x = float(self.categories.index(str(value))) if str(value) in self.categories else math.nan
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            if self.log and value <= 0:
                return math.nan
            x = math.log10(value) if self.log else float(value)
        else:
            return math.nan
        return 0.5 if self.hi == self.lo else (x - self.lo) / (self.hi - self.lo)

    def label(self, pos: float) -> str:
        """The value at position `pos`, as written on the axis."""
        x = self.lo + pos * (self.hi - self.lo)
        if self.categories:
            i = int(round(x))
            return self.categories[i] if 0 <= i < len(self.categories) else ""
        return fmt_metric(10 ** x if self.log else x)

    def ticks(self) -> list[float]:
        if self.categories:
            n = len(self.categories)
            return [0.5] if n == 1 else [i / (n - 1) for i in range(n)]
        return [0.0, 0.5, 1.0]


class ParallelCoordinates(QWidget):
    """objectName sweep_parallel."""

    trial_clicked = Signal(int)
    """A trial's line was clicked (payload: its run id)."""
    brushed = Signal(list)
    """The brushes changed (payload: run ids of the trials inside every brush, by trial number)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_parallel")
        self._report: Optional[SweepReport] = None
        self.axes: list[Axis] = []
        self.lines: dict[int, pg.PlotCurveItem] = {}  # run id -> its line
        self.brushes: list[pg.LinearRegionItem] = []
        self._positions: dict[int, np.ndarray] = {}
        self._colours: dict[int, QColor] = {}
        self._labels: list[pg.TextItem] = []
        self.top = QSpinBox(objectName="sweep_top_percent")
        self.top.setRange(1, 100)
        self.top.setValue(100)
        self.top.setSuffix(" %")
        self.top.setToolTip("Show only the best k % of the trials (by the sweep's metric)")
        self.clear_button = QPushButton("Clear brushes", objectName="sweep_clear_brushes")
        self.clear_button.setToolTip("Widen every axis' brush back to its full range")
        self.note = QLabel(objectName="sweep_parallel_note")
        self.note.setStyleSheet("color: #666;")
        self.plot = pg.PlotWidget(background="w", enableMenu=False)
        item = self.plot.getPlotItem()
        item.hideAxis("left")
        item.hideAxis("bottom")
        item.getViewBox().setMouseEnabled(x=False, y=False)
        item.hideButtons()
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        title = QLabel("<b>Parallel coordinates</b>")
        bar.addWidget(title)
        bar.addSpacing(12)
        bar.addWidget(QLabel("show top"))
        bar.addWidget(self.top)
        bar.addWidget(self.clear_button)
        bar.addSpacing(12)
        bar.addWidget(self.note, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addLayout(bar)
        lay.addWidget(self.plot, 1)
        self.top.valueChanged.connect(lambda _v: self._restyle())
        self.clear_button.clicked.connect(self.clear_brushes)

    # --- drawing -----------------------------------------------------------------------------
    def set_report(self, report: SweepReport) -> None:
        self._report = report
        item = self.plot.getPlotItem()
        self.lines, self.brushes, self._labels, self._positions = {}, [], [], {}
        item.clear()
        trials = report.valued()
        self.axes = [Axis(p.path, [t.params.get(p.path) for t in trials], p) for p in report.params]
        metric_axis = Axis(report.metric, [t.value for t in trials])
        self.axes.append(metric_axis)
        n = len(self.axes)
        item.setXRange(-MARGIN, n - 1 + MARGIN, padding=0)
        item.setYRange(-0.08, 1.16, padding=0)
        for i, axis in enumerate(self.axes):
            item.addItem(pg.PlotCurveItem([i, i], [0, 1], pen=pg.mkPen("#555", width=1.5)))
            self._axis_text(i, axis)
        xs = np.arange(n, dtype=float)
        for t in trials:
            ys = np.array([a.position(t.params.get(a.name)) for a in self.axes[:-1]]
                          + [metric_axis.position(t.value)], dtype=float)
            self._positions[t.run_id] = ys
            line = pg.PlotCurveItem(xs, ys, connect="finite", pen=FADED_PEN)  # _restyle gives its colour
            line.setClickable(True, width=6)
            line.sigClicked.connect(lambda _c, _ev=None, rid=t.run_id: self.trial_clicked.emit(rid))
            line.setToolTip(self._tip(t))
            item.addItem(line)
            self.lines[t.run_id] = line
        for i in range(n):
            span = ((i - HALF_BRUSH + MARGIN) / (n - 1 + 2 * MARGIN), (i + HALF_BRUSH + MARGIN) / (n - 1 + 2 * MARGIN))
            brush = pg.LinearRegionItem((0.0, 1.0), orientation="horizontal", bounds=(0.0, 1.0), span=span,
                                        brush=pg.mkBrush(47, 127, 216, 40), swapMode="sort")
            brush.setZValue(10)
            brush.sigRegionChangeFinished.connect(lambda _r: self._on_brush())
            item.addItem(brush)
            self.brushes.append(brush)
        self.note.setText(f"{len(trials)} trials · drag an axis' top or bottom edge to brush it"
                          if trials else f"No trial has {report.metric} yet.")
        self._restyle()

    def _axis_text(self, i: int, axis: Axis) -> None:
        item = self.plot.getPlotItem()
        name = pg.TextItem(axis.name + (" (log)" if axis.log else ""), color="#222", anchor=(0.5, 1.0))
        name.setPos(i, 1.04)
        item.addItem(name)
        self._labels.append(name)
        for pos in axis.ticks():
            last = i == len(self.axes) - 1
            t = pg.TextItem(axis.label(pos), color="#333", anchor=(1.0 if last else 0.0, 0.5),
                            fill=pg.mkBrush(255, 255, 255, 210))
            t.setPos(i + (-1.2 if last else 1.2) * HALF_BRUSH, pos)
            t.setZValue(20)  # over the lines: a label must stay readable
            item.addItem(t)
            self._labels.append(t)

    def _tip(self, t: Any) -> str:
        assert self._report is not None
        params = "\n".join(f"{k} = {v}" for k, v in t.params.items())
        return f"trial {t.number} (run #{t.run_id}, {t.status})\n{params}\n{self._report.metric} = {t.value:.4g}"

    # --- brushing and top k ------------------------------------------------------------------
    def brush(self, axis: int, low: float, high: float) -> None:
        """Narrow axis `axis` (0-based, the metric last) to positions low..high (0..1)."""
        self.brushes[axis].setRegion((low, high))
        self._on_brush()

    def clear_brushes(self) -> None:
        for b in self.brushes:
            b.blockSignals(True)
            b.setRegion((0.0, 1.0))
            b.blockSignals(False)
        self._on_brush()

    def brushed_ids(self) -> list[int]:
        """Trials inside every brush (and the top k %), by trial number."""
        if self._report is None:
            return []
        regions = [b.getRegion() for b in self.brushes]
        shown = self.visible_ids()
        out = []
        for t in self._report.valued():
            ys = self._positions.get(t.run_id)
            if ys is None or t.run_id not in shown:
                continue
            if all(lo - 1e-9 <= y <= hi + 1e-9 for y, (lo, hi) in zip(ys, regions) if not math.isnan(y)):
                out.append(t.run_id)
        return out

    def is_brushed(self) -> bool:
        return any(abs(lo) > 1e-6 or abs(hi - 1) > 1e-6 for lo, hi in (b.getRegion() for b in self.brushes))

    def visible_ids(self) -> set[int]:
        """Lines shown under the top-k % filter."""
        return set() if self._report is None else top_trials(self._report, self.top.value())

    def _on_brush(self) -> None:
        self._restyle()
        self.brushed.emit(self.brushed_ids() if self.is_brushed() else [])

    def _restyle(self) -> None:
        if self._report is None:
            return
        shown = self.visible_ids()
        inside = set(self.brushed_ids()) if self.is_brushed() else shown
        best = self._report.best.run_id if self._report.best else None
        # Colours span the values of the lines shown: the top 10 % still reads from worst to best.
        values = {t.run_id: float(t.value) for t in self._report.valued() if t.run_id in shown and t.value is not None}
        lo, hi = (min(values.values()), max(values.values())) if values else (0.0, 1.0)
        self._colours = {rid: trial_colour(v, lo, hi, self._report.goal) for rid, v in values.items()}
        for rid, line in self.lines.items():
            line.setVisible(rid in shown)
            if rid in inside:
                line.setPen(pg.mkPen(self._colours[rid], width=3.5 if rid == best else 1.6))
                line.setZValue(2 if rid == best else 1)
            elif line.opts["pen"] is not FADED_PEN:
                line.setPen(FADED_PEN)
                line.setZValue(0)

    def line_count(self) -> int:
        """Lines drawn and shown (tests and the bench count them)."""
        return sum(1 for line in self.lines.values() if line.isVisible())
