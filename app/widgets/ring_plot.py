"""A rolling-window chart: the last N minutes of one series, newest at the
right edge ("now"), drawn with the widget's palette.

RingBuffer keeps (time, value) pairs up to a fixed count; RingPlot shows a
buffer's series with x in seconds before the newest point, so the chart
scrolls as points arrive and freezes when they stop (a paused view).
"""
from __future__ import annotations

import math
from collections import deque

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget


class RingBuffer:
    """The newest `capacity` (time, value) pairs of one series."""

    def __init__(self, capacity: int = 2048):
        self._t: deque[float] = deque(maxlen=capacity)
        self._v: deque[float] = deque(maxlen=capacity)

    def append(self, t: float, value: float) -> None:
        self._t.append(t)
        self._v.append(value)

    def gap(self, t: float) -> None:
        """Break the line here (a NaN point), e.g. where a paused view resumes."""
        if self._v and not math.isnan(self._v[-1]):
            self.append(t, math.nan)

    def __len__(self) -> int:
        return len(self._t)

    @property
    def last(self) -> float | None:
        """The newest value (None when empty or after a gap)."""
        if not self._v or math.isnan(self._v[-1]):
            return None
        return self._v[-1]

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.fromiter(self._t, float, len(self._t)), np.fromiter(self._v, float, len(self._v))


class AgoAxis(pg.AxisItem):
    """Seconds before now, written as "now", "−30 s", "−4 min"."""

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        out = []
        for v in values:
            ago = -round(v)
            if ago <= 0:
                out.append("now")
            elif ago % 60 == 0:
                out.append(f"−{ago // 60} min")
            else:
                out.append(f"−{ago} s")
        return out


# Major/minor tick spacing (s) per window length (s): a handful of labels each.
_TICKS = {60: (15, 5), 300: (60, 30), 900: (300, 60)}


class RingPlot(pg.PlotWidget):
    """One series over the last `window` seconds. Mouse zoom and pan are off:
    the window selector and Pause are the controls of a rolling chart."""

    def __init__(self, title: str, color: str, *, y_min: float = 0.0, y_max: float | None = None,
                 y_ticks: tuple[float, float] | None = None, window: float = 300.0,
                 parent: QWidget | None = None):
        """y_ticks: (major, minor) spacing of the y axis; small charts read
        better with 0/50/100 than with a label every 20."""
        super().__init__(parent, axisItems={"bottom": AgoAxis(orientation="bottom")})
        self._title = title
        self._color = QColor(color)
        self._y_min, self._y_max = y_min, y_max
        item = self.getPlotItem()
        item.setClipToView(True)  # draw only what is inside the window
        item.setDownsampling(auto=True, mode="peak")  # peaks survive on narrow charts
        item.hideButtons()
        item.setMenuEnabled(False)
        item.setMouseEnabled(x=False, y=False)
        item.getAxis("left").setWidth(44)  # fixed so charts stacked in a column line up
        if y_ticks is not None:
            item.getAxis("left").setTickSpacing(*y_ticks)
        fill = QColor(self._color)
        fill.setAlpha(50)
        self.curve = item.plot(pen=pg.mkPen(self._color, width=1.6), fillLevel=y_min, brush=fill)
        self.setMinimumHeight(90)
        self.set_window(window)
        self._apply_y()
        self._apply_palette()

    # configuration -------------------------------------------------------------
    def set_window(self, seconds: float) -> None:
        self.window = float(seconds)
        major, minor = _TICKS.get(int(seconds), (seconds / 4, seconds / 20))
        self.getPlotItem().getAxis("bottom").setTickSpacing(major, minor)
        self.setXRange(-self.window, 0, padding=0)

    def set_y_max(self, y_max: float | None) -> None:
        """Fix the top of the y axis (memory total, power limit); None: follow the data."""
        if y_max != self._y_max:
            self._y_max = y_max
            self._apply_y()

    def _apply_y(self) -> None:
        if self._y_max is not None and self._y_max > self._y_min:
            self.setYRange(self._y_min, self._y_max, padding=0.02)
        else:
            self.enableAutoRange(axis="y")

    def x_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.getPlotItem().viewRange()
        return x0, x1

    # data ---------------------------------------------------------------------
    def draw(self, buffer: RingBuffer, scale: float = 1.0) -> None:
        """Draw `buffer` (values times `scale`), its newest point at x = 0."""
        t, v = buffer.arrays()
        if len(t):
            self.curve.setData(t - t[-1], v * scale, connect="finite")
        else:
            self.curve.setData([], [])

    # palette ------------------------------------------------------------------
    def _apply_palette(self) -> None:
        pal = self.palette()
        bg = pal.color(QPalette.ColorRole.Window)
        fg = pal.color(QPalette.ColorRole.WindowText)
        self.setBackground(bg)
        item = self.getPlotItem()
        for name in ("left", "bottom"):
            axis = item.getAxis(name)
            axis.setPen(pg.mkPen(fg))
            axis.setTextPen(pg.mkPen(fg))
        item.setTitle(self._title, color=fg.name(), size="9pt")

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # Qt sends a PaletteChange while pyqtgraph is still constructing us.
        if event.type() == QEvent.Type.PaletteChange and getattr(self, "curve", None) is not None:
            self._apply_palette()
        super().changeEvent(event)
