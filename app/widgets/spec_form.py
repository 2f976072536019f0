"""Forms generated from pydantic models (the run spec's sections).

Each field of the model becomes one widget, chosen from its annotation:
bool -> check box, Literal -> combo, int -> spin box, float -> spin box that
shows 1e-05 as written, str -> line edit, list[int] -> "30, 60" line edit,
a nested model -> a group, an Optional nested model -> a checkable group
(unchecked = None). Ranges come from the field's ge/gt/le/lt, tooltips from
its description, and an Optional number has an empty state ("none", one
step below its minimum). So adding an option to the engine is one line
there and nothing here (CRAFT.md rule 7).

Every edit emits `changed(values)` with the whole form's values;
`set_values` updates the fields without emitting.
"""
from __future__ import annotations

import math
import re
import types
import typing
from typing import Any, Iterable, Literal, Optional, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit,
                               QSpinBox, QVBoxLayout, QWidget)

from app.widgets.param_form import FloatSpinBox

INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e12
NONE_TEXT = "none"


# --- reading a field's annotation ------------------------------------------------------

def _unwrap_optional(ann: Any) -> tuple[Any, bool]:
    """(the annotation without None, whether None is allowed)."""
    origin = typing.get_origin(ann)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        if len(args) < len(typing.get_args(ann)) and len(args) == 1:
            return args[0], True
    return ann, False


def _bounds(info: FieldInfo) -> dict[str, float]:
    """{'ge': 0, 'lt': 1, ...} from the field's constraints."""
    out: dict[str, float] = {}
    for m in info.metadata:
        for name in ("ge", "gt", "le", "lt"):
            v = getattr(m, name, None)
            if v is not None:
                out[name] = v
    return out


def field_kind(info: FieldInfo) -> tuple[str, bool, Any]:
    """(kind, optional, inner annotation); kind is one of bool, choice, int,
    float, str, int_list, model, or '' for a field no widget can edit."""
    ann, optional = _unwrap_optional(info.annotation)
    if typing.get_origin(ann) is Literal:
        return "choice", optional, ann
    if ann is bool:
        return "bool", optional, ann
    if ann is int:
        return "int", optional, ann
    if ann is float:
        return "float", optional, ann
    if ann is str:
        return "str", optional, ann
    if typing.get_origin(ann) is list and typing.get_args(ann) == (int,):
        return "int_list", optional, ann
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "model", optional, ann
    return "", optional, ann


def _step(default: Any, hi: float | None) -> float:
    if isinstance(default, (int, float)) and not isinstance(default, bool) and default:
        return 10 ** math.floor(math.log10(abs(default))) if abs(default) < 1 else 0.1
    return 0.05 if hi is not None and hi <= 1 else 0.1


def label_for(name: str) -> str:
    """'grad_clip_norm' -> 'grad clip norm' (T_max stays T_max: it is torch's name)."""
    return name if any(c.isupper() for c in name) else name.replace("_", " ")


# --- the form ------------------------------------------------------------------------

class _WheelGuard(QObject):
    """Spin boxes and combos ignore the wheel unless focused: forms sit in scroll
    areas, and scrolling past a field must not change it."""

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Wheel and isinstance(obj, QWidget) and not obj.hasFocus():
            event.ignore()
            return True
        return False


_WHEEL_GUARD: Optional[_WheelGuard] = None


def guard_wheel(w: QWidget) -> None:
    global _WHEEL_GUARD
    if _WHEEL_GUARD is None:
        _WHEEL_GUARD = _WheelGuard()
    w.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # not WheelFocus: the wheel must not grab focus either
    w.installEventFilter(_WHEEL_GUARD)


class SpecForm(QWidget):
    changed = Signal(dict)
    """The user edited a field (payload: all of the form's values, nested models as dicts)."""

    def __init__(self, model: type[BaseModel], values: Optional[dict[str, Any]] = None, *,
                 exclude: Iterable[str] = ("type",), parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.model = model
        self._exclude = set(exclude)
        self._fields: dict[str, QWidget] = {}
        self._kinds: dict[str, tuple[str, bool, Any]] = {}
        self._subforms: dict[str, SpecForm] = {}
        self._updating = False
        self.labels: list[QLabel] = []
        self._layout = QFormLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name, info in model.model_fields.items():
            if name in self._exclude:
                continue
            kind = field_kind(info)
            if not kind[0]:
                continue  # dicts and unions: edited elsewhere (the JSON file), never guessed at
            self._kinds[name] = kind
            tip = info.description or ""
            widget = self._make(name, info, *kind)
            widget.setObjectName(f"field_{name}")
            if isinstance(widget, (QSpinBox, QComboBox, FloatSpinBox)):
                guard_wheel(widget)
            widget.setToolTip(tip)
            if kind[0] == "model":
                self._layout.addRow(widget)
            else:
                label = QLabel(label_for(name))
                self.labels.append(label)
                label.setToolTip(tip)
                label.setBuddy(widget)
                self._layout.addRow(label, widget)
            self._fields[name] = widget
        self.set_values(values or {})

    # --- building ---------------------------------------------------------------------
    def _make(self, name: str, info: FieldInfo, kind: str, optional: bool, ann: Any) -> QWidget:
        emit = lambda *_: self._emit()  # noqa: E731
        if kind == "bool":
            w: QWidget = QCheckBox()
            w.toggled.connect(emit)
        elif kind == "choice":
            w = QComboBox()
            if optional:
                w.addItem(_none_label(info), None)
            for c in typing.get_args(ann):
                w.addItem(str(c), c)
            w.currentIndexChanged.connect(emit)
        elif kind == "int":
            w = QSpinBox()
            b = _bounds(info)
            lo = b["ge"] if "ge" in b else (b["gt"] + 1 if "gt" in b else -INT_LIMIT)
            hi = b["le"] if "le" in b else (b["lt"] - 1 if "lt" in b else INT_LIMIT)
            lo, hi = int(max(lo, -INT_LIMIT)), int(min(hi, INT_LIMIT))
            if optional:  # one below the minimum reads "none"
                lo -= 1
                w.setSpecialValueText(_none_label(info))
            w.setRange(lo, hi)
            w.setAccelerated(True)
            w.valueChanged.connect(emit)
        elif kind == "float":
            w = FloatSpinBox()
            b = _bounds(info)
            hi = b.get("le", b.get("lt", FLOAT_LIMIT))
            step = _step(info.default, hi)
            w.setSingleStep(step)
            # Spin boxes have closed ranges: an open bound sits a hair inside.
            lo = b["ge"] if "ge" in b else (b["gt"] + 1e-12 if "gt" in b else -FLOAT_LIMIT)
            if "lt" in b and "le" not in b:
                hi = b["lt"] - 1e-9
            if optional:
                w.setSpecialValueText(_none_label(info))
                lo = b.get("gt", lo - step) if "gt" in b else lo - step
            w.setRange(lo, hi)
            w.valueChanged.connect(emit)
        elif kind in ("str", "int_list"):
            w = QLineEdit()
            if kind == "int_list":
                w.setPlaceholderText("e.g. 30, 60")
            elif optional:
                w.setPlaceholderText(_none_label(info))
            w.textEdited.connect(emit)
        else:  # a nested model: a group with its own form
            w = QGroupBox(label_for(name))
            box = QVBoxLayout(w)
            sub = SpecForm(ann, exclude=(), parent=w)
            sub.changed.connect(emit)
            box.addWidget(sub)
            self._subforms[name] = sub
            if optional:
                w.setCheckable(True)
                w.toggled.connect(emit)
        return w

    def field(self, name: str) -> QWidget:
        """The widget of a field (nested: 'early_stopping.patience')."""
        head, _, rest = name.partition(".")
        return self._subforms[head].field(rest) if rest else self._fields[head]

    def all_labels(self) -> list[QLabel]:
        """The field labels of this form and its nested forms (to line forms up)."""
        return self.labels + [lab for sub in self._subforms.values() for lab in sub.all_labels()]

    def subform(self, name: str) -> "SpecForm":
        return self._subforms[name]

    # --- reading and writing ------------------------------------------------------------
    def value(self, name: str) -> Any:
        kind, optional, _ = self._kinds[name]
        w = self._fields[name]
        if kind == "bool":
            return w.isChecked()
        if kind == "choice":
            return w.currentData()
        if kind in ("int", "float"):
            if optional and w.value() == w.minimum():
                return None
            return int(w.value()) if kind == "int" else float(w.value())
        if kind == "str":
            text = w.text().strip()
            return None if optional and not text else text
        if kind == "int_list":
            return [int(p) for p in re.split(r"[\s,]+", w.text().strip()) if re.fullmatch(r"-?\d+", p)]
        if optional and not w.isChecked():
            return None
        return self._subforms[name].values()

    def values(self) -> dict[str, Any]:
        return {name: self.value(name) for name in self._fields}

    def set_values(self, values: dict[str, Any]) -> None:
        """Show `values` (missing keys: the model's defaults) without emitting `changed`."""
        self._updating = True
        try:
            for name, (kind, optional, ann) in self._kinds.items():
                info = self.model.model_fields[name]
                v = values[name] if name in values else info.get_default(call_default_factory=True)
                if isinstance(v, BaseModel):
                    v = v.model_dump(mode="json")
                w = self._fields[name]
                if w.hasFocus() and kind != "model" and self.value(name) == v:
                    continue  # keep what the user is typing ("0." for 0)
                self._show(name, kind, optional, w, v)
        finally:
            self._updating = False

    def _show(self, name: str, kind: str, optional: bool, w: Any, v: Any) -> None:
        if kind == "bool":
            w.setChecked(bool(v))
        elif kind == "choice":
            w.setCurrentIndex(max(0, w.findData(v)))
        elif kind in ("int", "float"):
            w.setValue(w.minimum() if v is None else v)
        elif kind == "str":
            w.setText("" if v is None else str(v))
        elif kind == "int_list":
            w.setText(", ".join(str(x) for x in (v or [])))
        else:
            if optional:
                w.setChecked(v is not None)
            self._subforms[name].set_values(v or {})

    def _emit(self) -> None:
        if not self._updating:
            self.changed.emit(self.values())


def align_labels(labels: list[QLabel]) -> None:
    """Give labels of several forms one width, so their fields start in one column."""
    width = max((lab.sizeHint().width() for lab in labels), default=0)
    for lab in labels:
        lab.setMinimumWidth(width)


def _none_label(info: FieldInfo) -> str:
    """What an optional field's empty state reads: "auto" when its description
    names a default ("(default: cross-entropy for ...)"), else "none"."""
    return "auto" if "(default" in (info.description or "") else NONE_TEXT
