"""Export ▸ ONNX / PyTorch program / Python, for the current spec (the window's
Export menu) and for a selected run (the Runs page's Export button).

The export and its check run off the UI thread (engine/export); the result,
or what went wrong in words, comes back through `message` (the traceback
goes to the log). An ONNX or .pt2 export from a run keeps its check with the
run, as `layerdeck export --run` does.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from app.background import Background
from engine.spec import RunSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Format:
    key: str
    title: str  # the menu entry
    filter: str
    suffix: str
    tip: str


FORMATS = (
    Format("onnx", "&ONNX…", "ONNX models (*.onnx)", ".onnx",
           "ONNX with a dynamic batch size, checked in onnxruntime against PyTorch"),
    Format("pt2", "&PyTorch program…", "PyTorch programs (*.pt2)", ".pt2",
           "A torch.export program (.pt2), reloaded and checked against the model"),
    Format("python", "P&ython…", "Python files (*.py)", ".py",
           "Standalone PyTorch code (from a run: with its weights and an inference example)"),
)
BY_KEY = {f.key: f for f in FORMATS}


def export_now(fmt: str, path: str, *, spec: Optional[RunSpec] = None, run_id: Optional[int] = None,
               store_url: Optional[str] = None) -> str:
    """Export the spec (initial weights) or run (best weights) to `path`; the
    sentence to show. Raises ExportError (or the store's errors) in words."""
    from engine.export import ExportError, source

    note = ""
    if run_id is not None:
        from engine.spec import parse_spec
        from engine.store import RunStore

        with RunStore(store_url or "") as store:
            try:
                src = source.from_run(store, run_id)
            except ExportError as e:
                if fmt != "python":
                    raise
                # Code needs no weights: a run without usable ones (queued, failed early, its files
                # deleted) still exports its model, and the note says why the weights are missing.
                src = source.from_spec(parse_spec(store.get_run(run_id).spec))
                why = str(e)
                note = f" — code only, without weights: {why[:160] + '…' if len(why) > 160 else why}"
    else:
        assert spec is not None
        src = source.from_spec(spec)
    if fmt == "python":
        from app.menus import class_name_for
        from engine.export.python import export_python_files

        text = export_python_files(src, path, class_name_for(src.spec.name)).describe() + note
        return text[0].upper() + text[1:]
    if fmt == "onnx":
        from engine.export.onnx import export_onnx

        check = export_onnx(src, path)
    else:
        from engine.export.program import export_program

        check = export_program(src, path)
    if run_id is not None:
        from engine.export.store import keep_check
        from engine.store import RunStore

        with RunStore(store_url or "") as store:
            keep_check(store, run_id, check)
    if not check.passed:
        raise ExportError(f"the export disagrees with PyTorch: {check.error} (file kept at {path})")
    return check.describe()[0].upper() + check.describe()[1:]


def add_export_menu(parent: QMenu | Any, on_pick: Callable[[str], None]) -> QMenu:
    """An Export menu (or submenu of `parent`) whose entries call on_pick(format key)."""
    menu = parent.addMenu("E&xport") if hasattr(parent, "addMenu") else QMenu("Export", parent)
    for f in FORMATS:
        action = menu.addAction(f.title)
        action.setStatusTip(f.tip)
        action.setToolTip(f.tip)
        action.setObjectName(f"export_{f.key}")
        action.triggered.connect(lambda _=False, key=f.key: on_pick(key))
    return menu


class Exporter(QObject):
    """Asks where to write, then exports off the UI thread."""

    message = Signal(str)
    """A sentence for the user: exporting, or what was written and how the check went."""
    problem = Signal(str)
    """Why an export failed, in words (the traceback is in the log)."""
    finished = Signal(bool)
    """An export ended (True: written and, for ONNX and .pt2, checked)."""

    def __init__(self, window: QWidget, store_url: str):
        super().__init__(window)
        self.window, self.store_url = window, store_url
        self.worker = Background(self)

    def ask_path(self, fmt: str, name: str, folder: str = "") -> str:
        f = BY_KEY[fmt]
        suggested = os.path.join(folder or os.path.expanduser("~"), f"{name}{f.suffix}")
        path, _ = QFileDialog.getSaveFileName(self.window, f"Export as {f.title.strip('&…').replace('&', '')}",
                                              suggested, f.filter)
        if path and not path.endswith(f.suffix):
            path += f.suffix
        return path

    def spec_dialog(self, fmt: str, state: Any) -> None:
        """Export ▸ … in the window: the current spec (AppState), its initial weights."""
        spec = state.spec
        path = self.ask_path(fmt, spec.name, os.path.dirname(state.path) if state.path else "")
        if path:
            self.export_spec(fmt, spec, path)

    def run_dialog(self, fmt: str, run: Any) -> None:
        """Export ▸ … on the Runs page: the selected run's best weights."""
        path = self.ask_path(fmt, f"{run.name}-{run.id}")
        if path:
            self.export_run(fmt, run.id, path)

    def export_spec(self, fmt: str, spec: RunSpec, path: str) -> None:
        self.message.emit(f"Exporting {spec.name} to {os.path.basename(path)} and checking it…")
        self.worker.submit(lambda: export_now(fmt, path, spec=spec), self._done, self._failed)

    def export_run(self, fmt: str, run_id: int, path: str) -> None:
        self.message.emit(f"Exporting run #{run_id} to {os.path.basename(path)} and checking it…")
        url = self.store_url
        self.worker.submit(lambda: export_now(fmt, path, run_id=run_id, store_url=url), self._done, self._failed)

    def _done(self, text: str) -> None:
        self.message.emit(text)
        self.finished.emit(True)

    def _failed(self, message: str, trace: str) -> None:
        log.error("export failed: %s\n%s", message, trace)
        self.problem.emit(f"Export failed: {message}")
        self.finished.emit(False)
