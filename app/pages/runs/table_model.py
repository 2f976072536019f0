"""The run table: a QAbstractTableModel over precomputed row tuples, and a
filter proxy.

Why precomputed: with 10,000 runs every paint and every sort would otherwise
format numbers and walk spec dicts in Python. `build_rows` (a plain function,
run off the UI thread) turns store Runs into tuples of display strings and
sort keys once; `data()` only indexes them.

Why the source model sorts: QSortFilterProxyModel sorts by calling back into
Python `data()` for every comparison (~130,000 calls for 10,000 rows); a
Python `list.sort` over precomputed keys takes milliseconds. The proxy
forwards `sort()` here and only filters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QIcon, QPainter, QPixmap

RUN_ID_ROLE = Qt.UserRole + 1
SORT_ROLE = Qt.UserRole + 2


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    numeric: bool = False
    tooltip: str = ""


COLUMNS: tuple[Column, ...] = (
    Column("star", "★", tooltip="Starred runs (click to star or unstar)"),
    Column("name", "Name"),
    Column("status", "Status"),
    Column("dataset", "Dataset"),
    Column("model", "Model", True, "Blocks and trainable parameters (sorted by parameters)"),
    Column("optimizer", "Optimizer"),
    Column("lr", "LR", True, "Learning rate"),
    Column("batch", "Batch", True, "Batch size"),
    Column("epochs", "Epochs", True),
    Column("best_val", "Best val", True, "Best validation accuracy (or r2, or loss when the run has no accuracy)"),
    Column("test", "Test", True, "Test metric, measured once with the best checkpoint"),
    Column("duration", "Duration", True),
    Column("started", "Started", True),
    Column("tags", "Tags"),
    Column("id", "#", True, "Run id"),
)
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}

STATUS_COLORS = {
    "queued": "#8a8f98", "running": "#2f7fd8", "paused": "#d9a400", "completed": "#2e9d57",
    "stopped": "#e08a1e", "failed": "#d33d3d", "crashed": "#a0287a",
}
STATUSES = tuple(STATUS_COLORS)

# Which summary metric stands for "best val" / "test": accuracy first, as people compare it.
_VAL_KEYS = ("val/accuracy", "val/r2", "val/loss", "val/mae")
_TEST_KEYS = ("test/accuracy", "test/r2", "test/loss")


@dataclass(frozen=True)
class RunRow:
    """One table row: what each column shows, and how it sorts."""

    run: Any  # the store's Run entity (kept for filters and the details panel)
    display: tuple[str, ...]
    sort: tuple[Any, ...]  # None sorts last in both directions
    tips: tuple[str, ...]
    haystack: str  # lowercase name, tags, dataset and model for free-text search

    @property
    def run_id(self) -> int:
        return int(self.run.id)


def compact_count(n: Optional[float]) -> str:
    if n is None:
        return "–"
    n = float(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.0f}"


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _num(v: Any) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _metric(summary: dict[str, Any], keys: Sequence[str], stat: str) -> tuple[Optional[float], str]:
    metrics = summary.get("metrics") or {}
    for key in keys:
        entry = metrics.get(key)
        if isinstance(entry, dict) and _num(entry.get(stat)) is not None:
            return _num(entry.get(stat)), key
    return None, ""


def _fmt(v: Optional[float], digits: int = 4) -> str:
    return "–" if v is None else f"{v:.{digits}g}"


def _local_time(dt: Optional[datetime]) -> str:
    return "–" if dt is None else dt.astimezone().strftime("%Y-%m-%d %H:%M")


def build_row(run: Any) -> RunRow:
    """Everything the table needs about one run, computed once."""
    spec = run.spec if isinstance(run.spec, dict) else {}
    summary = run.summary if isinstance(run.summary, dict) else {}
    data = spec.get("data") or {}
    blocks = (spec.get("model") or {}).get("blocks") or []
    opt = spec.get("optimizer") or {}
    training = spec.get("training") or {}
    params = _num(summary.get("params"))
    lr, batch, epochs = _num(opt.get("lr")), _num(training.get("batch_size")), _num(training.get("epochs"))
    best, best_key = _metric(summary, _VAL_KEYS, "best")
    test, test_key = _metric(summary, _TEST_KEYS, "last")
    duration = run.duration_s
    started = run.started_at or run.created_at
    dataset = str(data.get("name", "–"))
    model = f"{len(blocks)} blocks · {compact_count(params)}" if params is not None else f"{len(blocks)} blocks"
    tags = list(run.tags or [])
    display = (
        "★" if run.starred else "☆", run.name, run.status, dataset, model, str(opt.get("type", "–")),
        "–" if lr is None else f"{lr:.3g}", _fmt(batch), _fmt(epochs), _fmt(best), _fmt(test),
        format_duration(duration), _local_time(started), ", ".join(tags), str(run.id),
    )
    sort = (
        int(bool(run.starred)), run.name.casefold(), run.status, dataset.casefold(), params, str(opt.get("type", "")),
        lr, batch, epochs, best, test, duration, started.timestamp() if started else None,
        ", ".join(tags).casefold(), run.id,
    )
    tips = [""] * len(COLUMNS)
    tips[COLUMN_INDEX["best_val"]] = f"{best_key} (best)" if best_key else "no validation metric"
    tips[COLUMN_INDEX["test"]] = test_key or "no test metric (the run has no test split or has not finished)"
    tips[COLUMN_INDEX["status"]] = run.error or run.status
    tips[COLUMN_INDEX["model"]] = " → ".join(str(b.get("type", "?")) for b in blocks if isinstance(b, dict))
    haystack = " ".join([run.name, " ".join(tags), dataset, model, tips[COLUMN_INDEX["model"]]]).casefold()
    return RunRow(run, display, sort, tuple(tips), haystack)


def build_rows(runs: Sequence[Any]) -> list[RunRow]:
    return [build_row(r) for r in runs]


_ICON_CACHE: dict[str, QIcon] = {}


def status_icon(status: str) -> QIcon:
    """A filled dot in the status colour (drawn, so no icon files to ship)."""
    icon = _ICON_CACHE.get(status)
    if icon is None:
        pm = QPixmap(12, 12)
        pm.fill(Qt.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.Antialiasing)
        p.setBrush(QColor(STATUS_COLORS.get(status, "#888888")))
        p.setPen(Qt.NoPen)
        p.drawEllipse(1, 1, 10, 10)
        p.end()
        icon = _ICON_CACHE[status] = QIcon(pm)
    return icon


class RunsTableModel(QAbstractTableModel):
    """Rows of runs; `set_rows` replaces them, `sort` orders them in Python."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RunRow] = []
        self._sort_column = COLUMN_INDEX["id"]
        self._sort_order = Qt.DescendingOrder
        self._bold = QFont()
        self._bold.setBold(True)

    # data ----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        row = self._rows[index.row()]
        col = index.column()
        if role == Qt.DisplayRole:
            return row.display[col]
        if role == RUN_ID_ROLE:
            return row.run_id
        if role == SORT_ROLE:
            return row.sort[col]
        if role == Qt.ToolTipRole:
            return row.tips[col] or None
        if role == Qt.DecorationRole and col == COLUMN_INDEX["status"]:
            return status_icon(row.run.status)
        if role == Qt.TextAlignmentRole and COLUMNS[col].numeric and col != COLUMN_INDEX["model"]:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if role == Qt.ForegroundRole and col == COLUMN_INDEX["star"] and row.run.starred:
            return QBrush(QColor("#d9a400"))
        if role == Qt.FontRole and col == COLUMN_INDEX["name"] and row.run.starred:
            return self._bold
        return None

    def headerData(self, section: int, orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation != Qt.Horizontal:
            return None
        if role == Qt.DisplayRole:
            return COLUMNS[section].title
        if role == Qt.ToolTipRole:
            return COLUMNS[section].tooltip or None
        return None

    # rows ----------------------------------------------------------------------
    @property
    def rows(self) -> list[RunRow]:
        return self._rows

    def set_rows(self, rows: list[RunRow]) -> None:
        self.beginResetModel()
        self._rows = self._sorted(list(rows), self._sort_column, self._sort_order)
        self.endResetModel()

    def row_of(self, run_id: int) -> int:
        for i, r in enumerate(self._rows):
            if r.run_id == run_id:
                return i
        return -1

    # sorting -------------------------------------------------------------------
    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        if column < 0:
            return
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        old_ids = [r.run_id for r in self._rows]
        self._rows = self._sorted(self._rows, column, order)
        new_pos = {r.run_id: i for i, r in enumerate(self._rows)}
        # Selections and the current row follow their runs through the sort.
        persistent = self.persistentIndexList()
        self.changePersistentIndexList(
            persistent,
            [self.index(new_pos[old_ids[p.row()]], p.column()) for p in persistent])
        self.layoutChanged.emit()

    @staticmethod
    def _sorted(rows: list[RunRow], column: int, order) -> list[RunRow]:
        present = [r for r in rows if r.sort[column] is not None]
        missing = [r for r in rows if r.sort[column] is None]
        present.sort(key=lambda r: r.sort[column], reverse=order == Qt.DescendingOrder)
        return present + missing  # runs without the value go last either way


class RunsFilterProxy(QSortFilterProxyModel):
    """Filters rows with a Python predicate; sorting is the source model's."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._accept: Optional[Callable[[RunRow], bool]] = None
        self.setDynamicSortFilter(False)

    def set_predicate(self, accept: Optional[Callable[[RunRow], bool]]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10 deprecates invalidateRowsFilter
            self.beginFilterChange()
            self._accept = accept
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._accept = accept
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:
        if self._accept is None:
            return True
        return self._accept(self.sourceModel().rows[source_row])

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)

    def run_id(self, proxy_row: int) -> int:
        return int(self.index(proxy_row, 0).data(RUN_ID_ROLE))

