"""The LR finder dialog: the learning-rate range test of the current spec in
its own process (engine.training.lr_finder), the smoothed loss against the
learning rate on a log axis with the steepest-descent and valley suggestions
marked, and "Use this LR", which writes the chosen rate into the spec's
optimizer.lr. Nothing else of the spec changes."""
from __future__ import annotations

import math
from typing import Any, Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.pages.train.probe_job import ProbeJob
from engine.training.lr_finder import STEPS, LRFinderResult

SMOOTHED, RAW = "#1f77b4", "#b8c4d0"
STEEPEST, VALLEY = "#d35400", "#2f8f46"


class LRFinderDialog(QDialog):
    lr_chosen = Signal(float)
    """The user pressed "Use this LR" (payload: the learning rate)."""

    def __init__(self, parent: Optional[QWidget] = None, run: Any = None):
        super().__init__(parent)
        self.setObjectName("lr_finder_dialog")
        self.setWindowTitle("LR finder")
        self.resize(720, 520)
        self.result: Optional[LRFinderResult] = None
        self._spec: Any = None
        self._points: list[tuple[float, float]] = []
        self.job = ProbeJob("lr_find", self, run=run)
        self.job.progress.connect(self._on_progress)
        self.job.done.connect(self._on_done)
        self.job.failed.connect(self._on_failed)

        self.status = QLabel()
        self.status.setObjectName("lr_finder_status")
        self.status.setWordWrap(True)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("lr_finder_plot")
        self.plot.setBackground(None)
        self.plot.setLogMode(x=True, y=False)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "learning rate (log scale)")
        self.plot.setLabel("left", "training loss")
        self.plot.addLegend(offset=(70, 10))  # top left: the flat start of the curve leaves it free
        self.raw_curve = self.plot.plot([], [], pen=pg.mkPen(QColor(RAW), width=1), name="batch loss")
        self.curve = self.plot.plot([], [], pen=pg.mkPen(QColor(SMOOTHED), width=2), name="smoothed")
        self.markers: dict[str, pg.InfiniteLine] = {}
        # Labels at two heights: the two suggestions are often close together.
        for key, colour, title, height in (("steepest", STEEPEST, "steepest", 0.95),
                                           ("valley", VALLEY, "valley", 0.85)):
            line = pg.InfiniteLine(angle=90, pen=pg.mkPen(QColor(colour), width=2, style=Qt.PenStyle.DashLine),
                                   label=title, labelOpts={"position": height, "color": colour, "movable": False,
                                                           "anchors": [(0, 0.5), (0, 0.5)]})
            line.setVisible(False)
            self.plot.addItem(line)
            self.markers[key] = line

        self.choice = QComboBox()
        self.choice.setObjectName("lr_choice")
        self.choice.setToolTip("Valley (fastai's default) is usually safe; steepest descent trains faster "
                               "but closer to where the loss blows up")
        self.choice.setMinimumWidth(260)
        self.current = QLabel()
        self.current.setObjectName("lr_current")
        self.use_button = QPushButton("Use this LR")
        self.use_button.setObjectName("use_lr_button")
        self.use_button.setToolTip("Write the chosen learning rate into the spec (optimizer.lr)")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self.use)
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.setObjectName("lr_rerun_button")
        self.rerun_button.clicked.connect(lambda: self.start(self._spec))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        self.log = QPlainTextEdit()
        self.log.setObjectName("lr_finder_log")
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(120)
        self.log.setVisible(False)

        row = QHBoxLayout()
        row.addWidget(QLabel("Suggestion:"))
        row.addWidget(self.choice)
        row.addWidget(self.current, 1)
        row.addWidget(self.rerun_button)
        row.addWidget(self.use_button)
        row.addWidget(close)
        box = QVBoxLayout(self)
        box.addWidget(self.status)
        box.addWidget(self.plot, 1)
        box.addWidget(self.log)
        box.addLayout(row)

    def start(self, spec: Any) -> None:
        """Run the range test on `spec` (a RunSpec) in its own process."""
        self._spec = spec
        self.result = None
        self._points = []
        self.curve.setData([], [])
        self.raw_curve.setData([], [])
        for line in self.markers.values():
            line.setVisible(False)
        self.choice.clear()
        self.log.setVisible(False)
        self.use_button.setEnabled(False)
        self.rerun_button.setEnabled(False)
        self.current.setText(f"now: lr {spec.optimizer.lr:g}")
        self.status.setText(f"Running the LR range test on {spec.data.name} with {spec.optimizer.type}: "
                            f"{STEPS} steps, lr 1e-7 → 10, in its own process (the spec is not touched)…")
        self.job.start(spec)

    def _on_progress(self, msg: dict) -> None:
        self._points.append((float(msg["lr"]), float(msg["loss"])))
        lrs, losses = zip(*self._points)
        self.curve.setData(list(lrs), list(losses))
        self.status.setText(f"step {msg['step']} of at most {STEPS} · lr {msg['lr']:.2e} · "
                            f"smoothed loss {msg['loss']:.4g}")

    def _on_done(self, raw: dict) -> None:
        r = self.result = LRFinderResult.from_dict(raw)
        self.rerun_button.setEnabled(True)
        self.raw_curve.setData(r.lrs, _clip(r.losses, r.smoothed))
        self.curve.setData(r.lrs, r.smoothed)
        if r.smoothed:
            lo = min(r.smoothed)
            self.plot.setYRange(lo - 0.05 * abs(lo), min(max(r.smoothed), 4 * lo + 1e-9) * 1.05, padding=0)
        for key, lr in (("valley", r.valley), ("steepest", r.steepest)):
            if lr is not None:
                self.markers[key].setValue(math.log10(lr))  # log-mode axes place items in log10 units
                self.markers[key].setVisible(True)
        if r.valley is not None:
            self.choice.addItem(f"valley: {r.valley:.3g} (suggested)", r.valley)
        if r.steepest is not None:
            self.choice.addItem(f"steepest descent: {r.steepest:.3g}", r.steepest)
        self.use_button.setEnabled(self.choice.count() > 0)
        found = [f"valley {r.valley:.3g}" if r.valley is not None else "",
                 f"steepest descent {r.steepest:.3g}" if r.steepest is not None else ""]
        self.status.setText(f"{r.stop_reason[0].upper()}{r.stop_reason[1:]}. " + (
            f"<b>Suggested lr: {r.suggested:.3g}</b> ({', '.join(f for f in found if f)})."
            if r.suggested is not None else " ".join(r.notes)))

    def _on_failed(self, message: str, log: str) -> None:
        self.rerun_button.setEnabled(True)
        self.status.setText(f"The LR finder could not run: {message}")
        if log.strip():
            self.log.setPlainText(log)
            self.log.setVisible(True)

    def chosen_lr(self) -> Optional[float]:
        data = self.choice.currentData()
        return float(data) if data is not None else None

    def use(self) -> None:
        lr = self.chosen_lr()
        if lr is not None:
            self.lr_chosen.emit(lr)
            self.current.setText(f"now: lr {lr:.3g} ✓")

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.job.cancel()  # the probe process is killed; nothing was written
        super().closeEvent(event)


def _clip(raw: list[float], smoothed: list[float]) -> list[float]:
    """Batch losses past the blow-up would squash the plot; cap them at the y-range's top."""
    if not smoothed:
        return raw
    top = 4 * min(smoothed) * 1.05
    return [min(v, top) for v in raw]
