"""A form generated from parameter descriptions (engine.blocks Param): spin
boxes with the catalogue's ranges, combos for choices, check boxes for flags,
text for number lists, an editable combo for numbers-or-words (Conv padding:
pick same/valid or type 1 or 1, 2), and every field's tooltip is the
parameter's help text.

Edits are reported at once as `value_changed(name, value)`; a typed value the
parameter refuses is not reported but said in red under its field, in the
catalogue's words. `set_values` updates the fields without reporting, and
leaves alone the field the user is typing in when it already shows that value.
"""
from __future__ import annotations

import math
import re
from typing import Any, Iterable

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel,
                               QLineEdit, QSpinBox, QVBoxLayout, QWidget)

from engine.blocks.base import PARAM_KINDS, check_value

INT_LIMIT = 2**31 - 1
NONE_TEXT = "none"


class FloatSpinBox(QDoubleSpinBox):
    """A spin box that shows 0.001 and 1e-05 as written, not as 0.00."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, v: float) -> str:
        return f"{v:.6g}"

    def valueFromText(self, text: str) -> float:
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


def _bounds(param: Any, lo: float, hi: float) -> tuple[float, float]:
    pmin, pmax = getattr(param, "min", None), getattr(param, "max", None)
    return (lo if pmin is None else pmin), (hi if pmax is None else pmax)


def parse_ints(text: str, single_ok: bool) -> int | list[int] | None:
    """'3' -> 3 (when one number may stand for all), '3, 5' or '3x5' -> [3, 5]; None if not numbers."""
    parts = [p for p in re.split(r"[\s,x×]+", text.strip()) if p]
    if not parts or not all(re.fullmatch(r"-?\d+", p) for p in parts):
        return None
    nums = [int(p) for p in parts]
    return nums[0] if single_ok and len(nums) == 1 else nums


class WordsOrNumbers(QComboBox):
    """An editable combo for an 'ints' parameter that also takes words: the
    words are in the list, numbers are typed ("1" or "1, 2")."""

    def __init__(self, words: Iterable[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.NoInsert)  # Enter must not add "1, 2" to the list of words
        self.addItems(list(words))

    def text(self) -> str:
        return self.currentText()

    def setText(self, text: str) -> None:
        self.setEditText(text)  # also when the list's current item already reads `text`


class ParamForm(QWidget):
    value_changed = Signal(str, object)
    """The user changed a field (payload: parameter name, new value; None clears an optional one)."""

    def __init__(self, params: Iterable[Any], values: dict[str, Any] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._params = {p.name: p for p in params}
        self._fields: dict[str, QWidget] = {}
        self._updating = False
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        layout.setContentsMargins(0, 0, 0, 0)
        self._errors: dict[str, QLabel] = {}
        for p in self._params.values():
            field = self._make_field(p)
            field.setObjectName(f"param_{p.name}")
            tip = getattr(p, "help", "") or ""
            field.setToolTip(tip)
            label = QLabel(p.name)
            label.setToolTip(tip)
            label.setBuddy(field)
            self._fields[p.name] = field
            if isinstance(field, (QLineEdit, WordsOrNumbers)):  # typed: may hold what the parameter refuses
                layout.addRow(label, self._with_error_line(p.name, field))
            else:
                layout.addRow(label, field)
        if not self._params:
            layout.addRow(QLabel("This block has no parameters."))
        self.set_values(values or {})

    def field(self, name: str) -> QWidget:
        return self._fields[name]

    def error(self, name: str) -> str:
        """What is wrong with the typed text of field `name` ("" when nothing is)."""
        label = self._errors.get(name)
        return label.text() if label is not None and not label.isHidden() else ""

    def _with_error_line(self, name: str, field: QWidget) -> QWidget:
        holder = QWidget()
        v = QVBoxLayout(holder)
        v.setContentsMargins(0, 0, 0, 0)
        v.setSpacing(2)
        v.addWidget(field)
        err = QLabel()
        err.setObjectName(f"param_{name}_error")
        err.setWordWrap(True)
        err.setStyleSheet("QLabel { color: #c82828; }")
        err.hide()
        v.addWidget(err)
        self._errors[name] = err
        return holder

    # --- building ---------------------------------------------------------------
    def _make_field(self, p: Any) -> QWidget:
        kind, optional = p.kind, bool(getattr(p, "optional", False))
        emit = lambda *_: self._emit(p.name)  # noqa: E731 - one line per widget kind below
        if kind == "bool":
            w: QWidget = QCheckBox()
            w.toggled.connect(emit)
        elif kind == "choice":
            w = QComboBox()
            if optional:
                w.addItem(NONE_TEXT, None)
            for c in getattr(p, "choices", None) or ():
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(emit)
        elif kind == "int":
            w = QSpinBox()
            lo, hi = _bounds(p, -INT_LIMIT, INT_LIMIT)
            lo, hi = int(max(lo, -INT_LIMIT)), int(min(hi, INT_LIMIT))
            if optional:  # one step below the minimum reads "none"
                lo -= 1
                w.setSpecialValueText(NONE_TEXT)
            w.setRange(lo, hi)
            w.setAccelerated(True)
            w.valueChanged.connect(emit)
        elif kind == "float":
            w = FloatSpinBox()
            lo, hi = _bounds(p, -1e12, 1e12)
            w.setSingleStep(_step(p))
            if optional:
                w.setSpecialValueText(NONE_TEXT)
                lo -= w.singleStep()
            w.setRange(lo, hi)
            w.valueChanged.connect(emit)
        elif kind == "ints" and getattr(p, "choices", None):  # numbers or a word (padding: same, valid)
            w = WordsOrNumbers(p.choices)
            w.lineEdit().setPlaceholderText(NONE_TEXT if optional else ", ".join(p.choices) + " or 3 or 3, 5")
            w.editTextChanged.connect(emit)  # typing and picking a word both change the text
        else:  # 'ints' (one int or one per dimension), 'int_list', and anything new: typed as text
            w = QLineEdit()
            hint = {"ints": "3 or 3, 5", "int_list": "e.g. 1, 8, 8"}.get(kind, "")
            w.setPlaceholderText(NONE_TEXT if optional else hint)
            w.textEdited.connect(emit)
        return w

    # --- reading and writing --------------------------------------------------------
    def value(self, name: str) -> Any:
        p, w = self._params[name], self._fields[name]
        if isinstance(w, QCheckBox):
            return w.isChecked()
        if isinstance(w, QComboBox) and not isinstance(w, WordsOrNumbers):
            return w.currentData()
        if isinstance(w, (QSpinBox, QDoubleSpinBox)):
            if w.specialValueText() and w.value() == w.minimum():
                return None
            return int(w.value()) if isinstance(w, QSpinBox) else float(w.value())
        text = w.text().strip()
        if not text:
            return None
        for word in getattr(p, "choices", None) or ():
            if text.lower() == str(word).lower():  # "SAME" is what was meant by "same"
                return word
        return parse_ints(text, single_ok=p.kind == "ints")

    def set_values(self, values: dict[str, Any]) -> None:
        self._updating = True
        try:
            for name, p in self._params.items():
                v = values.get(name, getattr(p, "default", None))
                w = self._fields[name]
                if w.hasFocus() and self.value(name) == v:
                    continue  # keep the user's half-typed text ("0." for 0)
                _show(w, v)
                if name in self._errors:  # the shown value is the block's own: nothing typed is wrong now
                    w.setStyleSheet("")
                    self._errors[name].hide()
        finally:
            self._updating = False

    def _emit(self, name: str) -> None:
        if self._updating:
            return
        w = self._fields[name]
        if isinstance(w, (QLineEdit, WordsOrNumbers)):
            problem = self._typed_problem(name)
            w.setStyleSheet(f"{type(w).__name__} {{ color: #c82828; }}" if problem else "")
            err = self._errors.get(name)
            if err is not None:
                err.setText(f"{name} {problem}" if problem else "")
                err.setVisible(bool(problem))
            if problem:
                return
        self.value_changed.emit(name, self.value(name))

    def _typed_problem(self, name: str) -> str | None:
        """Why the typed text does not fit the parameter, in the catalogue's words."""
        p, text = self._params[name], self._fields[name].text().strip()  # type: ignore[attr-defined]
        value = self.value(name)
        if text and value is None:
            value = text  # not numbers (nor a word it takes): let the parameter say what it takes
        if getattr(p, "kind", None) in PARAM_KINDS:
            return check_value(p, value)
        return "must be whole numbers separated by commas" if text and value == text else None


def _step(p: Any) -> float:
    d = getattr(p, "default", None)
    if isinstance(d, (int, float)) and d and not isinstance(d, bool):
        return 10 ** math.floor(math.log10(abs(d))) if abs(d) < 1 else 0.1
    pmax = getattr(p, "max", None)
    return 0.05 if pmax is not None and pmax <= 1 else 0.1


def _show(w: QWidget, v: Any) -> None:
    if isinstance(w, QCheckBox):
        w.setChecked(bool(v))
    elif isinstance(w, QComboBox) and not isinstance(w, WordsOrNumbers):
        i = w.findData(v)
        if i < 0 and v is not None:
            w.addItem(str(v), v)  # a value the catalogue does not list: show it rather than hide it
            i = w.count() - 1
        w.setCurrentIndex(max(i, 0))
    elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
        w.setValue(w.minimum() if v is None else v)
    elif isinstance(w, (QLineEdit, WordsOrNumbers)):
        if v is None:
            w.setText("")
        elif isinstance(v, (list, tuple)):
            w.setText(", ".join(str(x) for x in v))
        else:
            w.setText(str(v))
