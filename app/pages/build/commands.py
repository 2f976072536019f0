"""Undoable edits of the model: each command keeps the block list before and
after, so undo and redo restore the spec exactly (nothing is recomputed).

Consecutive edits of one field of one block merge into one undo step, so
typing "128" in a spin box is undone by one Ctrl+Z, not three.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtGui import QUndoCommand

from app.pages.build.tree_ops import Block, Path

PARAM_EDIT_ID = 1


class BlocksCommand(QUndoCommand):
    """Replace the block list; `apply(blocks, select)` shows it and selects blocks."""

    def __init__(self, text: str, before: list[Block], after: list[Block],
                 apply: Callable[[list[Block], list[Path]], None],
                 select_before: list[Path] | None = None, select_after: list[Path] | None = None):
        super().__init__(text)
        self.before, self.after = before, after
        self._apply = apply
        self._select_before = list(select_before or [])
        self._select_after = list(select_after or [])

    def redo(self) -> None:
        self._apply(self.after, self._select_after)

    def undo(self) -> None:
        self._apply(self.before, self._select_before)


class EditParamCommand(BlocksCommand):
    """One parameter of one block changed; merges with the next edit of the same field."""

    def __init__(self, path: Path, name: str, value: Any, before: list[Block], after: list[Block],
                 apply: Callable[[list[Block], list[Path]], None]):
        label = "clear" if value is None else "set"
        super().__init__(f"{label} {name}", before, after, apply, [path], [path])
        self.key = (tuple(path), name)

    def id(self) -> int:
        return PARAM_EDIT_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditParamCommand) or other.key != self.key:
            return False
        self.after = other.after
        self.setObsolete(self.after == self.before)  # typed back to where it was: no undo step
        return True


class InitFromCommand(QUndoCommand):
    """The model's `init_from` (the run its weights start from) changed; `apply(value)` shows it."""

    def __init__(self, before: dict | None, after: dict | None, apply: Callable[[dict | None], None]):
        text = f"load weights from run #{after['run']}" if after else "don't load weights from a run"
        super().__init__(text)
        self.before, self.after = before, after
        self._apply = apply

    def redo(self) -> None:
        self._apply(self.after)

    def undo(self) -> None:
        self._apply(self.before)
