"""Compare ▸ Per-class F1: the selected runs' F1 for each class side by
side (rows: classes, one column per run in its compare colour), read from
their stored evaluations off the UI thread. Runs of different datasets
line up by class name; a run with no evaluation says so in its column."""
from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from engine.labels import run_label


def f1_rows(docs: Sequence[Optional[dict[str, Any]]]) -> tuple[list[str], list[list[Optional[float]]]]:
    """Class names in first-seen order and, per class, each run's F1 (None: not in that run)."""
    classes: list[str] = []
    by_run: list[dict[str, float]] = []
    for doc in docs:
        scores = {c["class"]: c["f1"] for c in (doc or {}).get("per_class", [])}
        classes += [c for c in scores if c not in classes]
        by_run.append(scores)
    rows = [[scores.get(c) for scores in by_run] for c in classes]
    rows.append([doc["macro_f1"] if doc and "macro_f1" in doc else None for doc in docs])
    return classes + ["macro F1"], rows


def shade(value: float, lo: float, hi: float) -> QColor:
    """White to green over the table's own range, so close scores still differ visibly."""
    t = (value - lo) / (hi - lo) if hi > lo else 1.0
    a = 0.08 + 0.55 * t
    r, g, b = 44, 160, 44
    return QColor(round(255 + (r - 255) * a), round(255 + (g - 255) * a), round(255 + (b - 255) * a))


class ClassF1View(QWidget):
    """objectName class_f1_view; the table is class_f1_table."""

    loaded = Signal()
    """The selection's evaluations are shown."""

    def __init__(self, store_getter: Callable[[], Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("class_f1_view")
        self._store = store_getter
        self._bg = Background(self, latest_only=True, name="layerdeck-class-f1")
        self.note = QLabel(objectName="class_f1_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #666; padding: 2px 4px;")
        self.table = QTableWidget(0, 0, objectName="class_f1_table")
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Stretch)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)

    def set_runs(self, runs: Sequence[Any], colors: dict[int, QColor]) -> None:
        from engine.evaluation.run_eval import stored_evaluation

        runs = list(runs)
        store = self._store
        self._bg.submit(lambda: [stored_evaluation(store(), r.id) for r in runs],
                        lambda docs: self._show(runs, colors, docs), lambda m, t: self.note.setText(m))

    def _show(self, runs: list[Any], colors: dict[int, QColor], docs: list[Optional[dict[str, Any]]]) -> None:
        classes, rows = f1_rows(docs)
        self.table.clear()
        self.table.setColumnCount(len(runs))
        self.table.setRowCount(len(classes))
        self.table.setVerticalHeaderLabels(classes)
        for c, run in enumerate(runs):
            head = QTableWidgetItem(f"■ {run_label(run.id, run.name)}")
            head.setForeground(QBrush(colors.get(run.id, QColor("#333"))))
            self.table.setHorizontalHeaderItem(c, head)
        scores = [v for values in rows for v in values if v is not None]
        lo, hi = (min(scores), max(scores)) if scores else (0.0, 1.0)
        for r, values in enumerate(rows):
            best = max((v for v in values if v is not None), default=None)
            for c, v in enumerate(values):
                item = QTableWidgetItem("–" if v is None else f"{v:.3f}")
                item.setTextAlignment(Qt.AlignCenter)
                if v is not None:
                    item.setBackground(QBrush(shade(v, lo, hi)))
                    if v == best and len(runs) > 1:
                        font = item.font()
                        font.setBold(True)
                        item.setFont(font)
                self.table.setItem(r, c, item)
        missing = [run_label(r.id, r.name) for r, d in zip(runs, docs) if d is None]
        self.note.setText(("F1 per class on each run's test split (validation when it has none); the best "
                           "in each row is bold." if len(missing) < len(runs) else
                           "None of the selected runs has an evaluation yet.")
                          + (f" Not evaluated: {', '.join(missing)} (open the run's Evaluation tab and click "
                             "Evaluate)." if missing else ""))
        self.loaded.emit()
