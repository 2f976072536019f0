"""'Sweep this…' on a form field: an action in the field's context menu
(right-click), after the field's own editing actions.

`attach_sweep_actions(fields, prefix, on_sweep)` gives every numeric, choice
and flag field of a generated form (SpecForm.described_fields(),
ParamForm.described_fields()) the action; triggering it calls
on_sweep(path, suggested domain). The action is a QAction child of the
field named `sweep_this` (`sweep_action(widget)` finds it), so tests and
keyboard users reach it without the menu.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QContextMenuEvent
from PySide6.QtWidgets import QLineEdit, QMenu, QWidget

from app.sweep_ranges import suggest_domain
from app.widgets.form_fields import FieldDesc, read_value

SWEEP_ACTION = "sweep_this"
SWEEPABLE = ("int", "float", "choice", "bool")
OnSweep = Callable[[str, dict[str, list[Any]]], None]


class _ContextMenu(QObject):
    """Shows the field's own menu (its line edit's, if it has one) plus 'Sweep this…'."""

    def __init__(self, field: QWidget, action: QAction):
        super().__init__(field)
        self._field, self._action = field, action

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.ContextMenu or not isinstance(event, QContextMenuEvent):
            return False
        edit = self._field if isinstance(self._field, QLineEdit) else self._field.findChild(QLineEdit)
        menu = edit.createStandardContextMenu() if edit is not None else QMenu()
        menu.setObjectName("sweep_context_menu")
        if not menu.isEmpty():
            menu.addSeparator()
        menu.addAction(self._action)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.show_menu(menu, event.globalPos())
        return True

    @staticmethod
    def show_menu(menu: QMenu, at: Any) -> None:
        menu.popup(at)  # not exec(): no nested event loop


def sweep_action(widget: QWidget) -> Optional[QAction]:
    """The field's 'Sweep this…' action, if it has one."""
    return widget.findChild(QAction, SWEEP_ACTION)


def attach_sweep_action(widget: QWidget, path: str, desc: FieldDesc, on_sweep: OnSweep) -> QAction:
    """Give one field the action (once: a second call returns the first action)."""
    existing = sweep_action(widget)
    if existing is not None:
        return existing
    action = QAction(f"Sweep this… ({path})", widget)
    action.setObjectName(SWEEP_ACTION)
    action.setToolTip(f"Vary {path} in a hyperparameter sweep (Train ▸ Sweep…)")

    def trigger() -> None:
        value = read_value(desc, widget)
        domain = suggest_domain(path, value, kind=desc.kind, lo=desc.lo, hi=desc.hi, choices=desc.choices)
        on_sweep(path, domain)

    action.triggered.connect(trigger)
    widget.addAction(action)
    filt = _ContextMenu(widget, action)
    widget.installEventFilter(filt)
    edit = widget.findChild(QLineEdit)
    if edit is not None:  # spin boxes: the right-click lands on their line edit
        edit.installEventFilter(filt)
    return action


def attach_sweep_actions(fields: Iterable[tuple[str, FieldDesc, QWidget]], prefix: str,
                         on_sweep: OnSweep) -> int:
    """Attach to every sweepable field; `prefix` + name is the spec path. Returns how many."""
    n = 0
    for name, desc, widget in fields:
        if desc.kind in SWEEPABLE:
            attach_sweep_action(widget, f"{prefix}{name}", desc, on_sweep)
            n += 1
    return n
