"""App-level state shared by pages: the spec being edited, its file, the
selected runs, the store. Pages never reach into each other's widgets; they
read and write this model and listen to its signals (docs/ARCHITECTURE.md, "The one-way flow").
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from engine.spec import RunSpec

if TYPE_CHECKING:
    from app.pages.monitor.history import MonitorHistory


class AppState(QObject):
    spec_changed = Signal(object)
    """The current RunSpec was replaced (payload: the new RunSpec)."""
    path_changed = Signal(object)
    """The spec's file changed (payload: str path or None)."""
    dirty_changed = Signal(bool)
    """The spec has (True) or no longer has (False) unsaved edits."""
    selected_runs_changed = Signal(list)
    """The run ids selected on the Runs page (payload: list[int])."""
    status_message = Signal(str)
    """A short message for the status bar."""
    page_requested = Signal(str)
    """Ask the shell to show a page by key ("build", "data", "train", "runs", "monitor")."""
    launch_requested = Signal()
    """Run > Launch (Ctrl+Enter) was chosen; the Train page launches the current spec."""
    stop_requested = Signal()
    """Run > Stop was chosen; the Train page stops the selected run."""
    runs_changed = Signal()
    """Runs were added, finished, renamed or deleted; history views re-read the store."""

    def __init__(self, store_url: str, spec: RunSpec | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.store_url = store_url
        # app.pages.monitor.history.MonitorHistory, started by the main window after its first paint
        # so the Monitor page, built when first opened, shows the minutes before that.
        self.monitor_history: MonitorHistory | None = None
        self._spec = spec or RunSpec()
        self._path: str | None = None
        self._dirty = False
        self._selected: list[int] = []

    # spec ------------------------------------------------------------------
    @property
    def spec(self) -> RunSpec:
        return self._spec

    def set_spec(self, spec: RunSpec, *, dirty: bool = True) -> None:
        """Replace the whole spec (pages edit a copy and hand it back)."""
        if spec == self._spec and dirty == self._dirty:
            return
        self._spec = spec
        self.spec_changed.emit(spec)
        self.set_dirty(dirty)

    # file ------------------------------------------------------------------
    @property
    def path(self) -> str | None:
        return self._path

    def set_path(self, path: str | None) -> None:
        if path != self._path:
            self._path = path
            self.path_changed.emit(path)

    @property
    def dirty(self) -> bool:
        return self._dirty

    def set_dirty(self, dirty: bool) -> None:
        if dirty != self._dirty:
            self._dirty = dirty
            self.dirty_changed.emit(dirty)

    # runs ------------------------------------------------------------------
    @property
    def selected_runs(self) -> list[int]:
        return list(self._selected)

    def set_selected_runs(self, run_ids: list[int]) -> None:
        if list(run_ids) != self._selected:
            self._selected = list(run_ids)
            self.selected_runs_changed.emit(list(run_ids))
