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

from typing import Any, Iterable

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from app.widgets.form_fields import NONE_TEXT, FieldDesc, field_label, make_widget, read_value, show_value
from engine.blocks.base import PARAM_KINDS, check_value

TYPED = ("numbers", "words_or_numbers")  # fields that may hold text the parameter refuses


def describe(p: Any) -> FieldDesc:
    """A catalogue parameter (engine.blocks Param) as a form field."""
    kind, optional = p.kind, bool(getattr(p, "optional", False))
    choices = tuple(getattr(p, "choices", None) or ())
    common = dict(help=getattr(p, "help", "") or "", none_text=NONE_TEXT if optional else "",
                  choices=choices, default=getattr(p, "default", None))
    if kind in ("bool", "choice", "int", "float"):
        return FieldDesc(kind, lo=getattr(p, "min", None), hi=getattr(p, "max", None), **common)
    if kind == "text":  # a folder path (PretrainedTextClassifier)
        return FieldDesc("text", placeholder="folder", **common)
    if kind == "ints" and choices:  # numbers or a word (padding: same, valid)
        hint = ", ".join(choices) + " or 3 or 3, 5"
        return FieldDesc("words_or_numbers", placeholder=NONE_TEXT if optional else hint,
                         one_number=True, **common)
    # 'ints' (one int or one per dimension), 'int_list', and anything new: typed as text
    hint = {"ints": "3 or 3, 5", "int_list": "e.g. 1, 8, 8"}.get(kind, "")
    return FieldDesc("numbers", placeholder=NONE_TEXT if optional else hint, one_number=kind == "ints", **common)


class ParamForm(QWidget):
    value_changed = Signal(str, object)
    """The user changed a field (payload: parameter name, new value; None clears an optional one)."""

    def __init__(self, params: Iterable[Any], values: dict[str, Any] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self._params = {p.name: p for p in params}
        self._descs = {name: describe(p) for name, p in self._params.items()}
        self._fields: dict[str, QWidget] = {}
        self._updating = False
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.AllNonFixedFieldsGrow)
        layout.setContentsMargins(0, 0, 0, 0)
        self._errors: dict[str, QLabel] = {}
        for name, desc in self._descs.items():
            field = make_widget(desc, lambda *_, name=name: self._emit(name))
            field.setObjectName(f"param_{name}")
            self._fields[name] = field
            label = field_label(name, field)
            if desc.kind in TYPED:
                layout.addRow(label, self._with_error_line(name, field))
            else:
                layout.addRow(label, field)
        if not self._params:
            layout.addRow(QLabel("This block has no parameters."))
        self.set_values(values or {})

    def field(self, name: str) -> QWidget:
        return self._fields[name]

    def described_fields(self) -> list[tuple[str, FieldDesc, QWidget]]:
        """(parameter name, description, widget) of every field (what "Sweep this" attaches to)."""
        return [(name, desc, self._fields[name]) for name, desc in self._descs.items()]

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

    # --- reading and writing --------------------------------------------------------
    def value(self, name: str) -> Any:
        return read_value(self._descs[name], self._fields[name])

    def set_values(self, values: dict[str, Any]) -> None:
        self._updating = True
        try:
            for name, p in self._params.items():
                v = values.get(name, getattr(p, "default", None))
                w = self._fields[name]
                if w.hasFocus() and self.value(name) == v:
                    continue  # keep the user's half-typed text ("0." for 0)
                show_value(self._descs[name], w, v)
                if name in self._errors:  # the shown value is the block's own: nothing typed is wrong now
                    w.setStyleSheet("")
                    self._errors[name].hide()
        finally:
            self._updating = False

    def _emit(self, name: str) -> None:
        if self._updating:
            return
        w = self._fields[name]
        if self._descs[name].kind in TYPED:
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
