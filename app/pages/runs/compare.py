"""The Compare view: overlaid curves of 2+ runs, one chart per metric key,
plus the differences, the summary table, a hyperparameter scatter and the
runs' system metrics.

Curves are read off the UI thread, already reduced (~2,000 buckets per
curve); zooming into a chart (x by step) re-reads the visible step range at
full resolution. Each run keeps one colour in every chart and table.
Smoothing is TensorBoard's debiased EMA (engine.compare.ema_smooth), drawn
over the raw curve, which stays faint.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QSlider, QTabWidget, QVBoxLayout, QWidget

from app.pages.runs.charts import ChartGrid, MetricChart
from app.pages.runs.class_f1_view import ClassF1View
from app.pages.runs.diff_view import DiffView, SummaryView
from app.pages.runs.parallel import ParallelView
from app.pages.runs.tasks import Worker
from app.pages.runs.teacher_lines import TeacherLines, teacher_references
from engine.compare import key_order
from engine.labels import run_label
from engine.status import TERMINAL

# Three charts share a row, each under ~600 px wide: 800 buckets is more than
# one per pixel, and the store's reduction costs per bucket (a 2,000-bucket
# read of 20 runs x 100,000 steps took ~1.3 s here, 800 buckets ~0.5 s).
# Zooming in re-reads the visible range, at full resolution once it spans
# no more than BUCKETS steps.
BUCKETS = 800
X_MODES = ("step", "epoch", "wall time")
# tab10, then its lighter twins: distinct on white for up to 20 runs.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5")


def run_colors(run_ids: Sequence[int]) -> dict[int, QColor]:
    """One colour per run, by its place in the selection (stable across charts)."""
    return {rid: QColor(PALETTE[i % len(PALETTE)]) for i, rid in enumerate(run_ids)}


def chart_keys(keys: set[str]) -> list[str]:
    """Metric keys worth a chart: test/* are single points (the summary shows them)."""
    return sorted((k for k in keys if not k.startswith("test/")), key=key_order)


@dataclass
class CompareData:
    """What one selection needs, read in one go off the UI thread."""

    runs: list[Any]
    curves: dict[str, list[Any]] = field(default_factory=dict)  # key -> Curves (run order)
    system: dict[str, list[Any]] = field(default_factory=dict)


CACHE_CURVES = 600  # ~40 KB each at 800 buckets


class CurveCache:
    """Reduced full-range curves of finished runs, which never change again:
    selecting the same runs twice reads the store once. Thread-safe.
    Keyed by run id and creation time: SQLite may hand a deleted run's id
    to a new run."""

    def __init__(self, limit: int = CACHE_CURVES):
        self._limit = limit
        self._data: "OrderedDict[tuple[Any, ...], list[Any]]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, run: Any, kind: str) -> Optional[list[Any]]:
        key = (run.id, run.created_at, kind)
        with self._lock:
            hit = self._data.get(key)
            if hit is not None:
                self._data.move_to_end(key)
            return hit

    def put(self, run: Any, kind: str, curves: list[Any]) -> None:
        with self._lock:
            self._data[(run.id, run.created_at, kind)] = curves
            while sum(len(v) for v in self._data.values()) > self._limit and len(self._data) > 1:
                self._data.popitem(last=False)



def load_compare_data(store: Any, runs: Sequence[Any], cache: Optional[CurveCache] = None) -> CompareData:
    """All curves of the selected runs, reduced; finished runs come from `cache` when there.

    Runs are read one after another on this (worker) thread. Two threads
    paid off while SQLite reduced a long curve in ~1,600 statements; with
    whole-block buckets (engine/store/reduce.py) a curve is two statements
    and some numpy, and two threads handing the GIL back and forth made 50
    runs x 100,000 steps slower (0.72 s against 0.45 s).
    """
    def read(run: Any) -> tuple[list[Any], list[Any]]:
        finished = run.status in TERMINAL and cache is not None
        metric = cache.get(run, "metrics") if finished else None
        system = cache.get(run, "system") if finished else None
        if metric is None:
            metric = store.get_curves([run.id], buckets=BUCKETS)
            if finished:
                cache.put(run, "metrics", metric)
        if system is None:
            system = store.get_system_curves([run.id], buckets=BUCKETS)
            if finished:
                cache.put(run, "system", system)
        return metric, system

    data = CompareData(list(runs))
    for metric, system in map(read, runs):
        for c in metric:
            data.curves.setdefault(c.key, []).append(c)
        for c in system:
            if not c.key.endswith("mem_total_mb"):  # a constant: context, not a curve
                data.system.setdefault(c.key, []).append(c)
    return data


def _epoch_axis(curves: dict[str, list[Any]]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per run, (steps, epochs) at each epoch end, read from an epoch-level curve,
    so step-level points get fractional epochs instead of piling up on integers."""
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for key in ("train/loss", "val/loss", "lr", "epoch_time"):
        for c in curves.get(key, []):
            if c.run_id not in out and len(c):
                out[c.run_id] = (np.concatenate([[0], c.steps]).astype(float),
                                 np.concatenate([[0], c.epochs]).astype(float))
    return out


class CompareView(QWidget):
    """objectName compare_view. `set_runs(runs)` with 2+ store Runs."""

    charts_ready = Signal()
    """Curves for the current selection are drawn (tests and the benchmark wait on it)."""
    error = Signal(str)
    """Reading curves failed (payload: the message for the page)."""

    def __init__(self, store_getter: Callable[[], Any], worker: Worker, parent=None):
        super().__init__(parent)
        self.setObjectName("compare_view")
        self._store = store_getter
        self._worker = worker
        self._gen = 0
        self._data: Optional[CompareData] = None
        self._colors: dict[int, QColor] = {}
        self._epoch_axis: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._t0: dict[int, float] = {}
        self.cache = CurveCache()
        self.teacher_lines = TeacherLines()  # a distilled run's teacher accuracy, as a dashed line

        self.title = QLabel(objectName="compare_title")
        self.legend = QLabel(objectName="compare_legend")
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.RichText)
        self.x_axis = QComboBox(objectName="compare_x_axis")
        self.x_axis.addItems(X_MODES)
        self.smoothing = QSlider(Qt.Horizontal, objectName="compare_smoothing")
        self.smoothing.setRange(0, 99)
        self.smoothing.setValue(60)
        self.smoothing.setFixedWidth(160)
        self.smoothing.setToolTip("Exponential moving average, debiased as in TensorBoard; the raw curve stays faint")
        self.smoothing_label = QLabel("0.60")
        self.log_y = QCheckBox("log y", objectName="compare_log_y")
        self.status = QLabel(objectName="compare_status")
        self.status.setStyleSheet("color: #666;")

        controls = QHBoxLayout()
        controls.addWidget(QLabel("x:"))
        controls.addWidget(self.x_axis)
        controls.addSpacing(12)
        controls.addWidget(QLabel("smoothing"))
        controls.addWidget(self.smoothing)
        controls.addWidget(self.smoothing_label)
        controls.addSpacing(12)
        controls.addWidget(self.log_y)
        controls.addStretch(1)
        controls.addWidget(self.status)

        self.metrics_grid = ChartGrid("The selected runs have no metrics yet.")
        self.system_grid = ChartGrid("No system samples were recorded for the selected runs.")
        self.diff = DiffView()
        self.summary = SummaryView()
        self.parallel = ParallelView()
        self.tabs = QTabWidget(objectName="compare_tabs")
        self.tabs.addTab(self.metrics_grid, "Charts")
        self.tabs.addTab(self.diff, "Differences")
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(self.parallel, "Hyperparameters")
        self.tabs.addTab(self.system_grid, "System")
        self.class_f1 = ClassF1View(store_getter)
        self.tabs.addTab(self.class_f1, "Per-class F1")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addWidget(self.legend, 1)
        lay.addLayout(head)
        lay.addLayout(controls)
        lay.addWidget(self.tabs, 1)

        self.x_axis.currentIndexChanged.connect(lambda _i: self._redraw_all(reset_view=True))
        self.smoothing.valueChanged.connect(self._on_smoothing)
        self.log_y.toggled.connect(lambda _b: self._redraw_all(reset_view=True))

    # public ------------------------------------------------------------------------
    @property
    def charts(self) -> dict[str, MetricChart]:
        return self.metrics_grid.charts

    @property
    def system_charts(self) -> dict[str, MetricChart]:
        return self.system_grid.charts

    @property
    def weight(self) -> float:
        return self.smoothing.value() / 100.0

    def set_runs(self, runs: Sequence[Any]) -> None:
        """Show these runs (in this order); curves load in the background."""
        runs = list(runs)
        self._gen += 1
        gen = self._gen
        self._colors = run_colors([r.id for r in runs])
        self.title.setText(f"<b>Compare ({len(runs)} selected)</b>")
        self.legend.setText("&nbsp;&nbsp;".join(
            f"<span style='color:{self._colors[r.id].name()}; font-size:14px'>■</span>"
            f"&nbsp;{_esc(run_label(r.id, r.name))}"
            # A run that did not complete says how it ended (pruned, failed, ...): its curves stop early.
            + (f" <i style='color:#666'>({_esc(str(r.status))})</i>" if r.status != "completed" else "")
            for r in runs))
        # The curves first: the read runs on the worker while the tables below fill in.
        self._worker.submit(lambda: load_compare_data(self._store(), runs, self.cache),
                            lambda data: self._on_loaded(gen, data), self._on_failed)
        self.status.setText("loading curves…")
        self.teacher_lines.refs = []
        self._worker.submit(lambda: teacher_references(self._store(), runs),
                            lambda refs: self._on_teachers(gen, refs), self._on_failed)
        self.diff.set_runs(runs, self._colors)
        self.summary.set_runs(runs, self._colors)
        self.parallel.set_runs(runs, self._colors)
        self.class_f1.set_runs(runs, self._colors)

    # loading -----------------------------------------------------------------------
    def _on_loaded(self, gen: int, data: CompareData) -> None:
        if gen != self._gen:
            return  # a newer selection is on its way
        self._data = data
        self._epoch_axis = _epoch_axis(data.curves)
        self._t0 = {r.id: (r.started_at or r.created_at).timestamp() for r in data.runs}
        keys = chart_keys(set(data.curves))
        self.metrics_grid.show_keys(keys, self._make_chart)
        self.system_grid.show_keys(sorted(data.system), lambda k: self._make_chart(k, system=True))
        for key, chart in self.metrics_grid.charts.items():
            chart.set_curves(data.curves[key], self._colors)
        for key, chart in self.system_grid.charts.items():
            chart.set_curves(data.system[key], self._colors)
        self._redraw_all(reset_view=True)
        self.teacher_lines.show(self.teacher_lines.refs, self.metrics_grid.charts)
        n = sum(len(v) for v in data.curves.values())
        self.status.setText(f"{len(keys)} charts · {n} curves")
        self.charts_ready.emit()

    def _on_teachers(self, gen: int, refs: list) -> None:
        if gen == self._gen:
            self.teacher_lines.show(refs, self.metrics_grid.charts)

    def _on_failed(self, message: str, _trace: str) -> None:
        self.status.setText("")
        self.error.emit(f"Could not read the curves: {message}")

    def _make_chart(self, key: str, system: bool = False) -> MetricChart:
        chart = MetricChart(key, system)
        chart.zoomed.connect(self._on_zoom)
        return chart

    # drawing -----------------------------------------------------------------------
    def _x_of(self, chart: MetricChart) -> Callable[[Any], np.ndarray]:
        mode = self.x_axis.currentText()
        if chart.system:
            return lambda c: np.asarray(c.steps, dtype=float)  # seconds since the run started
        if mode == "epoch":
            def epoch(c: Any) -> np.ndarray:
                axis = self._epoch_axis.get(c.run_id)
                if axis is None or np.unique(c.epochs).size == len(c):
                    return c.epochs.astype(float)
                return np.interp(c.steps.astype(float), axis[0], axis[1])
            return epoch
        if mode == "wall time":
            return lambda c: c.wall_times - self._t0.get(c.run_id, float(c.wall_times[0]) if len(c) else 0.0)
        return lambda c: c.steps.astype(float)

    def _redraw_all(self, reset_view: bool = False) -> None:
        label = {"step": "step", "epoch": "epoch", "wall time": "time since start (s)"}[self.x_axis.currentText()]
        for grid in (self.metrics_grid, self.system_grid):
            for chart in grid.charts.values():
                if reset_view:
                    chart.shown = dict(chart.full)
                chart.redraw(self._x_of(chart), self.weight, self.log_y.isChecked())
                chart.getPlotItem().setLabel("bottom", "time since start (s)" if chart.system else label)
                if reset_view:
                    chart.auto_range()

    def _on_smoothing(self, value: int) -> None:
        self.smoothing_label.setText(f"{value / 100:.2f}")
        for grid in (self.metrics_grid, self.system_grid):
            for chart in grid.charts.values():
                chart.redraw(self._x_of(chart), self.weight, self.log_y.isChecked())

    # zoom: re-read the visible range at full resolution ------------------------------------
    def _on_zoom(self, key: str, lo: float, hi: float) -> None:
        chart = self.metrics_grid.charts.get(key)
        if chart is None or chart.system or self.x_axis.currentText() != "step" or self._data is None:
            return
        reduced = [c for c in chart.full.values() if c.reduced]
        if not reduced:
            return
        full_lo = min(float(c.steps[0]) for c in chart.full.values() if len(c))
        full_hi = max(float(c.steps[-1]) for c in chart.full.values() if len(c))
        if lo <= full_lo and hi >= full_hi:  # zoomed back out: the reduced curves are the truth
            if all(chart.shown.get(r) is c for r, c in chart.full.items()):
                return  # already showing them (an auto-range after loading)
            chart.shown = dict(chart.full)
            chart.redraw(self._x_of(chart), self.weight, self.log_y.isChecked())
            return
        ids = list(chart.full)
        step_range = (max(0, int(np.floor(lo))), int(np.ceil(hi)))
        gen = self._gen
        self._worker.submit(lambda: self._store().get_curves(ids, [key], buckets=BUCKETS, step_range=step_range),
                            lambda curves: self._on_zoom_loaded(gen, key, curves), self._on_failed)

    def _on_zoom_loaded(self, gen: int, key: str, curves: list[Any]) -> None:
        chart = self.metrics_grid.charts.get(key)
        if gen != self._gen or chart is None:
            return
        for c in curves:
            if c.run_id in chart.items:
                chart.shown[c.run_id] = c
        chart.redraw(self._x_of(chart), self.weight, self.log_y.isChecked())


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
