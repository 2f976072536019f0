"""The Data page's options: the chosen file and its target column, the
dataset's own options (generated from engine.data's Option table), the
split, normalization and seed. Every field's tooltip is the help text of the
DataSpec / RunSpec field or dataset option it edits.

The form only shows and reads values; the page turns them into a DataSpec.
Edits are reported as `changed()` (spin boxes on Enter, arrows or leaving
the field, not on each keystroke).
"""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.widgets.form_fields import FloatSpinBox
from engine.data.csv_file import read_header
from engine.data.dataset import DataError
from engine.data.files import DEFAULT_IMAGE_SIZE
from engine.spec import DataSpec, RunSpec

INT_LIMIT = 2**31 - 1


def field_help(name: str) -> str:
    """The description of a DataSpec field (seed: of RunSpec), for tooltips."""
    f = DataSpec.model_fields.get(name) or RunSpec.model_fields.get(name)
    return (f.description or "") if f is not None else ""


def csv_columns(path: str, delimiter: str = "auto") -> list[str]:
    """The header of a CSV file, read the way engine.data reads it; [] when unreadable
    (loading the file then says why)."""
    try:
        return read_header(Path(path).expanduser(), delimiter)[0]
    except (OSError, DataError, csv.Error):
        return []


class DataOptions(QWidget):
    changed = Signal()
    """The user edited a field; read the form with values()."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._quiet = False
        self._name = ""
        self._option_specs: dict[str, Any] = {}
        self._option_fields: dict[str, QWidget] = {}

        # File: what was opened, and what to take from it.
        self.file_box = QGroupBox("File")
        self.path_label = QLabel()
        self.path_label.setObjectName("data_path")
        self.path_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.path_label.setToolTip(field_help("path"))
        self.target = QComboBox()
        self.target.setObjectName("target_column")
        self.target.setToolTip(field_help("target"))
        self.target.currentIndexChanged.connect(self._emit)
        self.image_size = QSpinBox()
        self.image_size.setObjectName("image_size")
        self.image_size.setRange(0, 1024)
        self.image_size.setSpecialValueText(f"default ({DEFAULT_IMAGE_SIZE})")  # 0: the loader picks the size
        self.image_size.setSuffix(" px")
        self.image_size.setKeyboardTracking(False)
        self.image_size.setToolTip(field_help("image_size"))
        self.image_size.valueChanged.connect(self._emit)
        self._file_form = QFormLayout(self.file_box)
        self._file_form.addRow(_label("file", field_help("path")), self.path_label)
        self._file_form.addRow(_label("target", field_help("target")), self.target)
        self._file_form.addRow(_label("image size", field_help("image_size")), self.image_size)

        # The dataset's own options (n_samples, noise, delimiter, ...), rebuilt per dataset.
        self.options_box = QGroupBox("Options")
        self._options_form = QFormLayout(self.options_box)

        # Split, normalization, seed: shared by every dataset.
        self.split_box = QGroupBox("Split and scaling")
        self.val_fraction = _fraction_box("val_fraction")
        self.test_fraction = _fraction_box("test_fraction")
        self.val_fraction.valueChanged.connect(self._emit)
        self.test_fraction.valueChanged.connect(self._emit)
        self.test_note = QLabel()
        self.test_note.setObjectName("test_note")
        self.test_note.setWordWrap(True)
        dim = self.test_note.palette()
        dim.setColor(QPalette.WindowText, dim.color(QPalette.PlaceholderText))
        self.test_note.setPalette(dim)
        self.test_note.hide()
        self.normalize = QComboBox()
        self.normalize.setObjectName("normalize")
        self.normalize.setToolTip(field_help("normalize"))
        for value, tip in (("none", "Use the values as they are."),
                           ("standard", "Zero mean and unit variance per feature (per channel for images)."),
                           ("minmax", "Scale each feature (channel) to 0-1.")):
            self.normalize.addItem(value, value)
            self.normalize.setItemData(self.normalize.count() - 1, tip, Qt.ToolTipRole)
        self.normalize.currentIndexChanged.connect(self._emit)
        self.seed = QSpinBox()
        self.seed.setObjectName("seed")
        self.seed.setRange(0, INT_LIMIT)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip(field_help("seed"))
        self.seed.valueChanged.connect(self._emit)
        split = QFormLayout(self.split_box)
        split.addRow(_label("val fraction", field_help("val_fraction")), self.val_fraction)
        split.addRow(_label("test fraction", field_help("test_fraction")), self.test_fraction)
        split.addRow(self.test_note)
        split.addRow(_label("normalize", field_help("normalize")), self.normalize)
        split.addRow(_label("seed", field_help("seed")), self.seed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.file_box)
        layout.addWidget(self.options_box)
        layout.addWidget(self.split_box)

    # --- public API ---------------------------------------------------------------
    def show_spec(self, data: DataSpec, seed: int, entry: Any, options: dict[str, Any],
                  columns: list[str] | None = None) -> None:
        """Show `data` without reporting changes. entry: its DatasetEntry; options:
        engine.data.dataset_options(name); columns: the CSV header, if any."""
        self._quiet = True
        try:
            if data.name != self._name:
                self._build_options(options)
                self._name = data.name
            is_file = entry.source == "file"
            self.file_box.setVisible(is_file)
            self._set_row_visible(self._file_form, self.target, data.name == "csv")
            self._set_row_visible(self._file_form, self.image_size, data.name == "image_folder")
            self.path_label.setText(Path(data.path).name if data.path else "none — use Open…")
            self.path_label.setToolTip(f"{data.path}\n\n{field_help('path')}" if data.path else field_help("path"))
            self.target.clear()
            for c in columns or []:
                self.target.addItem(c, c)
            if data.target and self.target.findData(data.target) < 0:
                self.target.addItem(data.target, data.target)
            self.target.setCurrentIndex(max(self.target.findData(data.target), 0) if data.target else -1)
            self.image_size.setValue(data.image_size or 0)
            for name, widget in self._option_fields.items():
                _show(widget, data.options.get(name, self._option_specs[name].default))
            self.val_fraction.setValue(data.val_fraction)
            self.test_fraction.setValue(data.test_fraction)
            self.normalize.setCurrentIndex(max(self.normalize.findData(data.normalize), 0))
            self.seed.setValue(seed)
        finally:
            self._quiet = False

    def values(self) -> dict[str, Any]:
        """The form as DataSpec fields (options: only those that differ from the default) plus seed."""
        options = {}
        for name, widget in self._option_fields.items():
            value = _read(widget)
            if value != self._option_specs[name].default:
                options[name] = value
        out: dict[str, Any] = {
            "val_fraction": round(self.val_fraction.value(), 6),
            "test_fraction": round(self.test_fraction.value(), 6),
            "normalize": self.normalize.currentData(),
            "options": options,
            "seed": self.seed.value(),
        }
        if self._name == "csv":
            out["target"] = self.target.currentData()
        if self._name == "image_folder":
            out["image_size"] = self.image_size.value() or None
        return out

    def set_own_test_split(self, own: bool, text: str = "") -> None:
        """A dataset with its own test set ignores test_fraction: grey it out and say so."""
        self.test_fraction.setEnabled(not own)
        self.test_note.setText(text)
        self.test_note.setVisible(own and bool(text))

    def set_ids_only(self, ids: bool) -> None:
        """Token ids are never normalized (engine.data.splits): grey the choice out and say why."""
        self.normalize.setEnabled(not ids)
        self.normalize.setToolTip("Token ids are never normalized: they index an Embedding's rows."
                                  if ids else field_help("normalize"))

    def option_field(self, name: str) -> QWidget:
        return self._option_fields[name]

    def fields(self) -> list[QWidget]:
        """Every input widget, for checks that each has a tooltip."""
        return [self.target, self.image_size, *self._option_fields.values(),
                self.val_fraction, self.test_fraction, self.normalize, self.seed]

    # --- internals ------------------------------------------------------------------
    def _build_options(self, options: dict[str, Any]) -> None:
        while self._options_form.rowCount():
            self._options_form.removeRow(0)
        self._option_specs = dict(options)
        self._option_fields = {}
        for name, opt in options.items():
            widget = _make_field(opt)
            widget.setObjectName(f"option_{name}")
            widget.setToolTip(opt.help)
            _connect(widget, self._emit)
            self._options_form.addRow(_label(name.replace("_", " "), opt.help), widget)
            self._option_fields[name] = widget
        self.options_box.setVisible(bool(options))

    @staticmethod
    def _set_row_visible(form: QFormLayout, field: QWidget, visible: bool) -> None:
        form.setRowVisible(field, visible)

    def _emit(self, *_: Any) -> None:
        if not self._quiet:
            self.changed.emit()


def _label(text: str, tip: str) -> QLabel:
    label = QLabel(text)
    label.setToolTip(tip)
    return label


def _fraction_box(name: str) -> FloatSpinBox:
    box = FloatSpinBox()
    box.setObjectName(name)
    box.setRange(0.0, 0.9)
    box.setSingleStep(0.05)
    box.setKeyboardTracking(False)
    box.setToolTip(field_help(name))
    return box


def _make_field(opt: Any) -> QWidget:
    d = opt.default
    if isinstance(d, bool):
        return QCheckBox()
    if isinstance(d, str):
        if opt.choices:
            combo = QComboBox()
            for c in opt.choices:
                combo.addItem({"\t": "tab"}.get(c, c), c)
            return combo
        edit = QLineEdit()
        edit.setPlaceholderText("none")
        return edit
    lo = -INT_LIMIT if opt.low is None else opt.low
    hi = INT_LIMIT if opt.high is None else opt.high
    if isinstance(d, int):
        spin = QSpinBox()
        spin.setRange(int(max(lo, -INT_LIMIT)), int(min(hi, INT_LIMIT)))
        spin.setSingleStep(max(1, 10 ** int(math.log10(max(abs(d), 1))) // 10) if d >= 100 else 1)
    else:
        spin = FloatSpinBox()
        spin.setRange(float(lo), float(hi))
        spin.setSingleStep(10 ** math.floor(math.log10(abs(d))) if d else 0.05)
    spin.setKeyboardTracking(False)
    return spin


def _connect(widget: QWidget, slot) -> None:
    if isinstance(widget, QCheckBox):
        widget.toggled.connect(slot)
    elif isinstance(widget, QComboBox):
        widget.currentIndexChanged.connect(slot)
    elif isinstance(widget, QLineEdit):
        widget.editingFinished.connect(slot)
    else:
        widget.valueChanged.connect(slot)


def _read(widget: QWidget) -> Any:
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, QLineEdit):
        return widget.text().strip()
    if isinstance(widget, QSpinBox):
        return int(widget.value())
    return float(widget.value())


def _show(widget: QWidget, value: Any) -> None:
    if isinstance(widget, QCheckBox):
        widget.setChecked(bool(value))
    elif isinstance(widget, QComboBox):
        i = widget.findData(value)
        if i < 0:
            widget.addItem(str(value), value)
            i = widget.count() - 1
        widget.setCurrentIndex(i)
    elif isinstance(widget, QLineEdit):
        widget.setText(str(value))
    else:
        widget.setValue(value)
