"""The teacher's accuracy as a reference line in the Compare view: a
distilled run (runs.teacher_run_id) is drawn against the best accuracy its
teacher reached, so "how close did the student get" reads off the chart.

`teacher_references` reads the teachers' rows (off the UI thread, with the
curves); `TeacherLines` draws a dashed horizontal line per teacher on the
chart of the same metric.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pyqtgraph as pg
from PySide6.QtCore import Qt

from engine.labels import run_label

# Which teacher metric is drawn: its best validation accuracy, else its training accuracy
# (a teacher trained without a validation split).
KEYS = ("val/accuracy", "train/accuracy")


@dataclass(frozen=True)
class Reference:
    key: str  # the chart it belongs on
    value: float
    label: str


def teacher_references(store: Any, runs: Sequence[Any]) -> list[Reference]:
    """One reference per teacher of the given runs (each teacher once)."""
    from engine.store import RunNotFoundError

    out = []
    for teacher_id in sorted({r.teacher_run_id for r in runs if getattr(r, "teacher_run_id", None)}):
        try:
            teacher = store.get_run(teacher_id)
        except RunNotFoundError:
            continue  # deleted since: the students' curves stand alone
        metrics = (teacher.summary or {}).get("metrics") or {}
        for key in KEYS:
            best = (metrics.get(key) or {}).get("best")
            if isinstance(best, (int, float)):
                out.append(Reference(key, float(best), f"teacher {run_label(teacher.id, teacher.name)}: {best:.3f}"))
                break
    return out


class TeacherLines:
    """The reference lines on a grid's charts; `show` replaces what was drawn."""

    def __init__(self) -> None:
        self.refs: list[Reference] = []
        self._drawn: list[tuple[Any, pg.InfiniteLine]] = []

    def show(self, refs: list[Reference], charts: dict[str, Any]) -> None:
        self.refs = list(refs)
        for chart, line in self._drawn:
            chart.removeItem(line)
        self._drawn = []
        for ref in self.refs:
            chart = charts.get(ref.key)
            if chart is None:
                continue
            line = pg.InfiniteLine(pos=ref.value, angle=0, movable=False,
                                   pen=pg.mkPen("#555555", width=1.2, style=Qt.PenStyle.DashLine),
                                   label=ref.label, labelOpts={"position": 0.02, "color": "#444444",
                                                               "anchors": [(0, 1), (0, 1)]})
            line.setObjectName(f"teacher_line:{ref.key}")
            chart.addItem(line)
            self._drawn.append((chart, line))

    def lines(self, key: str) -> list[pg.InfiniteLine]:
        """What is drawn on the chart of `key` (tests read it)."""
        return [line for chart, line in self._drawn if chart.key == key]
