"""A compact, read-only picture of the model next to the list: one box per
block, top to bottom, with the shape each one outputs. A Residual is a frame
around its blocks with the skip connection drawn beside them; a Branch forks
into its branches side by side and joins them at a merge node labelled
concat, add or multiply. Clicking a box selects that block in the list (the
list stays the editor).

Layout and painting are separate: `layout()` turns the blocks into items
(boxes, frames, merge nodes, lines) with their places, `paintEvent` draws
them, so tests read what the picture holds without looking at pixels.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.pages.build import format as fmt
from app.pages.build.block_model import ERROR_COLOR, default_label, row_path

BOX_H, GAP, PAD, INDENT = 36, 14, 10, 14
MIN_BOX_W, COL_GAP, MERGE_H, CAPTION_H = 108, 10, 22, 14


@dataclass
class Item:
    """One thing drawn: kind is "input", "box", "frame", "merge", "line" or "note"."""

    kind: str
    rect: QRectF
    path: tuple = ()
    text: str = ""
    detail: str = ""
    error: bool = False
    frozen: bool = False
    points: list[QPointF] = field(default_factory=list)  # a line's corners, last one arrowed
    style: str = ""  # frame: "residual", "sequential", "branch"


class ModelDiagram(QWidget):
    block_clicked = Signal(object)
    """A box was clicked (payload: the block's path)."""
    width_needed = Signal(int)
    """The model now needs this many pixels across (branches side by side)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("model_diagram")
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Minimum)
        self.setMinimumWidth(190)
        self.setToolTip("The model at a glance; click a block to select it in the list.")
        self._blocks: list[dict] = []
        self._rows: dict[tuple, Any] = {}
        self._input: str = ""
        self._items: list[Item] = []
        self._selected: set[tuple] = set()
        self._height = 80
        self._laid_out_width = -1

    # --- feeding ------------------------------------------------------------------
    def set_selected(self, paths: list[tuple]) -> None:
        self._selected = {tuple(p) for p in paths}
        self.update()

    def set_model(self, blocks: list[dict], rows: list[Any] | None, input_shape: Any) -> None:
        self._blocks = blocks
        self._rows = {row_path(r): r for r in rows or []}
        self._input = fmt.shape(input_shape) if input_shape is not None else "…"
        need = max(190, self._need_width(blocks) + 2 * PAD)
        if need != self.minimumWidth():
            self.setMinimumWidth(need)
            self.width_needed.emit(need)
        self.layout_items()
        self.setMinimumHeight(self._height)
        self.updateGeometry()
        self.update()

    def items(self, kind: str | None = None) -> list[Item]:
        """What the picture holds (laid out for the current width), optionally of one kind."""
        if self._laid_out_width != self.width():
            self.layout_items()
        return [i for i in self._items if kind is None or i.kind == kind]

    def sizeHint(self) -> QSize:
        return QSize(max(220, self.minimumWidth()), self._height)

    # --- layout ----------------------------------------------------------------------
    def _need_width(self, blocks: list[dict]) -> int:
        return max([self._block_width(b) for b in blocks] or [MIN_BOX_W])

    def _block_width(self, b: dict) -> int:
        children = b.get("blocks")
        if children is None:
            return MIN_BOX_W
        if b.get("type") == "Branch":
            cols = [self._branch_width(c) for c in children] or [MIN_BOX_W]
            return sum(cols) + COL_GAP * (len(cols) - 1) + 2 * INDENT
        return self._need_width(children) + 2 * INDENT

    def _branch_width(self, b: dict) -> int:
        if b.get("type") == "Sequential":
            return self._need_width(b.get("blocks") or [])
        return self._block_width(b)

    def layout_items(self) -> None:
        self._items = []
        self._laid_out_width = self.width()
        w = max(self.width(), self.minimumWidth()) - 2 * PAD
        pill = QRectF(PAD + w * 0.2, PAD, w * 0.6, BOX_H // 2)
        self._items.append(Item("input", pill, text=f"input {self._input}"))
        y = self._lay_list(self._blocks, (), PAD, w, pill.bottom())
        self._height = int(y + PAD)

    def _line(self, *points: QPointF) -> None:
        xs, ys = [p.x() for p in points], [p.y() for p in points]
        self._items.append(Item("line", QRectF(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)),
                                points=list(points)))

    def _lay_list(self, blocks: list[dict], parent: tuple, x: float, w: float, y: float) -> float:
        for i, b in enumerate(blocks):
            self._line(QPointF(x + w / 2, y), QPointF(x + w / 2, y + GAP))
            y = self._lay_block(b, parent + (i,), x, w, y + GAP)
        return y

    def _lay_block(self, b: dict, path: tuple, x: float, w: float, y: float) -> float:
        row = self._rows.get(path)
        error = bool(getattr(row, "error", None))
        frozen = bool(getattr(row, "frozen", False))
        if b.get("type") == "Branch" and b.get("blocks") is not None:
            return self._lay_branch(b, path, x, w, y, row, error)
        if b.get("blocks") is not None:
            top = y
            residual = b.get("type") == "Residual"
            y = self._lay_list(b["blocks"], path, x + INDENT, w - 2 * INDENT, y + CAPTION_H) + 14
            caption = "Residual  (+ input)" if residual else f"{b['type']}  {default_label(b).split('· ')[-1]}"
            self._items.append(Item("frame", QRectF(x, top, w, y - top), path, caption, error=error, frozen=frozen,
                                    style="residual" if residual else "sequential"))
            if residual:  # the skip: the input runs down the margin and is added at the bottom
                side, centre, join = x + w - INDENT / 2, x + w / 2, y - 7
                self._line(QPointF(centre, top + CAPTION_H), QPointF(side, top + CAPTION_H),
                           QPointF(side, join), QPointF(centre + 7, join))
                self._items.append(Item("note", QRectF(centre - 7, join - 7, 14, 14), path, "+"))
            return y
        label = getattr(row, "label", None) or ""
        title = label if label.startswith(b["type"]) else f"{b['type']} {label}".strip() if row else default_label(b)
        shape = "⚠ does not fit" if error else ("→ " + fmt.shape(getattr(row, "out_shape", None)) if row else "")
        if frozen and not error:
            shape += "  · frozen"
        self._items.append(Item("box", QRectF(x, y, w, BOX_H), path, title, shape, error, frozen))
        return y + BOX_H

    def _lay_branch(self, b: dict, path: tuple, x: float, w: float, y: float, row: Any, error: bool) -> float:
        """Branches side by side under a fork, joined at a merge node."""
        top = y
        branches = b["blocks"]
        inner_x, inner_w = x + INDENT, w - 2 * INDENT
        needs = [self._branch_width(c) for c in branches] or [MIN_BOX_W]
        spare = inner_w - sum(needs) - COL_GAP * (len(needs) - 1)
        widths = [n + spare * n / sum(needs) for n in needs]
        fork_y = y + CAPTION_H + 4
        col_top = fork_y + GAP
        ends: list[tuple[float, float]] = []  # (column centre, bottom) per branch
        cx = inner_x
        for k, (child, cw) in enumerate(zip(branches, widths)):
            centre = cx + cw / 2
            bpath = path + (k,)
            if child.get("type") == "Sequential" and not child.get("blocks"):
                note = QRectF(cx, col_top, cw, BOX_H / 2)
                self._items.append(Item("note", note, bpath, "identity"))
                bottom = note.bottom()
            elif child.get("type") == "Sequential":
                bottom = self._lay_list(child["blocks"], bpath, cx, cw, col_top - GAP)
                self._items.append(Item("frame", QRectF(cx - 3, col_top - 3, cw + 6, bottom - col_top + 6), bpath,
                                        "", style="column"))
            else:
                bottom = self._lay_block(child, bpath, cx, cw, col_top)
            self._line(QPointF(centre, fork_y), QPointF(centre, col_top))
            ends.append((centre, bottom))
            cx += cw + COL_GAP
        if not ends:
            ends.append((x + w / 2, col_top))
        merge_top = max(e for _, e in ends) + GAP
        merge = QRectF(x + w / 2 - 46, merge_top, 92, MERGE_H)
        for centre, bottom in ends:
            self._line(QPointF(centre, bottom), QPointF(centre, merge_top - 6), QPointF(merge.center().x(), merge_top))
        if len(ends) > 1:  # the fork: one bar from the first branch to the last
            self._line(QPointF(ends[0][0], fork_y), QPointF(ends[-1][0], fork_y))
        self._line(QPointF(x + w / 2, top), QPointF(x + w / 2, fork_y))
        merge_word = str(b.get("merge", "concat"))
        detail = f"dim {b.get('dim', 0)}" if merge_word == "concat" else ""
        self._items.append(Item("merge", merge, path, merge_word, detail, error))
        bottom = merge.bottom() + 8
        self._items.append(Item("frame", QRectF(x, top, w, bottom - top), path,
                                f"Branch  {getattr(row, 'label', '') or default_label(b)}", error=error,
                                frozen=bool(getattr(row, "frozen", False)), style="branch"))
        return bottom

    # --- input -------------------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.layout_items()

    def mousePressEvent(self, event) -> None:
        # Innermost first: boxes and merge nodes, then frames from the deepest out.
        hits = [i for i in self._items if i.kind in ("box", "merge", "note", "frame") and i.path
                and i.rect.contains(event.position())]
        if hits:
            best = max(hits, key=lambda i: (i.kind != "frame", len(i.path)))
            self.block_clicked.emit(best.path)

    # --- painting ------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        if self._laid_out_width != self.width():
            self.layout_items()
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        for kind in ("frame", "line", "input", "note", "box", "merge"):  # frames under, boxes over the lines
            for item in self._items:
                if item.kind == kind:
                    getattr(self, f"_paint_{kind}")(p, item)
        p.end()

    def _small_font(self, p: QPainter) -> None:
        f = self.font()
        f.setPointSizeF(f.pointSizeF() * 0.85)
        p.setFont(f)

    def _paint_input(self, p: QPainter, item: Item) -> None:
        pal = self.palette()
        p.setPen(QPen(pal.color(QPalette.Mid)))
        p.setBrush(pal.color(QPalette.AlternateBase))
        p.drawRoundedRect(item.rect, 9, 9)
        p.setPen(pal.color(QPalette.Text))
        p.drawText(item.rect, Qt.AlignCenter, item.text)

    def _paint_line(self, p: QPainter, item: Item) -> None:
        p.setPen(QPen(self.palette().color(QPalette.Mid), 1.2))
        pts = item.points
        for a, b in zip(pts, pts[1:]):
            p.drawLine(a, b)
        a, b = pts[-2], pts[-1]
        if b.y() > a.y() and abs(b.x() - a.x()) < 0.5:  # a downward arrow: draw its head
            p.drawLine(QPointF(b.x() - 3.5, b.y() - 5), b)
            p.drawLine(QPointF(b.x() + 3.5, b.y() - 5), b)

    def _paint_frame(self, p: QPainter, item: Item) -> None:
        pal = self.palette()
        if item.style == "column":
            p.setPen(Qt.NoPen)
            p.setBrush(QColor(128, 128, 128, 18))
            p.drawRoundedRect(item.rect, 5, 5)
            return
        colour = ERROR_COLOR if item.error else pal.color(QPalette.Highlight)
        if item.path in self._selected:
            p.setBrush(QColor(colour.red(), colour.green(), colour.blue(), 22))
        else:
            p.setBrush(Qt.NoBrush)
        p.setPen(QPen(colour, 1.2, Qt.DashLine))
        p.drawRoundedRect(item.rect, 6, 6)
        p.setPen(colour)
        self._small_font(p)
        caption = QRectF(item.rect.left() + 6, item.rect.top() + 1, item.rect.width() - 12, CAPTION_H - 2)
        text = item.text + ("  · frozen" if item.frozen else "")
        p.drawText(caption, Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(text, Qt.ElideRight, int(caption.width())))
        p.setFont(self.font())

    def _paint_note(self, p: QPainter, item: Item) -> None:
        p.setPen(self.palette().color(QPalette.PlaceholderText))
        self._small_font(p)
        p.drawText(item.rect, Qt.AlignCenter, item.text)
        p.setFont(self.font())

    def _paint_box(self, p: QPainter, item: Item) -> None:
        pal = self.palette()
        chosen = item.path in self._selected
        edge = ERROR_COLOR if item.error else pal.color(QPalette.Highlight) if chosen else pal.color(QPalette.Mid)
        p.setPen(QPen(edge, 2 if item.error or chosen else 1))
        if item.error:
            p.setBrush(QColor(ERROR_COLOR.red(), ERROR_COLOR.green(), ERROR_COLOR.blue(), 28))
        else:
            p.setBrush(pal.color(QPalette.AlternateBase) if item.frozen else pal.color(QPalette.Base))
        box = item.rect
        p.drawRoundedRect(box, 5, 5)
        p.setPen(ERROR_COLOR if item.error else pal.color(QPalette.Text))
        top_half = QRectF(box.left() + 6, box.top() + 2, box.width() - 12, BOX_H / 2)
        p.drawText(top_half, Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(item.text, Qt.ElideRight, int(top_half.width())))
        p.setPen(ERROR_COLOR if item.error else pal.color(QPalette.PlaceholderText))
        bottom_half = QRectF(box.left() + 6, box.center().y(), box.width() - 12, BOX_H / 2 - 2)
        p.drawText(bottom_half, Qt.AlignLeft | Qt.AlignVCenter,
                   p.fontMetrics().elidedText(item.detail, Qt.ElideRight, int(bottom_half.width())))

    def _paint_merge(self, p: QPainter, item: Item) -> None:
        pal = self.palette()
        colour = ERROR_COLOR if item.error else pal.color(QPalette.Highlight)
        chosen = item.path in self._selected
        p.setPen(QPen(colour, 2 if chosen or item.error else 1.2))
        p.setBrush(pal.color(QPalette.Base))
        p.drawRoundedRect(item.rect, MERGE_H / 2, MERGE_H / 2)
        p.setPen(colour)
        text = item.text + (f" · {item.detail}" if item.detail else "")
        p.drawText(item.rect, Qt.AlignCenter, text)
