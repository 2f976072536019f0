"""One field of a generated form: the widget for a field description, and
reading and showing its value.

ParamForm (a block's catalogue parameters) and SpecForm (the run spec's
pydantic sections) each turn their own source into a `FieldDesc`; from there
on a bool is a check box, a choice a combo, a number a spin box whose
optional "none" sits one step below the minimum, and numbers typed as text
a line edit, the same way in every form.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QSpinBox, QWidget

INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int
FLOAT_LIMIT = 1e12
NONE_TEXT = "none"

KINDS = ("bool", "choice", "int", "float", "text", "numbers", "words_or_numbers")


@dataclass(frozen=True)
class FieldDesc:
    """What a form knows about one field, whatever it was read from."""

    kind: str  # one of KINDS; numbers: ints typed as "3, 5"; words_or_numbers: also a word from `choices`
    help: str = ""  # the tooltip
    none_text: str = ""  # set: the field may be empty (None), and its empty state reads this
    lo: Optional[float] = None  # closed range of a number's valid values (None: unbounded)
    hi: Optional[float] = None
    none_at: Optional[float] = None  # float: the value that reads none_text (default: a step below lo)
    default: Any = None  # a float's default picks its step (1e-3 steps by 1e-3)
    choices: tuple[Any, ...] = ()
    placeholder: str = ""  # text fields: what an empty one reads
    one_number: bool = False  # numbers: "3" means 3, not [3]


class FloatSpinBox(QDoubleSpinBox):
    """A spin box that shows 0.001 and 1e-05 as written, not as 0.00."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, v: float) -> str:  # noqa: N802 - Qt's name
        return f"{v:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt's name
        try:
            return float(text.replace(",", "."))
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        t = text.strip()
        if t == self.specialValueText() and t:
            return QValidator.Acceptable, text, pos
        if re.fullmatch(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?", t):
            try:
                v = float(t)
            except ValueError:
                return QValidator.Intermediate, text, pos
            ok = self.minimum() <= v <= self.maximum()
            return (QValidator.Acceptable if ok else QValidator.Intermediate), text, pos
        return QValidator.Intermediate, text, pos


class WordsOrNumbers(QComboBox):
    """An editable combo for numbers that also takes words: the words are in
    the list, numbers are typed ("1" or "1, 2")."""

    def __init__(self, words: Iterable[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.NoInsert)  # Enter must not add "1, 2" to the list of words
        self.addItems(list(words))

    def text(self) -> str:
        return self.currentText()

    def setText(self, text: str) -> None:  # noqa: N802 - QLineEdit's name, so both read alike
        self.setEditText(text)  # also when the list's current item already reads `text`


def parse_ints(text: str, single_ok: bool) -> int | list[int] | None:
    """'3' -> 3 (when one number may stand for all), '3, 5' or '3x5' -> [3, 5]; None if not numbers."""
    parts = [p for p in re.split(r"[\s,x×]+", text.strip()) if p]
    if not parts or not all(re.fullmatch(r"-?\d+", p) for p in parts):
        return None
    nums = [int(p) for p in parts]
    return nums[0] if single_ok and len(nums) == 1 else nums


def step_for(default: Any, hi: Optional[float]) -> float:
    """A float field's arrow step: the default's own decade below 1 (1e-3 -> 1e-3), else 0.1."""
    if isinstance(default, (int, float)) and not isinstance(default, bool) and default:
        return 10 ** math.floor(math.log10(abs(default))) if abs(default) < 1 else 0.1
    return 0.05 if hi is not None and hi <= 1 else 0.1


def make_widget(desc: FieldDesc, on_edit: Callable[..., None]) -> QWidget:
    """The widget for `desc`, its tooltip set, calling on_edit(...) on every user edit."""
    w: QWidget
    if desc.kind == "bool":
        w = QCheckBox()
        w.toggled.connect(on_edit)
    elif desc.kind == "choice":
        w = QComboBox()
        if desc.none_text:
            w.addItem(desc.none_text, None)
        for c in desc.choices:
            w.addItem(str(c), c)
        w.currentIndexChanged.connect(on_edit)
    elif desc.kind == "int":
        w = QSpinBox()
        lo = int(max(-INT_LIMIT if desc.lo is None else desc.lo, -INT_LIMIT))
        hi = int(min(INT_LIMIT if desc.hi is None else desc.hi, INT_LIMIT))
        if desc.none_text:  # one below the minimum reads "none"
            lo -= 1
            w.setSpecialValueText(desc.none_text)
        w.setRange(lo, hi)
        w.setAccelerated(True)
        w.valueChanged.connect(on_edit)
    elif desc.kind == "float":
        w = FloatSpinBox()
        lo = -FLOAT_LIMIT if desc.lo is None else desc.lo
        hi = FLOAT_LIMIT if desc.hi is None else desc.hi
        w.setSingleStep(step_for(desc.default, hi))
        if desc.none_text:
            w.setSpecialValueText(desc.none_text)
            lo = lo - w.singleStep() if desc.none_at is None else desc.none_at
        w.setRange(lo, hi)
        w.valueChanged.connect(on_edit)
    elif desc.kind == "words_or_numbers":
        w = WordsOrNumbers(str(c) for c in desc.choices)
        w.lineEdit().setPlaceholderText(desc.placeholder)
        w.editTextChanged.connect(on_edit)  # typing and picking a word both change the text
    else:  # text, numbers, and anything new: typed
        w = QLineEdit()
        w.setPlaceholderText(desc.placeholder)
        w.textEdited.connect(on_edit)
    w.setToolTip(desc.help)
    return w


def field_label(text: str, field: QWidget) -> QLabel:
    """The label in front of `field`, with its tooltip (hovering either explains it)."""
    label = QLabel(text)
    label.setToolTip(field.toolTip())
    label.setBuddy(field)
    return label


def read_value(desc: FieldDesc, w: Any) -> Any:
    """The value `w` shows; None for an empty optional field or typed text that is not numbers."""
    if desc.kind == "bool":
        return w.isChecked()
    if desc.kind == "choice":
        return w.currentData()
    if desc.kind in ("int", "float"):
        if desc.none_text and w.value() == w.minimum():
            return None
        return int(w.value()) if desc.kind == "int" else float(w.value())
    text = w.text().strip()
    if desc.kind == "text":
        return None if desc.none_text and not text else text
    if not text:
        return None
    for word in desc.choices:
        if text.lower() == str(word).lower():  # "SAME" is what was meant by "same"
            return word
    return parse_ints(text, single_ok=desc.one_number)


def show_value(desc: FieldDesc, w: Any, v: Any) -> None:
    """Show `v` in `w` (None: the empty state)."""
    if desc.kind == "bool":
        w.setChecked(bool(v))
    elif desc.kind == "choice":
        i = w.findData(v)
        if i < 0 and v is not None:
            w.addItem(str(v), v)  # a value the source does not list: show it rather than hide it
            i = w.count() - 1
        w.setCurrentIndex(max(i, 0))
    elif desc.kind in ("int", "float"):
        w.setValue(w.minimum() if v is None else v)
    elif v is None:
        w.setText("")
    elif isinstance(v, (list, tuple)):
        w.setText(", ".join(str(x) for x in v))
    else:
        w.setText(str(v))
