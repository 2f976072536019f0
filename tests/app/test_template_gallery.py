"""The template gallery: File ▸ New from Template… opens it, its cards show
what gallery.toml and the specs say, search narrows them, and a double-click
opens the template in the builder."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer

from app.main_window import MainWindow
from app.pages import PAGES, PageEntry
from app.state import AppState
from app.template_gallery import TemplateGallery
from engine.gallery import load_gallery, read_index

STAND_INS = [e if e.key == "build" else PageEntry(e.key, e.title, "tests.app.test_shell:StandInPage", e.about, e.icon)
             for e in PAGES]


def only(*stems):
    return [e for e in load_gallery() if e.stem in stems]


def test_every_indexed_template_exists_and_every_template_gets_a_card(qtbot):
    index, entries = read_index(), load_gallery()
    assert set(index) <= {e.stem for e in entries}  # no section for a missing file
    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    assert gallery.visible_stems()[:len(index)] == list(index)  # described ones first, in the index's order
    assert set(gallery.visible_stems()) == {e.stem for e in entries}


def test_cards_show_dataset_parameters_and_what_to_expect(qtbot):
    gallery = TemplateGallery(entries=only("bigmodel_110m", "digits_mlp"))
    qtbot.addWidget(gallery)
    qtbot.waitUntil(lambda: not gallery.facts_pending(), timeout=120_000)
    card = gallery.cards["bigmodel_110m"]
    facts = card.facts.text()
    assert "110,120,010 parameters" in facts and "10 classes" in facts and "input 1000" in facts
    about, entry = card.about.text(), card.entry
    assert f"<b>Expect:</b> {entry.expect}" in about
    assert entry.measured_time and f"<b>Took:</b> {entry.measured_time}" in about  # measured, stored with it
    assert card.thumb.pixmap() is not None and not card.thumb.pixmap().isNull()  # the diagram
    assert "Digits MLP" in gallery.cards["digits_mlp"].title.text()


def test_search_narrows_the_cards_and_says_when_nothing_matches(qtbot):
    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    gallery.show()
    qtbot.keyClicks(gallery.search, "110m bf16")
    assert gallery.visible_stems() == ["bigmodel_110m_bf16"]
    assert gallery.open_button.isEnabled()
    gallery.search.setText("no such model anywhere")
    assert gallery.visible_stems() == [] and gallery.empty.isVisible()
    assert "no such model anywhere" in gallery.empty.text() and not gallery.open_button.isEnabled()
    gallery.search.clear()
    assert len(gallery.visible_stems()) == len(gallery.entries) and not gallery.empty.isVisible()


@pytest.fixture
def window(qtbot, db_url, monkeypatch):
    monkeypatch.setattr("app.main_window.PAGES", STAND_INS)
    state = AppState(db_url)
    win = MainWindow(state)
    win.show()
    qtbot.waitExposed(win)
    yield win
    state.set_dirty(False)
    win.close()
    win.deleteLater()


def test_file_new_from_template_opens_the_gallery_and_a_double_click_opens_the_builder(qtbot, window):
    window.show_page("runs")
    seen = {}

    def pick():
        gallery = window.files.gallery
        try:
            seen["title"] = gallery.windowTitle()
            qtbot.keyClicks(gallery.search, "mlp-1000")
            item = next(gallery.list.item(i) for i in range(gallery.list.count())
                        if gallery.list.item(i).data(Qt.ItemDataRole.UserRole) == "mlp_1000_regression")
            card = gallery.list.itemWidget(item)
            # Where a user double-clicks: on the card's text (the click goes through to the list).
            pos = card.about.mapTo(gallery.list.viewport(), card.about.rect().center())
            qtbot.mouseDClick(gallery.list.viewport(), Qt.MouseButton.LeftButton, pos=pos)
        finally:
            if gallery.isVisible():  # the double-click did not open it: fail, not hang
                gallery.reject()

    QTimer.singleShot(0, pick)
    window.gallery_action.trigger()
    assert seen["title"] == "New from Template"
    assert window.state.spec.name == "mlp-1000-regression"
    assert [b.type for b in window.state.spec.model.blocks] == ["Linear", "ReLU", "Linear"]
    assert window.current_page_key() == "build" and not window.state.dirty
    assert window.files.gallery is None  # closed


def test_cancelling_the_gallery_keeps_the_current_spec(qtbot, window):
    before = window.state.spec

    QTimer.singleShot(0, lambda: window.files.gallery.reject())
    window.gallery_action.trigger()
    assert window.state.spec is before
