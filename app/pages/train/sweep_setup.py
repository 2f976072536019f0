"""The Train page's side of sweeps: "Sweep this…" on every numeric and choice
field of its settings, the "Sweep…" button and its dialog, and launching
the sweep through the app's SweepLauncher (app.sweep_launcher).

The parameters live in the shared SweepDraft, so the Build page's inspector
adds block parameters to the same sweep. The page only places the button
and calls `shutdown()` when it closes.
"""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QPushButton, QStyle

from app.background import Background
from app.pages.train.sweep_dialog import SweepDialog
from app.sweep_draft import bring_to_front, get_draft
from app.sweep_launcher import get_launcher
from app.widgets.form_fields import FieldDesc
from app.widgets.sweep_action import attach_sweep_action, attach_sweep_actions
from engine.formatting import metric as fmt_metric

PRUNE_CHECK_MS = 1500  # a supervisor marks a stopped trial pruned right after its worker ends it


class SweepSetup(QObject):
    def __init__(self, page: Any):
        super().__init__(page)
        self.page = page
        self.draft = get_draft(page.state)
        self.launcher = get_launcher(page.state)
        self.dialog: Optional[SweepDialog] = None
        self.button = QPushButton("Sweep…")
        self.button.setObjectName("sweep_button")
        self.button.setIcon(page.style().standardIcon(QStyle.StandardPixmap.SP_FileDialogDetailedView))
        self.button.setToolTip("Turn the current spec into a hyperparameter sweep: right-click a setting "
                               "(or a block parameter on the Build page) ▸ Sweep this…, then launch here")
        self.button.setMinimumHeight(32)
        self.button.clicked.connect(self.open_dialog)
        self.draft.requested.connect(self.open_dialog)
        self.draft.changed.connect(self._update_button)
        settings = page.settings
        for section in (settings.optimizer, settings.scheduler):
            section.changed.connect(self.attach)  # a new type brings new fields
        self.launcher.started.connect(self._on_started)
        self.launcher.failed.connect(self._on_failed)
        self.launcher.trial_finished.connect(self._on_trial)
        self.launcher.note.connect(lambda sid, text: page.state.status_message.emit(f"Sweep {sid}: {text}"))
        self.launcher.finished.connect(self._on_finished)
        page.bridge.finished.connect(self._on_run_finished)
        self._reads = Background(self, name="layerdeck-sweep-status")
        self._store: Any = None
        self.attach()
        self._update_button()

    def attach(self) -> None:
        """'Sweep this…' on every sweepable field of the settings (new ones after a type change)."""
        s = self.page.settings
        attach_sweep_actions(s.run_form.described_fields(), "", self.add)
        attach_sweep_actions(s.regularization.described_fields(), "regularization.", self.add)
        attach_sweep_actions(s.training.described_fields(), "training.", self.add)
        for section, prefix in ((s.optimizer, "optimizer."), (s.scheduler, "scheduler.")):
            choices = tuple(section.classes) if prefix == "optimizer." else ()
            if choices:  # the optimizer's type is worth sweeping; the scheduler's changes its fields
                attach_sweep_action(section.combo, f"{prefix}type", FieldDesc("choice", choices=choices), self.add)
            if section.form is not None:
                attach_sweep_actions(section.form.described_fields(), prefix, self.add)

    def add(self, path: str, domain: dict[str, list[Any]]) -> None:
        """'Sweep this…' was chosen: add the parameter and show the dialog."""
        added = self.draft.add(path, domain)
        self.page.state.status_message.emit(f"{path} added to the sweep" if added else f"{path} is already swept")
        self.open_dialog()

    def open_dialog(self) -> SweepDialog:
        if self.dialog is None:
            self.dialog = SweepDialog(self.draft, lambda: self.page.settings.spec_dict(), self.page)
            self.dialog.launch_requested.connect(self._launch)
        self.dialog.refresh_base()
        bring_to_front(self.dialog)
        return self.dialog

    def _update_button(self) -> None:
        n = len(self.draft.params)
        self.button.setText(f"Sweep… ({n})" if n else "Sweep…")

    # --- launching ------------------------------------------------------------------------------
    def _launch(self, document: dict[str, Any]) -> None:
        if self.dialog is not None:
            self.dialog.launch_button.setEnabled(False)
            self.dialog.note.setText("Starting the sweep…")
        self.launcher.launch(document)

    def _on_started(self, sweep_id: int, name: str) -> None:
        self.page.state.status_message.emit(f"Sweep {sweep_id} ({name}) started: its trials appear in the run "
                                            f"list as they launch; Runs ▸ Sweeps shows its progress")
        self.page.state.runs_changed.emit()
        if self.dialog is not None:
            self.dialog.note.setText("")
            self.dialog.close()

    def _on_failed(self, message: str) -> None:
        self.page.state.status_message.emit(message)
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.note.setText("")
            self.dialog.show_problem(message)
            self.dialog.launch_button.setEnabled(True)

    def _on_trial(self, sweep_id: int, result: Any) -> None:
        # A pruned trial's worker ends it "stopped" and the supervisor then marks it pruned:
        # the run list heard the worker's word first.
        row = self.page.runs.row(result.run_id) if result.run_id else None
        if row is not None and result.status == "pruned" and row.status != "pruned":
            self.page.runs.change(result.run_id, status="pruned")
        value = "" if result.value is None else f", {fmt_metric(result.value)}"
        self.page.state.status_message.emit(f"Sweep {sweep_id}: trial {result.number} {result.status}{value}")
        self.page.state.runs_changed.emit()

    def _on_run_finished(self, event: Any) -> None:
        """A sweep run elsewhere (`layerdeck sweep`) prunes a trial after its worker ended it
        stopped: look again a moment later, and show pruned if the supervisor said so."""
        if event.status != "stopped":
            return
        run_id = event.run_id
        QTimer.singleShot(PRUNE_CHECK_MS, lambda: self._reads.submit(
            lambda: self._read_status(run_id), lambda status: self._show_pruned(run_id, status), lambda m, t: None))

    def _read_status(self, run_id: int) -> str:
        from engine.store import RunStore

        if self._store is None:
            self._store = RunStore(self.page.state.store_url)
        return str(self._store.get_run(run_id).status)

    def _show_pruned(self, run_id: int, status: str) -> None:
        row = self.page.runs.row(run_id)
        if status == "pruned" and row is not None and row.status != "pruned":
            self.page.runs.change(run_id, status="pruned")

    def _on_finished(self, sweep_id: int, status: str) -> None:
        self.page.state.status_message.emit(f"Sweep {sweep_id} {status}")
        self.page.state.runs_changed.emit()
        self.page.notifier.notify(f"LayerDeck: sweep {status}", f"Sweep {sweep_id} {status}",
                                  failed=status == "failed")

    def shutdown(self) -> None:
        """The page closes: stop the sweeps run from this window (each trial saves a checkpoint)."""
        self.launcher.shutdown()
        self._reads.wait(2000)
        if self._store is not None:
            self._store.close()
