"""With 5 or more runs: a scatter of a chosen hyperparameter against a chosen
metric, one dot per run in its Compare colour.

Hyperparameters are the spec fields that differ between the selected runs
(numbers on a linear or log axis, words such as optimizer.type as
categories); metrics are the summary's best or final values.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from engine.compare import MISSING, config_diff, flatten_spec, format_value, key_order
from engine.labels import run_label

MIN_RUNS = 5


class ParallelView(QWidget):
    """objectName hparam_view."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("hparam_view")
        self._runs: list[Any] = []
        self._colors: dict[int, QColor] = {}
        self.param = QComboBox(objectName="hparam_param")
        self.metric = QComboBox(objectName="hparam_metric")
        self.log_x = QCheckBox("log x", objectName="hparam_log_x")
        self.note = QLabel(objectName="hparam_note")
        self.note.setAlignment(Qt.AlignCenter)
        self.note.setStyleSheet("color: #666; padding: 24px;")
        self.plot = pg.PlotWidget(background="w")
        self.plot.getPlotItem().showGrid(x=True, y=True, alpha=0.15)
        for side in ("left", "bottom"):  # 0.98, not "980 (x0.001)"
            self.plot.getPlotItem().getAxis(side).enableAutoSIPrefix(False)
        self.scatter = pg.ScatterPlotItem(size=11, hoverable=True, tip=self._tip)
        self.plot.addItem(self.scatter)

        bar = QHBoxLayout()
        bar.addWidget(QLabel("hyperparameter"))
        bar.addWidget(self.param)
        bar.addWidget(self.log_x)
        bar.addSpacing(12)
        bar.addWidget(QLabel("metric"))
        bar.addWidget(self.metric)
        bar.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addLayout(bar)
        lay.addWidget(self.note)
        lay.addWidget(self.plot, 1)
        self.param.currentIndexChanged.connect(lambda _i: self._on_param())
        self.metric.currentIndexChanged.connect(lambda _i: self.redraw())
        self.log_x.toggled.connect(lambda _b: self.redraw())

    def set_runs(self, runs: Sequence[Any], colors: dict[int, QColor]) -> None:
        self._runs, self._colors = list(runs), colors
        enough = len(self._runs) >= MIN_RUNS
        self.note.setText("" if enough else
                          f"Select {MIN_RUNS} or more runs to see how a hyperparameter relates to a metric.")
        self.note.setVisible(not enough)
        self.plot.setVisible(enough)
        for w in (self.param, self.metric, self.log_x):
            w.setEnabled(enough)
        keep_p, keep_m = self.param.currentText(), self.metric.currentText()
        self.param.blockSignals(True)
        self.metric.blockSignals(True)
        self.param.clear()
        self.metric.clear()
        differing = [row.path for row in config_diff([r.spec for r in self._runs])
                     if not row.path.startswith("model.blocks") or "[" in row.path]
        self.param.addItems(differing or sorted(flatten_spec(self._runs[0].spec)) if self._runs else [])
        keys: dict[str, None] = {}
        for r in self._runs:
            keys.update(dict.fromkeys((r.summary or {}).get("metrics") or {}))
        for key in sorted((k for k in keys if not k.endswith("_step")), key=key_order):
            self.metric.addItem(f"{key} · best", (key, "best"))
            self.metric.addItem(f"{key} · final", (key, "last"))
        if self.param.findText(keep_p) >= 0:
            self.param.setCurrentText(keep_p)
        elif self.param.findText("optimizer.lr") >= 0:
            self.param.setCurrentText("optimizer.lr")
        if self.metric.findText(keep_m) >= 0:
            self.metric.setCurrentText(keep_m)
        self.param.blockSignals(False)
        self.metric.blockSignals(False)
        self._on_param()

    def _on_param(self) -> None:
        # Learning rates and weight decays span decades: start those on a log axis.
        xs = [v for v in self._param_values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        positive = [v for v in xs if v > 0]
        self.log_x.blockSignals(True)
        self.log_x.setChecked(len(positive) == len(xs) and bool(xs) and max(xs) / min(positive) >= 20)
        self.log_x.blockSignals(False)
        self.redraw()

    def _param_values(self) -> list[Any]:
        path = self.param.currentText()
        return [flatten_spec(r.spec).get(path, MISSING) for r in self._runs]

    def points(self) -> list[tuple[int, Any, Optional[float]]]:
        """(run id, hyperparameter value, metric value) per selected run."""
        data = self.metric.currentData()
        values = self._param_values()
        out = []
        for run, v in zip(self._runs, values):
            m = None
            if data:
                entry = ((run.summary or {}).get("metrics") or {}).get(data[0]) or {}
                m = entry.get(data[1])
            out.append((run.id, v, m))
        return out

    def redraw(self) -> None:
        if len(self._runs) < MIN_RUNS:
            self.scatter.clear()
            return
        pts = [(rid, v, m) for rid, v, m in self.points() if m is not None and v is not MISSING]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for _, v, _ in pts)
        axis = self.plot.getPlotItem().getAxis("bottom")
        if numeric:
            xs = np.array([float(v) for _, v, _ in pts])
            log = self.log_x.isChecked() and bool(len(xs)) and bool((xs > 0).all())
            if log:
                xs = np.log10(xs)
            axis.setTicks(None)
            self.plot.getPlotItem().setLabel("bottom", self.param.currentText() + (" (log10)" if log else ""))
        else:  # words: one column per distinct value
            cats = sorted({format_value(v) for _, v, _ in pts})
            xs = np.array([cats.index(format_value(v)) for _, v, _ in pts], dtype=float)
            axis.setTicks([[(i, c) for i, c in enumerate(cats)]])
            self.plot.getPlotItem().setLabel("bottom", self.param.currentText())
        self.plot.getPlotItem().setLabel("left", self.metric.currentText())
        self.scatter.setData(
            x=xs, y=[float(m) for _, _, m in pts], data=[rid for rid, _, _ in pts],
            brush=[pg.mkBrush(self._colors.get(rid, QColor("#444"))) for rid, _, _ in pts],
            pen=pg.mkPen("#333", width=0.5))
        self.plot.getPlotItem().enableAutoRange()

    def _tip(self, x: float, y: float, data: Any) -> str:
        run = next((r for r in self._runs if r.id == data), None)
        name = run_label(data, run.name) if run else f"#{data}"
        return f"{name}\n{self.metric.currentText()} = {y:.4g}" if math.isfinite(y) else name
