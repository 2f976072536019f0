"""Weights from an earlier run, on the Build page: "Load Weights from Run…"
picks a finished run and its checkpoint (the spec's `model.init_from`), and a
panel under the totals says which weights would be copied and why the rest
would not (engine.init_from.check_init_from, off the UI thread: it reads the
checkpoint). The same report `layerdeck check` prints."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.errors import error_text
from engine.labels import run_label


@dataclass(frozen=True)
class SourceRun:
    """A finished run whose weights a new model can start from."""

    id: int
    name: str
    data: str
    kinds: tuple[str, ...]  # checkpoints still on disk: best, last


LISTED = 200  # the newest finished runs offered; one checkpoint query each, so the dialog opens at once


def source_runs(store_url: str) -> list[SourceRun]:
    """Completed or stopped runs that still have a checkpoint file, newest first."""
    from engine.init_from import FINISHED
    from engine.store import RunStore

    with RunStore(store_url) as store:
        out = []
        for run in store.list_runs(status=list(FINISHED), limit=LISTED):
            kinds = tuple(sorted({c.kind for c in store.checkpoints(run.id) if os.path.isfile(c.path)}))
            if kinds:
                out.append(SourceRun(run.id, run.name, str(run.spec.get("data", {}).get("name", "")), kinds))
    return out


def init_report(store_url: str, spec: Any) -> Any:
    """engine.init_from's report for the spec (an InitReport), or what stops it, in words (a str)."""
    from engine.init_from import check_init_from
    from engine.model import ModelError
    from engine.spec import SpecError
    from engine.store import RunStore

    try:
        with RunStore(store_url) as store:
            return check_init_from(store, spec)
    except SpecError as e:
        return "; ".join(e.errors)
    except ModelError as e:
        return f"the model is not valid yet ({e.errors[0]})" if e.errors else "the model is not valid yet"
    except Exception as e:  # an unreadable checkpoint, a dataset that fails: said, never raised
        return error_text(e)


class InitFromDialog(QDialog):
    """Choose the run and checkpoint whose weights the model starts from."""

    def __init__(self, runs: list[SourceRun], current: dict | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("init_from_dialog")
        self.setWindowTitle("Load Weights from Run")
        self.runs = runs
        self.list = QListWidget()
        self.list.setObjectName("init_runs")
        for r in runs:
            item = QListWidgetItem(f"{run_label(r.id, r.name)}   ·   {r.data}   ·   {', '.join(r.kinds)}")
            item.setData(Qt.UserRole, r.id)
            self.list.addItem(item)
        self.checkpoint = QComboBox()
        self.checkpoint.setObjectName("init_checkpoint")
        self.checkpoint.addItems(["best", "last"])
        hint = QLabel("Every weight whose block path and shape match is copied; the rest keep their "
                      "initialization. Freeze copied blocks with their train box to fine-tune the others."
                      if runs else "No finished run with a checkpoint in this store yet: train one first.")
        hint.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.ok = buttons.button(QDialogButtonBox.Ok)
        row = QHBoxLayout()
        row.addWidget(QLabel("checkpoint"))
        row.addWidget(self.checkpoint, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.list, 1)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._on_run)
        self.list.itemDoubleClicked.connect(lambda *_: self.accept())
        ids = [r.id for r in runs]
        self.list.setCurrentRow(ids.index(current["run"]) if current and current.get("run") in ids else 0)
        if current:
            self.checkpoint.setCurrentText(current.get("checkpoint", "best"))
        self._on_run(self.list.currentRow())
        self.resize(560, 360)

    def _on_run(self, row: int) -> None:
        kinds = self.runs[row].kinds if 0 <= row < len(self.runs) else ()
        for i in range(self.checkpoint.count()):  # only the checkpoints this run still has
            self.checkpoint.model().item(i).setEnabled(self.checkpoint.itemText(i) in kinds)
        if kinds and self.checkpoint.currentText() not in kinds:
            self.checkpoint.setCurrentText(kinds[0])
        self.ok.setEnabled(bool(kinds))

    def choice(self) -> dict | None:
        """{"run": id, "checkpoint": kind} as model.init_from holds it, or None."""
        row = self.list.currentRow()
        if not 0 <= row < len(self.runs):
            return None
        return {"run": self.runs[row].id, "checkpoint": self.checkpoint.currentText()}


class InitFromPanel(QWidget):
    """Under the totals while the model starts from a run's weights: what is copied, and a way out."""

    remove_requested = Signal()
    """'Don't load' was clicked: the model should start from its own initialization."""
    change_requested = Signal()
    """'Change…' was clicked: pick another run or checkpoint."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("init_from_panel")
        self.summary = QLabel()
        self.summary.setObjectName("init_from_summary")
        self.summary.setWordWrap(True)
        self.details = QLabel()
        self.details.setObjectName("init_from_details")
        self.details.setTextInteractionFlags(Qt.TextSelectableByMouse)
        f = self.details.font()
        f.setStyleHint(f.StyleHint.Monospace)
        f.setFamily("monospace")
        self.details.setFont(f)
        self.details.hide()
        self.toggle = QPushButton("Details")
        self.toggle.setObjectName("init_from_toggle")
        self.toggle.setCheckable(True)
        self.toggle.toggled.connect(self.details.setVisible)
        change = QPushButton("Change…")
        change.clicked.connect(self.change_requested)
        remove = QPushButton("Don't load")
        remove.setObjectName("init_from_remove")
        remove.setToolTip("Start from the blocks' own initialization instead")
        remove.clicked.connect(self.remove_requested)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.summary, 1)
        for b in (self.toggle, change, remove):
            top.addWidget(b, 0, Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addLayout(top)
        layout.addWidget(self.details)
        self._background = Background(self, latest_only=True, name="layerdeck-init-from")
        self._pending = False
        self.hide()

    def request(self, store_url: str, spec: Any) -> None:
        """Show the report for `spec` (hidden when it loads no weights); computed in the background."""
        if spec.model.init_from is None:
            self._pending = False
            self.hide()
            return
        self._pending = True
        self.summary.setText(f"weights from run #{spec.model.init_from.run}: checking which ones fit…")
        self.show()
        self._background.submit(lambda: init_report(store_url, spec), self._show)

    def pending(self) -> bool:
        return self._pending

    def _show(self, report: Any) -> None:
        self._pending = False
        if report is None:
            self.hide()
            return
        if isinstance(report, str):
            self.summary.setText(f"⚠ Weights from a run cannot be loaded: {report}")
            self.summary.setStyleSheet("color: #c82828;")
            self.details.setText("")
            self.toggle.setEnabled(False)
            return
        lines = report.lines()
        self.summary.setText(lines[0][0].upper() + lines[0][1:])
        self.summary.setStyleSheet("")
        self.details.setText("\n".join(line.strip() for line in lines[1:]))
        self.toggle.setEnabled(len(lines) > 1)
