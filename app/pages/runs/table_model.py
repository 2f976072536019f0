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

from engine.formatting import clock, compact, metric
from engine.labels import run_label
from engine.store.listing_order import SortKey

# Roles as plain ints: data() runs for every painted cell, and comparing an
# int with a Qt enum member costs ~11 us in PySide6 (an int compare ~0.07 us).
_DISPLAY = int(Qt.DisplayRole.value)
_TOOLTIP = int(Qt.ToolTipRole.value)
_DECORATION = int(Qt.DecorationRole.value)
_ALIGN = int(Qt.TextAlignmentRole.value)
_FOREGROUND = int(Qt.ForegroundRole.value)
_FONT = int(Qt.FontRole.value)
RUN_ID_ROLE = int(Qt.UserRole.value) + 1
SORT_ROLE = int(Qt.UserRole.value) + 2
_RIGHT = Qt.AlignRight | Qt.AlignVCenter


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
    Column("batch", "Batch", True, "Batch size; × N: trained in N processes (data parallel), each on 1/N of it"),
    Column("epochs", "Epochs", True),
    Column("best_val", "Best val", True, "Best validation accuracy (or r2, or loss when the run has no accuracy)"),
    Column("test", "Test", True, "Test metric, measured once with the best checkpoint"),
    Column("duration", "Duration", True),
    Column("started", "Started", True),
    Column("tags", "Tags"),
    Column("id", "#", True, "Run id"),
)
COLUMN_INDEX = {c.key: i for i, c in enumerate(COLUMNS)}
_MODEL_COL = COLUMN_INDEX["model"]

STATUS_COLORS = {
    "queued": "#8a8f98", "running": "#2f7fd8", "paused": "#d9a400", "completed": "#2e9d57",
    "stopped": "#e08a1e", "failed": "#d33d3d", "crashed": "#a0287a",
    "pruned": "#7d6bb3",  # a sweep's pruner ended it early: not a failure, so not red
}
STATUSES = tuple(STATUS_COLORS)

# Which summary metric stands for "best val" / "test": accuracy first, as people compare it.
_VAL_KEYS = ("val/accuracy", "val/r2", "val/loss", "val/mae")
_TEST_KEYS = ("test/accuracy", "test/r2", "test/loss")


class RunRow:
    """One table row: how each column sorts (computed for every run up front)
    and what it shows (formatted on first paint: with 10,000 runs only the
    visible few dozen are ever formatted)."""

    __slots__ = ("run", "run_id", "sort", "_haystack", "_labels", "_display", "_tips")

    def __init__(self, run: Any, sort: tuple[Any, ...], labels: tuple[str, ...]):
        self.run = run  # a store RunListing or Run (kept for filters and the details panel)
        self.run_id = int(run.id)
        self.sort = sort  # None sorts last in both directions
        self._labels = labels  # dataset, block count, optimizer, best key, test key, tags
        self._haystack: Optional[str] = None
        self._display: Optional[tuple[str, ...]] = None
        self._tips: Optional[tuple[str, ...]] = None

    @property
    def haystack(self) -> str:
        """Lowercase name, tags, dataset, model and block types, for free-text
        search. Built on first use: the block types need the run's spec decoded."""
        if self._haystack is None:
            dataset, _blocks, _opt, _best, _test, tags = self._labels
            self._haystack = " ".join((self.run.name, tags, dataset, self._model_label(),
                                       _arch(self.run))).casefold()
        return self._haystack

    def _model_label(self) -> str:
        """`9 blocks · 12.3k` (blocks and parameters), `9 blocks` without a parameter count."""
        n_blocks, params = self._labels[1], self.sort[_MODEL_COL]
        return f"{n_blocks} blocks · {compact_count(params)}" if params is not None else f"{n_blocks} blocks"

    @property
    def display(self) -> tuple[str, ...]:
        if self._display is None:
            self._format()
        return self._display  # type: ignore[return-value]

    @property
    def tips(self) -> tuple[str, ...]:
        if self._tips is None:
            self._format()
        return self._tips  # type: ignore[return-value]

    def _format(self) -> None:
        run, v = self.run, self.sort
        dataset, _blocks, opt, best_key, test_key, tags = self._labels
        model = self._model_label()
        c = COLUMN_INDEX
        lr = v[c["lr"]]
        started = run.started_at or run.created_at
        batch, processes = _fmt(v[c["batch"]]), _processes(run)
        self._display = (
            "★" if run.starred else "☆", run_label(run.id, run.name), run.status, dataset, model, opt,
            "–" if lr is None else f"{lr:.3g}", batch + (f" × {processes}" if processes > 1 else ""),
            _fmt(v[c["epochs"]]),
            _fmt(v[c["best_val"]]), _fmt(v[c["test"]]), format_duration(v[c["duration"]]),
            _local_time(started), tags, str(run.id),
        )
        tips = [""] * len(COLUMNS)
        tips[c["best_val"]] = f"{best_key} (best)" if best_key else "no validation metric"
        tips[c["test"]] = test_key or "no test metric (the run has no test split or has not finished)"
        tips[c["status"]] = run.error or run.status
        tips[c["model"]] = _arch(run)
        if processes > 1:
            tips[c["batch"]] = f"global batch {batch}, trained in {processes} processes (data parallel)"
        self._tips = tuple(tips)


def compact_count(n: Optional[float]) -> str:
    """"1.23M"; "–" when unknown."""
    return "–" if n is None else compact(float(n))


def format_duration(seconds: Optional[float]) -> str:
    """"1:02:05"; "–" when unknown."""
    return "–" if seconds is None else clock(seconds)


def _num(v: Any) -> Optional[float]:
    """A finite number as float, else None (bools are not numbers here)."""
    t = type(v)
    if t is float:  # the common cases first: this runs ~60,000 times for 10,000 runs
        return v if math.isfinite(v) else None
    if t is int:
        return float(v)
    if v is None or isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(v) else None


def _metric(summary: dict[str, Any], keys: Sequence[str], stat: str) -> tuple[Optional[float], str]:
    metrics = summary.get("metrics") or {}
    for key in keys:
        entry = metrics.get(key)
        if isinstance(entry, dict) and _num(entry.get(stat)) is not None:
            return _num(entry.get(stat)), key
    return None, ""


def _fmt(v: Optional[float]) -> str:
    return "–" if v is None else metric(v)


def _local_time(dt: Optional[datetime]) -> str:
    return "–" if dt is None else dt.astimezone().strftime("%Y-%m-%d %H:%M")


# The summary values a table row shows: listings fetch them in the store's query.
TABLE_METRICS: tuple[tuple[str, str], ...] = (tuple((k, "best") for k in _VAL_KEYS)
                                              + tuple((k, "last") for k in _TEST_KEYS))


def _summary_paths(keys: Sequence[str], stat: str) -> tuple[tuple[str, ...], ...]:
    return tuple(("metrics", key, stat) for key in keys)


# Each column's sort as the store can compute it (a first screen of a big
# history comes from the database, sorted there: see RunsPage): the same
# order build_row's sort keys give in Python.
COLUMN_SORT_KEYS: dict[str, SortKey] = {
    "star": SortKey(column="starred"),
    "name": SortKey(column="name"),
    "status": SortKey(column="status"),
    "dataset": SortKey(document="spec", paths=(("data", "name"),)),
    "model": SortKey(document="summary", paths=(("params",),), numeric=True),
    "optimizer": SortKey(document="spec", paths=(("optimizer", "type"),)),
    "lr": SortKey(document="spec", paths=(("optimizer", "lr"),), numeric=True),
    "batch": SortKey(document="spec", paths=(("training", "batch_size"),), numeric=True),
    "epochs": SortKey(document="spec", paths=(("training", "epochs"),), numeric=True),
    "best_val": SortKey(document="summary", paths=_summary_paths(_VAL_KEYS, "best"), numeric=True),
    "test": SortKey(document="summary", paths=_summary_paths(_TEST_KEYS, "last"), numeric=True),
    "duration": SortKey(column="duration"),
    "started": SortKey(column="started"),
    "tags": SortKey(column="tags"),
    "id": SortKey(column="id"),
}


def _arch(run: Any) -> str:
    """Block types joined by ' → ' (a RunListing has it; a Run's spec is walked)."""
    arch = getattr(run, "arch", None)
    if isinstance(arch, str):
        return arch
    spec = run.spec if isinstance(run.spec, dict) else {}
    blocks = (spec.get("model") or {}).get("blocks") or []
    return " → ".join(str(b.get("type", "?")) for b in blocks if isinstance(b, dict))


def _processes(run: Any) -> int:
    """training.distributed.nproc, 1 without it. Read when a row is first
    painted (it decodes the spec), so it is not a sort key of its own."""
    spec = run.spec if isinstance(run.spec, dict) else {}
    training = spec.get("training")
    wanted = training.get("distributed") if isinstance(training, dict) else None
    n = wanted.get("nproc") if isinstance(wanted, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) else 1


def _first(run: Any, keys: Sequence[str], stat: str) -> tuple[Optional[float], str]:
    """The first of `keys` with a finite `stat`, from a RunListing's prefetched values."""
    for key in keys:
        v = _num(run.metric(key, stat))
        if v is not None:
            return v, key
    return None, ""


def _row_fields(run: Any) -> tuple[Any, ...]:
    """(dataset, blocks, optimizer, lr, batch, epochs, params, best, best key, test, test key)
    from a store RunListing (no JSON decoded) or a full Run (its spec and summary walked)."""
    if hasattr(run, "metric"):
        best, best_key = _first(run, _VAL_KEYS, "best")
        test, test_key = _first(run, _TEST_KEYS, "last")
        return ("–" if run.dataset is None else str(run.dataset), run.blocks,
                "–" if run.optimizer is None else str(run.optimizer), _num(run.lr),
                _num(run.batch_size), _num(run.epochs), _num(run.params),
                best, best_key, test, test_key)
    spec = run.spec if isinstance(run.spec, dict) else {}
    summary = run.summary if isinstance(run.summary, dict) else {}
    data = spec.get("data") or {}
    blocks = (spec.get("model") or {}).get("blocks") or []
    opt = spec.get("optimizer") or {}
    training = spec.get("training") or {}
    best, best_key = _metric(summary, _VAL_KEYS, "best")
    test, test_key = _metric(summary, _TEST_KEYS, "last")
    return (str(data.get("name", "–")), len(blocks), str(opt.get("type", "–")), _num(opt.get("lr")),
            _num(training.get("batch_size")), _num(training.get("epochs")),
            _num(summary.get("params")), best, best_key, test, test_key)


def build_row(run: Any) -> RunRow:
    """What the table sorts and searches by for one run, computed once."""
    (dataset, n_blocks, opt_type, lr, batch, epochs, params, best, best_key, test,
     test_key) = _row_fields(run)
    started = getattr(run, "started_ts", None)  # a RunListing has it without parsing datetimes
    if started is None:
        start = run.started_at or run.created_at
        started = start.timestamp() if start else None
    tags = ", ".join(run.tags) if run.tags else ""
    sort = (
        int(bool(run.starred)), run.name.casefold(), run.status, dataset.casefold(), params, opt_type,
        lr, batch, epochs, best, test, run.duration_s, started, tags.casefold(), run.id,
    )
    return RunRow(run, sort, (dataset, n_blocks, opt_type, best_key, test_key, tags))


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


_STATUS_COL = COLUMN_INDEX["status"]
_STAR_COL = COLUMN_INDEX["star"]
_NAME_COL = COLUMN_INDEX["name"]
_RIGHT_COLS = frozenset(i for i, c in enumerate(COLUMNS) if c.numeric and c.key != "model")


class RunsTableModel(QAbstractTableModel):
    """Rows of runs; `set_rows` replaces them, `sort` orders them in Python."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list[RunRow] = []
        self._sort_column = COLUMN_INDEX["id"]
        self._sort_order = Qt.DescendingOrder
        self._bold = QFont()
        self._bold.setBold(True)
        self._gold = QBrush(QColor("#d9a400"))

    # data ----------------------------------------------------------------------
    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: QModelIndex, role: int = _DISPLAY) -> Any:
        row = self._rows[index.row()]
        col = index.column()
        if role == _DISPLAY:
            return row.display[col]
        if role == RUN_ID_ROLE:
            return row.run_id
        if role == SORT_ROLE:
            return row.sort[col]
        if role == _TOOLTIP:
            return row.tips[col] or None
        if role == _DECORATION:
            return status_icon(row.run.status) if col == _STATUS_COL else None
        if role == _ALIGN:
            return _RIGHT if col in _RIGHT_COLS else None
        if role == _FOREGROUND:
            return self._gold if col == _STAR_COL and row.run.starred else None
        if role == _FONT:
            return self._bold if col == _NAME_COL and row.run.starred else None
        return None

    def headerData(self, section: int, orientation, role: int = _DISPLAY) -> Any:
        if orientation != Qt.Horizontal:
            return None
        if role == _DISPLAY:
            return COLUMNS[section].title
        if role == _TOOLTIP:
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
    def sort_key(self) -> tuple[SortKey, bool]:
        """The current sort as the store computes it: (key, descending)."""
        return COLUMN_SORT_KEYS[COLUMNS[self._sort_column].key], self._sort_order == Qt.DescendingOrder

    def sort(self, column: int, order=Qt.AscendingOrder) -> None:
        # Rows only change through set_rows, which keeps them in this order:
        # asked again for the same order (QTableView.sortByColumn asks twice),
        # there is nothing to do.
        if column < 0 or (column, order) == (self._sort_column, self._sort_order):
            return
        self._sort_column, self._sort_order = column, order
        self.layoutAboutToBeChanged.emit()
        old_rows = self._rows
        self._rows = self._sorted(old_rows, column, order)
        # Selections and the current row follow their runs through the sort.
        persistent = self.persistentIndexList()
        if persistent:
            new_pos = {id(r): i for i, r in enumerate(self._rows)}
            self.changePersistentIndexList(
                persistent,
                [self.index(new_pos[id(old_rows[p.row()])], p.column()) for p in persistent])
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

