"""What the Train page says when a run ends and when the window closes with
runs active."""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QMessageBox, QStyle, QSystemTrayIcon, QWidget

# What a reopened app (or `layerdeck runs`) can do with runs kept training: its
# Runner adopts them and reaches them by signal or through the store.
REOPENED_CONTROLS = "it can pause, resume or stop them (so can `layerdeck runs pause|resume|stop ID`)"


class Notifier(QObject):
    """Desktop notifications where the desktop has a tray (nothing elsewhere:
    the status bar message is always there)."""

    def __init__(self, parent: QWidget):
        super().__init__(parent)
        self._widget = parent
        self._tray: Optional[QSystemTrayIcon] = None

    def notify(self, title: str, text: str, failed: bool = False) -> bool:
        """Show a desktop notification; False where none is available."""
        if not QSystemTrayIcon.isSystemTrayAvailable():
            return False
        if self._tray is None:
            icon = self._widget.style().standardIcon(QStyle.StandardPixmap.SP_ComputerIcon)
            self._tray = QSystemTrayIcon(icon, self)
            self._tray.show()
        kind = QSystemTrayIcon.MessageIcon.Warning if failed else QSystemTrayIcon.MessageIcon.Information
        self._tray.showMessage(title, text, kind, 8000)
        return True


STOP_TEXT = "Stop them (save a checkpoint)"
KEEP_TEXT = "Keep training in the background"


def ask_close(parent: QWidget, count: int, can_keep: bool) -> str:
    """Ask what to do with `count` active runs: 'stop', 'keep' or 'cancel'.
    Keep is offered only when the runs can outlive the window (can_keep)."""
    box = QMessageBox(parent)
    box.setObjectName("closeRunsDialog")
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Runs are training")
    runs = "1 run is" if count == 1 else f"{count} runs are"
    box.setText(f"{runs} still queued or training.")
    info = ("Stop them: each finishes its batch and saves a checkpoint, and can be resumed "
            "later; nothing is lost.")
    if can_keep:
        info += ("\n\nKeep training: the runs go on in their own processes after LayerDeck "
                 "closes, writing every point to the run history; reopening LayerDeck shows "
                 f"them with live curves, and {REOPENED_CONTROLS}. Runs still waiting in the queue "
                 "cannot start without the app: they are marked stopped, not started.")
    box.setInformativeText(info)
    stop = box.addButton(STOP_TEXT, QMessageBox.ButtonRole.DestructiveRole)
    keep = box.addButton(KEEP_TEXT, QMessageBox.ButtonRole.AcceptRole) if can_keep else None
    box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(keep or stop)
    box.exec()
    clicked = box.clickedButton()
    if clicked is stop:
        return "stop"
    return "keep" if keep is not None and clicked is keep else "cancel"
