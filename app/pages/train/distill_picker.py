"""The Train page's "Distill from…": choose a finished run as the teacher of
this one (training.distill), with the temperature and alpha.

The dialog lists the finished runs of the spec's dataset, read off the UI
thread through engine.training.teacher.compatible_teachers; a run that
cannot teach this spec is listed greyed out with the reason. The page shows
the choice in one line under the settings, with a button to drop it.
"""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from engine.spec import DistillSpec, RunSpec

COLUMNS = ["run", "model", "val accuracy", "parameters", "can teach?"]


def _teachers(store_url: str, spec: RunSpec) -> list[tuple[Any, Optional[str]]]:
    from engine.store import RunStore
    from engine.training.teacher import compatible_teachers

    with RunStore(store_url) as store:
        return compatible_teachers(store, spec)


def _best(run: Any, key: str) -> Optional[float]:
    value = ((run.summary or {}).get("metrics") or {}).get(key, {}).get("best")
    return float(value) if isinstance(value, (int, float)) else None


class DistillDialog(QDialog):
    """objectName distill_dialog. `choice()` is the DistillSpec the user accepted."""

    def __init__(self, store_url: str, spec: RunSpec, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("distill_dialog")
        self.setWindowTitle("Distill from a finished run")
        self.spec = spec
        current = spec.training.distill
        intro = QLabel(f"The teacher's predictions on each batch (softened by the temperature) train this run "
                       f"as well as the labels: loss = α·T²·KL(teacher ‖ student) + (1 − α)·cross-entropy. "
                       f"Finished runs on <b>{spec.data.name}</b>:")
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("teacher_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.status = QLabel("Reading the run history…")
        self.status.setObjectName("distill_status")
        self.status.setWordWrap(True)
        defaults = DistillSpec.model_fields
        self.temperature = QDoubleSpinBox()
        self.temperature.setObjectName("distill_temperature")
        self.temperature.setRange(0.1, 100.0)
        self.temperature.setDecimals(1)
        self.temperature.setValue(current.temperature if current else float(defaults["temperature"].default))
        self.temperature.setToolTip(defaults["temperature"].description)
        self.alpha = QDoubleSpinBox()
        self.alpha.setObjectName("distill_alpha")
        self.alpha.setRange(0.0, 1.0)
        self.alpha.setSingleStep(0.05)
        self.alpha.setValue(current.alpha if current else float(defaults["alpha"].default))
        self.alpha.setToolTip(defaults["alpha"].description)
        form = QFormLayout()
        form.addRow("temperature T", self.temperature)
        form.addRow("alpha α", self.alpha)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setObjectName("distill_ok")
        self.ok.setText("Distill from this run")
        self.ok.setEnabled(False)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.table.itemSelectionChanged.connect(self._update_ok)
        self.table.itemDoubleClicked.connect(lambda *_: self.ok.isEnabled() and self.accept())

        box = QVBoxLayout(self)
        box.addWidget(intro)
        box.addWidget(self.table, 1)
        box.addWidget(self.status)
        box.addLayout(form)
        box.addWidget(self.buttons)
        self.resize(640, 420)

        self._runs: list[tuple[Any, Optional[str]]] = []
        self._background = Background(self, name="distill-teachers")
        self._background.submit(lambda: _teachers(store_url, spec), self._show, self._failed)

    def pending(self) -> bool:
        return self._background.pending()

    def _show(self, runs: list[tuple[Any, Optional[str]]]) -> None:
        # Those that can teach first (newest first within each group), the reason without the run's name.
        runs = sorted(((run, why.removeprefix(f"run #{run.id} {run.name!r} ") if why else None) for run, why in runs),
                      key=lambda t: (t[1] is not None, -t[0].id))
        self._runs = runs
        self.table.setRowCount(len(runs))
        current = self.spec.training.distill
        for row, (run, why) in enumerate(runs):
            acc = _best(run, "val/accuracy")
            params = (run.summary or {}).get("params")
            cells = [f"#{run.id}", run.name, f"{acc:.3f}" if acc is not None else "—",
                     f"{params:,}" if isinstance(params, int) else "—", "yes" if why is None else f"no: {why}"]
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(why or f"run #{run.id} {run.name}: its best checkpoint teaches this run")
                if why is not None:
                    item.setFlags(item.flags() & ~Qt.ItemFlag.ItemIsSelectable & ~Qt.ItemFlag.ItemIsEnabled)
                self.table.setItem(row, col, item)
            if current is not None and run.id == current.teacher_run and why is None:
                self.table.selectRow(row)
        usable = sum(why is None for _, why in runs)
        if not runs:
            self.status.setText(f"No finished run on {self.spec.data.name} yet. Train a larger model on it first "
                                "(a completed run with a best checkpoint), then distill it into this one.")
        else:
            self.status.setText(f"{usable} of {len(runs)} finished runs can teach this spec; the others say why.")
        self._update_ok()

    def _failed(self, message: str, _trace: str) -> None:
        self.status.setText(f"Could not read the run history: {message}")

    def _update_ok(self) -> None:
        self.ok.setEnabled(self.selected_run() is not None)

    def selected_run(self) -> Optional[int]:
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) != 1:
            return None
        run, why = self._runs[rows.pop()]
        return run.id if why is None else None

    def choice(self) -> Optional[DistillSpec]:
        run_id = self.selected_run()
        if run_id is None:
            return None
        return DistillSpec(teacher_run=run_id, temperature=round(self.temperature.value(), 3),
                           alpha=round(self.alpha.value(), 3))


class DistillSetup(QObject):
    """The row the page places: "Distill from…" and, when set, the teacher with a clear button."""

    changed = Signal(object)
    """The user chose or dropped a teacher (payload: the DistillSpec, or None)."""

    def __init__(self, page: Any):
        super().__init__(page)
        self.page = page
        self.dialog: Optional[DistillDialog] = None
        self.button = QPushButton("Distill from…")
        self.button.setObjectName("distill_button")
        self.button.setToolTip("Learn from a finished run's predictions as well as the labels "
                               "(knowledge distillation): pick the teacher, temperature and alpha")
        self.button.clicked.connect(self.open)
        self.label = QLabel("")
        self.label.setObjectName("distill_label")
        self.label.setWordWrap(True)
        self.clear_button = QToolButton()
        self.clear_button.setObjectName("distill_clear")
        self.clear_button.setText("×")
        self.clear_button.setAutoRaise(True)
        self.clear_button.setToolTip("Train without a teacher")
        self.clear_button.clicked.connect(lambda: self.changed.emit(None))
        self.row = QHBoxLayout()
        self.row.addWidget(self.button)
        self.row.addWidget(self.label, 1)
        self.row.addWidget(self.clear_button)
        self.show_spec(page.state.spec)

    def show_spec(self, spec: RunSpec) -> None:
        d = spec.training.distill
        self.label.setText(f"teacher run #{d.teacher_run} · T {d.temperature:g} · α {d.alpha:g}" if d else "")
        self.label.setToolTip("training.distill: the loss mixes the teacher's softened predictions (α) with "
                              "the labels (1 − α)" if d else "")
        self.clear_button.setVisible(d is not None)

    def open(self) -> DistillDialog:
        self.dialog = DistillDialog(self.page.state.store_url, self.page.state.spec, self.page)
        self.dialog.accepted.connect(self._accepted)
        self.dialog.open()
        return self.dialog

    def _accepted(self) -> None:
        if self.dialog is not None and (choice := self.dialog.choice()) is not None:
            self.changed.emit(choice)
