"""Conv padding in the Build page's inspector: pick same/valid from the list
or type numbers; the current value is shown; a bad entry is said under the
field in the catalogue's words and never reaches the spec."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit

from app.widgets.form_fields import WordsOrNumbers
from app.widgets.param_form import ParamForm
from engine.blocks import get_block_type
from tests.app.test_build_page import make_page, rows, settle

BLOCKS = [
    {"type": "Conv2d", "out_channels": 4, "kernel_size": 3, "padding": "same"},
    {"type": "ReLU"},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10},
]


def padding_of(state, i: int = 0):
    return state.spec.model.blocks[i].params.get("padding")


def retype(qtbot, field: QComboBox, text: str) -> None:
    field.setFocus()
    field.lineEdit().selectAll()
    qtbot.keyClicks(field.lineEdit(), text)


def test_pick_same_or_valid_or_type_numbers_in_the_inspector(qtbot, db_url):
    state, page = make_page(qtbot, db_url, BLOCKS)
    assert rows(page)[0][1].endswith("pad same") and rows(page)[0][2] == "4 × 8 × 8"
    page.select([(0,)])
    field = page.inspector.findChild(QComboBox, "param_padding")
    assert isinstance(field, WordsOrNumbers) and field.isEditable()
    assert field.currentText() == "same"  # the block's current value is what the field shows
    assert [field.itemText(i) for i in range(field.count())] == ["same", "valid"]

    # Pick "valid", the next word in the list (arrow down, as in any combo): no padding, the image
    # shrinks by the kernel. (The offscreen platform cannot grab the keyboard for the popup list.)
    field.setFocus()
    qtbot.keyClick(field, Qt.Key_Down)
    qtbot.waitUntil(lambda: padding_of(state) == "valid")
    settle(qtbot, page)
    assert rows(page)[0][2] == "4 × 6 × 6"
    assert field.currentText() == "valid"

    # Type numbers, one per dimension.
    retype(qtbot, field, "2, 1")
    qtbot.waitUntil(lambda: padding_of(state) == [2, 1])
    settle(qtbot, page)
    assert rows(page)[0][2] == "4 × 10 × 8" and rows(page)[0][1].endswith("pad 2×1")
    assert field.currentText() == "2, 1"

    # Undo: one step back to where the block started (edits of one field merge), and the field says so.
    page.undo_action.trigger()
    qtbot.waitUntil(lambda: padding_of(state) == "same")
    settle(qtbot, page)
    assert page.inspector.findChild(QComboBox, "param_padding").currentText() == "same"
    assert rows(page)[0][2] == "4 × 8 × 8"

    # Typing the word works too, whatever its case.
    retype(qtbot, page.inspector.findChild(QComboBox, "param_padding"), "VALID")
    qtbot.waitUntil(lambda: padding_of(state) == "valid")


def test_a_bad_entry_says_what_padding_takes_and_changes_nothing(qtbot, db_url):
    state, page = make_page(qtbot, db_url, BLOCKS)
    page.select([(0,)])
    field = page.inspector.findChild(QComboBox, "param_padding")
    error = page.inspector.findChild(QLabel, "param_padding_error")
    assert error is not None and not error.isVisible()

    for bad, says in [("full", "padding must be 'same', 'valid', a whole number or a list of 2"),
                      ("-1", "padding must be >= 0")]:
        retype(qtbot, field, bad)
        assert error.isVisible() and error.text() == says
        assert padding_of(state) == "same"  # never pushed into the spec
        assert field.currentText() == bad  # left as typed, to be corrected
    retype(qtbot, field, "1, 2, 3")
    assert error.text() == "padding must be 'same', 'valid', a whole number or a list of 2"
    assert padding_of(state) == [1, 2]  # the last good value typed on the way, not the bad one
    assert field.toolTip() == get_block_type("Conv2d").param("padding").help

    retype(qtbot, field, "1")
    qtbot.waitUntil(lambda: padding_of(state) == 1)
    assert not error.isVisible()


def test_same_with_a_stride_is_said_under_the_model_with_the_fix(qtbot, db_url):
    state, page = make_page(qtbot, db_url, BLOCKS)
    page.select([(0,)])
    stride = page.inspector.findChild(QLineEdit, "param_stride")
    stride.setFocus()
    stride.selectAll()
    qtbot.keyClicks(stride, "2")
    qtbot.waitUntil(lambda: state.spec.model.blocks[0].params.get("stride") == 2)
    settle(qtbot, page)
    message = page.findChild(QLabel, "model_message")
    assert message.isVisible()
    assert "use stride 1 with padding 'same', or give padding as numbers" in message.text()


def test_transposed_conv_and_pooling_padding_stay_numbers_only(qtbot):
    for type_ in ("ConvTranspose2d", "MaxPool2d"):
        form = ParamForm(get_block_type(type_).params, {"out_channels": 2, "kernel_size": 2})
        qtbot.addWidget(form)
        field = form.field("padding")
        assert isinstance(field, QLineEdit)
        seen = []
        form.value_changed.connect(lambda name, value: seen.append((name, value)))
        form.show()
        field.setFocus()
        field.selectAll()
        qtbot.keyClicks(field, "same")
        assert seen == []
        assert form.error("padding") == "padding must be a whole number or a list of 2"
