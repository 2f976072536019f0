"""The Monitor page's panels: one per GPU and one for CPU/RAM, each with its
current values written large above rolling charts of the same figures."""
from __future__ import annotations

from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from app.widgets.ring_plot import RingBuffer, RingPlot
from engine.formatting import gb, mb
from engine.monitor import GpuInfo

# One colour per kind of figure, readable on light and dark backgrounds.
UTIL_COLOR = "#3b82f6"
MEM_COLOR = "#a855f7"
TEMP_COLOR = "#f97316"
POWER_COLOR = "#22c55e"

NA = "—"


def fmt_mb(megabytes: float | None) -> str:
    """Memory for a table cell: "812 MB", "3.1 GB"; "—" when unknown."""
    return NA if megabytes is None else mb(megabytes)


class ValueTile(QWidget):
    """A caption over a large value: what a glance at the page should read."""

    def __init__(self, caption: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.caption = QLabel(caption)
        self.value = QLabel(NA)
        font = QFont(self.value.font())
        font.setPointSizeF(font.pointSizeF() * 1.7)
        font.setWeight(QFont.Weight.DemiBold)
        self.value.setFont(font)
        self.caption.setForegroundRole(QPalette.ColorRole.PlaceholderText)  # muted, follows light/dark
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.caption)
        box.addWidget(self.value)

    def set_text(self, text: str) -> None:
        self.value.setText(text)

    def text(self) -> str:
        return self.value.text()


class _Panel(QFrame):
    """Title, a grid of value tiles, then charts stacked in one column."""

    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        bold = QFont(self.title.font())
        bold.setBold(True)
        self.title.setFont(bold)
        self.detail = QLabel("")  # small facts next to the title (SM clock)
        head = QHBoxLayout()
        head.addWidget(self.title, 1)
        head.addWidget(self.detail)
        self.tiles = QGridLayout()
        self.tiles.setHorizontalSpacing(16)
        self.tiles.setVerticalSpacing(4)
        self.charts = QVBoxLayout()
        self.charts.setSpacing(2)
        box = QVBoxLayout(self)
        box.setContentsMargins(10, 8, 10, 8)
        box.setSpacing(6)
        box.addLayout(head)
        box.addLayout(self.tiles)
        box.addLayout(self.charts, 1)
        self.plots: list[RingPlot] = []

    def _tile(self, caption: str, row: int, col: int) -> ValueTile:
        tile = ValueTile(caption)
        self.tiles.addWidget(tile, row, col)
        return tile

    def _chart(self, title: str, color: str, **kw) -> RingPlot:
        plot = RingPlot(title, color, **kw)
        self.charts.addWidget(plot, 1)
        self.plots.append(plot)
        return plot

    def set_window(self, seconds: float) -> None:
        for plot in self.plots:
            plot.set_window(seconds)


class GpuPanel(_Panel):
    """GPU i: utilization, memory, temperature and power, now and over time."""

    def __init__(self, gpu: GpuInfo, window: float, parent: QWidget | None = None):
        super().__init__(f"GPU {gpu.index} · {gpu.name}", parent)
        self.gpu = gpu
        self.setObjectName(f"gpu_panel_{gpu.index}")
        self.util = self._tile("utilization", 0, 0)
        self.memory = self._tile("memory", 0, 1)
        self.temp = self._tile("temperature", 1, 0)
        self.power = self._tile("power", 1, 1)
        total_gb = gpu.mem_total_mb / 1024
        self.util_plot = self._chart("utilization %", UTIL_COLOR, y_max=100, y_ticks=(50, 10), window=window)
        self.mem_plot = self._chart("memory GB", MEM_COLOR, y_max=total_gb, window=window)
        self.temp_plot = self._chart("temperature °C", TEMP_COLOR, y_min=20, y_max=100, y_ticks=(40, 10), window=window)
        self.power_plot = self._chart("power W", POWER_COLOR, window=window)

    def update_values(self, buffers: dict[str, RingBuffer]) -> None:
        p = f"gpu{self.gpu.index}/"

        def last(name: str) -> float | None:
            buf = buffers.get(p + name)
            return None if buf is None else buf.last

        util, used, total = last("util_percent"), last("mem_used_mb"), last("mem_total_mb")
        temp, watts, limit, clock = last("temp_c"), last("power_w"), last("power_limit_w"), last("sm_clock_mhz")
        total = total if total is not None else self.gpu.mem_total_mb
        self.util.set_text(NA if util is None else f"{util:.0f} %")
        self.memory.set_text(NA if used is None else f"{gb(used)} / {gb(total)} GB")
        self.temp.set_text(NA if temp is None else f"{temp:.0f} °C")
        if watts is None:
            self.power.set_text(NA)
        else:
            self.power.set_text(f"{watts:.0f} / {limit:.0f} W" if limit else f"{watts:.0f} W")
        self.detail.setText("" if clock is None else f"SM {clock:.0f} MHz")
        self.power_plot.set_y_max(limit)

    def redraw(self, buffers: dict[str, RingBuffer]) -> None:
        p = f"gpu{self.gpu.index}/"
        for plot, key, scale in ((self.util_plot, "util_percent", 1.0), (self.mem_plot, "mem_used_mb", 1 / 1024),
                                 (self.temp_plot, "temp_c", 1.0), (self.power_plot, "power_w", 1.0)):
            if p + key in buffers:
                plot.draw(buffers[p + key], scale)


class HostPanel(_Panel):
    """CPU percent and RAM in use, now and over time."""

    def __init__(self, window: float, parent: QWidget | None = None):
        super().__init__("CPU / RAM", parent)
        self.setObjectName("host_panel")
        self.cpu = self._tile("CPU", 0, 0)
        self.ram = self._tile("RAM", 0, 1)
        self.cpu_plot = self._chart("CPU %", UTIL_COLOR, y_max=100, y_ticks=(50, 10), window=window)
        self.ram_plot = self._chart("RAM GB", MEM_COLOR, window=window)

    def update_values(self, buffers: dict[str, RingBuffer]) -> None:
        cpu = buffers.get("cpu/percent")
        used, total = buffers.get("ram/used_mb"), buffers.get("ram/total_mb")
        cpu_v = cpu.last if cpu else None
        self.cpu.set_text(NA if cpu_v is None else f"{cpu_v:.0f} %")
        used_v, total_v = (used.last if used else None), (total.last if total else None)
        if used_v is None:
            self.ram.set_text(NA)
        else:
            self.ram.set_text(f"{gb(used_v)} / {gb(total_v)} GB" if total_v else f"{gb(used_v)} GB")
        if total_v:
            self.ram_plot.set_y_max(total_v / 1024)

    def redraw(self, buffers: dict[str, RingBuffer]) -> None:
        if "cpu/percent" in buffers:
            self.cpu_plot.draw(buffers["cpu/percent"])
        if "ram/used_mb" in buffers:
            self.ram_plot.draw(buffers["ram/used_mb"], 1 / 1024)
