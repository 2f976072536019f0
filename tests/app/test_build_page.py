"""The Build page, driven as a person would: palette by keyboard and mouse,
drops, the inspector, live validation, undo/redo."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QSpinBox, QWidget

from app.pages.build import BuildPage
from app.pages.build import tree_ops as ops
from app.pages.build.block_model import COL_BLOCK
from app.state import AppState
from engine.spec import parse_spec

CNN = [
    {"type": "Conv2d", "out_channels": 16, "kernel_size": 3},
    {"type": "ReLU"},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10},
]


def make_page(qtbot, db_url, blocks=(), data="digits"):
    spec = parse_spec({"name": "t", "data": {"name": data}, "model": {"blocks": list(blocks)}})
    state = AppState(db_url, spec)
    page = BuildPage(state)
    qtbot.addWidget(page)
    page.resize(1100, 700)
    page.show()
    qtbot.waitExposed(page)
    settle(qtbot, page)
    return state, page


def settle(qtbot, page):
    """Wait for the background summary of the current spec to be shown."""
    qtbot.waitUntil(lambda: not page.summary_service.pending(), timeout=60_000)


def rows(page) -> list[list[str]]:
    """What the model list shows, depth-first: [#, block, output, params] per row."""
    model, out = page.model, []

    def visit(parent):
        for r in range(model.rowCount(parent)):
            idx = model.index(r, 0, parent)
            out.append([model.index(r, c, parent).data() for c in range(4)])
            visit(idx)

    visit(QModelIndex())
    return out


def types(state) -> list[str]:
    return [b["type"] for b in state.spec.to_dict()["model"]["blocks"]]


def test_add_blocks_from_the_palette_by_keyboard(qtbot, db_url):
    state, page = make_page(qtbot, db_url)
    search = page.findChild(QLineEdit, "palette_search")
    for name in ("conv2d", "relu", "flatten"):
        search.clear()
        qtbot.keyClicks(search, name)
        qtbot.keyClick(search, Qt.Key_Return)
    settle(qtbot, page)
    assert types(state) == ["Conv2d", "ReLU", "Flatten"]  # "relu" is ReLU, not LeakyReLU
    shown = rows(page)
    assert [r[1].split()[0] for r in shown] == ["Conv2d", "ReLU", "Flatten"]
    assert all(r[2] not in ("—", "", None) for r in shown)  # each row has its output shape
    # The palette list itself takes Enter too.
    search.clear()
    qtbot.keyClicks(search, "dropout")
    page.palette.tree.setFocus()
    qtbot.keyClick(page.palette.tree, Qt.Key_Return)
    assert types(state)[-1] == "Dropout"


def test_add_block_by_double_click_goes_after_the_selection(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    page.select([(0,)])
    item = next(i for i in page.palette.items() if i.text(0) == "BatchNorm2d")
    page.palette.tree.scrollToItem(item)
    rect = page.palette.tree.visualItemRect(item)
    # A real double-click is press, release, double-click (the view checks what was pressed).
    qtbot.mouseClick(page.palette.tree.viewport(), Qt.LeftButton, pos=rect.center())
    qtbot.mouseDClick(page.palette.tree.viewport(), Qt.LeftButton, pos=rect.center())
    assert types(state) == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten", "Linear"]
    settle(qtbot, page)
    assert rows(page)[1][1].startswith("BatchNorm2d")
    assert page.selected_paths() == [(1,)]  # the new block is selected, ready for the inspector


def test_drop_from_palette_at_a_position_and_drag_to_reorder(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    item = next(i for i in page.palette.items() if i.text(0) == "Dropout")
    mime = page.palette.tree.mimeData([item])  # what a drag from the palette carries
    assert page.model.dropMimeData(mime, Qt.CopyAction, 3, 0, QModelIndex())
    qtbot.waitUntil(lambda: len(types(state)) == 5)
    assert types(state) == ["Conv2d", "ReLU", "Flatten", "Dropout", "Linear"]

    # Drag block 4 (Dropout) above block 3 (Flatten).
    mime = page.model.mimeData([page.model.index_for((3,))])
    page.model.dropMimeData(mime, Qt.MoveAction, 2, 0, QModelIndex())
    qtbot.waitUntil(lambda: types(state)[2] == "Dropout")
    assert types(state) == ["Conv2d", "ReLU", "Dropout", "Flatten", "Linear"]


def test_editing_a_parameter_updates_the_output_shape_and_undoes_in_one_step(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    assert rows(page)[0][2] == "16 × 6 × 6"
    page.select([(0,)])
    field = page.inspector.findChild(QSpinBox, "param_out_channels")
    assert field is not None and field.value() == 16
    assert field.toolTip()  # every field says what it does
    field.setFocus()
    field.selectAll()
    qtbot.keyClicks(field, "32")
    qtbot.waitUntil(lambda: rows(page)[0][2] == "32 × 6 × 6", timeout=60_000)
    assert state.spec.model.blocks[0].params["out_channels"] == 32
    assert rows(page)[0][3] == f"{32 * 9 + 32:,}"
    assert state.dirty
    page.undo_action.trigger()  # "3" then "32" merged: one undo goes back to 16
    assert state.spec.model.blocks[0].params["out_channels"] == 16
    qtbot.waitUntil(lambda: rows(page)[0][2] == "16 × 6 × 6", timeout=60_000)
    assert not state.dirty  # back where the document started


def test_every_inspector_field_has_the_catalogue_help_as_tooltip(qtbot, db_url):
    from engine.blocks import get_block_type

    state, page = make_page(qtbot, db_url, [{"type": "Conv2d", "out_channels": 4, "kernel_size": 3}])
    page.select([(0,)])
    for p in get_block_type("Conv2d").params:
        field = page.inspector.findChild(QWidget, f"param_{p.name}")
        assert field is not None and field.toolTip() == p.help


def test_an_invalid_block_is_marked_where_it_is(qtbot, db_url):
    state, page = make_page(qtbot, db_url, [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3},
                                            {"type": "Linear", "out_features": 10}])
    bad = page.model.index_for((1,))
    assert bad.siblingAtColumn(COL_BLOCK).data(Qt.ForegroundRole).red() > 150  # red text
    assert bad.siblingAtColumn(COL_BLOCK).data(Qt.DecorationRole) is not None  # warning icon
    assert "Flatten" in bad.data(Qt.ToolTipRole)  # the message and its fix
    assert page.model.index_for((0,)).data(Qt.DecorationRole) is None
    message = page.findChild(QLabel, "model_message")
    assert message.isVisible() and "block 2" in message.text() and "Flatten" in message.text()
    totals = page.findChild(QLabel, "model_totals")
    assert "invalid" in totals.text()
    assert not QApplication.activeModalWidget()  # said in place, never in a dialog

    # Fix it as the message says: Flatten before block 2.
    page.select([(0,)])
    page.add_block("Flatten")
    settle(qtbot, page)
    assert not message.isVisible()
    assert "invalid" not in totals.text() and "params" in totals.text()
    assert page.model.index_for((2,)).data(Qt.DecorationRole) is None
    assert rows(page)[2][2] == "10"


def test_undo_redo_walk_back_to_the_exact_spec(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    history = [state.spec.to_dict()]

    def step(action):
        action()
        history.append(state.spec.to_dict())
        assert history[-1] != history[-2]

    step(lambda: page.add_block("Dropout"))  # after nothing selected: at the end
    step(lambda: page.set_param((4,), "p", 0.5))
    step(lambda: (page.select([(0,), (1,)]), page.wrap_selected()))
    step(lambda: (page.select([(1,)]), page.duplicate_selected()))
    step(lambda: (page.select([(3,)]), page.move_selected(-1)))
    step(lambda: (page.select([(0,)]), page.unwrap_selected()))
    step(lambda: (page.select([(1,)]), page.delete_selected()))
    assert types(state)[0] == "Conv2d"
    for expected in reversed(history[:-1]):
        page.view.setFocus()
        qtbot.keyClick(page.view, Qt.Key_Z, Qt.ControlModifier)
        assert state.spec.to_dict() == expected
    for expected in history[1:]:
        qtbot.keyClick(page.view, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
        assert state.spec.to_dict() == expected
    settle(qtbot, page)


def test_keyboard_edits_in_the_list(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    page.view.setFocus()
    page.select([(1,)])
    qtbot.keyClick(page.view, Qt.Key_Up, Qt.AltModifier)
    assert types(state) == ["ReLU", "Conv2d", "Flatten", "Linear"]
    qtbot.keyClick(page.view, Qt.Key_Down, Qt.AltModifier)
    assert types(state) == ["Conv2d", "ReLU", "Flatten", "Linear"]
    qtbot.keyClick(page.view, Qt.Key_D, Qt.ControlModifier)
    assert types(state) == ["Conv2d", "ReLU", "ReLU", "Flatten", "Linear"]
    qtbot.keyClick(page.view, Qt.Key_Delete)
    assert types(state) == ["Conv2d", "ReLU", "Flatten", "Linear"]
    page.select([(0,), (1,)])
    qtbot.keyClick(page.view, Qt.Key_R, Qt.ControlModifier)
    assert types(state) == ["Residual", "Flatten", "Linear"]
    settle(qtbot, page)
    shown = rows(page)
    assert shown[0][1].startswith("Residual") and [r[1].split()[0] for r in shown[1:3]] == ["Conv2d", "ReLU"]
    assert page.view.isExpanded(page.model.index_for((0,)))
    # Conv2d 16 channels inside a Residual on a 1-channel input: the shapes differ, said at the Residual.
    assert page.model.error_of((0,)) and "invalid" in page.totals.text()
    page.select([(0,)])
    qtbot.keyClick(page.view, Qt.Key_R, Qt.ControlModifier | Qt.ShiftModifier)
    assert types(state) == ["Conv2d", "ReLU", "Flatten", "Linear"]


def test_a_spec_replaced_elsewhere_redraws_and_starts_a_new_history(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    page.add_block("ReLU")
    assert page.undo_stack.canUndo()
    # The Data page switches the dataset: same blocks, new input shape; the history stays.
    state.set_spec(state.spec.copy_with(data={"name": "iris"}))
    settle(qtbot, page)
    assert "4" in page.input_label.text() and page.undo_stack.canUndo()
    # The Runs page clones another run into the builder: a new history.
    other = parse_spec({"name": "o", "data": {"name": "iris"},
                        "model": {"blocks": [{"type": "Linear", "out_features": 3}]}})
    state.set_spec(other, dirty=False)
    settle(qtbot, page)
    assert [r[1] for r in rows(page)] == ["Linear  3"] or rows(page)[0][1].startswith("Linear")
    assert not page.undo_stack.canUndo()
    assert "params" in page.totals.text() and "invalid" not in page.totals.text()


def test_empty_model_says_how_to_start(qtbot, db_url):
    state, page = make_page(qtbot, db_url)
    assert page.model.rowCount() == 0
    assert "add blocks" in page.totals.text()
    assert not page.message_label.isVisible()
    assert "Select a block" in page.inspector.empty.text()


@pytest.mark.parametrize("paths,parent,row,expected", [
    ([(0,)], (), 3, ["b", "c", "a", "d"]),
    ([(3,)], (), 0, ["d", "a", "b", "c"]),
    ([(0,), (1,)], (), -1, ["c", "d", "a", "b"]),
])
def test_tree_moves(paths, parent, row, expected):
    blocks = [{"type": t} for t in "abcd"]
    out, _ = ops.move(blocks, paths, parent, row)
    assert [b["type"] for b in out] == expected


def test_tree_move_into_a_container_and_never_into_itself():
    blocks = [{"type": "a"}, {"type": "R", "blocks": [{"type": "x"}]}, {"type": "b"}]
    out, new = ops.move(blocks, [(0,)], (1,), 1)
    assert out == [{"type": "R", "blocks": [{"type": "x"}, {"type": "a"}]}, {"type": "b"}]
    assert new == [(0, 1)]
    same, _ = ops.move(blocks, [(1,)], (1,), 0)
    assert same == blocks


def test_float_optional_and_choice_fields_edit_the_spec(qtbot, db_url):
    from PySide6.QtWidgets import QComboBox, QDoubleSpinBox

    state, page = make_page(qtbot, db_url, [{"type": "Flatten"}, {"type": "Dropout", "p": 0.2},
                                            {"type": "Linear", "out_features": 10}])
    page.select([(1,)])
    p = page.inspector.findChild(QDoubleSpinBox, "param_p")
    assert p.text() == "0.2"
    p.setFocus()
    p.selectAll()
    qtbot.keyClicks(p, "0.35")
    assert state.spec.model.blocks[1].params["p"] == pytest.approx(0.35)
    page.undo_action.trigger()
    assert state.spec.model.blocks[1].params["p"] == 0.2

    state2, page2 = make_page(qtbot, db_url, [{"type": "GRU", "hidden_size": 8}])
    page2.select([(0,)])
    output = page2.inspector.findChild(QComboBox, "param_output")
    other = next(output.itemData(i) for i in range(output.count()) if output.itemData(i) != output.currentData())
    output.setCurrentIndex(output.findData(other))
    assert state2.spec.model.blocks[0].params["output"] == other


def test_arrow_down_from_search_picks_a_match(qtbot, db_url):
    state, page = make_page(qtbot, db_url)
    qtbot.keyClicks(page.palette.search, "pool")
    qtbot.keyClick(page.palette.search, Qt.Key_Down)
    assert page.palette.tree.hasFocus() or QApplication.focusWidget() is page.palette.tree
    qtbot.keyClick(page.palette.tree, Qt.Key_Down)
    qtbot.keyClick(page.palette.tree, Qt.Key_Return)
    assert types(state) == [page.palette.visible_types()[1]]


def test_clicking_a_box_in_the_diagram_selects_that_block(qtbot, db_url):
    state, page = make_page(qtbot, db_url, CNN)
    qtbot.waitUntil(lambda: len(page.diagram.items("box")) == 4)
    box = page.diagram.items("box")[2]
    qtbot.mouseClick(page.diagram, Qt.LeftButton, pos=box.rect.center().toPoint())
    assert page.selected_paths() == [(2,)]
    assert page.inspector.title.text().startswith("Flatten")
