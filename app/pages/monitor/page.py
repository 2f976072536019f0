"""The Monitor page: what the GPUs, the CPU and RAM are doing, live, and
which runs are training.

The machine is sampled every second off the UI thread (MonitorCollector on
a BackgroundCollector), whether or not a run is active, so the charts
already hold the last minutes when someone opens the page. Samples go into
one RingBuffer per key; charts redraw from the buffers at most ~30 times a
second. GPU facts come from NVML only (engine.monitor): this page never
touches torch or CUDA.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.pages.monitor.collect import Snapshot
from app.pages.monitor.history import LONGEST_WINDOW, WINDOWS, MonitorHistory
from app.pages.monitor.panels import GpuPanel, HostPanel
from app.pages.monitor.workers import WorkersView
from app.state import AppState
from app.widgets.ring_plot import RingBuffer
from engine.monitor import GpuInfo, SystemSampler

DEFAULT_WINDOW = 300
GPU_COLUMNS = 2  # GPU panels per row; more GPUs wrap and the page scrolls
REDRAW_MS = 33  # charts redraw at most ~30 times a second
SETTINGS_WINDOW = "monitor/window_s"


class MonitorPage(QWidget):
    sampled = Signal()
    """A new sample was received and shown (or buffered, when paused)."""

    def __init__(self, state: AppState, parent: QWidget | None = None, *,
                 sampler: SystemSampler | None = None, interval_ms: int = 1000):
        """Follows state.monitor_history (started with the app) when there is one,
        showing its samples from before the page existed; otherwise samples on its
        own. sampler: use this one (tests, demo screenshots with a FakeNvml)
        instead of creating a SystemSampler on the sampling thread."""
        super().__init__(parent)
        self.setObjectName("page_monitor")
        self.state = state
        self._gpus: list[GpuInfo] | None = None
        self.gpu_panels: list[GpuPanel] = []
        self.buffers: dict[str, RingBuffer] = {}
        history = state.monitor_history if sampler is None else None
        if history is None:
            history = MonitorHistory(state.store_url, sampler=sampler, interval_ms=interval_ms, parent=self)
            history.start()
        self.history = history
        self._capacity = int(LONGEST_WINDOW * 1000 / max(history.interval_ms, 1)) + 64
        self._paused = False
        self._gap_on_resume = False
        self._build_ui()

        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(REDRAW_MS)
        self._redraw_timer.timeout.connect(self._redraw)

        self.collector = history.collector
        self.background = history.background
        for snap in list(history.snapshots):  # what happened before the page was opened
            self.show_snapshot(snap)
        history.collected.connect(self.show_snapshot)
        state.runs_changed.connect(self._on_runs_changed)

    # layout ----------------------------------------------------------------------
    def _build_ui(self) -> None:
        heading = QLabel("System")
        font = QFont(heading.font())
        font.setPointSizeF(font.pointSizeF() * 1.3)
        font.setBold(True)
        heading.setFont(font)

        self.window_combo = QComboBox()
        self.window_combo.setObjectName("monitor_window")
        self.window_combo.setToolTip("How much history the charts show")
        for label, seconds in WINDOWS:
            self.window_combo.addItem(label, seconds)
        saved = int(QSettings().value(SETTINGS_WINDOW, DEFAULT_WINDOW))
        index = self.window_combo.findData(saved)
        self.window_combo.setCurrentIndex(index if index >= 0 else self.window_combo.findData(DEFAULT_WINDOW))
        self.window_combo.currentIndexChanged.connect(self._on_window_changed)

        self.pause_button = QPushButton("Pause")
        self.pause_button.setObjectName("monitor_pause")
        self.pause_button.setCheckable(True)
        self.pause_button.setToolTip("Freeze the charts to read them; sampling resumes where you left off")
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.paused_label = QLabel("")

        bar = QHBoxLayout()
        bar.addWidget(heading)
        bar.addStretch(1)
        bar.addWidget(self.paused_label)
        bar.addWidget(self.window_combo)
        bar.addWidget(self.pause_button)

        self.gpu_message = QLabel("Looking for NVIDIA GPUs…")
        self.gpu_message.setObjectName("monitor_gpu_message")
        self.gpu_area = QWidget()
        self.gpu_grid = QGridLayout(self.gpu_area)
        self.gpu_grid.setContentsMargins(0, 0, 0, 0)
        self.gpu_grid.setSpacing(8)
        self.gpu_area.hide()

        self.host_panel = HostPanel(self.window_seconds)
        self.panels_row = QHBoxLayout()
        self.panels_row.setSpacing(8)
        self.panels_row.addWidget(self.gpu_area, 0)
        self.panels_row.addWidget(self.host_panel, 1)

        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.gpu_message)  # one line across the page, above the panels
        column.addLayout(self.panels_row, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)

        self.workers = WorkersView()
        workers_box = QGroupBox("Workers")
        box = QVBoxLayout(workers_box)
        box.setContentsMargins(8, 4, 8, 8)
        box.addWidget(self.workers)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(scroll)
        splitter.addWidget(workers_box)
        splitter.setStretchFactor(0, 4)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([600, 200])  # room for a header and three workers before it scrolls
        workers_box.setMinimumHeight(120)

        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)

    def _build_gpu_panels(self, gpus: list[GpuInfo]) -> None:
        for panel in self.gpu_panels:
            self.gpu_grid.removeWidget(panel)
            panel.deleteLater()
        self.gpu_panels = []
        for n, gpu in enumerate(gpus):
            panel = GpuPanel(gpu, self.window_seconds)
            self.gpu_grid.addWidget(panel, n // GPU_COLUMNS, n % GPU_COLUMNS)
            self.gpu_panels.append(panel)
        columns = min(len(gpus), GPU_COLUMNS)
        # GPU columns and the CPU/RAM column share the width equally; with no
        # GPU, CPU and RAM fill the page.
        self.gpu_area.setVisible(bool(gpus))
        self.panels_row.setStretch(0, columns)
        self.panels_row.setStretch(1, 1)
        self._gpus = list(gpus)

    # state -----------------------------------------------------------------------
    @property
    def window_seconds(self) -> int:
        return int(self.window_combo.currentData())

    @property
    def paused(self) -> bool:
        return self._paused

    def _all_panels(self) -> list:
        return [*self.gpu_panels, self.host_panel]

    @Slot(int)
    def _on_window_changed(self, _index: int) -> None:
        QSettings().setValue(SETTINGS_WINDOW, self.window_seconds)
        for panel in self._all_panels():
            panel.set_window(self.window_seconds)

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        self._paused = paused
        self.pause_button.setText("Resume" if paused else "Pause")
        self.paused_label.setText("View paused" if paused else "")
        if not paused:
            self._gap_on_resume = True  # the charts must not draw a line across the paused time

    @Slot()
    def _on_runs_changed(self) -> None:
        self.history.refresh_workers()

    # data --------------------------------------------------------------------------
    @Slot(object)
    def show_snapshot(self, snap: Snapshot) -> None:
        """Take in one snapshot (called each tick; demos replay
        app.pages.monitor.collect.backfill(page.collector, 300) through it)."""
        if snap.gpus != self._gpus:
            self._build_gpu_panels(snap.gpus)
        self.gpu_message.setText(snap.message or "")
        self.gpu_message.setVisible(bool(snap.message))
        if snap.workers is not None:
            self.workers.set_rows(snap.workers, snap.workers_error)
        if not self._paused:
            self._append(snap)
            for panel in self._all_panels():
                panel.update_values(self.buffers)
            if not self._redraw_timer.isActive():
                self._redraw_timer.start()
        self.sampled.emit()

    def _append(self, snap: Snapshot) -> None:
        t = snap.wall_time
        if self._gap_on_resume:
            for buf in self.buffers.values():
                buf.gap(t - 1e-3)
            self._gap_on_resume = False
        for key, value in snap.samples.items():
            buf = self.buffers.get(key)
            if buf is None:
                buf = self.buffers[key] = RingBuffer(self._capacity)
            buf.append(t, value if math.isfinite(value) else math.nan)
        for key in self.buffers.keys() - snap.samples.keys():
            self.buffers[key].gap(t)  # GPU sampling stopped: its values read "—", not stale numbers

    @Slot()
    def _redraw(self) -> None:
        for panel in self._all_panels():
            panel.redraw(self.buffers)
