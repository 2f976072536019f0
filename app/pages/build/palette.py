"""The block palette: the catalogue by category, a search box that filters it.

A block is added by double-click, by Enter (on a block, or in the search box
for the first match), or by dragging it into the model list.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, Qt, Signal
from PySide6.QtWidgets import QLineEdit, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget

from app.pages.build.block_model import BLOCK_TYPE_MIME

TypeRole = Qt.UserRole + 1


class _PaletteTree(QTreeWidget):
    chosen = Signal(str)

    def mimeTypes(self) -> list[str]:
        return [BLOCK_TYPE_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        data = QMimeData()
        types = [i.data(0, TypeRole) for i in items if i.data(0, TypeRole)]
        if types:
            data.setData(BLOCK_TYPE_MIME, types[0].encode())
            data.setText(types[0])
        return data

    def keyPressEvent(self, event) -> None:
        item = self.currentItem()
        if event.key() in (Qt.Key_Return, Qt.Key_Enter) and item is not None and item.data(0, TypeRole):
            self.chosen.emit(item.data(0, TypeRole))
            return
        super().keyPressEvent(event)


class Palette(QWidget):
    block_chosen = Signal(str)
    """The user asked to add a block (payload: its type)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        from engine.blocks import CATALOGUE, CATEGORIES
        from engine.blocks.custom import ensure_custom_blocks

        self.search = QLineEdit()
        self.search.setObjectName("palette_search")
        self.search.setPlaceholderText("Search blocks…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Type to filter; Enter adds the first match, ↓ moves into the list.")
        self.tree = _PaletteTree()
        self.tree.setObjectName("palette_tree")
        self.tree.setHeaderHidden(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QTreeWidget.DragOnly)
        self.tree.setToolTip("Double-click or press Enter to add a block after the selected one, "
                             "or drag it into the model.")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)

        ensure_custom_blocks()  # a user's own blocks (plugins, the blocks folder) under "Custom"
        by_cat: dict[str, list] = {}
        for bt in CATALOGUE.values():
            by_cat.setdefault(bt.category, []).append(bt)
        order = list(CATEGORIES) + [c for c in by_cat if c not in CATEGORIES]
        for cat in order:
            if cat not in by_cat:
                continue
            top = QTreeWidgetItem([cat])
            top.setFlags(Qt.ItemIsEnabled)
            self.tree.addTopLevelItem(top)
            for bt in by_cat[cat]:
                item = QTreeWidgetItem([bt.type])
                item.setData(0, TypeRole, bt.type)
                item.setToolTip(0, bt.doc)
                item.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled)
                top.addChild(item)
        self.tree.expandAll()

        self.search.installEventFilter(self)
        self.search.textChanged.connect(self._filter)
        self.search.returnPressed.connect(self._add_first_match)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.chosen.connect(self.block_chosen)

    def eventFilter(self, obj, event) -> bool:
        # ↓ in the search box moves into the list, so a match can be picked with the arrows.
        if obj is self.search and event.type() == QEvent.KeyPress and event.key() == Qt.Key_Down:
            self.tree.setFocus()
            if self.tree.currentItem() is None and self.visible_types():
                self.tree.setCurrentItem(next(i for i in self.items() if not i.isHidden()))
            return True
        return super().eventFilter(obj, event)

    def items(self) -> list[QTreeWidgetItem]:
        """Block items in display order (hidden ones too)."""
        return [self.tree.topLevelItem(i).child(j) for i in range(self.tree.topLevelItemCount())
                for j in range(self.tree.topLevelItem(i).childCount())]

    def visible_types(self) -> list[str]:
        return [i.data(0, TypeRole) for i in self.items() if not i.isHidden() and not i.parent().isHidden()]

    def _filter(self, text: str) -> None:
        needle = text.strip().lower()
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            cat_hit = needle in top.text(0).lower()
            shown = 0
            for j in range(top.childCount()):
                item = top.child(j)
                hit = not needle or cat_hit or needle in item.text(0).lower()
                item.setHidden(not hit)
                shown += hit
            top.setHidden(shown == 0)
            top.setExpanded(True)
        shown_items = [i for i in self.items() if not i.isHidden() and not i.parent().isHidden()]
        # Enter adds the highlighted match: an exact name first ("relu" -> ReLU, not LeakyReLU).
        best = next((i for i in shown_items if i.text(0).lower() == needle), shown_items[0] if shown_items else None)
        if best is not None and needle:
            self.tree.setCurrentItem(best)

    def _add_first_match(self) -> None:
        current = self.tree.currentItem()
        if current is not None and current.data(0, TypeRole) and not current.isHidden() and self.search.text():
            self.block_chosen.emit(current.data(0, TypeRole))
            return
        types = self.visible_types()
        if types and self.search.text().strip():
            self.block_chosen.emit(types[0])

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        if item.data(0, TypeRole):
            self.block_chosen.emit(item.data(0, TypeRole))
