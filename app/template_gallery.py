"""The template gallery (File ▸ New from Template…): a card per template with
its model's diagram, dataset, parameter count, what it shows, the result to
expect and the time a measured run took; a search box; double-click (or Open)
starts a new spec from the template in the builder.

A view over engine.gallery: the index and the measured figures come from
resources/templates/gallery.toml, the dataset and parameter count from the
spec, read off the UI thread (a template's dataset may take a moment to
generate).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, QObject, QSize, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from engine.formatting import param_count
from engine.gallery import Facts, GalleryEntry, facts, load_gallery

CARD = QSize(520, 236)
THUMB_W = 130  # the diagram is drawn at full size, then scaled down to this width


def diagram_pixmap(f: Facts, width: int = THUMB_W, max_height: int = 180) -> QPixmap:
    """The Build page's model diagram of a template, drawn offscreen and scaled to a thumbnail."""
    from app.pages.build.diagram import ModelDiagram

    assert f.spec is not None
    d = ModelDiagram()
    d.set_model([b.to_dict() for b in f.spec.model.blocks], f.rows, f.input_shape)
    d.resize(d.sizeHint())
    d.layout_items()
    pix = d.grab()
    d.deleteLater()
    return pix.scaled(width, max_height, Qt.AspectRatioMode.KeepAspectRatio,
                      Qt.TransformationMode.SmoothTransformation)


class TemplateCard(QFrame):
    """One template: diagram on the left, what it is and what to expect on the right."""

    def __init__(self, entry: GalleryEntry, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.entry = entry
        self.setObjectName("template_card")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        # Clicks go through to the list under the card: it selects, double-click opens, keys move.
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.set_selected(False)
        self.setToolTip(str(entry.path))
        self.thumb = QLabel("…")
        self.thumb.setObjectName("card_diagram")
        self.thumb.setFixedWidth(THUMB_W + 8)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
        self.title = QLabel(f"<b>{_esc(entry.title)}</b>")
        self.title.setObjectName("card_title")
        self.title.setWordWrap(True)
        self.facts = QLabel(f"<span style='color:gray'>{_esc(entry.name)} · reading the dataset…</span>")
        self.facts.setObjectName("card_facts")
        self.facts.setWordWrap(True)
        self.about = QLabel(self._about_html())
        self.about.setObjectName("card_about")
        self.about.setWordWrap(True)
        self.about.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        text = QVBoxLayout()
        text.setSpacing(4)
        for w in (self.title, self.facts, self.about):
            text.addWidget(w)
        text.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 8, 8, 8)
        row.addWidget(self.thumb)
        row.addLayout(text, 1)

    def set_selected(self, selected: bool) -> None:
        """A highlighted border (the list's own selection colour would sit under the text)."""
        self.setStyleSheet("QFrame#template_card { background: palette(base); border-radius: 4px; border: %s; }"
                           % ("2px solid palette(highlight)" if selected else "1px solid palette(mid)"))

    def _about_html(self) -> str:
        e = self.entry
        parts = []
        if e.shows:
            parts.append(_esc(e.shows))
        if e.expect:
            parts.append(f"<b>Expect:</b> {_esc(e.expect)}")
        if e.measured_time:
            result = f" — {_esc(e.measured_result)}" if e.measured_result else ""
            parts.append(f"<b>Took:</b> {_esc(e.measured_time)}{result}")
        elif e.shows:
            parts.append("<span style='color:gray'>Not timed yet (bench/templates.py --write measures it).</span>")
        return "<br>".join(parts)

    def show_facts(self, f: Facts) -> None:
        if f.problem or f.spec is None:
            self.facts.setText(f"<span style='color:#c0392b'>Cannot be used: {_esc(f.problem or '')}</span>")
            self.thumb.setText("—")
            return
        params = ""
        if f.params is not None:
            short = param_count(f.params)
            params = f"{f.params:,} parameters" + (f" ({short})" if short != f"{f.params:,}" else "")
        self.facts.setText(f"{_esc(f.dataset)}<br>{params}")
        self.thumb.setPixmap(diagram_pixmap(f))


class TemplateGallery(QDialog):
    """objectName template_gallery; `chosen_path` is set when the user opens a template."""

    chosen = Signal(object)
    """A template was opened (payload: its Path)."""

    def __init__(self, parent: Optional[QWidget] = None, entries: Optional[list[GalleryEntry]] = None):
        super().__init__(parent)
        self.setObjectName("template_gallery")
        self.setWindowTitle("New from Template")
        self.chosen_path: Optional[Path] = None
        self.entries = load_gallery() if entries is None else entries
        self.cards: dict[str, TemplateCard] = {}

        self.search = QLineEdit()
        self.search.setObjectName("gallery_search")
        self.search.setPlaceholderText("Search templates: name, dataset, what it shows…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setObjectName("gallery_list")
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setGridSize(CARD + QSize(8, 8))
        self.list.setSpacing(4)
        self.list.setUniformItemSizes(True)
        self.list.setStyleSheet("QListWidget::item:selected, QListWidget::item:hover { background: transparent; }")
        self.empty = QLabel()
        self.empty.setObjectName("gallery_empty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.hide()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        self.open_button = self.buttons.button(QDialogButtonBox.StandardButton.Open)
        self.open_button.setObjectName("gallery_open")
        self.open_button.setText("Open in Builder")
        hint = QLabel("Double-click a card to start a new spec from it; your current spec is not changed "
                      "until then.")
        hint.setObjectName("hint")
        hint.setEnabled(False)

        box = QVBoxLayout(self)
        box.addWidget(self.search)
        box.addWidget(self.list, 1)
        box.addWidget(self.empty, 1)
        box.addWidget(hint)
        box.addWidget(self.buttons)

        for entry in self.entries:
            card = TemplateCard(entry)
            item = QListWidgetItem()
            item.setSizeHint(CARD)
            item.setData(Qt.ItemDataRole.UserRole, entry.stem)
            self.list.addItem(item)
            self.list.setItemWidget(item, card)
            self.cards[entry.stem] = card
        if self.list.count():
            self.list.setCurrentRow(0)

        self.search.textChanged.connect(self._filter)
        # A double-click opens the card under it even when the press before it only selected the card
        # (QListWidget's own itemDoubleClicked wants the press and the double-click on one current item).
        self.list.viewport().installEventFilter(self)
        self.list.currentItemChanged.connect(self._on_current)
        self.buttons.accepted.connect(lambda: self._open(self.list.currentItem()))
        self.buttons.rejected.connect(self.reject)
        self.resize(2 * (CARD.width() + 12) + 40, 640)
        self._on_current(self.list.currentItem(), None)

        self._background = Background(self, threads=1, name="template-gallery")
        for entry in self.entries:
            self._background.submit(lambda e=entry: facts(e),
                                    lambda f, stem=entry.stem: self._show_facts(stem, f),
                                    lambda msg, _trace, stem=entry.stem: self._show_facts(stem, _failed(msg)))

    # --- what the user does ------------------------------------------------------------
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonDblClick and isinstance(event, QMouseEvent):
            item = self.list.itemAt(event.position().toPoint())
            if item is not None:
                self._open(item)
                return True
        return super().eventFilter(watched, event)

    def visible_stems(self) -> list[str]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())
                if not self.list.item(i).isHidden()]

    def _filter(self, text: str) -> None:
        by_stem = {e.stem: e for e in self.entries}
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hidden = not by_stem[item.data(Qt.ItemDataRole.UserRole)].matches(text)
            item.setHidden(hidden)
            if not hidden and first is None:
                first = item
        if first is not None and (self.list.currentItem() is None or self.list.currentItem().isHidden()):
            self.list.setCurrentItem(first)
        nothing = first is None
        self.list.setVisible(not nothing)
        self.empty.setVisible(nothing)
        if nothing:
            self.empty.setText(f"No template matches “{text}”. Clear the search to see all {len(self.entries)}.")
        self._update_buttons()

    def _on_current(self, now: Optional[QListWidgetItem], before: Optional[QListWidgetItem]) -> None:
        for item, selected in ((before, False), (now, True)):
            card = self.list.itemWidget(item) if item is not None else None
            if isinstance(card, TemplateCard):
                card.set_selected(selected)
        self._update_buttons()

    def _update_buttons(self) -> None:
        item = self.list.currentItem()
        self.open_button.setEnabled(item is not None and not item.isHidden())

    def _open(self, item: Optional[QListWidgetItem]) -> None:
        if item is None or item.isHidden():
            return
        entry = next(e for e in self.entries if e.stem == item.data(Qt.ItemDataRole.UserRole))
        self.chosen_path = entry.path
        self.chosen.emit(entry.path)
        self.accept()

    def _show_facts(self, stem: str, f: Facts) -> None:
        card = self.cards.get(stem)
        if card is not None:
            card.show_facts(f)

    def facts_pending(self) -> bool:
        return self._background.pending()


def _failed(message: str) -> Facts:
    return Facts(None, "", None, message)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
