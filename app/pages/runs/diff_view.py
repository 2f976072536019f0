"""The Compare view's tables: what differs in the configuration, block by
block what differs in the architecture, and best/final metrics with the
best run of each row highlighted.

The tables hold a few dozen cells, so QTableWidget is the right tool here
(the 10,000-row run table is a model; these are not).
"""
from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.pages.runs.table_model import compact_count, format_duration
from engine.compare import architecture_diff, config_diff, format_value, summary_table
from engine.labels import run_label

CHANGED_BG = QColor("#fff1c2")  # amber: differs from the first selected run
BEST_BG = QColor("#d3f0da")  # green: the best run of a summary row
HIGHLIGHT_ROLE = Qt.UserRole + 10  # True on highlighted cells, for tests and tooltips


def swatch(color: QColor) -> QIcon:
    pm = QPixmap(10, 10)
    pm.fill(color)
    return QIcon(pm)


def _run_headers(table: QTableWidget, runs: Sequence[Any], colors: dict[int, QColor]) -> None:
    table.setColumnCount(len(runs))
    for i, run in enumerate(runs):
        item = QTableWidgetItem(swatch(colors[run.id]), run_label(run.id, run.name))
        item.setToolTip(f"run {run.id}: {run.name} ({run.status})")
        table.setHorizontalHeaderItem(i, item)


def _table(object_name: str) -> QTableWidget:
    t = QTableWidget(objectName=object_name)
    t.setEditTriggers(QAbstractItemView.NoEditTriggers)
    t.setSelectionMode(QAbstractItemView.ContiguousSelection)
    t.setAlternatingRowColors(True)
    t.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
    t.horizontalHeader().setDefaultSectionSize(130)
    t.verticalHeader().setDefaultSectionSize(22)
    return t


def _fit_columns(t: QTableWidget, most: int = 260) -> None:
    """Columns as wide as their text (run names included), within reason."""
    t.resizeColumnsToContents()
    for c in range(t.columnCount()):
        t.setColumnWidth(c, min(most, max(90, t.columnWidth(c) + 8)))


class DiffView(QWidget):
    """Config diff table (only differing fields) over an architecture diff tree."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.config_table = _table("config_diff_table")
        self.config_note = QLabel(objectName="config_diff_note")
        self.config_note.setWordWrap(True)
        self.arch_tree = QTreeWidget(objectName="arch_diff")
        self.arch_tree.setHeaderHidden(True)
        self.arch_note = QLabel(objectName="arch_diff_note")

        top = QWidget()
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("<b>Configuration</b> — only the fields that differ; "
                            "amber cells differ from the first run"))
        tl.addWidget(self.config_note)
        tl.addWidget(self.config_table, 1)
        bottom = QWidget()
        bl = QVBoxLayout(bottom)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.addWidget(QLabel("<b>Architecture</b> — block by block, against the first run"))
        bl.addWidget(self.arch_note)
        bl.addWidget(self.arch_tree, 1)
        split = QSplitter(Qt.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setSizes([300, 200])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(split)

    def set_runs(self, runs: Sequence[Any], colors: dict[int, QColor]) -> None:
        specs = [r.spec for r in runs]
        rows = config_diff(specs)
        t = self.config_table
        t.clear()
        t.setRowCount(len(rows))
        _run_headers(t, runs, colors)
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            t.setVerticalHeaderItem(r, QTableWidgetItem(row.path))
            for c, value in enumerate(row.values):
                item = QTableWidgetItem(format_value(value))
                item.setToolTip(f"{row.path} = {format_value(value)}")
                if row.changed(c):
                    item.setBackground(QBrush(CHANGED_BG))
                    item.setFont(bold)
                    item.setData(HIGHLIGHT_ROLE, True)
                t.setItem(r, c, item)
        _fit_columns(t)
        self.config_note.setText("" if rows else "The selected runs have the same configuration.")
        self.config_note.setVisible(not rows)

        self.arch_tree.clear()
        changes = architecture_diff(specs)
        any_change = False
        for run, diff in zip(runs[1:], changes[1:]):
            if not diff:
                continue
            any_change = True
            top = QTreeWidgetItem([f"{run_label(run.id, run.name)} vs {run_label(runs[0].id, runs[0].name)}"])
            top.setIcon(0, swatch(colors[run.id]))
            for change in diff:
                child = QTreeWidgetItem([change.describe()])
                child.setForeground(0, QBrush(QColor({"added": "#2e7d32", "removed": "#c62828",
                                                      "changed": "#8a6100"}[change.kind])))
                top.addChild(child)
            self.arch_tree.addTopLevelItem(top)
            top.setExpanded(True)
        self.arch_note.setText("" if any_change else "Same architecture in every selected run.")
        self.arch_note.setVisible(not any_change)

    def rows(self) -> list[tuple[str, list[str]]]:
        """(path, cell texts) per row: what the user reads."""
        t = self.config_table
        return [(t.verticalHeaderItem(r).text(), [t.item(r, c).text() for c in range(t.columnCount())])
                for r in range(t.rowCount())]


class SummaryView(QWidget):
    """Best and final value of each metric per run; the best run of each row is bold on green."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = _table("summary_table")
        self.note = QLabel()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(QLabel("<b>Metrics</b> — best and final values; the best run of each row is "
                             "<span style='background:#d3f0da'><b>highlighted</b></span>"))
        lay.addWidget(self.note)
        lay.addWidget(self.table, 1)

    def set_runs(self, runs: Sequence[Any], colors: dict[int, QColor]) -> None:
        rows = summary_table([r.summary for r in runs])
        t = self.table
        t.clear()
        _run_headers(t, runs, colors)
        params = [r.summary.get("params") for r in runs]
        durations = [r.duration_s for r in runs]
        t.setRowCount(len(rows) + 2)
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            t.setVerticalHeaderItem(r, QTableWidgetItem(f"{row.key} · {'best' if row.stat == 'best' else 'final'}"))
            for c, v in enumerate(row.values):
                item = QTableWidgetItem("–" if v is None else f"{v:.4g}")
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                if c == row.best_index:
                    item.setFont(bold)
                    item.setBackground(QBrush(BEST_BG))
                    item.setData(HIGHLIGHT_ROLE, True)
                    item.setToolTip("best of the selected runs")
                t.setItem(r, c, item)
        for offset, (label, values) in enumerate((("params", [compact_count(p) for p in params]),
                                                  ("duration", [format_duration(d) for d in durations]))):
            r = len(rows) + offset
            t.setVerticalHeaderItem(r, QTableWidgetItem(label))
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignRight | Qt.AlignVCenter)
                t.setItem(r, c, item)
        _fit_columns(t)
        self.note.setText("" if rows else "The selected runs have no metrics yet.")
        self.note.setVisible(not rows)

    def highlighted(self) -> dict[str, int]:
        """Row label -> column of its highlighted (best) cell."""
        t = self.table
        out: dict[str, int] = {}
        for r in range(t.rowCount()):
            for c in range(t.columnCount()):
                item = t.item(r, c)
                if item is not None and item.data(HIGHLIGHT_ROLE):
                    out[t.verticalHeaderItem(r).text()] = c
        return out
