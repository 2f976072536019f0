"""Live plots for the selected run: loss, accuracy (or the regression
metrics), learning rate and throughput, per step and per epoch.

Every run the page knows keeps its own buffers (one SeriesBuffer per metric
key, x = step), filled from the bridge's metric batches or, for runs that
were already training when the window opened, from the store. Selecting a
run points the plots at its buffers; the plots redraw on their own timers.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Iterable, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QVBoxLayout, QWidget

from app.widgets.live_plot import LivePlot, SeriesBuffer

TRAIN, VAL, STEP, OTHER = "#4c78a8", "#f58518", "#9ecae9", "#54a24b"

# plot name -> (title, [(metric key, colour)]); keys are the store's (docs/ARCHITECTURE.md, "The store").
PLOTS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "loss": ("Loss", [("train/loss_step", STEP), ("train/loss", TRAIN), ("val/loss", VAL)]),
    "accuracy": ("Accuracy", [("train/accuracy", TRAIN), ("val/accuracy", VAL)]),
    "regression": ("Regression metrics", [("val/mae", VAL), ("val/r2", OTHER)]),
    "lr": ("Learning rate", [("lr_step", STEP), ("lr", OTHER)]),
    "throughput": ("Throughput (samples/s)", [("throughput", TRAIN)]),
}
REGRESSION_KEYS = ("val/mae", "val/r2")


class LiveView(QWidget):
    def __init__(self, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("live_view")
        self.title = QLabel("Live")
        self.title.setObjectName("live_title")
        f = self.title.font()
        f.setPointSizeF(f.pointSizeF() * 1.15)
        f.setBold(True)
        self.title.setFont(f)
        self.latest = QLabel("")
        self.latest.setObjectName("live_latest")
        self.latest.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.empty = QLabel("Launch a run, or pick one in the run list, to see its curves here.")
        self.empty.setObjectName("empty_state")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # Staggered by 7 ms: an epoch end changes every plot, and five repaints in
        # one frame were the longest stall of the stream benchmark.
        self.plots: dict[str, LivePlot] = {name: LivePlot(title, series, phase_ms=7 * i)
                                           for i, (name, (title, series)) in enumerate(PLOTS.items())}
        self.plots["lr"].getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        self.plot_area = QWidget()
        grid = QGridLayout(self.plot_area)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.plots["loss"], 0, 0)
        grid.addWidget(self.plots["accuracy"], 0, 1)
        grid.addWidget(self.plots["regression"], 0, 1)
        grid.addWidget(self.plots["lr"], 1, 0)
        grid.addWidget(self.plots["throughput"], 1, 1)
        self.plots["regression"].hide()
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(4)
        head = QGridLayout()
        head.addWidget(self.title, 0, 0)
        head.addWidget(self.latest, 0, 1, Qt.AlignmentFlag.AlignRight)
        box.addLayout(head)
        box.addWidget(self.empty, 1)
        box.addWidget(self.plot_area, 1)
        self._runs: dict[int, dict[str, SeriesBuffer]] = {}
        self._last_step: dict[int, int] = {}
        self.run_id: Optional[int] = None
        self._show_empty(True)

    # --- data ----------------------------------------------------------------------------
    def buffers(self, run_id: int) -> dict[str, SeriesBuffer]:
        return self._runs.setdefault(run_id, defaultdict(SeriesBuffer))

    def add_points(self, run_id: int, points: Iterable[Any]) -> None:
        """Append MetricPoints (key, step, value) to the run's buffers."""
        grouped: dict[str, tuple[list[float], list[float]]] = {}
        for p in points:
            xs, ys = grouped.setdefault(p.key, ([], []))
            xs.append(p.step)
            ys.append(p.value)
        if not grouped:
            return
        bufs = self.buffers(run_id)
        new_keys = [key for key in grouped if key not in bufs]
        for key, (xs, ys) in grouped.items():
            bufs[key].extend(xs, ys)
        if run_id == self.run_id and new_keys:
            if any(k in REGRESSION_KEYS for k in new_keys):
                self._attach()  # the second plot changes kind
                return
            for key in new_keys:  # only the plots that show these keys, keeping their view
                for name, (_, series) in PLOTS.items():
                    if any(key == k for k, _ in series):
                        self.plots[name].add_buffer(key, bufs[key])

    def set_curves(self, run_id: int, curves: Iterable[Any]) -> None:
        """Replace the run's buffers with curves read from the store (engine.store Curve)."""
        bufs = self.buffers(run_id)
        for c in curves:
            bufs[c.key].replace(c.steps, c.values)
        if run_id == self.run_id:
            self._attach()

    def set_expected_steps(self, run_id: int, last_step: int) -> None:
        """The step the run will end at: every plot's x axis spans it from the start."""
        self._last_step[run_id] = last_step
        if run_id == self.run_id:
            for plot in self.plots.values():
                plot.set_x_hint(last_step)

    def has_run(self, run_id: int) -> bool:
        return run_id in self._runs

    # --- showing -----------------------------------------------------------------------------
    def show_run(self, run_id: Optional[int], title: str = "") -> None:
        self.run_id = run_id
        self.title.setText(f"Live: {title}" if run_id is not None else "Live")
        self.latest.setText("")
        self._attach()
        self._show_empty(run_id is None)

    def set_latest(self, text: str) -> None:
        self.latest.setText(text)

    def _attach(self) -> None:
        bufs = self._runs.get(self.run_id, {}) if self.run_id is not None else {}
        regression = any(k in bufs for k in REGRESSION_KEYS)
        self.plots["regression"].setVisible(regression)
        self.plots["accuracy"].setVisible(not regression)
        hint = self._last_step.get(self.run_id) if self.run_id is not None else None
        for name, (_, series) in PLOTS.items():
            self.plots[name].x_hint = hint
            self.plots[name].set_buffers({key: bufs[key] for key, _ in series if key in bufs})

    def _show_empty(self, empty: bool) -> None:
        """No run to show: a sentence that says what to do instead of four blank charts."""
        self.empty.setVisible(empty)
        self.plot_area.setVisible(not empty)

    def point_count(self) -> int:
        """Points drawn across the plots (what a test can see)."""
        return sum(p.point_count() for p in self.plots.values())

    def redraws(self) -> int:
        return sum(p.redraws for p in self.plots.values())

    def stop(self) -> None:
        for p in self.plots.values():
            p.stop()


def latest_text(epoch: int, total: int, metrics: dict[str, float]) -> str:
    """The line over the plots: epoch 3/10 · val/accuracy 0.953 · val/loss 0.18 · 38,000 samples/s."""
    parts = [f"epoch {epoch}/{total}"]
    for key in ("val/accuracy", "val/r2", "val/loss", "train/loss"):
        if key in metrics and len(parts) < 3:
            parts.append(f"{key} {metrics[key]:.4g}")
    if "throughput" in metrics:
        parts.append(f"{metrics['throughput']:,.0f} samples/s")
    return "  ·  ".join(parts)
