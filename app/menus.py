"""File handling behind the File menu: new, the template gallery, open, save, recent
files, export as Python, and the unsaved-changes prompt.

Every operation has a path-taking method (`open_path`, `save_to`,
`export_to`) that tests and drops call directly; the dialog methods only ask
for the path. Problems are reported through `message` (the status bar),
never in a dialog.
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QFileDialog, QMenu, QMessageBox, QWidget

from app.settings import Settings
from app.state import AppState
from engine.spec import RunSpec, SpecError, load_spec, save_spec

SPEC_FILTER = "Run specs (*.json);;All files (*)"
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "resources" / "templates"


def templates() -> list[tuple[str, Path]]:
    """(title, path) of each bundled template, by title."""
    out = []
    for path in sorted(TEMPLATES_DIR.glob("*.json")):
        try:
            name = json.loads(path.read_text(encoding="utf-8")).get("name") or path.stem
        except (OSError, ValueError, AttributeError):
            name = path.stem
        out.append((str(name), path))
    return sorted(out)


def class_name_for(spec_name: str) -> str:
    """'digits-cnn' -> 'DigitsCnn': a Python class name from a run name."""
    words = re.findall(r"[A-Za-z0-9]+", spec_name)
    name = "".join(w[:1].upper() + w[1:] for w in words) or "Net"
    return name if name[0].isalpha() else "Net" + name


class FileController(QObject):
    message = Signal(str)
    """Something to tell the user in the status bar (saved, could not open, ...)."""
    recent_changed = Signal(list)
    """The recent files changed (payload: list of paths, newest first)."""

    def __init__(self, state: AppState, settings: Settings, window: QWidget):
        super().__init__(window)
        self.state, self.settings, self.window = state, settings, window
        self.gallery: Optional[QDialog] = None

    # --- documents ----------------------------------------------------------------
    def new_spec(self) -> bool:
        if not self.confirm_discard():
            return False
        self._set_document(RunSpec(), None)
        self.message.emit("New spec: add blocks on the Build page.")
        return True

    def new_from_template(self, path: str | Path) -> bool:
        if not self.confirm_discard():
            return False
        try:
            spec = load_spec(path)
        except SpecError as e:
            self.message.emit(f"Template {Path(path).name} is broken: {'; '.join(e.errors)}")
            return False
        self._set_document(spec, None)
        self.message.emit(f"New spec from the template {spec.name!r}.")
        return True

    def open_path(self, path: str | Path, *, ask: bool = True) -> bool:
        if ask and not self.confirm_discard():
            return False
        path = os.path.abspath(path)
        try:
            spec = load_spec(path)
        except SpecError as e:
            self.message.emit(f"Could not open {Path(path).name}: {'; '.join(e.errors)}")
            if not os.path.exists(path):
                self.settings.remove_recent(path)
                self.recent_changed.emit(self.settings.recent_files())
            return False
        self._set_document(spec, path)
        self._remember(path)
        self.message.emit(f"Opened {path}")
        return True

    def save(self) -> bool:
        return self.save_to(self.state.path) if self.state.path else self.save_as()

    def save_to(self, path: str | Path) -> bool:
        path = os.path.abspath(path)
        try:
            save_spec(self.state.spec, path)
        except OSError as e:
            self.message.emit(f"Could not save {path}: {e.strerror or e}")
            return False
        self.state.set_path(path)
        self.state.set_dirty(False)
        self._remember(path)
        self.message.emit(f"Saved {path}")
        return True

    def export_to(self, path: str | Path) -> bool:
        """Write the model as a standalone PyTorch module (engine.model.export_python)."""
        from app.errors import error_text
        from engine.data import dataset_info
        from engine.model import export_python

        spec = self.state.spec
        try:
            info = dataset_info(spec.data, spec.seed)
            source = export_python(spec.model, tuple(info.input_shape), class_name=class_name_for(spec.name))
            Path(path).write_text(source, encoding="utf-8")
        except OSError as e:
            self.message.emit(f"Could not write {path}: {e.strerror or e}")
            return False
        except Exception as e:  # the model or dataset is not usable: say why, in its words
            self.message.emit("Cannot export yet: " + error_text(e))
            return False
        self.message.emit(f"Exported {Path(path).name}")
        return True

    # --- dialogs ------------------------------------------------------------------------
    def open_dialog(self) -> bool:
        if not self.confirm_discard():
            return False
        path, _ = QFileDialog.getOpenFileName(self.window, "Open run spec", self._folder(), SPEC_FILTER)
        return bool(path) and self.open_path(path, ask=False)

    def save_as(self) -> bool:
        suggested = self.state.path or os.path.join(self._folder(), f"{self.state.spec.name}.json")
        path, _ = QFileDialog.getSaveFileName(self.window, "Save run spec", suggested, SPEC_FILTER)
        if not path:
            return False
        if not path.endswith(".json"):
            path += ".json"
        return self.save_to(path)

    def export_dialog(self) -> bool:
        if self.state.path:
            base = os.path.splitext(self.state.path)[0]
        else:
            base = os.path.join(self._folder(), self.state.spec.name)
        path, _ = QFileDialog.getSaveFileName(self.window, "Export model as Python", base + ".py",
                                              "Python files (*.py)")
        return bool(path) and self.export_to(path)

    def confirm_discard(self) -> bool:
        """True when there are no unsaved edits, or the user saved or dropped them."""
        if not self.state.dirty:
            return True
        name = os.path.basename(self.state.path) if self.state.path else "The new spec"
        box = QMessageBox(QMessageBox.Warning, "Unsaved changes", f"{name} has unsaved changes.",
                          QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, self.window)
        box.setInformativeText("Save them before going on?")
        box.setDefaultButton(QMessageBox.Save)
        answer = box.exec()
        if answer == QMessageBox.Save:
            return self.save()
        return answer == QMessageBox.Discard

    # --- menus ----------------------------------------------------------------------
    def gallery_dialog(self) -> bool:
        """The template gallery (app/template_gallery.py); True when a template was opened."""
        from app.template_gallery import TemplateGallery

        self.gallery = TemplateGallery(self.window)  # reachable while open (tests drive it)
        try:
            path = self.gallery.chosen_path if self.gallery.exec() else None
        finally:
            self.gallery.deleteLater()
            self.gallery = None
        return path is not None and self.new_from_template(path)

    def fill_recent_menu(self, menu: QMenu) -> None:
        menu.clear()
        recent = self.settings.recent_files()
        for i, path in enumerate(recent, start=1):
            action: QAction = menu.addAction(f"&{i % 10} {os.path.basename(path)}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _=False, p=path: self.open_path(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)

    # --- helpers ------------------------------------------------------------------------
    def _set_document(self, spec: RunSpec, path: str | None) -> None:
        self.state.set_path(path)
        self.state.set_spec(spec, dirty=False)
        self.state.set_dirty(False)
        self.settings.set_last_spec(path)

    def _remember(self, path: str) -> None:
        self.settings.set_last_spec(path)
        self.recent_changed.emit(self.settings.add_recent(path))

    def _folder(self) -> str:
        if self.state.path:
            return os.path.dirname(self.state.path)
        recent = self.settings.recent_files()
        return os.path.dirname(recent[0]) if recent else str(Path.home())
