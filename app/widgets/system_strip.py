"""A compact GPU/CPU strip for the Train page, next to the live plots:

    GPU 0  ▕██████░░▏  87 %   mem 3.1 / 24.0 GB
    CPU    ▕███░░░░░▏  41 %   RAM 7.9 / 31.3 GB

Feed it sample dicts (`update_samples({"gpu0/util_percent": 87, ...})`,
keys as in engine.monitor), or let it sample on its own timer with
`SystemStrip.from_sampler(sampler)`.
"""
from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QWidget

from app.widgets.sampling import BackgroundCollector
from engine.formatting import gb
from engine.monitor import GpuInfo, SystemSampler

_GPU_KEY = re.compile(r"gpu(\d+)/(util_percent|mem_used_mb)$")
NA = "—"


class _Row:
    """One line of the strip: name, bar, percent, memory."""

    def __init__(self, grid: QGridLayout, row: int, name: str, kind: str):
        self.name = QLabel(name)
        self.bar = QProgressBar()
        self.bar.setObjectName(f"strip_{kind}_bar")
        self.bar.setRange(0, 100)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(10)
        self.bar.setMinimumWidth(60)
        self.bar.setMaximumWidth(160)
        self.percent = QLabel(NA)
        self.percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        # Wide enough for "100 %", so the memory column does not jump.
        self.percent.setMinimumWidth(self.percent.fontMetrics().horizontalAdvance("100 %") + 4)
        self.memory = QLabel("")
        for col, widget in enumerate((self.name, self.bar, self.percent, self.memory)):
            grid.addWidget(widget, row, col)

    def set(self, percent: float | None, memory: str) -> None:
        self.bar.setValue(0 if percent is None else round(max(0.0, min(100.0, percent))))
        self.percent.setText(NA if percent is None else f"{percent:.0f} %")
        self.memory.setText(memory)

    def remove(self, grid: QGridLayout) -> None:
        for widget in (self.name, self.bar, self.percent, self.memory):
            grid.removeWidget(widget)
            widget.deleteLater()


class SystemStrip(QWidget):
    """One line per GPU (utilization bar, memory used/total) and one for CPU/RAM."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("system_strip")
        self._grid = QGridLayout(self)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(8)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(3, 1)
        self._names: dict[int, str] = {}
        self.gpu_rows: dict[int, _Row] = {}
        self.cpu_row = _Row(self._grid, 0, "CPU", "cpu")
        self.collector: BackgroundCollector | None = None

    @classmethod
    def from_sampler(cls, sampler: SystemSampler | None = None, interval_ms: int = 1000,
                     parent: QWidget | None = None) -> "SystemStrip":
        """A strip that samples by itself every interval, off the UI thread.
        With no sampler, one is created on the sampling thread (nvmlInit
        must not run on the UI thread)."""
        strip = cls(parent)
        holder: dict[str, SystemSampler] = {}
        if sampler is not None:
            holder["s"] = sampler

        def collect() -> tuple[list[GpuInfo], dict[str, float]]:
            s = holder.get("s") or holder.setdefault("s", SystemSampler())
            return s.gpus, dict(s.sample())

        strip.collector = BackgroundCollector(collect, interval_ms, strip)
        strip.collector.collected.connect(strip._on_collected)
        strip.collector.start()
        return strip

    def _on_collected(self, result: Any) -> None:
        gpus, samples = result
        self.set_gpus(gpus)
        self.update_samples(samples)

    def stop(self) -> None:
        """Stop sampling (from_sampler strips); update_samples still works."""
        if self.collector is not None:
            self.collector.stop()

    def set_gpus(self, gpus: list[GpuInfo]) -> None:
        """GPU names for the rows' tooltips."""
        self._names = {g.index: g.name for g in gpus}
        for index, row in self.gpu_rows.items():
            row.name.setToolTip(self._names.get(index, ""))

    def update_samples(self, samples: dict[str, float]) -> None:
        """Show the newest figures; GPU rows appear for the GPUs in `samples`
        and disappear when GPU figures stop coming."""
        indices = sorted({int(m.group(1)) for k in samples if (m := _GPU_KEY.match(k))})
        if indices != sorted(self.gpu_rows):
            self._rebuild(indices)
        for i, row in self.gpu_rows.items():
            used, total = samples.get(f"gpu{i}/mem_used_mb"), samples.get(f"gpu{i}/mem_total_mb")
            mem = "" if used is None else (f"mem {gb(used)} / {gb(total)} GB" if total else f"mem {gb(used)} GB")
            row.set(samples.get(f"gpu{i}/util_percent"), mem)
        used, total = samples.get("ram/used_mb"), samples.get("ram/total_mb")
        ram = "" if used is None else (f"RAM {gb(used)} / {gb(total)} GB" if total else f"RAM {gb(used)} GB")
        self.cpu_row.set(samples.get("cpu/percent"), ram)

    def _rebuild(self, indices: list[int]) -> None:
        for row in self.gpu_rows.values():
            row.remove(self._grid)
        self.cpu_row.remove(self._grid)
        self.gpu_rows = {}
        for n, i in enumerate(indices):
            row = _Row(self._grid, n, f"GPU {i}", f"gpu{i}")
            row.name.setToolTip(self._names.get(i, ""))
            self.gpu_rows[i] = row
        self.cpu_row = _Row(self._grid, len(indices), "CPU", "cpu")

    def lines(self) -> list[str]:
        """What the strip reads, one string per line (tests, screenshots)."""
        rows = [*self.gpu_rows.values(), self.cpu_row]
        return [" ".join(t for t in (r.name.text(), r.percent.text(), r.memory.text()) if t) for r in rows]
