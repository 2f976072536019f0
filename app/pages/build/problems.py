"""What is wrong with the model, under the list: the problems in words and,
beside them, one button per suggestion the engine can carry out itself
("insert Flatten before block 2"). A click hands the `engine.fixes.Fix` to
the page, which applies it as an undoable edit like any other."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

ERROR_STYLE = "color: #c82828;"
SHOWN = 4  # problems listed; the rest are counted


class ProblemPanel(QWidget):
    fix_chosen = Signal(object)
    """A fix button was clicked (payload: the engine.fixes.Fix, bound to the current blocks)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("model_problems")
        self.message = QLabel()
        self.message.setObjectName("model_message")
        self.message.setWordWrap(True)
        self.message.setStyleSheet(ERROR_STYLE)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._buttons = QVBoxLayout()
        self._buttons.setContentsMargins(0, 0, 0, 0)
        self._buttons.setSpacing(4)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.message, 1)
        layout.addLayout(self._buttons)
        self.setVisible(False)

    def show_problems(self, problems: list[str], fixes: dict[str, Any] | None = None) -> None:
        """List `problems` (sentences); `fixes` maps a problem to the Fix a button applies."""
        fixes = fixes or {}
        shown = problems[:SHOWN]
        more = f"\n… and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
        self.message.setText("\n".join(f"⚠ {p}" for p in shown) + more)
        self._clear_buttons()
        for problem in shown:
            fix = fixes.get(problem)
            if fix is not None:
                self._add_button(fix, problem)
        self._buttons.addStretch(1)
        self.setVisible(bool(problems))

    def say(self, text: str) -> None:
        """A message with no fix (an edit that was refused, a hint)."""
        self.message.setText(text)
        self._clear_buttons()
        self.setVisible(bool(text))

    def set_fixes_enabled(self, enabled: bool) -> None:
        """Off while the shown fixes may be stale (the spec changed, its summary is not back yet)."""
        for b in self.fix_buttons():
            b.setEnabled(enabled)

    def fix_buttons(self) -> list[QPushButton]:
        return [b for b in self.findChildren(QPushButton) if b.objectName() == "fix_button"]

    def _add_button(self, fix: Any, problem: str) -> None:
        text = fix.text[:1].upper() + fix.text[1:]
        button = QPushButton(f"Fix: {text}")
        button.setObjectName("fix_button")
        button.setToolTip(f"{problem}\n\nClick to {fix.text} (Ctrl+Z undoes it).")
        button.setCursor(Qt.PointingHandCursor)
        button.clicked.connect(lambda: self.fix_chosen.emit(fix))
        self._buttons.addWidget(button, 0, Qt.AlignRight)
        button.show()  # a layout shows a new child of a visible widget only one event later

    def _clear_buttons(self) -> None:
        while self._buttons.count():
            widget = self._buttons.takeAt(0).widget()
            if widget is not None:
                widget.hide()  # gone from fix_buttons() now, deleted later
                widget.setObjectName("")
                widget.deleteLater()
