"""The dataset picker: one row per registry entry, grouped bundled /
synthetic / from file, each with its title and a short "size · classes"
line, and a radio mark on the chosen one (exactly one is chosen, like a
group of radio buttons, but it scrolls and takes the arrow keys)."""
from __future__ import annotations

from typing import Any, Iterable

from PySide6.QtCore import QEvent, QModelIndex, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QPainter, QPalette, QPen, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

NAME_ROLE = Qt.UserRole + 1
STATS_ROLE = Qt.UserRole + 2
HEADER_ROLE = Qt.UserRole + 3

GROUPS = (("bundled", "Bundled"), ("synthetic", "Synthetic"), ("file", "From file"))


def row_height(font_height: int, header: bool) -> int:
    return font_height + (14 if header else 12)


class _RowDelegate(QStyledItemDelegate):
    """Paints group headers as small captions and dataset rows as
    (radio) title ............ stats."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:
        return QSize(200, row_height(option.fontMetrics.height(), bool(index.data(HEADER_ROLE))))

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        painter.save()
        pal, rect = option.palette, option.rect
        if index.data(HEADER_ROLE):
            font = QFont(option.font)
            font.setBold(True)
            font.setPointSizeF(font.pointSizeF() * 0.9)
            painter.setFont(font)
            painter.setPen(pal.color(QPalette.PlaceholderText))
            painter.drawText(rect.adjusted(6, 4, -6, 0), Qt.AlignLeft | Qt.AlignVCenter,
                             index.data(Qt.DisplayRole).upper())
            painter.restore()
            return
        selected = bool(option.state & QStyle.State_Selected)
        if selected:
            painter.fillRect(rect, pal.color(QPalette.Highlight))
        elif option.state & QStyle.State_MouseOver:
            painter.fillRect(rect, pal.color(QPalette.AlternateBase))
        # A radio mark drawn here rather than by the style: Fusion's outline vanishes on dark bases.
        size = 14
        mark = QRectF(rect.left() + 8.5, rect.center().y() - size / 2 + 1, size, size)
        ink = pal.color(QPalette.HighlightedText if selected else QPalette.PlaceholderText)
        painter.setRenderHint(QPainter.Antialiasing)
        painter.setPen(QPen(ink, 1.3))
        painter.setBrush(Qt.NoBrush)
        painter.drawEllipse(mark)
        if selected:
            painter.setPen(Qt.NoPen)
            painter.setBrush(ink)
            painter.drawEllipse(mark.adjusted(3.5, 3.5, -3.5, -3.5))
        text_color = pal.color(QPalette.HighlightedText if selected else QPalette.Text)
        stats = index.data(STATS_ROLE) or ""
        fm = option.fontMetrics
        stats_w = fm.horizontalAdvance(stats) if stats else 0
        text_rect = rect.adjusted(8 + size + 8, 0, -8, 0)
        title_rect = text_rect.adjusted(0, 0, -(stats_w + 12), 0)
        painter.setPen(text_color)
        title = fm.elidedText(index.data(Qt.DisplayRole), Qt.ElideRight, title_rect.width())
        painter.drawText(title_rect, Qt.AlignLeft | Qt.AlignVCenter, title)
        if stats:
            dim = pal.color(QPalette.HighlightedText if selected else QPalette.PlaceholderText)
            painter.setPen(dim)
            painter.drawText(text_rect, Qt.AlignRight | Qt.AlignVCenter, stats)
        painter.restore()


class DatasetList(QListView):
    """The registry's datasets; choosing a row emits dataset_chosen(name)."""

    dataset_chosen = Signal(str)
    """The user picked a dataset (payload: registry name)."""

    def __init__(self, entries: Iterable[Any], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("dataset_list")
        self._model = QStandardItemModel(self)
        self._rows: dict[str, QStandardItem] = {}
        entries = list(entries)
        for source, caption in GROUPS:
            group = [e for e in entries if e.source == source]
            if not group:
                continue
            header = QStandardItem(caption)
            header.setData(True, HEADER_ROLE)
            header.setFlags(Qt.NoItemFlags)  # a caption: not selectable, skipped by the arrow keys
            self._model.appendRow(header)
            for e in group:
                item = QStandardItem(e.title)
                item.setData(e.name, NAME_ROLE)
                item.setData(_kind_text(e), STATS_ROLE)
                item.setToolTip(e.description)
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                self._model.appendRow(item)
                self._rows[e.name] = item
        self.setModel(self._model)
        self.setItemDelegate(_RowDelegate(self))
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setMouseTracking(True)
        self.setUniformItemSizes(False)
        self.setVerticalScrollMode(QAbstractItemView.ScrollPerPixel)
        self._quiet = False
        self.selectionModel().currentChanged.connect(self._on_current)
        self._fit_height()

    # --- public API -----------------------------------------------------------
    def names(self) -> list[str]:
        return list(self._rows)

    def current_name(self) -> str | None:
        idx = self.currentIndex()
        return idx.data(NAME_ROLE) if idx.isValid() else None

    def set_current(self, name: str) -> None:
        """Show `name` as chosen without emitting dataset_chosen."""
        item = self._rows.get(name)
        if item is None:
            return
        self._quiet = True
        try:
            self.setCurrentIndex(item.index())
            self.scrollTo(item.index())
        finally:
            self._quiet = False

    def set_stats(self, name: str, text: str) -> None:
        """The row's right-hand text ("1797 · 10 cls", a file name)."""
        item = self._rows.get(name)
        if item is not None and item.data(STATS_ROLE) != text:
            item.setData(text, STATS_ROLE)

    def stats(self, name: str) -> str:
        item = self._rows.get(name)
        return (item.data(STATS_ROLE) or "") if item is not None else ""

    def index_of(self, name: str) -> QModelIndex:
        return self._rows[name].index()

    def visual_rect(self, name: str) -> QRect:
        """Where the row is drawn (viewport coordinates), for tests that click it."""
        return self.visualRect(self._rows[name].index())

    def sizeHint(self) -> QSize:
        return QSize(260, self._content_height())

    def minimumSizeHint(self) -> QSize:
        return QSize(200, 150)

    # --- internals --------------------------------------------------------------
    def _content_height(self) -> int:
        h = self.fontMetrics().height()
        rows = [bool(self._model.item(r).data(HEADER_ROLE)) for r in range(self._model.rowCount())]
        return sum(row_height(h, header) for header in rows) + 2 * self.frameWidth()

    def _fit_height(self) -> None:
        """Never taller than its rows: spare room goes below the form, not into an empty list."""
        self.setMaximumHeight(self._content_height())

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.FontChange, QEvent.StyleChange):
            self._fit_height()

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        name = current.data(NAME_ROLE)
        if name and not self._quiet:
            self.dataset_chosen.emit(name)


def _kind_text(entry: Any) -> str:
    """What a row says before its size is known."""
    if entry.source == "file":
        return "choose a file"
    return entry.kind
