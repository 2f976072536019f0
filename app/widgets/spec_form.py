"""Forms generated from pydantic models (the run spec's sections).

Each field of the model becomes one widget, chosen from its annotation:
bool -> check box, Literal -> combo, int -> spin box, float -> spin box that
shows 1e-05 as written, str -> line edit, list[int] -> "30, 60" line edit,
a nested model -> a group, an Optional nested model -> a checkable group
(unchecked = None). Ranges come from the field's ge/gt/le/lt, tooltips from
its description, and an Optional number has an empty state ("none", one
step below its minimum). So adding an option to the engine is one line
there and nothing here.

Every edit emits `changed(values)` with the whole form's values;
`set_values` updates the fields without emitting.
"""
from __future__ import annotations

import types
import typing
from typing import Any, Iterable, Literal, Optional, Union

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.widgets.form_fields import NONE_TEXT, FieldDesc, FloatSpinBox, field_label, make_widget, read_value, show_value

WIDGET_KINDS = {"str": "text", "int_list": "numbers"}  # field_kind's names that differ from form_fields'


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


def describe(info: FieldInfo, kind: str, optional: bool, ann: Any) -> FieldDesc:
    """A pydantic field (not a nested model) as a form field; open bounds sit a hair inside,
    since spin boxes have closed ranges."""
    b = _bounds(info)
    none_text = _none_label(info) if optional else ""
    if kind == "int":
        lo = b["ge"] if "ge" in b else (b["gt"] + 1 if "gt" in b else None)
        hi = b["le"] if "le" in b else (b["lt"] - 1 if "lt" in b else None)
        return FieldDesc("int", info.description or "", none_text, lo, hi)
    if kind == "float":
        lo = b["ge"] if "ge" in b else (b["gt"] + 1e-12 if "gt" in b else None)
        hi = b["le"] if "le" in b else (b["lt"] - 1e-9 if "lt" in b else None)
        return FieldDesc("float", info.description or "", none_text, lo, hi, none_at=b.get("gt"),
                         default=info.default)
    placeholder = "e.g. 30, 60" if kind == "int_list" else none_text
    choices = typing.get_args(ann) if kind == "choice" else ()
    return FieldDesc(WIDGET_KINDS.get(kind, kind), info.description or "", none_text, choices=choices,
                     placeholder=placeholder)


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
        self._descs: dict[str, FieldDesc] = {}  # every field but nested models
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
            if kind[0] == "model":
                widget = self._group(name, info, kind[1], kind[2])
                self._layout.addRow(widget)
            else:
                self._descs[name] = describe(info, *kind)
                widget = make_widget(self._descs[name], lambda *_: self._emit())
                if isinstance(widget, (QSpinBox, QComboBox, FloatSpinBox)):
                    guard_wheel(widget)
                label = field_label(label_for(name), widget)
                self.labels.append(label)
                self._layout.addRow(label, widget)
            widget.setObjectName(f"field_{name}")
            self._fields[name] = widget
        self.set_values(values or {})

    def _group(self, name: str, info: FieldInfo, optional: bool, model: type[BaseModel]) -> QGroupBox:
        """A nested model: a group with its own form, checkable when the model is optional."""
        group = QGroupBox(label_for(name))
        group.setToolTip(info.description or "")
        box = QVBoxLayout(group)
        sub = SpecForm(model, exclude=(), parent=group)
        sub.changed.connect(lambda *_: self._emit())
        box.addWidget(sub)
        self._subforms[name] = sub
        if optional:
            group.setCheckable(True)
            group.toggled.connect(lambda *_: self._emit())
        return group

    def field(self, name: str) -> QWidget:
        """The widget of a field (nested: 'early_stopping.patience')."""
        head, _, rest = name.partition(".")
        return self._subforms[head].field(rest) if rest else self._fields[head]

    def all_labels(self) -> list[QLabel]:
        """The field labels of this form and its nested forms (to line forms up)."""
        return self.labels + [lab for sub in self._subforms.values() for lab in sub.all_labels()]

    def subform(self, name: str) -> "SpecForm":
        return self._subforms[name]

    def described_fields(self) -> list[tuple[str, FieldDesc, QWidget]]:
        """(dotted name, description, widget) of every field, nested forms' too
        (what "Sweep this" attaches to)."""
        out = [(name, desc, self._fields[name]) for name, desc in self._descs.items()]
        for name, sub in self._subforms.items():
            out += [(f"{name}.{n}", d, w) for n, d, w in sub.described_fields()]
        return out

    # --- reading and writing ------------------------------------------------------------
    def value(self, name: str) -> Any:
        kind, optional, _ = self._kinds[name]
        w = self._fields[name]
        if kind != "model":
            v = read_value(self._descs[name], w)
            return [] if v is None and kind == "int_list" and not optional else v
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
        if kind != "model":
            show_value(self._descs[name], w, v)
            return
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
