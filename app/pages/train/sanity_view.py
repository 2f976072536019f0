"""The "Check before training" dialog: engine.training.sanity's three checks
on the current spec, in their own process, as a checklist: a mark, what was
measured, and for a failure what to do."""
from __future__ import annotations

from typing import Any, Optional

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from app.pages.train.probe_job import ProbeJob
from engine.training.sanity import OVERFIT_STEPS, SanityReport

MARKS = {"pass": ("✓", "#2f8f46"), "fail": ("✗", "#c0392b"), "skip": ("–", "#7f8c8d")}


class SanityDialog(QDialog):
    def __init__(self, parent: Optional[QWidget] = None, run: Any = None):
        super().__init__(parent)
        self.setObjectName("sanity_dialog")
        self.setWindowTitle("Check before training")
        self.resize(680, 520)
        self.report: Optional[SanityReport] = None
        self._spec: Any = None
        self.job = ProbeJob("sanity", self, run=run)
        self.job.progress.connect(self._on_progress)
        self.job.done.connect(self._on_done)
        self.job.failed.connect(self._on_failed)

        self.status = QLabel()
        self.status.setObjectName("sanity_status")
        self.status.setWordWrap(True)
        self.checklist = QWidget()
        self.checklist.setObjectName("sanity_checklist")
        self._rows = QVBoxLayout(self.checklist)
        self._rows.setContentsMargins(0, 4, 0, 4)
        self._rows.setSpacing(10)
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("sanity_plot")
        self.plot.setBackground(None)
        self.plot.setLogMode(x=False, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "step (one batch, over and over)")
        self.plot.setLabel("left", "loss")
        self.plot.setMinimumHeight(160)
        self.curve = self.plot.plot([], [], pen=pg.mkPen(QColor("#1f77b4"), width=2))
        self.log = QPlainTextEdit()
        self.log.setObjectName("sanity_log")
        self.log.setReadOnly(True)
        self.log.setMaximumHeight(120)
        self.log.setVisible(False)
        self.rerun_button = QPushButton("Run again")
        self.rerun_button.setObjectName("sanity_rerun_button")
        self.rerun_button.clicked.connect(lambda: self.start(self._spec))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.rerun_button)
        buttons.addWidget(close)
        box = QVBoxLayout(self)
        box.addWidget(self.status)
        box.addWidget(self.checklist)
        box.addWidget(self.plot, 1)
        box.addWidget(self.log)
        box.addLayout(buttons)

    def start(self, spec: Any) -> None:
        self._spec = spec
        self.report = None
        self._clear_rows()
        self.curve.setData([], [])
        self.log.setVisible(False)
        self.rerun_button.setEnabled(False)
        self.status.setText(f"Checking {spec.name} on {spec.data.name} in its own process: the initial loss, "
                            f"overfitting one batch ({OVERFIT_STEPS} steps), the loss with inputs zeroed…")
        self.job.start(spec)

    def _clear_rows(self) -> None:
        while self._rows.count():
            item = self._rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()

    def _on_progress(self, msg: dict) -> None:
        self.status.setText(f"Overfitting one batch: step {msg['step']} of {OVERFIT_STEPS}, loss {msg['loss']:.4g}")

    def _on_done(self, raw: dict) -> None:
        report = self.report = SanityReport.from_dict(raw)
        self.rerun_button.setEnabled(True)
        failed = sum(i.outcome == "fail" for i in report.items)
        self.status.setText(f"<b>All checks passed</b> on {report.dataset}: the set-up can learn." if report.passed
                            else f"<b>{failed} check{'s' if failed != 1 else ''} failed</b> on {report.dataset}: "
                                 "fix what the advice says before a long run.")
        for item in report.items:
            self._rows.addWidget(_row(item))
        if report.curve:
            positive = [max(v, 1e-12) for v in report.curve]
            self.curve.setData(list(range(1, len(positive) + 1)), positive)

    def _on_failed(self, message: str, log: str) -> None:
        self.rerun_button.setEnabled(True)
        self.status.setText(f"The check could not run: {message}")
        if log.strip():
            self.log.setPlainText(log)
            self.log.setVisible(True)

    def items_text(self) -> list[str]:
        """What the checklist shows, row by row (mark, name, measured)."""
        if self.report is None:
            return []
        return [f"{MARKS[i.outcome][0]} {i.name}: {i.measured}" for i in self.report.items]

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self.job.cancel()
        super().closeEvent(event)


def _row(item: Any) -> QWidget:
    mark, colour = MARKS[item.outcome]
    w = QWidget()
    w.setObjectName(f"sanity_item_{item.outcome}")
    grid = QHBoxLayout(w)
    grid.setContentsMargins(0, 0, 0, 0)
    icon = QLabel(mark)
    icon.setStyleSheet(f"color: {colour}; font-size: 16pt; font-weight: bold;")
    icon.setFixedWidth(24)
    icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
    text = f"<b>{item.name}</b><br>{item.measured}"
    if item.advice:
        text += f"<br><span style='color:{colour if item.outcome == 'fail' else '#555'}'>→ {item.advice}</span>"
    body = QLabel(text)
    body.setWordWrap(True)
    body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    grid.addWidget(icon)
    grid.addWidget(body, 1)
    return w
