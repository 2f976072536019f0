"""The augmentation form: a checkbox and its ranges per transform, as MATLAB's
imageDataAugmenter lists them, generated from the transforms' pydantic
models (engine/spec_augment.py): a [low, high] field is two spin boxes, a
number one, `p` the chance a sample gets it. Only transforms that fit the
dataset's kind are shown. A checked row whose values do not validate says
why beside it and is left out until fixed.
"""
from __future__ import annotations

import typing
from typing import Any, Optional

from pydantic import ValidationError
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from engine.spec_augment import AUGMENTS, KINDS, MIXING, TITLES

ERROR_STYLE = "color: #c82828;"


def _is_range(annotation: Any) -> bool:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    return typing.get_origin(base) is tuple


def _is_int(annotation: Any) -> bool:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated else annotation
    if typing.get_origin(base) is tuple:
        return typing.get_args(base)[0] is int
    return base is int


def _spin(is_int: bool, value: float, tip: str) -> QAbstractSpinBox:
    box: QAbstractSpinBox
    if is_int:
        box = QSpinBox()
        box.setRange(-10_000, 10_000)
        box.setValue(int(value))
    else:
        box = QDoubleSpinBox()
        box.setDecimals(3)
        box.setRange(-1_000.0, 1_000.0)
        box.setSingleStep(0.05)
        box.setValue(float(value))
    box.setToolTip(tip)
    box.setKeyboardTracking(False)
    box.setFixedWidth(72)
    return box


class _Row:
    """One transform: its checkbox and a spin box (or two, for a range) per field."""

    def __init__(self, key: str, grid: QGridLayout, row: int, on_change: Any):
        self.key = key
        model = AUGMENTS[key]
        default = model()
        self.check = QCheckBox(TITLES[key])
        self.check.setObjectName(f"augment_{key}")
        self.check.setToolTip((model.__doc__ or TITLES[key]).strip().splitlines()[0])
        self.check.toggled.connect(on_change)
        self.fields: dict[str, list[QAbstractSpinBox]] = {}
        params = QGridLayout()  # two fields a line; one when there are more, so all stay in view
        params.setHorizontalSpacing(12)
        params.setVerticalSpacing(2)
        named = [(n, f) for n, f in model.model_fields.items() if n != "type"]
        per_line = 2 if len(named) <= 2 else 1
        for i, (name, info) in enumerate(named):
            tip = info.description or name
            value = getattr(default, name)
            is_int = _is_int(info.annotation)
            field = QHBoxLayout()
            field.setSpacing(4)
            label = QLabel("chance" if name == "p" else name.replace("_", " "))
            label.setToolTip(tip)
            label.setMinimumWidth(62)
            field.addWidget(label)
            boxes = ([_spin(is_int, value[0], tip + " (low)"), _spin(is_int, value[1], tip + " (high)")]
                     if _is_range(info.annotation) else [_spin(is_int, value, tip)])
            for k, box in enumerate(boxes):
                if k:
                    field.addWidget(QLabel("–"))
                field.addWidget(box)
                box.setObjectName(f"augment_{key}_{name}_{k}")
                box.valueChanged.connect(on_change)
            field.addStretch(1)
            params.addLayout(field, i // per_line, i % per_line)
            self.fields[name] = boxes
        params.setColumnStretch(2, 1)
        self.params = QWidget()
        self.params.setLayout(params)
        self.problem = QLabel()
        self.problem.setStyleSheet(ERROR_STYLE)
        self.problem.setWordWrap(True)
        self.problem.hide()
        # The checkbox on its line, its fields indented beneath it, any problem under them.
        params.setContentsMargins(22, 0, 0, 4)
        grid.addWidget(self.check, 3 * row, 0)
        grid.addWidget(self.params, 3 * row + 1, 0)
        grid.addWidget(self.problem, 3 * row + 2, 0)
        self.problem.setContentsMargins(22, 0, 0, 0)
        self.check.toggled.connect(self.params.setEnabled)
        self.params.setEnabled(False)

    def set_visible(self, visible: bool) -> None:
        for w in (self.check, self.params):
            w.setVisible(visible)
        if not visible:
            self.problem.hide()

    def raw(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.key}
        for name, boxes in self.fields.items():
            values = [b.value() for b in boxes]  # type: ignore[attr-defined]
            out[name] = values if len(values) == 2 else values[0]
        return out

    def show(self, transform: Optional[Any]) -> None:
        self.check.setChecked(transform is not None)
        source = transform or AUGMENTS[self.key]()
        for name, boxes in self.fields.items():
            value = getattr(source, name)
            values = list(value) if isinstance(value, tuple) else [value]
            for box, v in zip(boxes, values):
                box.setValue(v)  # type: ignore[attr-defined]


class AugmentForm(QWidget):
    changed = Signal(list)
    """The checked transforms that validate, as spec dicts in catalogue order (data.augment)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("augment_form")
        self._quiet = False
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(2)
        grid.setColumnStretch(0, 1)
        self.rows = {key: _Row(key, grid, i, self._emit) for i, key in enumerate(AUGMENTS)}
        self.empty = QLabel()
        self.empty.setObjectName("augment_empty")
        self.empty.setWordWrap(True)
        self.empty.hide()
        grid.addWidget(self.empty, 3 * len(self.rows), 0)
        grid.setRowStretch(3 * len(self.rows) + 1, 1)
        self.kind = "image"

    def set_kind(self, kind: str) -> None:
        """Show the transforms that fit this kind of data (engine/spec_augment.KINDS)."""
        self.kind = kind
        fits = [k for k in AUGMENTS if kind in KINDS[k]]
        for key, row in self.rows.items():
            row.set_visible(key in fits)
        self.empty.setVisible(not fits)
        self.empty.setText("Token ids name categories: no transform applies to them. Augment text upstream, "
                           "or choose another dataset." if not fits else "")

    def set_transforms(self, transforms: list[Any]) -> None:
        """Show a spec's data.augment (pydantic transforms) without emitting `changed`."""
        by_type = {t.type: t for t in transforms}
        self._quiet = True
        try:
            for key, row in self.rows.items():
                row.show(by_type.get(key))
                row.problem.hide()
        finally:
            self._quiet = False

    def transforms(self) -> list[dict[str, Any]]:
        """Checked, shown and valid rows as spec dicts; invalid ones say why on their row."""
        out = []
        for key, row in self.rows.items():
            if not row.check.isChecked() or row.check.isHidden() or self.kind not in KINDS[key]:
                row.problem.hide()
                continue
            raw = row.raw()
            try:
                AUGMENTS[key].model_validate(raw)
            except ValidationError as e:
                err = e.errors()[0]
                where = ".".join(str(p) for p in err["loc"])
                row.problem.setText(f"{where}: {str(err['msg']).removeprefix('Value error, ')}")
                row.problem.show()
                continue
            row.problem.hide()
            out.append(raw)
        return out

    def mixing(self) -> list[str]:
        return [t["type"] for t in self.transforms() if t["type"] in MIXING]

    def _emit(self, *_: Any) -> None:
        if not self._quiet:
            self.changed.emit(self.transforms())
