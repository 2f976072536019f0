"""The Train page's "LR finder…" and "Check before training…" buttons and
their dialogs (lr_finder.py, sanity_view.py). The page only places the row;
both probes run the current spec in their own process."""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QStyle

from app.pages.train.lr_finder import LRFinderDialog
from app.pages.train.sanity_view import SanityDialog
from app.sweep_draft import bring_to_front


class ProbeButtons(QObject):
    def __init__(self, page: Any, run: Any = None):
        """run: engine.training.probe_process.run_probe (tests may pass another)."""
        super().__init__(page)
        self.page = page
        self._run = run
        self.lr_dialog: Optional[LRFinderDialog] = None
        self.sanity_dialog: Optional[SanityDialog] = None
        style = page.style()
        self.lr_button = QPushButton("LR finder…")
        self.lr_button.setObjectName("lr_finder_button")
        self.lr_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_FileDialogContentsView))
        self.lr_button.setToolTip("Find a learning rate: ~100 steps with the rate growing from 1e-7 to 10, "
                                  "in its own process; the loss curve suggests one, 'Use this LR' sets it")
        self.lr_button.clicked.connect(self.open_lr_finder)
        self.sanity_button = QPushButton("Check before training…")
        self.sanity_button.setObjectName("sanity_button")
        self.sanity_button.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton))
        self.sanity_button.setToolTip("Seconds-long checks that catch a broken set-up: the initial loss, "
                                      "overfitting one batch, the loss with inputs zeroed")
        self.sanity_button.clicked.connect(self.open_sanity)
        self.row = QHBoxLayout()
        self.row.addWidget(self.lr_button, 1)
        self.row.addWidget(self.sanity_button, 1)

    def set_enabled(self, ok: bool, why: str = "") -> None:
        """Off while the spec cannot train (the reason is on the page already)."""
        for b in (self.lr_button, self.sanity_button):
            b.setEnabled(ok)

    def open_lr_finder(self) -> LRFinderDialog:
        if self.lr_dialog is None:
            self.lr_dialog = LRFinderDialog(self.page, run=self._run)
            self.lr_dialog.lr_chosen.connect(self._use_lr)
        self._show(self.lr_dialog)
        if not self.lr_dialog.job.running:
            self.lr_dialog.start(self.page.state.spec)
        return self.lr_dialog

    def open_sanity(self) -> SanityDialog:
        if self.sanity_dialog is None:
            self.sanity_dialog = SanityDialog(self.page, run=self._run)
        self._show(self.sanity_dialog)
        if not self.sanity_dialog.job.running:
            self.sanity_dialog.start(self.page.state.spec)
        return self.sanity_dialog

    def _show(self, dialog: Any) -> None:
        bring_to_front(dialog)

    def _use_lr(self, lr: float) -> None:
        state = self.page.state
        spec = state.spec
        state.set_spec(spec.copy_with(optimizer=spec.optimizer.model_copy(update={"lr": float(f"{lr:.3g}")})))
        state.status_message.emit(f"optimizer.lr set to {lr:.3g} from the LR finder")
