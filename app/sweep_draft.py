"""The sweep being put together: the parameters chosen with "Sweep this" on
the Train page's settings or the Build page's inspector, each with its
domain in the sweep document's words ({"log_uniform": [1e-4, 0.01]}).

One draft per AppState (`get_draft(state)`), shared by both pages and the
Sweep dialog, the way the run spec is shared: pages never touch each
other's widgets. `changed` after every edit; `requested` when a page asks
for the dialog to open (the Train page opens it).
"""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Signal

_DRAFT_ATTR = "_layerdeck_sweep_draft"


class SweepDraft(QObject):
    changed = Signal()
    """A parameter was added, edited or removed."""
    requested = Signal()
    """Someone asked to see the sweep dialog (the Train page opens it)."""

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self._params: dict[str, dict[str, list[Any]]] = {}

    @property
    def params(self) -> dict[str, dict[str, list[Any]]]:
        """path -> domain, in the order they were added (a copy)."""
        return {k: dict(v) for k, v in self._params.items()}

    def add(self, path: str, domain: dict[str, list[Any]]) -> bool:
        """Add (or, already there, keep) a parameter; True when it is new."""
        if path in self._params:
            return False
        self._params[path] = dict(domain)
        self.changed.emit()
        return True

    def set(self, path: str, domain: dict[str, list[Any]]) -> None:
        if self._params.get(path) != domain:
            self._params[path] = dict(domain)
            self.changed.emit()

    def remove(self, path: str) -> None:
        if self._params.pop(path, None) is not None:
            self.changed.emit()

    def clear(self) -> None:
        if self._params:
            self._params.clear()
            self.changed.emit()


def get_draft(state: Any) -> SweepDraft:
    """The one draft of this AppState (created on first use)."""
    draft = getattr(state, _DRAFT_ATTR, None)
    if draft is None:
        draft = SweepDraft(parent=state)
        setattr(state, _DRAFT_ATTR, draft)
    return draft


def add_to_sweep(state: Any, path: str, domain: dict[str, list[Any]]) -> None:
    """'Sweep this…' from a page without the dialog (the Build page): add, say so, show the dialog."""
    added = get_draft(state).add(path, domain)
    n = len(get_draft(state).params)
    state.status_message.emit(f"{path} added to the sweep ({n} parameter{'s' if n != 1 else ''}; "
                              f"Train ▸ Sweep… to launch)" if added else f"{path} is already swept")
    get_draft(state).requested.emit()


def bring_to_front(window: Any) -> None:
    """Show a tool window and raise it (the offscreen platform, tests and screenshots, has no stack to raise in)."""
    from PySide6.QtGui import QGuiApplication

    window.show()
    if QGuiApplication.platformName() != "offscreen":
        window.raise_()
        window.activateWindow()
