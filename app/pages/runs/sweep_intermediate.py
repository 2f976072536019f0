"""The Sweep view's intermediate-values plot (Optuna dashboard's "Intermediate
values"): the sweep's metric at the end of each epoch, one line per trial.

Pruned trials are drawn in the pruned colour and end, with a cross, at the
epoch the pruner stopped them: set against the completed lines around them,
it shows why they were stopped. The best trial is drawn over the rest. A
line is found under the mouse by its distance in pixels (the nearest within
HIT_PX): hovering names its trial, clicking emits `trial_clicked(run_id)`.

Data: SweepReport.intermediate (engine.store.epochs.epoch_ends, read with the
report off the UI thread); nothing here reads the store.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtWidgets import QToolTip, QVBoxLayout, QWidget

from app.pages.runs.sweep_plots import BEST, POINT, _empty_label, _plot
from app.pages.runs.table_model import STATUS_COLORS
from engine.formatting import metric as fmt_metric
from engine.status import ACTIVE, RunStatus
from engine.sweep_report import SweepReport, Trial

HIT_PX = 8.0  # how near (in pixels) the mouse must be to a line to name or pick it
ENDED = "#8a8f98"  # failed, crashed, stopped: drawn faint, they tell the pruner nothing
# Lines of one look share one item (NaN between trials): 50 items cost ~95 ms to make and paint, 5 a fifth.
LAYERS = ("ended", "completed", "running", "pruned", "best")


def _layer(trial: Trial, best: bool) -> str:
    if best:
        return "best"
    if trial.status == RunStatus.PRUNED:
        return "pruned"
    if trial.status in ACTIVE:
        return "running"
    return "completed" if trial.status == RunStatus.COMPLETED else "ended"


def _pen(layer: str, width: float = 1.4) -> Any:
    if layer == "best":
        return pg.mkPen(BEST, width=max(width, 3.0))
    if layer == "pruned":
        return pg.mkPen(STATUS_COLORS["pruned"], width=width)
    if layer == "running":
        return pg.mkPen(POINT, width=width, style=Qt.PenStyle.DashLine)
    if layer == "completed":
        colour = pg.mkColor(POINT)
        colour.setAlpha(150)
        return pg.mkPen(colour, width=width)
    return pg.mkPen(ENDED, width=width, style=Qt.PenStyle.DotLine)


class IntermediatePlot(QWidget):
    """objectName sweep_intermediate."""

    trial_clicked = Signal(int)
    """A line was clicked (payload: its trial's run id)."""

    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_intermediate")
        self._report: Optional[SweepReport] = None
        self.curves: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # run id -> (epochs, values) drawn
        self._order: dict[str, list[int]] = {name: [] for name in LAYERS}  # the trials of each layer, in order
        self.hovered: Optional[int] = None
        self._best: Optional[int] = None
        self._segments = np.zeros((0, 4))  # x0, y0, x1, y1 in data units, one row per segment
        self._owners = np.zeros(0, dtype=np.int64)  # run id of each segment (or lone point)
        self.plot = _plot("Intermediate values")
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "epoch")
        self.layers: dict[str, pg.PlotDataItem] = {}
        for z, name in enumerate(LAYERS):
            line = pg.PlotDataItem([], [], pen=_pen(name), connect="finite")
            line.setZValue(z)
            item.addItem(line)
            self.layers[name] = line
        self.hover_line = pg.PlotDataItem([], [], pen=_pen("completed", 3.0))
        self.hover_line.setZValue(len(LAYERS) + 1)
        item.addItem(self.hover_line)
        self.pruned_ends = pg.ScatterPlotItem(symbol="x", size=10, pen=pg.mkPen(STATUS_COLORS["pruned"], width=2),
                                              brush=pg.mkBrush(STATUS_COLORS["pruned"]))
        self.pruned_ends.setZValue(len(LAYERS))
        item.addItem(self.pruned_ends)
        legend = item.addLegend(offset=(-10, -10))
        for name, text in (("completed", "completed"), ("pruned", "pruned (× where it was stopped)"),
                           ("best", "best trial"), ("running", "still training")):
            legend.addItem(pg.PlotDataItem([], [], pen=_pen(name)), text)
        scene = self.plot.scene()
        scene.sigMouseMoved.connect(self._on_moved)
        scene.sigMouseClicked.connect(self._on_clicked)
        self.empty = _empty_label("No epochs reported yet: each trial's metric appears here epoch by epoch "
                                  "as it trains, and a pruned trial's line ends where the pruner stopped it.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.plot, 1)
        lay.addWidget(self.empty)
        self.empty.hide()

    # --- drawing --------------------------------------------------------------------------------
    def set_report(self, report: SweepReport) -> None:
        self._report = report
        self._best = report.best.run_id if report.best is not None else None
        self._set_hover(None)
        self.curves, self._order = {}, {name: [] for name in LAYERS}
        parts: dict[str, list[np.ndarray]] = {name: [] for name in LAYERS}
        segments, owners, ends = [], [], []
        for t in report.trials:
            curve = report.intermediate.get(t.run_id)
            if not curve or not curve[0]:
                continue
            xs, ys = np.asarray(curve[0], dtype=float), np.asarray(curve[1], dtype=float)
            self.curves[t.run_id] = (xs, ys)
            layer = _layer(t, t.run_id == self._best)
            self._order[layer].append(t.run_id)
            gap = np.array([[np.nan], [np.nan]])
            parts[layer].append(np.hstack([np.vstack([xs, ys]), gap]))  # NaN: the next trial is a new line
            # A lone point is a segment from itself to itself: it can be hovered and clicked too.
            starts = np.arange(max(1, len(xs) - 1))
            stops = np.minimum(starts + 1, len(xs) - 1)
            segments.append(np.column_stack([xs[starts], ys[starts], xs[stops], ys[stops]]))
            owners.append(np.full(len(starts), t.run_id, dtype=np.int64))
            if t.status == RunStatus.PRUNED:
                ends.append((xs[-1], ys[-1]))
        for name, line in self.layers.items():
            xy = np.hstack(parts[name]) if parts[name] else np.zeros((2, 0))
            # A lone point between NaNs draws nothing as a line: such a layer shows its points.
            lone = any(p.shape[1] == 2 for p in parts[name])
            line.setData(xy[0], xy[1], connect="finite", symbol="o" if lone else None, symbolSize=4,
                         symbolPen=None, symbolBrush=_pen(name).color())
        self._segments = np.vstack(segments) if segments else np.zeros((0, 4))
        self._owners = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        self.pruned_ends.setData(pos=np.asarray(ends, dtype=float).reshape(-1, 2))
        self.empty.setVisible(not self.curves)
        better = "higher" if report.goal == "maximize" else "lower"
        item = self.plot.getPlotItem()
        item.setLabel("left", f"{report.metric} ({better} is better)")
        item.enableAutoRange()

    def line_count(self) -> int:
        return len(self.drawn())

    def drawn(self) -> dict[int, tuple[list[float], list[float], str]]:
        """What the plot items hold, line by line: run id -> (epochs, values, colour) (tests, bench)."""
        out: dict[int, tuple[list[float], list[float], str]] = {}
        for name, line in self.layers.items():
            xs, ys = line.getData()
            if xs is None or not len(xs):
                continue
            breaks = np.flatnonzero(np.isnan(xs))
            starts = np.concatenate([[0], breaks + 1])[:len(breaks)]
            colour = line.opts["pen"].color().name()
            for run_id, a, b in zip(self._order[name], starts, breaks):
                out[run_id] = ([float(x) for x in xs[a:b]], [float(y) for y in ys[a:b]], colour)
        return out

    # --- the mouse ---------------------------------------------------------------------------------
    def trial_at(self, scene_pos: QPointF) -> Optional[int]:
        """The run id of the line nearest `scene_pos`, if within HIT_PX pixels."""
        if not len(self._segments):
            return None
        vb = self.plot.getPlotItem().getViewBox()
        if not vb.sceneBoundingRect().contains(scene_pos):
            return None
        (x0, x1), (y0, y1) = vb.viewRange()
        rect = vb.sceneBoundingRect()
        sx, sy = rect.width() / max(x1 - x0, 1e-12), rect.height() / max(y1 - y0, 1e-12)  # pixels per unit
        p = vb.mapSceneToView(scene_pos)
        # Point-to-segment distances, in pixels, for every segment at once.
        a = (self._segments[:, 0:2] - (p.x(), p.y())) * (sx, sy)
        b = (self._segments[:, 2:4] - (p.x(), p.y())) * (sx, sy)
        d = b - a
        length2 = (d * d).sum(axis=1)
        t = np.clip(-(a * d).sum(axis=1) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
        nearest = a + d * t[:, None]
        dist = np.hypot(nearest[:, 0], nearest[:, 1])
        i = int(np.argmin(dist))
        return int(self._owners[i]) if dist[i] <= HIT_PX else None

    def hover_text(self, run_id: int) -> str:
        r = self._report
        t = r.trial_of(run_id) if r is not None else None
        if r is None or t is None:
            return ""
        epochs, values = r.intermediate.get(run_id, ([], []))
        last = f"{r.metric} {fmt_metric(values[-1])} at epoch {epochs[-1]}" if epochs else "no epoch yet"
        best = " · the best trial" if run_id == self._best else ""
        ended = " (pruned here)" if t.status == RunStatus.PRUNED else ""
        return f"trial {t.number} · run #{t.run_id} ({t.status}{best})\n{last}{ended}"

    def _on_moved(self, scene_pos: QPointF) -> None:
        run_id = self.trial_at(scene_pos)
        if run_id == self.hovered:
            return
        self._set_hover(run_id)
        if run_id is None:
            QToolTip.hideText()
            return
        view = self.plot
        QToolTip.showText(view.mapToGlobal(view.mapFromScene(scene_pos)), self.hover_text(run_id), view)

    def _set_hover(self, run_id: Optional[int]) -> None:
        """Draw the hovered trial's line again, thicker, over the rest."""
        self.hovered = run_id
        r = self._report
        t = r.trial_of(run_id) if r is not None and run_id is not None else None
        if t is None or run_id not in self.curves:
            self.hovered = None
            self.hover_line.setData([], [])
            return
        xs, ys = self.curves[run_id]
        pen = _pen(_layer(t, run_id == self._best), 3.0)
        colour = pen.color()
        colour.setAlpha(255)
        pen.setColor(colour)
        self.hover_line.setData(xs, ys, pen=pen, symbol="o" if len(xs) == 1 else None, symbolSize=6)

    def _on_clicked(self, event: Any) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        run_id = self.trial_at(event.scenePos())
        if run_id is not None:
            event.accept()
            self.trial_clicked.emit(run_id)
