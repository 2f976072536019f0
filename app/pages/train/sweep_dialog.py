"""The Sweep dialog: the current spec as the base of a sweep.

The parameters come from the shared SweepDraft ("Sweep this…" on a field of
the Train page's settings or the Build page's inspector); each row has its
kind (values, uniform, log_uniform, int) and its range or values as text,
and a remove button. Below: method, metric, goal, budget (trials),
parallelism, pruner and an optional failure limit. The planned trial count
is shown before launch (a grid's cartesian product), and every problem is
named under the form, path first, in the sweep document's own words
(engine.sweeps.parse_sweep: the same check `layerdeck sweep` makes).

Launch emits `launch_requested(document)`; the Train page starts it.
"""
from __future__ import annotations

import json
import math
from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.sweep_draft import SweepDraft
from app.sweep_ranges import KINDS, domain_text, grid_values, parse_domain
from engine.host import usable_cores

KIND_TIPS = {
    "values": "A list to choose from (the only kind a grid takes)",
    "uniform": "Any number between low and high",
    "log_uniform": "Between low and high on a log scale (learning rates, weight decay)",
    "int": "Whole numbers between low and high",
}
METHOD_TIPS = {
    "grid": "Every combination of the listed values, exactly once",
    "random": "Independent random draws from each domain",
    "tpe": "Optuna's TPE: later trials concentrate where earlier ones did well",
}
PRUNER_TIPS = {
    "none": "Every trial trains to its end",
    "median": "Stop a trial whose metric is below the median of earlier trials at the same epoch",
    "hyperband": "Hyperband: successive halving over several budgets",
}
EMPTY_TEXT = ("No parameter yet. Right-click a number or a choice in the Train page's settings, or a "
              "block parameter on the Build page, and choose “Sweep this…”.")
ERROR_COLOUR = "#c0392b"


class SweepDialog(QDialog):
    """objectName sweep_dialog."""

    launch_requested = Signal(dict)
    """Launch this sweep document (payload: the document, base spec inlined, already validated)."""

    def __init__(self, draft: SweepDraft, base: Any, parent: Optional[QWidget] = None):
        """base: a callable returning the current run spec as a dict."""
        super().__init__(parent)
        self.setObjectName("sweep_dialog")
        self.setWindowTitle("Sweep")
        self.draft = draft
        self._base = base
        self._problems: list[str] = []
        self._filling = False
        self._doc: Optional[dict[str, Any]] = None
        self._rows: dict[str, tuple[QComboBox, QLineEdit, QPushButton]] = {}  # path -> its row's widgets
        self._checker = Background(self, latest_only=True, name="layerdeck-sweep-check")
        self._checking = False
        self._row_problems: dict[str, str] = {}  # path -> what is wrong with its typed range or values

        self.name = QLineEdit(objectName="sweep_name")
        self.name.setToolTip("The sweep's name; its trials are named after it (name #1, #2, …)")
        self.table = QTableWidget(0, 4, objectName="sweep_params")
        self.table.setHorizontalHeaderLabels(["Parameter", "Kind", "Range (low .. high) or values", ""])
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setMinimumHeight(150)
        self.empty = QLabel(EMPTY_TEXT, objectName="sweep_params_empty")
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("color: #666; padding: 8px;")

        self.method = self._combo("sweep_method", ("grid", "random", "tpe"), METHOD_TIPS)
        self.method.setCurrentIndex(self.method.findData("tpe"))
        self.metric_box = QComboBox(objectName="sweep_metric")
        from engine.sweeps import METRICS

        for m in METRICS:
            self.metric_box.addItem(m, m)
        self.metric_box.setToolTip("The value each trial is judged by (its last value; per epoch for the pruner)")
        self.goal = self._combo("sweep_goal", ("maximize", "minimize"), {})
        self.trials = QSpinBox(objectName="sweep_budget")
        self.trials.setRange(1, 10_000)
        self.trials.setValue(20)
        self.trials.setToolTip("How many trials to run (a grid runs exactly its combinations)")
        self.parallel = QSpinBox(objectName="sweep_parallelism")
        self.parallel.setRange(1, 64)
        self.parallel.setToolTip("Trials training at once; on the CPU they share the cores, at most one "
                                 "trial per core (the rest wait their turn)")
        self.pruner = self._combo("sweep_pruner", ("none", "median", "hyperband"), PRUNER_TIPS)
        self.max_failures = QSpinBox(objectName="sweep_max_failures")
        self.max_failures.setRange(-1, 10_000)
        self.max_failures.setValue(-1)
        self.max_failures.setSpecialValueText("no limit")
        self.max_failures.setToolTip("Stop the sweep once more trials than this have failed")

        self.planned = QLabel(objectName="sweep_planned")
        self.problem = QLabel(objectName="sweep_problem")
        self.problem.setWordWrap(True)
        self.problem.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel(objectName="sweep_note")
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: #555;")
        self.launch_button = QPushButton("Launch sweep", objectName="sweep_launch")
        self.launch_button.setDefault(True)
        self.save_button = QPushButton("Save as JSON…", objectName="sweep_save")
        self.save_button.setToolTip("Write the sweep document (base spec inlined) for `layerdeck sweep FILE`")
        close = QPushButton("Close")

        form = QFormLayout()
        form.addRow("name", self.name)
        form.addRow("method", self.method)
        form.addRow("metric", self.metric_box)
        form.addRow("goal", self.goal)
        form.addRow("trials", self.trials)
        form.addRow("parallel", self.parallel)
        form.addRow("pruner", self.pruner)
        form.addRow("max failures", self.max_failures)
        buttons = QHBoxLayout()
        buttons.addWidget(self.save_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        buttons.addWidget(self.launch_button)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("<b>Parameters</b>"))
        lay.addWidget(self.table, 1)
        lay.addWidget(self.empty)
        lay.addLayout(form)
        lay.addWidget(self.planned)
        lay.addWidget(self.note)
        lay.addWidget(self.problem)
        lay.addLayout(buttons)
        self.resize(640, 620)

        draft.changed.connect(self._fill)
        self.method.currentIndexChanged.connect(self._on_method)
        self.metric_box.currentIndexChanged.connect(self._on_metric)
        for w in (self.goal, self.pruner):
            w.currentIndexChanged.connect(lambda _i: self.validate())
        for s in (self.trials, self.parallel, self.max_failures):
            s.valueChanged.connect(lambda _v: self.validate())
        self.name.textEdited.connect(lambda _t: self.validate())
        self.launch_button.clicked.connect(self.launch)
        self.save_button.clicked.connect(self._save)
        close.clicked.connect(self.close)
        self.metric_box.setCurrentIndex(max(0, self.metric_box.findData("val/accuracy")))
        self._on_metric()
        self._fill()

    @staticmethod
    def _combo(name: str, items: tuple[str, ...], tips: dict[str, str]) -> QComboBox:
        c = QComboBox(objectName=name)
        for i, item in enumerate(items):
            c.addItem(item, item)
            if item in tips:
                c.setItemData(i, tips[item], Qt.ItemDataRole.ToolTipRole)
        return c

    # --- the parameter rows ------------------------------------------------------------------
    def refresh_base(self) -> None:
        """The spec may have changed since the dialog was made: name and checks follow it."""
        if not self.name.text().strip():
            self.name.setText(f"{self._base().get('name', 'sweep')}-sweep")
        self.validate()

    def _fill(self) -> None:
        self._filling = True
        params = self.draft.params
        self._row_problems.clear()  # every row shows its parameter's domain afresh
        self.table.setRowCount(0)  # the old rows' widgets go
        self.table.setRowCount(len(params))
        self._rows = {}
        for row, (path, domain) in enumerate(params.items()):
            kind = next(iter(domain))
            name = QTableWidgetItem(path)  # an item, not a widget: the column sizes to it
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, 0, name)
            kinds = self._combo(f"sweep_kind_{path}", KINDS, KIND_TIPS)
            kinds.setCurrentIndex(kinds.findData(kind))
            kinds.currentIndexChanged.connect(lambda _i, p=path: self._on_kind(p))
            self.table.setCellWidget(row, 1, kinds)
            text = QLineEdit(domain_text(domain), objectName=f"sweep_range_{path}")
            text.textEdited.connect(lambda _t, p=path: self._on_text(p))
            self.table.setCellWidget(row, 2, text)
            remove = QPushButton("✕", objectName=f"sweep_remove_{path}")
            remove.setToolTip(f"Stop sweeping {path}")
            remove.setFixedWidth(30)
            remove.clicked.connect(lambda _c=False, p=path: self.draft.remove(p))
            self.table.setCellWidget(row, 3, remove)
            self._rows[path] = (kinds, text, remove)
        self.table.setVisible(bool(params))
        self.empty.setVisible(not params)
        self._filling = False
        self.validate()

    def row(self, path: str) -> tuple[QComboBox, QLineEdit, QPushButton]:
        """The kind combo, range text and remove button of parameter `path`."""
        return self._rows[path]

    def _on_kind(self, path: str) -> None:
        """A new kind: convert what is there (a range to values for a grid, values to their range)."""
        kinds, _text, _remove = self.row(path)
        new = kinds.currentData()
        old = self.draft.params.get(path, {"values": []})
        old_kind, arg = next(iter(old.items()))
        if new == "values" and old_kind != "values":
            domain = grid_values(old)
        elif new != "values" and old_kind == "values":
            numbers = [v for v in arg if isinstance(v, (int, float)) and not isinstance(v, bool)]
            low, high = (min(numbers), max(numbers)) if len(numbers) >= 2 else (0, 1)
            if new == "log_uniform" and low <= 0:
                low = high / 100 if high > 0 else 1e-4
            domain = {new: [int(low), int(high)] if new == "int" else [float(low), float(high)]}
        else:
            domain = {new: [int(v) for v in arg] if new == "int" else [float(v) for v in arg]}
        self.draft.set(path, domain)  # refills the table

    def _on_text(self, path: str) -> None:
        if self._filling:
            return
        kinds, text, _remove = self.row(path)
        domain, problem = parse_domain(path, kinds.currentData(), text.text())
        if domain is not None:
            self.draft.blockSignals(True)  # keep the line edit (and its cursor) as it is
            self.draft.set(path, domain)
            self.draft.blockSignals(False)
        text.setStyleSheet("" if problem is None else f"color: {ERROR_COLOUR};")
        if problem:
            self._row_problems[path] = problem
        else:
            self._row_problems.pop(path, None)
        self.validate()

    # --- method and metric ---------------------------------------------------------------------
    def _on_method(self) -> None:
        grid = self.method.currentData() == "grid"
        converted = []
        if grid:  # a grid takes values only: turn ranges into a few values each
            for path, domain in self.draft.params.items():
                if next(iter(domain)) != "values":
                    self.draft.blockSignals(True)
                    self.draft.set(path, grid_values(domain))
                    self.draft.blockSignals(False)
                    converted.append(path)
            if converted:
                self._fill()
        self.note.setText(f"A grid takes values: {', '.join(converted)} became 3 values each "
                          f"(edit them, or pick another kind)." if converted else "")
        self.trials.setEnabled(not grid)
        self.pruner.setEnabled(True)
        self.validate()

    def _on_metric(self) -> None:
        from engine.store.summary import higher_is_better

        metric = self.metric_box.currentData() or ""
        self.goal.setCurrentIndex(self.goal.findData("maximize" if higher_is_better(metric) else "minimize"))
        self.validate()

    # --- the document --------------------------------------------------------------------------
    def document(self) -> dict[str, Any]:
        """The sweep document as the dialog shows it (not yet validated)."""
        base = self._base()
        doc: dict[str, Any] = {
            "name": self.name.text().strip() or f"{base.get('name', 'sweep')}-sweep",
            "base": base, "method": self.method.currentData(), "metric": self.metric_box.currentData(),
            "goal": self.goal.currentData(), "trials": self.trials.value(), "parallel": self.parallel.value(),
            "pruner": self.pruner.currentData(), "parameters": self.draft.params,
        }
        if self.max_failures.value() >= 0:
            doc["max_failures"] = self.max_failures.value()
        return doc

    def planned_count(self) -> Optional[int]:
        """Trials the sweep will run as the dialog stands (None: cannot tell yet)."""
        params = self.draft.params
        if self.method.currentData() != "grid":
            return self.trials.value()
        if not params or any(next(iter(d)) != "values" for d in params.values()):
            return None
        return math.prod(len(next(iter(d.values()))) for d in params.values())

    def validate(self) -> None:
        """Show the plan, and check the document (engine.sweeps.parse_sweep) in the
        background: it builds a run spec for each value (each grid combination up to
        512), a third of a second for a big grid, too long for every keystroke."""
        params = self.draft.params
        grid = self.method.currentData() == "grid"
        planned = self.planned_count()
        if grid and planned is not None:
            self.trials.blockSignals(True)
            self.trials.setValue(max(1, planned))  # a grid runs exactly its product
            self.trials.blockSignals(False)
        sizes = " × ".join(str(len(next(iter(d.values())))) for d in params.values())
        if grid and planned is not None:
            text = f"Planned: {sizes} = {planned} trials (every combination once)"
        elif planned is not None:
            text = f"Planned: {planned} trials"
        else:
            text = "Planned: –"
        cores = usable_cores()
        queued = (f" (CPU trials on this machine: {cores} at a time, one per core)"
                  if self.parallel.value() > cores else "")
        self.planned.setText(f"<b>{text}</b>, {self.parallel.value()} at a time{queued}")
        self._doc = None
        problems = [p for path, p in self._row_problems.items() if path in params]
        if not params:
            problems.append("Add at least one parameter to sweep (right-click a field ▸ Sweep this…)")
        if problems:
            self._checker.clear()
            self._checking = False
            self._show_problems(problems)
            return
        self._checking = True
        self.launch_button.setEnabled(False)
        self.save_button.setEnabled(False)
        document = self.document()
        self._checker.submit(lambda: check_document(document), self._on_checked)

    def _on_checked(self, result: tuple[Optional[dict[str, Any]], list[str]]) -> None:
        self._checking = False
        self._doc, problems = result
        self._show_problems(problems)

    def _show_problems(self, problems: list[str]) -> None:
        self._problems = problems
        self.problem.setText("<br>".join(f"<span style='color:{ERROR_COLOUR}'>{_esc(p)}</span>"
                                         for p in problems))
        self.problem.setVisible(bool(problems))
        self.launch_button.setEnabled(not problems and not self._checking)
        self.save_button.setEnabled(not problems and not self._checking)

    def checking(self) -> bool:
        """True while the document is being checked (Launch waits for it)."""
        return self._checking

    def problems(self) -> list[str]:
        return list(self._problems)

    def checked_document(self) -> Optional[dict[str, Any]]:
        """The document as the dialog shows it, checked now (None: it has problems, now shown)."""
        self._checker.clear()
        self._checking = False
        params = self.draft.params
        typed = [p for path, p in self._row_problems.items() if path in params]
        if typed or not params:
            self.validate()  # says what is wrong
            return None
        doc, problems = check_document(self.document())
        self._show_problems(problems)
        return doc

    def launch(self) -> None:
        doc = self.checked_document()
        if doc is not None:
            self.launch_requested.emit(doc)

    def show_problem(self, text: str) -> None:
        """A problem met after launch (the store, the supervisor), said here."""
        self.problem.setText(f"<span style='color:{ERROR_COLOUR}'>{_esc(text)}</span>")
        self.problem.setVisible(True)

    def _save(self) -> None:
        doc = self.checked_document()
        if doc is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save sweep", f"{doc['name']}.json", "JSON (*.json)")
        if path:
            try:
                with open(path, "w", encoding="utf-8") as f:
                    json.dump(doc, f, indent=2)
            except OSError as e:
                self.show_problem(f"Could not write {path}: {e.strerror}")
                return
            self.note.setText(f"Saved; run it from a terminal with `layerdeck sweep {path}`")


def check_document(document: dict[str, Any]) -> tuple[Optional[dict[str, Any]], list[str]]:
    """(the validated document with its base inlined, []) or (None, every problem)."""
    from engine.sweeps import SweepError, parse_sweep

    try:
        return parse_sweep(document).to_dict(), []
    except SweepError as e:
        return None, list(e.errors)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
