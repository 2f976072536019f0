"""The inspector: the selected block's parameters as a form generated from the
catalogue. Edits are reported at once; the page makes them undoable."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QVBoxLayout, QWidget

from app.pages.build.tree_ops import Path
from app.widgets.param_form import ParamForm
from app.widgets.sweep_action import attach_sweep_actions

WEIGHT_OPTIONS = ("trainable", "init")  # the per-block options (engine.blocks.BLOCK_OPTIONS) about weights
EMPTY_TEXT = ("Select a block in the model to edit its parameters.\n\n"
              "Add blocks from the palette: double-click one, select it and press Enter, or drag it into the model.")


class Inspector(QWidget):
    param_edited = Signal(object, str, object)
    """A field changed (payload: block path, parameter name, value)."""
    sweep_requested = Signal(str, dict)
    """'Sweep this…' on a field (payload: its run-spec path, e.g. model.blocks.1.out_features, and a
    suggested domain)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("inspector")
        self.title = QLabel()
        self.title.setObjectName("inspector_title")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.doc = QLabel()
        self.doc.setWordWrap(True)
        self.doc.setObjectName("inspector_doc")
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignTop | Qt.AlignLeft)
        self.empty.setObjectName("inspector_empty")
        self._scroll = QScrollArea()
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QScrollArea.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.doc)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self.empty, 1)
        self.form: ParamForm | None = None
        self._path: Path | None = None
        self._type: str | None = None
        self.show_block(None, None, "")

    @property
    def path(self) -> Path | None:
        return self._path

    def show_block(self, path: Path | None, block: dict[str, Any] | None, number: str,
                   weights: bool = False) -> None:
        """Show `block` (its spec dict) at `path`, or the empty state for None.

        weights: the block (or a container's blocks) has weights, so the per-block
        options apply too: trainable (freezing) and init (weight initialization)."""
        if block is None or path is None:
            self._path = self._type = None
            self.form = None
            self._scroll.takeWidget()
            for w in (self.title, self.doc, self._scroll):
                w.hide()
            self.empty.show()
            return
        from engine.blocks import BLOCK_OPTIONS, default_params, get_block_type

        bt = get_block_type(block["type"])
        values = {**default_params(block["type"]), **{k: v for k, v in block.items() if k not in ("type", "blocks")}}
        self.title.setText(f"{block['type']}  (block {number})")
        self.doc.setText(bt.doc)
        for w in (self.title, self.doc, self._scroll):
            w.show()
        self.empty.hide()
        kind = f"{block['type']}+options" if weights else block["type"]
        if self.form is not None and path == self._path and kind == self._type:
            self.form.set_values(values)  # same block: keep the fields (and the focus) in place
            return
        self._path, self._type = tuple(path), kind
        options = tuple(o for o in BLOCK_OPTIONS if o.name in WEIGHT_OPTIONS) if weights else ()
        self.form = ParamForm(bt.params + options, values)
        self.form.value_changed.connect(lambda name, value: self.param_edited.emit(self._path, name, value))
        attach_sweep_actions(self.form.described_fields(), spec_path(self._path),
                             lambda p, domain: self.sweep_requested.emit(p, domain))
        old = self._scroll.takeWidget()
        if old is not None:
            old.deleteLater()
        holder = QWidget()
        v = QVBoxLayout(holder)
        v.setContentsMargins(0, 6, 4, 0)
        v.addWidget(self.form)
        v.addStretch(1)
        self._scroll.setWidget(holder)


def spec_path(path: Path) -> str:
    """The run-spec path of a block's parameters: (3, 0) -> "model.blocks.3.blocks.0." (containers hold blocks)."""
    return "model." + "".join(f"blocks.{i}." for i in path)
