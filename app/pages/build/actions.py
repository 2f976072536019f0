"""The Build page's edit actions: one QAction each (shortcut, tooltip, the
page method it calls), the Edit menu's order, the block list's right-click
menu, and when each action applies to the selection."""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from app.pages.build import tree_ops as ops

if TYPE_CHECKING:
    from app.pages.build.page import BuildPage


def make(page: "BuildPage") -> None:
    """Create the page's edit actions as its attributes (page.undo_action, page.wrap_branch_action, ...)."""
    page.undo_action = page.undo_stack.createUndoAction(page, "&Undo")
    page.undo_action.setShortcut(QKeySequence.Undo)
    page.redo_action = page.undo_stack.createRedoAction(page, "&Redo")
    redo_keys = [QKeySequence("Ctrl+Shift+Z")] + QKeySequence.keyBindings(QKeySequence.Redo)
    page.redo_action.setShortcuts(list({k.toString(): k for k in redo_keys}.values()))
    page.addActions([page.undo_action, page.redo_action])  # live without the shell's menu too

    def action(text: str, keys: str | QKeySequence.StandardKey, slot, tip: str) -> QAction:
        a = QAction(text, page)
        a.setShortcut(QKeySequence(keys))
        a.setToolTip(tip)
        a.setStatusTip(tip)
        a.triggered.connect(slot)
        page.addAction(a)
        return a

    page.delete_action = action("&Delete", QKeySequence.Delete, page.delete_selected, "Remove the selected blocks")
    page.duplicate_action = action("D&uplicate", "Ctrl+D", page.duplicate_selected, "Copy the selected blocks")
    page.wrap_action = action("&Wrap in Residual", "Ctrl+R", page.wrap_selected,
                              "Put the selected blocks in a Residual (adds its input to their output)")
    page.unwrap_action = action("U&nwrap", "Ctrl+Shift+R", page.unwrap_selected,
                                "Replace the selected container by the blocks inside it")
    page.wrap_branch_action = action("Wrap in &Branch", "Ctrl+B", page.wrap_selected_in_branch,
                                     "Make the selected blocks the first branch of a Branch "
                                     "(branches share the input; their outputs are merged)")
    page.add_branch_action = action("Add Bra&nch", "Ctrl+Shift+B", page.add_branch,
                                    "Add an empty branch (the input passed through) to the selected Branch")
    page.branch_left_action = action("Move to Branch &Left", "Alt+Left", lambda: page.move_selected_to_branch(-1),
                                     "Move the selected blocks to the end of the branch on the left")
    page.branch_right_action = action("Move to Branch &Right", "Alt+Right",
                                      lambda: page.move_selected_to_branch(1),
                                      "Move the selected blocks to the end of the branch on the right")
    page.up_action = action("Move &Up", "Alt+Up", lambda: page.move_selected(-1), "Move the block up")
    page.down_action = action("Move Do&wn", "Alt+Down", lambda: page.move_selected(1), "Move the block down")
    page.load_weights_action = action("Load &Weights from Run…", "Ctrl+Shift+L", page.choose_init_from,
                                      "Start from a finished run's weights: every block whose path and shape "
                                      "match is copied (model.init_from)")


def update(page: "BuildPage") -> None:
    """Enable each action where it applies to the selection (and only while the page is shown)."""
    sel = page.selected_paths() if page.view.selectionModel() else []
    here = page.isVisible()
    one = len(sel) == 1
    for a in (page.delete_action, page.duplicate_action):
        a.setEnabled(here and bool(sel))
    siblings = bool(sel) and len({p[:-1] for p in sel}) == 1
    page.wrap_action.setEnabled(here and siblings)
    page.wrap_branch_action.setEnabled(here and siblings)
    page.add_branch_action.setEnabled(here and one and ops.add_branch(page.blocks, sel[0]) is not None)
    for a, delta in ((page.branch_left_action, -1), (page.branch_right_action, 1)):
        a.setEnabled(here and siblings and ops.move_to_branch(page.blocks, sel, delta) is not None)
    page.unwrap_action.setEnabled(here and one and ops.get(page.blocks, sel[0]).get("blocks") is not None)
    page.up_action.setEnabled(here and one and sel[0][-1] > 0)
    page.down_action.setEnabled(here and one and ops.shift(page.blocks, sel[0], 1) is not None)
    page.load_weights_action.setEnabled(here)


def edit_menu(page: "BuildPage") -> list[QAction | None]:
    """The Edit menu's actions, in order (None: a separator)."""
    return [page.undo_action, page.redo_action, None, page.delete_action, page.duplicate_action,
            None, page.wrap_action, page.wrap_branch_action, page.add_branch_action, page.unwrap_action,
            None, page.up_action, page.down_action, page.branch_left_action, page.branch_right_action,
            None, page.load_weights_action]


def context_menu(page: "BuildPage") -> QMenu:
    """The block list's right-click menu: the Edit menu without undo and redo."""
    menu = QMenu(page)
    menu.setObjectName("block_menu")
    for a in edit_menu(page)[3:]:
        menu.addSeparator() if a is None else menu.addAction(a)
    return menu
