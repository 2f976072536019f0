"""A Qt item model over the spec's block list: one row per block, containers
(Residual, Sequential, Branch) as parents of their blocks, columns #, block,
output, params, MACs and train (a check box: unchecked = `trainable: false`).

The model never edits the spec itself. Drops become `insert_requested` /
`move_requested` signals and the page turns them into undoable commands; the
page then hands the new block list back with `set_blocks`.
"""
from __future__ import annotations

import json
import re
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QMimeData, QModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication, QStyle

from app.pages.build import format as fmt
from app.pages.build.tree_ops import Path, walk
from engine.blocks import OPTION_NAMES

BLOCK_TYPE_MIME = "application/x-layerdeck-block-type"
PATHS_MIME = "application/x-layerdeck-block-paths"
COLUMNS = ("#", "block", "output", "params", "MACs", "train")
COL_NUMBER, COL_BLOCK, COL_OUTPUT, COL_PARAMS, COL_MACS, COL_TRAIN = range(6)
NUMERIC = (COL_NUMBER, COL_PARAMS, COL_MACS)
HEADER_TIPS = {
    COL_PARAMS: "Weights the block learns (a container: the sum of its blocks)",
    COL_MACS: "Multiply-accumulates per sample in one forward pass",
    COL_TRAIN: "Unchecked: the block is frozen (trainable: false); its weights stay as they are",
}
CONTAINER_TIPS = {
    "Residual": "Adds its input to the output of the blocks inside it (shapes must match).",
    "Sequential": "Its blocks one after another; use it as one branch of a Branch.",
    "Branch": "Feeds its input to each branch and merges their outputs (concat, add or multiply).",
}
ERROR_COLOR = QColor(200, 40, 40)
PathRole = Qt.UserRole + 1


class _Node:
    __slots__ = ("path", "block", "children", "parent", "number")

    def __init__(self, path: Path, block: dict, parent: "_Node | None"):
        self.path, self.block, self.parent = path, block, parent
        self.children: list[_Node] = []
        self.number = ""


def row_path(row: Any) -> Path:
    """A summary row's path as a tuple of 0-based indices.

    engine.model gives `path` as a tuple of indices or as a spec path
    ("model.blocks[6].blocks[0]"); both read the same here.
    """
    p = getattr(row, "path", row)
    if isinstance(p, (list, tuple)):
        return tuple(int(i) for i in p)
    return tuple(int(i) for i in re.findall(r"\[(\d+)\]", str(p))) or tuple(
        int(i) for i in re.findall(r"\d+", str(p)))


def default_label(block: dict) -> str:
    """Type plus its written parameters, when the summary has no label yet."""
    if block.get("blocks") is not None:
        n = len(block["blocks"])
        if block["type"] == "Branch":
            return f"Branch · {block.get('merge', 'concat')} · {n} branch{'es' if n != 1 else ''}"
        if n == 0 and block["type"] == "Sequential":
            return "Sequential · empty (passes its input on)"
        return f"{block['type']} · {n} block{'s' if n != 1 else ''}"
    args = [fmt.param_value(v) for k, v in block.items() if k not in ("type", "blocks", *OPTION_NAMES)]
    return " ".join([block["type"], ", ".join(args)]).strip()


class BlockListModel(QAbstractItemModel):
    insert_requested = Signal(str, object, int)
    """A palette block was dropped (payload: block type, parent path, row)."""
    move_requested = Signal(list, object, int)
    """Blocks were dragged (payload: their paths, the new parent path, the row in it)."""
    trainable_toggled = Signal(object, bool)
    """The train box of a block was clicked (payload: its path, whether it is now trainable)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._root = _Node((), {"type": "model", "blocks": []}, None)
        self._nodes: dict[Path, _Node] = {}
        self._rows: dict[Path, Any] = {}
        self._shape_sig: tuple = ()

    # --- feeding ------------------------------------------------------------
    def set_blocks(self, blocks: list[dict]) -> None:
        """Show a new block list; keeps rows (and so selection) when only parameters changed."""
        sig = tuple((p, b["type"]) for p, b in walk(blocks))
        if sig == self._shape_sig:
            for p, b in walk(blocks):
                self._nodes[p].block = b
            self._emit_all_changed()
            return
        self.beginResetModel()
        self._shape_sig = sig
        self._rows = {}
        self._root = _Node((), {"type": "model", "blocks": blocks}, None)
        self._nodes = {}
        for p, b in walk(blocks):
            parent = self._nodes.get(p[:-1], self._root)
            node = _Node(p, b, parent)
            node.number = ".".join(str(i + 1) for i in p)  # as engine.model numbers blocks: "5", "5.1"
            parent.children.append(node)
            self._nodes[p] = node
        self.endResetModel()

    def set_summary(self, rows: list[Any] | None) -> None:
        """Per-block results (engine.model BlockRow) to show, or None while unknown."""
        self._rows = {row_path(r): r for r in rows or []}
        self._emit_all_changed()

    def _emit_all_changed(self) -> None:
        for node in self._nodes.values():
            self.dataChanged.emit(self.createIndex(node.path[-1], 0, node),
                                  self.createIndex(node.path[-1], len(COLUMNS) - 1, node))

    # --- lookups --------------------------------------------------------------
    def index_for(self, path: Path) -> QModelIndex:
        node = self._nodes.get(tuple(path))
        return self.createIndex(node.path[-1], 0, node) if node else QModelIndex()

    def path_of(self, index: QModelIndex) -> Path:
        return index.internalPointer().path if index.isValid() else ()

    def error_of(self, path: Path) -> str | None:
        row = self._rows.get(path)
        if row is None or not getattr(row, "error", None):
            return None
        fix = getattr(row, "fix", None)
        return f"{row.error} — {fix}" if fix else str(row.error)

    def all_paths(self) -> list[Path]:
        return list(self._nodes)

    # --- QAbstractItemModel -----------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:
        node = parent.internalPointer() if parent.isValid() else self._root
        if 0 <= row < len(node.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = index.internalPointer().parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.path[-1], 0, up)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        if parent.column() > 0:
            return 0
        node = parent.internalPointer() if parent.isValid() else self._root
        return len(node.children)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Horizontal and role == Qt.TextAlignmentRole and section in NUMERIC:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        if orientation == Qt.Horizontal and role == Qt.ToolTipRole:
            return HEADER_TIPS.get(section)
        return None

    def frozen_by(self, node: "_Node") -> "_Node | None":
        """The container around `node` whose `trainable: false` freezes it too, if any."""
        up = node.parent
        while up is not None and up is not self._root:
            if up.block.get("trainable") is False:
                return up
            up = up.parent
        return None

    def _train_state(self, node: "_Node", row: Any) -> Any:
        """The train box: none for blocks without weights; unchecked when frozen."""
        if row is None or not getattr(row, "params", None):
            return None
        frozen = node.block.get("trainable") is False or self.frozen_by(node) is not None
        return Qt.Unchecked if frozen else Qt.Checked

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.EditRole) -> bool:
        if not index.isValid() or index.column() != COL_TRAIN or role != Qt.CheckStateRole:
            return False
        node: _Node = index.internalPointer()
        if self.frozen_by(node) is not None:
            return False
        checked = Qt.CheckState(value) == Qt.Checked if not isinstance(value, bool) else value
        # The page turns this into an undoable edit and hands the new blocks back.
        self.trainable_toggled.emit(node.path, bool(checked))
        return False

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        node: _Node = index.internalPointer()
        col, row = index.column(), self._rows.get(node.path)
        error = self.error_of(node.path)
        container = node.block.get("blocks") is not None
        if role == Qt.DisplayRole:
            if col == COL_NUMBER:
                return str(getattr(row, "number", None) or node.number)
            if col == COL_BLOCK:
                label = getattr(row, "label", None)
                if container or not label:
                    return default_label(node.block)
                return label if label.startswith(node.block["type"]) else f"{node.block['type']}  {label}"
            if col == COL_OUTPUT:
                return "—" if row is None else fmt.shape(getattr(row, "out_shape", None))
            if col == COL_PARAMS:
                return "—" if row is None else fmt.count(getattr(row, "params", None))
            if col == COL_MACS:
                return "—" if row is None else fmt.macs_cell(getattr(row, "macs", None))
        elif role == Qt.CheckStateRole and col == COL_TRAIN:
            return self._train_state(node, row)
        elif role == Qt.DecorationRole and col == COL_BLOCK and error:
            return QApplication.style().standardIcon(QStyle.SP_MessageBoxWarning)
        elif role == Qt.ForegroundRole and error:
            return ERROR_COLOR
        elif role == Qt.ForegroundRole and col == COL_NUMBER:
            return QApplication.palette().color(QPalette.PlaceholderText)
        elif role == Qt.ToolTipRole:
            if error:
                return f"Block {node.number} ({node.block['type']}): {error}"
            if col == COL_TRAIN and self._train_state(node, row) is not None:
                by = self.frozen_by(node)
                if by is not None:
                    return f"Frozen with block {by.number} (check it there to train it again)"
                return "Train this block's weights; uncheck to freeze them"
            if col == COL_MACS and row is not None:
                return f"{getattr(row, 'macs', 0) or 0:,} multiply-accumulates per sample"
            if row is not None and not container:
                return (f"{node.block['type']}: {fmt.shape(getattr(row, 'in_shape', None))} → "
                        f"{fmt.shape(getattr(row, 'out_shape', None))}, {fmt.count(getattr(row, 'params', 0))} params")
            if container:
                return CONTAINER_TIPS.get(node.block["type"], "")
        elif role == Qt.FontRole and container and col == COL_BLOCK:
            f = QFont()
            f.setBold(True)
            return f
        elif role == Qt.TextAlignmentRole and col in NUMERIC:
            return int(Qt.AlignRight | Qt.AlignVCenter)
        elif role == PathRole:
            return node.path
        return None

    # --- drag and drop ------------------------------------------------------------
    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.ItemIsDropEnabled
        f = Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsDragEnabled
        if index.column() == COL_TRAIN and self.frozen_by(index.internalPointer()) is None:
            f |= Qt.ItemIsUserCheckable
        if index.internalPointer().block.get("blocks") is not None:
            f |= Qt.ItemIsDropEnabled
        return f

    def supportedDropActions(self) -> Qt.DropActions:
        return Qt.MoveAction | Qt.CopyAction

    def supportedDragActions(self) -> Qt.DropActions:
        return Qt.MoveAction

    def mimeTypes(self) -> list[str]:
        return [PATHS_MIME, BLOCK_TYPE_MIME]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:
        paths = sorted({self.path_of(i) for i in indexes if i.isValid()})
        data = QMimeData()
        data.setData(PATHS_MIME, json.dumps([list(p) for p in paths]).encode())
        return data

    def drop_target(self, row: int, parent: QModelIndex) -> tuple[Path, int]:
        """Where a drop lands: (parent path, row in it); -1 appends."""
        if parent.isValid():
            node: _Node = parent.internalPointer()
            if node.block.get("blocks") is None:
                # Dropped onto a plain block: insert right after it.
                return node.path[:-1], node.path[-1] + 1
            return node.path, row
        return (), row

    def canDropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                        parent: QModelIndex) -> bool:
        return data.hasFormat(BLOCK_TYPE_MIME) or data.hasFormat(PATHS_MIME)

    def dropMimeData(self, data: QMimeData, action: Qt.DropAction, row: int, column: int,
                     parent: QModelIndex) -> bool:
        target, at = self.drop_target(row, parent)
        if data.hasFormat(BLOCK_TYPE_MIME):
            self.insert_requested.emit(bytes(data.data(BLOCK_TYPE_MIME)).decode(), target, at)
            return True
        if data.hasFormat(PATHS_MIME):
            paths = [tuple(p) for p in json.loads(bytes(data.data(PATHS_MIME)).decode())]
            self.move_requested.emit(paths, target, at)
            # False: the page rebuilds the list from the spec; the view must not remove rows itself.
            return False
        return False
