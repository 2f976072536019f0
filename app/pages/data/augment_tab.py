"""The Data page's Augmentation tab: the form (left) and the preview grid of
the same training samples drawn several times (right). It edits
`spec.data.augment` through the page, which owns the spec."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QScrollArea, QVBoxLayout, QWidget

from app.pages.data.augment_form import AugmentForm
from app.pages.data.augment_preview import AugmentPreview
from engine.spec_augment import AUGMENTS


class AugmentTab(QWidget):
    changed = Signal(list)
    """data.augment as the form now has it (spec dicts)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("data_augment")
        self.form = AugmentForm()
        self.preview = AugmentPreview()
        note = QLabel("Applied to the training split only, in batches on the training device, seeded by the run "
                      "seed. Shifts and erased areas are filled with the training mean.")
        note.setWordWrap(True)
        note.setStyleSheet("color: #666;")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setWidget(self.form)
        left = QVBoxLayout()
        left.addWidget(note)
        left.addWidget(scroll, 1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(left, 3)
        layout.addWidget(self.preview, 4, Qt.AlignTop)
        self.form.changed.connect(self._on_form)

    def show_data(self, samples: list[Any], kind: str, transforms: list[Any], seed: int) -> None:
        """A loaded dataset's preview samples (own units) and the spec's transforms."""
        self.form.set_kind(kind)
        self.form.set_transforms(transforms)
        xs = [x for x, _ in samples]
        self.preview.show_samples(xs, kind, transforms, seed)

    def set_transforms(self, transforms: list[Any]) -> None:
        """The spec changed elsewhere (a file opened): show its transforms."""
        self.form.set_transforms(transforms)
        self.preview.set_transforms(transforms)

    def _on_form(self, raw: list[dict]) -> None:
        self.preview.set_transforms([AUGMENTS[d["type"]].model_validate(d) for d in raw])
        self.changed.emit(raw)
