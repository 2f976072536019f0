"""The worker's log for the selected run: its log events, its stderr
(warnings, stray prints, tracebacks) and how it ended, under a header that
folds the pane away.

stderr is not on the event stream: each worker's stderr goes to a file next
to the store (engine.runner.paths.log_path). The pane reads what was
appended to the selected run's file once a second; the file stays small
(tracebacks, warnings), so a read is an append-sized `read()`.
"""
from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit, QToolButton, QVBoxLayout, QWidget

MAX_LINES = 5000
MAX_READ = 256 * 1024  # per tick: a runaway printer cannot stall the UI thread


class LogPane(QWidget):
    def __init__(self, log_file_for=None, parent: Optional[QWidget] = None):
        """log_file_for(run_id) -> Path of the run's stderr file (None: no files)."""
        super().__init__(parent)
        self.setObjectName("log_pane")
        self._log_file_for = log_file_for
        self.toggle = QToolButton()
        self.toggle.setObjectName("log_toggle")
        self.toggle.setText("Log")
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow)
        self.toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toggle.setAutoRaise(True)
        self.toggle.setToolTip("The selected run's log: worker messages, warnings and tracebacks")
        self.text = QPlainTextEdit()
        self.text.setObjectName("log_text")
        self.text.setReadOnly(True)
        self.text.setMaximumBlockCount(MAX_LINES)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setPlaceholderText("The selected run's log appears here.")
        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        box.addWidget(self.toggle, 0, Qt.AlignmentFlag.AlignLeft)
        box.addWidget(self.text, 1)
        self.toggle.toggled.connect(self._fold)
        self._lines: dict[int, deque[str]] = {}
        self._offsets: dict[int, int] = {}
        self.run_id: Optional[int] = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.poll_file)
        self._timer.start()

    def _fold(self, open_: bool) -> None:
        self.text.setVisible(open_)
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)

    # --- lines -----------------------------------------------------------------------------
    def append(self, run_id: int, text: str) -> None:
        """Add lines to a run's log (shown at once when it is the selected run)."""
        lines = self._lines.setdefault(run_id, deque(maxlen=MAX_LINES))
        new = text.rstrip("\n").splitlines() or [""]
        lines.extend(new)
        if run_id == self.run_id:
            self.text.appendPlainText("\n".join(new))
            self.text.moveCursor(QTextCursor.MoveOperation.End)

    def show_run(self, run_id: Optional[int]) -> None:
        self.run_id = run_id
        self.poll_file()
        self.text.setPlainText("\n".join(self._lines.get(run_id, ())) if run_id is not None else "")
        self.text.moveCursor(QTextCursor.MoveOperation.End)

    def lines(self, run_id: int) -> list[str]:
        return list(self._lines.get(run_id, ()))

    def poll_file(self) -> None:
        """Append what the selected run's worker wrote to stderr since the last look."""
        if self.run_id is None or self._log_file_for is None:
            return
        run_id = self.run_id
        path = Path(self._log_file_for(run_id))
        offset = self._offsets.get(run_id, 0)
        try:
            size = path.stat().st_size
            if size <= offset:
                return
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(MAX_READ)
        except OSError:  # not written yet
            return
        cut = data.rfind(b"\n") + 1  # whole lines only; the rest comes next tick
        if not cut:
            if len(data) < MAX_READ:
                return
            cut = len(data)
        self._offsets[run_id] = offset + cut
        self.append(run_id, data[:cut].decode("utf-8", "replace"))
