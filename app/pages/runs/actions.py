"""What a person can do with selected runs: rename, tag, star, delete,
resume from the last checkpoint, clone into the builder, export metrics as
CSV and the model as ONNX, a PyTorch program or Python (app/export_actions.py).

Slow work (deleting metrics, exporting, loading a dataset for its input
shape) runs on the page's worker; every failure is said in words on the
page, never as a traceback dialog.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QCursor, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMenu, QMessageBox

from app.export_actions import Exporter
from engine.spec import SpecError, parse_spec
from engine.status import LIVE, RESUMABLE


class RunActions(QObject):
    def __init__(self, page: Any):
        super().__init__(page)
        self.page = page

        def act(text: str, slot: Callable[[], None], tip: str, shortcut: Optional[str] = None) -> QAction:
            a = QAction(text, page)
            a.setToolTip(tip)
            a.triggered.connect(lambda _checked=False: slot())
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.WidgetWithChildrenShortcut)  # only while the page has focus
                page.addAction(a)
            return a

        self.rename_action = act("Rename…", self.rename, "Rename the selected run (F2)", "F2")
        self.tag_action = act("Tag…", self.add_tags, "Add tags to the selected runs")
        self.star_action = act("Star", lambda: self.toggle_star(self.page.selected_ids()),
                               "Star or unstar the selected runs")
        self.resume_action = act("Resume", self.resume,
                                 "Continue the selected stopped or crashed run from its last checkpoint "
                                 "(a new run, linked to this one)")
        self.clone_action = act("Clone into builder", self.clone,
                                "Open this run's spec in the builder to edit and re-run it")
        self.csv_action = act("Export CSV…", self.export_csv, "Write the run's metrics to a CSV file")
        self.python_action = act("Export Python…", lambda: self.export("python"),
                                 "Write the run's model as standalone PyTorch code, its best weights beside it "
                                 "and an inference example")
        self.onnx_action = act("Export ONNX…", lambda: self.export("onnx"),
                               "Write the run's best weights as ONNX, checked in onnxruntime against PyTorch")
        self.pt2_action = act("Export PyTorch program…", lambda: self.export("pt2"),
                              "Write the run's best weights as a torch.export program (.pt2), reloaded and checked")
        self.export_menu = QMenu(page)
        for a in (self.onnx_action, self.pt2_action, self.python_action):
            self.export_menu.addAction(a)
        self.export_action = act("Export ▾", lambda: self.export_menu.exec(QCursor.pos()),
                                 "Export the selected run's model: ONNX, PyTorch program or Python")
        self.exporter = Exporter(page, page.state.store_url)
        self.exporter.message.connect(page.show_info)
        self.exporter.problem.connect(page.show_error)
        self.delete_action = act("Delete…", self.delete, "Delete the selected runs and their checkpoint files (Del)",
                                 "Del")
        self.update_enabled([])

    def toolbar_actions(self) -> list[QAction]:
        return [self.rename_action, self.tag_action, self.star_action, self.resume_action, self.clone_action,
                self.csv_action, self.export_action, self.delete_action]

    def update_enabled(self, runs: Sequence[Any]) -> None:
        one = len(runs) == 1
        for a in (self.rename_action, self.clone_action, self.csv_action, self.export_action, self.python_action,
                  self.onnx_action, self.pt2_action):
            a.setEnabled(one)
        for a in (self.tag_action, self.star_action, self.delete_action):
            a.setEnabled(bool(runs))
        # As `layerdeck train --resume`: stopped and crashed runs continue; a
        # failed one (NaN loss, bad spec) would fail again the same way.
        self.resume_action.setEnabled(one and runs[0].status in RESUMABLE)
        self.star_action.setText("Unstar" if runs and all(r.starred for r in runs) else "Star")

    # helpers ------------------------------------------------------------------------
    def _current(self) -> Optional[Any]:
        runs = self.page.selected_runs()
        return runs[0] if len(runs) == 1 else None

    def _in_background(self, fn: Callable[[], Any], done: Callable[[Any], None], what: str) -> None:
        self.page.worker.submit(fn, done, lambda msg, _tb: self.page.show_error(f"{what} failed: {msg}"))

    def _changed(self, run_ids: Sequence[int]) -> None:
        """Re-read just these runs here, and tell the other views the history changed."""
        self.page.refresh_runs(list(run_ids))
        self.page.announce_change()

    # simple edits --------------------------------------------------------------------
    def rename(self) -> None:
        run = self._current()
        if run is None:
            return
        name, ok = QInputDialog.getText(self.page, "Rename run", f"New name for run #{run.id}:", text=run.name)
        if not ok or not name.strip() or name.strip() == run.name:
            return
        self.page.store().rename(run.id, name.strip())
        self._changed([run.id])

    def add_tags(self) -> None:
        runs = self.page.selected_runs()
        if not runs:
            return
        text, ok = QInputDialog.getText(self.page, "Tag runs",
                                        f"Tags to add to {len(runs)} run(s), comma-separated:")
        new = [t.strip() for t in text.split(",") if t.strip()] if ok else []
        if not new:
            return
        store = self.page.store()
        for r in runs:
            store.set_tags(r.id, list(dict.fromkeys([*r.tags, *new])))
        self._changed([r.id for r in runs])

    def save_tags(self, run_id: int, tags: list) -> None:
        self.page.store().set_tags(run_id, tags)
        self._changed([run_id])

    def save_notes(self, run_id: int, text: str) -> None:
        # Notes are saved quietly: a full reload per pause in typing would be noise.
        self.page.store().set_notes(run_id, text)

    def toggle_star(self, run_ids: list[int]) -> None:
        runs = [r for r in self.page.selected_runs() if r.id in run_ids] or [
            row.run for row in self.page.model.rows if row.run_id in run_ids]
        if not runs:
            return
        star = not all(r.starred for r in runs)
        store = self.page.store()
        for r in runs:
            store.set_starred(r.id, star)
        self._changed([r.id for r in runs])

    # delete ---------------------------------------------------------------------------
    def delete(self) -> None:
        runs = self.page.selected_runs()
        if not runs:
            return
        active = [r for r in runs if r.status in LIVE]
        if active:
            self.page.show_error(f"Run #{active[0].id} is {active[0].status}: stop it on the Train page "
                                 "before deleting it.")
            return
        what = f"run #{runs[0].id} “{runs[0].name}”" if len(runs) == 1 else f"{len(runs)} runs"
        answer = QMessageBox.question(
            self.page, "Delete runs",
            f"Delete {what}, its metrics and its checkpoint files? This cannot be undone.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer != QMessageBox.Yes:
            return
        ids = [r.id for r in runs]

        def work() -> int:
            store = self.page.store()
            for rid in ids:
                store.delete_run(rid, delete_files=True)
            return len(ids)

        def done(n: int) -> None:
            self.page.show_info(f"Deleted {n} run{'s' if n != 1 else ''} and {'their' if n != 1 else 'its'} files.")
            self._changed(ids)
        self._in_background(work, done, "Deleting")

    # clone and resume -----------------------------------------------------------------
    def clone(self) -> None:
        run = self._current()
        if run is None:
            return
        try:
            spec = parse_spec(run.spec, f"run #{run.id}")
        except SpecError as e:
            self.page.show_error(f"Run #{run.id}'s spec no longer loads: {'; '.join(e.errors)}")
            return
        self.page.state.set_spec(spec)
        self.page.state.page_requested.emit("build")
        self.page.state.status_message.emit(f"Cloned run #{run.id} into the builder: edit it and launch.")

    def resume(self) -> None:
        run = self._current()
        if run is None:
            return
        checkpoints = {c.kind: c for c in self.page.store().checkpoints(run.id)}
        ck = checkpoints.get("last") or checkpoints.get("best")
        if ck is None:
            self.page.show_error(f"Run #{run.id} saved no checkpoint before it ended, so it cannot be resumed: "
                                 "clone it into the builder and launch it again.")
            return
        if not Path(ck.path).exists():
            self.page.show_error(f"The last checkpoint of run #{run.id} is missing ({ck.path}): "
                                 "clone the run into the builder and launch it again.")
            return
        try:
            new_id = self._submit(run.spec, name=f"{run.name} (resumed)", parent_id=run.id, resume_from=ck.path)
        except (SpecError, ValueError, OSError, RuntimeError) as e:
            self.page.show_error(f"Could not resume run #{run.id}: {e}")
            return
        self.page.show_info(f"Resuming run #{run.id} from epoch {ck.epoch} as run #{new_id}.")
        self._changed([new_id])

    def _submit(self, spec: dict, **kwargs: Any) -> int:
        """Through the app's one bridge: the Train page shows the run live."""
        from app.bridge import get_bridge

        return get_bridge(self.page.state).submit(spec, **kwargs)

    # exports ----------------------------------------------------------------------------
    def export_csv(self) -> None:
        run = self._current()
        if run is None:
            return
        path, _ = QFileDialog.getSaveFileName(self.page, "Export metrics as CSV",
                                              f"run-{run.id}-{_slug(run.name)}.csv", "CSV files (*.csv)")
        if not path:
            return
        self._in_background(lambda: self.page.store().export_csv(run.id, path),
                            lambda n: self.page.show_info(f"Wrote {n:,} metric rows of run #{run.id} to {path}."),
                            "Exporting metrics")

    def export(self, fmt: str) -> None:
        """Export ▸ ONNX / PyTorch program / Python: the run's best weights (app/export_actions.py)."""
        run = self._current()
        if run is not None:
            self.exporter.run_dialog(fmt, run)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
