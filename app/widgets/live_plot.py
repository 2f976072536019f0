"""A live training chart: series fed into buffers, redrawn on a timer.

Points arrive much faster than a screen needs them (thousands a second per
run), so appending never draws: `SeriesBuffer.extend` copies into numpy
arrays and marks the series dirty, and a QTimer redraws dirty curves at
most `max_fps` times a second. pyqtgraph's clipToView and auto
downsampling keep a redraw cheap however long the run; mouse zoom and pan
are on (double-click or the "A" button goes back to following the data).

Following the data is done here, not by pyqtgraph's auto range: that one
moves the axes a little with every new point, and re-laying out and
repainting both axes was most of a frame's cost (21 ms of 25 measured on
this machine). Here the range snaps to round bounds (the x axis to the
run's expected number of steps when known), so the axes change a few
times a run and are drawn from a pixmap cache in between (4 ms a frame).

A buffer keeps the whole run at bounded memory: when it is full, every
other point of the older half is dropped, so a long curve loses resolution
in its past rather than its beginning.
"""
from __future__ import annotations

import math
import time
from typing import Iterable, Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QGraphicsItem, QWidget

from engine.formatting import compact

DEFAULT_CAPACITY = 50_000  # far more than a plot has pixels; the store keeps every point


class SeriesBuffer:
    """(x, y) points of one series, in arrival order, at most `capacity` of them."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = max(16, int(capacity))
        self._x = np.empty(1024, dtype=np.float64)
        self._y = np.empty(1024, dtype=np.float64)
        self._n = 0
        self.version = 0  # bumped on every change, so a view knows it has to redraw

    def __len__(self) -> int:
        return self._n

    def extend(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        x = np.asarray(xs, dtype=np.float64).ravel()
        y = np.asarray(ys, dtype=np.float64).ravel()
        if not len(x):
            return
        need = self._n + len(x)
        while need > self.capacity:
            self._thin_old_half()
            need = self._n + len(x)
            if self._n < 16:  # a single batch larger than the buffer: keep its tail
                x, y = x[-(self.capacity - self._n):], y[-(self.capacity - self._n):]
                need = self._n + len(x)
        if need > len(self._x):
            size = min(self.capacity, max(need, 2 * len(self._x)))
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self._n:need] = x
        self._y[self._n:need] = y
        self._n = need
        self.version += 1

    def _thin_old_half(self) -> None:
        half = self._n // 2
        keep = np.concatenate([np.arange(0, half, 2), np.arange(half, self._n)])
        k = len(keep)
        self._x[:k] = self._x[keep]
        self._y[:k] = self._y[keep]
        self._n = k
        self.version += 1

    def replace(self, xs: Iterable[float], ys: Iterable[float]) -> None:
        self._n = 0
        self.version += 1
        self.extend(xs, ys)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Views of the points (valid until the next extend)."""
        return self._x[:self._n], self._y[:self._n]

    @property
    def last(self) -> Optional[float]:
        return float(self._y[self._n - 1]) if self._n else None


_NICE = (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)


def nice_ceil(v: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 (x 10^k) that is >= v (v > 0)."""
    if v <= 0:
        return 1.0
    base = 10 ** math.floor(math.log10(v))
    return next(m * base for m in _NICE if m * base >= v * (1 - 1e-12))


def nice_range(lo: float, hi: float, margin: float = 0.04) -> tuple[float, float]:
    """[lo, hi] widened by `margin` x its span and snapped to a grid of half the span's
    order of magnitude (0.05 for a span of 0.6)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0.0, 1.0
    span = hi - lo
    if span <= 0:
        pad = abs(hi) * 0.1 or 1.0
        return lo - pad, hi + pad
    q = 10 ** math.floor(math.log10(span)) / 2
    a, b = math.floor((lo - margin * span) / q) * q, math.ceil((hi + margin * span) / q) * q
    # Losses, accuracies and rates are never negative: no empty band below zero.
    return (0.0 if lo >= 0 > a else a), b


def follow_range(current: Optional[tuple[float, float]], lo: float, hi: float) -> tuple[float, float]:
    """The y range to show for data in [lo, hi], given the range shown now.

    It stays while the data fits and fills at least 40 % of it; when the data
    leaves it, the new range has 25 % headroom, so a curve that keeps rising
    (accuracy) or falling (loss, lr) moves the axis a few times a run, not at
    every epoch (each move re-renders the axis: the costliest part of a frame)."""
    if current is not None:
        a, b = current
        if a <= lo and hi <= b and (hi - lo) >= 0.4 * (b - a):
            return current
        return nice_range(lo, hi, margin=0.25)
    return nice_range(lo, hi)


class CompactAxis(pg.AxisItem):
    """Tick labels that fit a narrow axis: 320k, 1.5M, 0.001, 1e-05."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not values or max(abs(v) for v in values) < 1000:
            return super().tickStrings(values, scale, spacing)
        return [compact(v, digits=4) for v in values]


# Plots side by side redraw at least this far apart, so each paints in its own frame.
FRAME_GAP_S = 0.006


class LivePlot(pg.PlotWidget):
    """Named series (one colour each) drawn from SeriesBuffers on a timer.

    `set_buffers({label: buffer})` chooses what is shown (for instance the
    selected run's buffers); whoever appends to the buffers needs no
    reference to the plot: the timer sees the version change.
    """

    _last_redraw_at = 0.0  # when any LivePlot last redrew (time.monotonic)

    def __init__(self, title: str, series: list[tuple[str, str]], *, y_label: str = "",
                 x_label: str = "step", max_fps: float = 30.0, phase_ms: int = 0,
                 parent: Optional[QWidget] = None):
        """series: (label, colour) in legend order; a label with "step" in it is drawn thin.
        phase_ms: delay of this plot's redraw ticks, so plots side by side repaint
        in different frames instead of all in one long frame."""
        super().__init__(parent, axisItems={"left": CompactAxis("left")})
        self._title = title
        self._series = list(series)
        self._buffers: dict[str, SeriesBuffer] = {}
        self._drawn: dict[str, tuple[int, int]] = {}  # label -> (id(buffer), version) last drawn
        self.redraws = 0  # timer ticks that redrew something (the benchmark reads it)
        item = self.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")  # spikes in a loss curve stay visible
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)  # its export/plot options are not this app's
        item.getAxis("left").setWidth(48)  # charts in a grid line up
        item.setLabel("bottom", x_label)
        if y_label:
            item.setLabel("left", y_label)
        self.legend = item.addLegend(offset=(-8, 8), labelTextSize="8pt")
        self.curves: dict[str, pg.PlotDataItem] = {}
        for label, colour in self._series:
            thin = "step" in label
            pen = pg.mkPen(QColor(colour), width=1.0 if thin else 2.0)
            if thin:
                c = QColor(colour)
                c.setAlpha(140)
                pen = pg.mkPen(c, width=1.0)
            # Epoch series are a handful of points: mark them so a 1-point series is seen.
            symbol = None if thin else "o"
            # Antialiasing a dense per-step line costs more than all else in a frame
            # (software rasterizer) and cannot be seen at one point per pixel.
            self.curves[label] = item.plot([], [], pen=pen, name=label, symbol=symbol, symbolSize=4,
                                           symbolBrush=QColor(colour), symbolPen=None,
                                           connect="finite", antialias=not thin)
        self.legend.clear()  # filled by set_buffers with the series that have data
        self.setMinimumHeight(150)
        for name in ("left", "bottom"):  # redrawn only when their range moves
            item.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.x_hint: Optional[float] = None  # the run's expected last step, when known
        self.following = True
        self._range: Optional[tuple[float, float, float, float]] = None
        vb = item.getViewBox()
        vb.disableAutoRange()
        vb.sigRangeChangedManually.connect(self._on_manual_range)
        item.autoBtn.clicked.connect(lambda *_: self.follow())
        self._apply_palette()
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, int(1000 / max_fps)))
        # Precise: coarse timers are aligned by Qt, which would undo the phase offset.
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.redraw)
        self._stopped = False
        self._phase = QTimer(self)  # a child: it cannot fire after the plot is gone
        self._phase.setSingleShot(True)
        self._phase.timeout.connect(self._start_timer)
        self._phase.start(max(0, phase_ms))

    def _start_timer(self) -> None:
        if not self._stopped:
            self._timer.start()

    # --- data -------------------------------------------------------------------------
    def set_buffers(self, buffers: dict[str, SeriesBuffer]) -> None:
        """Show these buffers (by series label); labels not given are cleared."""
        self._buffers = {k: v for k, v in buffers.items() if k in self.curves}
        self._drawn.clear()
        self._range = None
        self.following = True  # a different run: follow its data again
        # The legend names only what this run has (no "lr_step" line for a run that never logs it).
        self.legend.clear()
        for label, curve in self.curves.items():
            if label in self._buffers:
                self.legend.addItem(curve, label)
        self.redraw()

    def add_buffer(self, label: str, buffer: SeriesBuffer) -> None:
        """Show one more series (a metric the run just started logging), keeping the view."""
        if label not in self.curves or self._buffers.get(label) is buffer:
            return
        self._buffers[label] = buffer
        self.legend.addItem(self.curves[label], label)

    def set_x_hint(self, last_step: Optional[float]) -> None:
        """The step the run will end at (epochs x steps per epoch): the x axis spans it from the start."""
        self.x_hint = last_step
        self._range = None
        self._follow_data()

    def follow(self) -> None:
        """Go back to following the data (after a zoom or pan)."""
        self.getPlotItem().getViewBox().disableAutoRange()  # pyqtgraph's own: see the module docstring
        self.following = True
        self._range = None
        self._follow_data()

    def _on_manual_range(self, *_: object) -> None:
        self.following = False

    def mouseDoubleClickEvent(self, event) -> None:  # noqa: N802 - Qt's name
        self.follow()
        event.accept()

    def _follow_data(self) -> None:
        if not self.following:
            return
        xs_lo, xs_hi, ys_lo, ys_hi = [], [], [], []
        for buf in self._buffers.values():
            if not len(buf):
                continue
            x, y = buf.arrays()
            xs_lo.append(x[0])
            xs_hi.append(x[-1])
            finite = y[np.isfinite(y)]
            if len(finite):
                ys_lo.append(finite.min())
                ys_hi.append(finite.max())
        if not xs_hi:
            return
        x_hi = max(max(xs_hi), self.x_hint or 0)
        x0 = min(0.0, min(xs_lo))
        x1 = nice_ceil(x_hi) if x_hi > 0 else 1.0
        shown = self._range[2:] if self._range is not None else None
        y0, y1 = follow_range(shown, min(ys_lo), max(ys_hi)) if ys_hi else (0.0, 1.0)
        wanted = (x0, x1, y0, y1)
        if wanted != self._range:
            self._range = wanted
            self.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def point_count(self) -> int:
        """Points the curves hold now (what was last drawn)."""
        return sum(len(c.xData) if c.xData is not None else 0 for c in self.curves.values())

    def redraw(self) -> None:
        """Redraw the series whose buffers changed since the last redraw (none while
        the plot is hidden, e.g. another page is shown; showing it catches up)."""
        if not self.isVisible():
            return
        now = time.monotonic()
        if now - LivePlot._last_redraw_at < FRAME_GAP_S:
            # Another plot redrew a moment ago and its paint is still to come: painting
            # both in one frame is what made the UI thread's longest stalls (plots whose
            # axes all move at the first epoch). This one catches up on its next tick.
            return
        changed = False
        for label, curve in self.curves.items():
            buf = self._buffers.get(label)
            stamp = (id(buf), buf.version) if buf is not None else (0, 0)
            if self._drawn.get(label) == stamp:
                continue
            self._drawn[label] = stamp
            if buf is None or not len(buf):
                curve.setData([], [])
            else:
                x, y = buf.arrays()
                curve.setData(x.copy(), y.copy())  # copies: the buffer keeps growing in place
            changed = True
        if changed:
            LivePlot._last_redraw_at = now
            self.redraws += 1
            self._follow_data()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.redraw()

    def stop(self) -> None:
        self._stopped = True
        self._timer.stop()

    # --- palette ----------------------------------------------------------------------
    def _apply_palette(self) -> None:
        pal = self.palette()
        fg = pal.color(QPalette.ColorRole.WindowText)
        self.setBackground(pal.color(QPalette.ColorRole.Base))
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(pal.color(QPalette.ColorRole.Mid)))
            axis.setTextPen(pg.mkPen(fg))
        item.setTitle(self._title, color=fg.name(), size="10pt")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # Qt sends a PaletteChange while pyqtgraph is still constructing us.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "curves", None):
            self._apply_palette()
        super().changeEvent(event)
