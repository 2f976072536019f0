"""app.widgets.form_fields: one field description, one widget, its value both ways."""
from __future__ import annotations

from PySide6.QtWidgets import QComboBox, QLineEdit, QSpinBox

from app.widgets.form_fields import (
    FieldDesc,
    FloatSpinBox,
    WordsOrNumbers,
    make_widget,
    parse_ints,
    read_value,
    show_value,
    step_for,
)


def test_an_optional_int_reads_none_one_below_its_minimum(qtbot):
    desc = FieldDesc("int", help="stride", none_text="none", lo=1, hi=8)
    w = make_widget(desc, lambda *_: None)
    qtbot.addWidget(w)
    assert isinstance(w, QSpinBox) and (w.minimum(), w.maximum()) == (0, 8) and w.toolTip() == "stride"
    show_value(desc, w, None)
    assert w.text() == "none" and read_value(desc, w) is None
    show_value(desc, w, 3)
    assert read_value(desc, w) == 3


def test_a_float_steps_by_its_defaults_decade_and_shows_it_as_written(qtbot):
    desc = FieldDesc("float", lo=0.0, default=1e-3)
    w = make_widget(desc, lambda *_: None)
    qtbot.addWidget(w)
    show_value(desc, w, 1e-5)
    assert isinstance(w, FloatSpinBox) and w.singleStep() == 1e-3 and w.text() == "1e-05"
    assert step_for(0.5, 1.0) == 0.1 and step_for(None, 1.0) == 0.05 and step_for(None, None) == 0.1


def test_a_choice_shows_a_value_its_source_does_not_list(qtbot):
    desc = FieldDesc("choice", choices=("relu", "gelu"))
    w = make_widget(desc, lambda *_: None)
    qtbot.addWidget(w)
    show_value(desc, w, "tanh")
    assert isinstance(w, QComboBox) and read_value(desc, w) == "tanh" and w.count() == 3


def test_typed_numbers_and_words(qtbot):
    words = FieldDesc("words_or_numbers", choices=("same", "valid"), one_number=True)
    w = make_widget(words, lambda *_: None)
    qtbot.addWidget(w)
    assert isinstance(w, WordsOrNumbers)
    for text, value in (("SAME", "same"), ("2", 2), ("2, 1", [2, 1]), ("2, a", None), ("", None)):
        show_value(words, w, text)
        assert read_value(words, w) == value, text
    numbers = FieldDesc("numbers", placeholder="e.g. 30, 60")
    line = make_widget(numbers, lambda *_: None)
    qtbot.addWidget(line)
    show_value(numbers, line, [30, 60])
    assert isinstance(line, QLineEdit) and line.text() == "30, 60" and read_value(numbers, line) == [30, 60]
    assert parse_ints("3x5", single_ok=True) == [3, 5] and parse_ints("3", single_ok=False) == [3]


def test_every_user_edit_is_reported(qtbot):
    edits: list[object] = []
    desc = FieldDesc("bool")
    w = make_widget(desc, lambda *_: edits.append(True))
    qtbot.addWidget(w)
    w.click()
    assert edits == [True] and read_value(desc, w) is True
