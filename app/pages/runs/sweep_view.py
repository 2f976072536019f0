"""The Sweep view: one sweep's progress and what its trials say.

Top: the sweep's name, method and status; progress (N of M trials), the best
so far and an ETA; Pause / Resume / Stop of the sweep as a whole and
"Re-run failed trial". Below, tabs: Overview (optimization history, the
metric per epoch of every trial (intermediate values), parameter importance,
parallel coordinates), Slices (one plot per parameter) and Trials (a
table). Clicking a trial anywhere, or brushing the parallel coordinates,
emits `trials_selected`: the Runs page selects those runs (two or more
compare).

A view only: the store is read off the UI thread (the page's Worker), the
report is engine.sweep_report's, importance runs on its own background
thread, and commands go through app.pages.runs.sweep_commands.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.background import Background
from app.pages.runs.sweep_intermediate import IntermediatePlot
from app.pages.runs.sweep_parallel import ParallelCoordinates
from app.pages.runs.sweep_plots import HistoryPlot, ImportancePlot, SlicePlots
from app.pages.runs.table_model import STATUS_COLORS
from engine.formatting import clock
from engine.formatting import metric as fmt_metric
from engine.status import RunStatus
from engine.store.epochs import epoch_ends
from engine.sweep_report import EVALUATOR_NAMES, EVALUATORS, SweepReport, build_report, param_importance

REFRESH_MS = 3000  # re-read the sweep while it runs
ACTIVE_SWEEP = ("queued", "running", "paused")
RERUNNABLE = (RunStatus.FAILED, RunStatus.CRASHED)


def read_report(store: Any, sweep_id: int) -> SweepReport:
    """The sweep, its trials and their metric per epoch from the store, as a
    report (worker thread): three statements however many trials."""
    sweep = store.get_sweep(sweep_id)
    runs = store.list_runs(sweep_id=sweep_id)
    return build_report(sweep, runs, intermediate=epoch_ends(store, [r.id for r in runs], sweep.metric))


class SweepView(QWidget):
    """objectName sweep_view."""

    trials_selected = Signal(list)
    """The user picked trials (payload: their run ids): the page selects those runs."""
    command_requested = Signal(int, str)
    """Pause, resume or stop the sweep (payload: sweep id, "pause" | "resume" | "stop")."""
    rerun_requested = Signal(int)
    """Re-run a failed trial (payload: its run id)."""
    loaded = Signal()
    """A fresh report is drawn."""

    def __init__(self, store: Callable[[], Any], worker: Background, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("sweep_view")
        self._store, self._worker = store, worker
        self._importance_worker = Background(self, latest_only=True, name="layerdeck-importance")
        self.sweep_id: Optional[int] = None
        self.report: Optional[SweepReport] = None
        self._importance_key: Any = None
        self._drawn: Any = None  # what the plots show (trials and their values)
        self._drawn_epochs: Any = None  # what the intermediate values show (epochs per trial)
        self._picked: list[int] = []  # trials clicked in the plots, Ctrl adds to them

        self.title = QLabel(objectName="sweep_title")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar(objectName="sweep_progress")
        self.progress.setMinimumWidth(220)
        self.best = QLabel(objectName="sweep_best")
        self.best.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.counts = QLabel(objectName="sweep_counts")
        self.counts.setStyleSheet("color: #555;")
        self.eta = QLabel(objectName="sweep_eta")
        self.eta.setStyleSheet("color: #555;")
        self.pause_button = QPushButton("Pause", objectName="sweep_pause")
        self.pause_button.setToolTip("Pause the live trials and launch no new ones")
        self.resume_button = QPushButton("Resume", objectName="sweep_resume")
        self.resume_button.setToolTip("Resume the paused trials and go on launching")
        self.stop_button = QPushButton("Stop", objectName="sweep_stop")
        self.stop_button.setToolTip("Stop the sweep: live trials save a checkpoint and end stopped")
        self.rerun_button = QPushButton("Re-run failed trial", objectName="sweep_rerun")
        self.rerun_button.setToolTip("Run the selected failed trial's parameters again (select it in Trials)")
        self.message = QLabel(objectName="sweep_message")
        self.message.setWordWrap(True)
        self.message.hide()

        self.history = HistoryPlot()
        self.intermediate = IntermediatePlot()
        self.importance = ImportancePlot()
        self.evaluator = QComboBox(objectName="sweep_evaluator")
        for key in EVALUATORS:
            self.evaluator.addItem(EVALUATOR_NAMES[key], key)
        self.evaluator.setToolTip("Optuna's importance evaluator (fANOVA is Optuna's default)")
        self.parallel = ParallelCoordinates()
        self.slices = SlicePlots()
        self.trials = QTableWidget(objectName="sweep_trials")
        self.trials.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.trials.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.trials.verticalHeader().hide()
        self.trials.verticalHeader().setDefaultSectionSize(24)
        self.trials.setAlternatingRowColors(True)
        self.trials.setSortingEnabled(True)

        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addSpacing(12)
        head.addWidget(self.progress)
        head.addWidget(self.counts)
        head.addSpacing(12)
        head.addWidget(self.best)
        head.addSpacing(12)
        head.addWidget(self.eta)
        head.addStretch(1)
        for b in (self.pause_button, self.resume_button, self.stop_button, self.rerun_button):
            head.addWidget(b)

        imp_box = QWidget()
        ib = QVBoxLayout(imp_box)
        ib.setContentsMargins(0, 0, 0, 0)
        ev_row = QHBoxLayout()
        ev_row.addStretch(1)
        ev_row.addWidget(QLabel("evaluator"))
        ev_row.addWidget(self.evaluator)
        ib.addLayout(ev_row)
        ib.addWidget(self.importance, 1)
        # Two rows: the metric by trial and by epoch side by side; the parameters below them.
        upper = QSplitter(Qt.Orientation.Horizontal)
        upper.addWidget(self.history)
        upper.addWidget(self.intermediate)
        upper.setSizes([500, 500])
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.parallel)
        lower.addWidget(imp_box)
        lower.setSizes([700, 300])
        overview = QSplitter(Qt.Orientation.Vertical, objectName="sweep_overview")
        overview.addWidget(upper)
        overview.addWidget(lower)
        overview.setSizes([320, 340])
        self.tabs = QTabWidget(objectName="sweep_tabs")
        self.tabs.addTab(overview, "Overview")
        self.tabs.addTab(self.slices, "Slices")
        self.tabs.addTab(self.trials, "Trials")

        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 8, 8)
        lay.addLayout(head)
        lay.addWidget(self.message)
        lay.addWidget(self.tabs, 1)

        self._refresh = QTimer(self, interval=REFRESH_MS)
        self._refresh.timeout.connect(self.reload)
        for plot in (self.history, self.intermediate, self.slices):
            plot.trial_clicked.connect(self._pick)
        self.parallel.trial_clicked.connect(self._pick)
        self.parallel.brushed.connect(lambda ids: ids and self.trials_selected.emit(ids))
        self.trials.itemSelectionChanged.connect(self._on_table_selection)
        self.evaluator.currentIndexChanged.connect(lambda _i: self._request_importance(force=True))
        self.pause_button.clicked.connect(lambda: self._command("pause"))
        self.resume_button.clicked.connect(lambda: self._command("resume"))
        self.stop_button.clicked.connect(lambda: self._command("stop"))
        self.rerun_button.clicked.connect(self._rerun)
        self._update_buttons()

    # --- loading -----------------------------------------------------------------------------
    def show_sweep(self, sweep_id: int, report: Optional[SweepReport] = None) -> None:
        """Show this sweep: `report` at once when the caller has it, else read in
        the background (`loaded` when drawn)."""
        if sweep_id != self.sweep_id:
            self.sweep_id, self.report, self._importance_key = sweep_id, None, None
            self.title.setText(f"<b>Sweep {sweep_id}</b> · reading…")
        if report is not None and report.sweep_id == sweep_id:
            self.set_report(report)
            if report.intermediate or not report.trials:
                return
        self.reload()  # a report without the epochs (the sweep tree's): they follow

    def reload(self) -> None:
        if self.sweep_id is None or not self.isVisible():
            return
        sweep_id = self.sweep_id
        self._worker.submit(lambda: read_report(self._store(), sweep_id),
                            lambda r: self._on_report(sweep_id, r), self._on_failed)

    def _on_failed(self, message: str, trace: str) -> None:
        self.say(f"Could not read sweep {self.sweep_id}: {message}", error=True)

    def _on_report(self, sweep_id: int, report: SweepReport) -> None:
        if sweep_id != self.sweep_id:
            return
        self.set_report(report)

    def set_report(self, report: SweepReport) -> None:
        """Draw `report` (also what the bench and tests call with a report in hand)."""
        if not report.intermediate and self.report is not None and self.report.sweep_id == report.sweep_id:
            # The sweep tree's reports carry no epochs: keep the ones read last (the view's own reads
            # bring new ones while the sweep runs).
            report = replace(report, intermediate=self.report.intermediate)
        self.report = report
        self._header(report)
        # A running sweep is re-read every few seconds: redraw only when a trial changed.
        drawn = (report.sweep_id, tuple((t.run_id, t.status, t.value) for t in report.trials))
        if drawn != self._drawn:
            self._drawn = drawn
            self.history.set_report(report)
            self.parallel.set_report(report)
            self.slices.set_report(report)
            self._fill_table(report)
        # Trials still training add epochs without changing status or value.
        epochs = (report.sweep_id, drawn[1], tuple((k, len(v[0])) for k, v in sorted(report.intermediate.items())))
        if epochs != self._drawn_epochs:
            self._drawn_epochs = epochs
            self.intermediate.set_report(report)
        self._update_buttons()
        self._request_importance()
        active = report.status in ACTIVE_SWEEP
        if active and not self._refresh.isActive():
            self._refresh.start()
        elif not active:
            self._refresh.stop()
        self.loaded.emit()

    def _header(self, r: SweepReport) -> None:
        colour = {"running": "#2f7fd8", "paused": "#d9a400", "completed": "#2e9d57",
                  "stopped": "#e08a1e", "failed": "#d33d3d"}.get(r.status, "#8a8f98")
        self.title.setText(f"<b>{_esc(r.name)}</b> · sweep {r.sweep_id} · {r.method} · "
                           f"<span style='color:{colour}'>{r.status}</span>")
        planned = r.planned or max(len(r.trials), 1)
        self.progress.setRange(0, planned)
        self.progress.setValue(min(r.done, planned))
        counts = ", ".join(f"{n} {s}" for s, n in sorted(r.counts.items()))
        self.progress.setFormat(f"{r.done} of {r.planned if r.planned else '?'} trials")
        self.progress.setToolTip(counts or "no trial yet")
        self.counts.setText(counts)
        if r.best is not None and r.best_value is not None:
            self.best.setText(f"best {r.metric}: <b>{fmt_metric(r.best_value)}</b> "
                              f"· trial {r.best.number} (run #{r.best.run_id})")
        else:
            self.best.setText(f"best {r.metric}: – (no trial has finished)")
        if r.status in ("completed", "stopped", "failed"):
            self.eta.setText(f"sweep {r.status}")
        elif r.eta_s is None:
            self.eta.setText("ETA: after the first trial ends")
        else:
            self.eta.setText(f"ETA {clock(r.eta_s)}")

    def _fill_table(self, r: SweepReport) -> None:
        keep = set(self.selected_trial_ids())
        paths = [p.path for p in r.params]
        headers = ["trial", "run", "status", r.metric, *paths]
        self.trials.setSortingEnabled(False)
        self.trials.blockSignals(True)
        self.trials.clear()
        self.trials.setColumnCount(len(headers))
        self.trials.setHorizontalHeaderLabels(headers)
        self.trials.setRowCount(len(r.trials))
        for row, t in enumerate(r.trials):
            cells: list[Any] = [t.number, t.run_id, t.status, t.value, *[t.params.get(p) for p in paths]]
            for col, v in enumerate(cells):
                item = _Item("–" if v is None else fmt_metric(v) if isinstance(v, float) else str(v))
                item.setData(Qt.ItemDataRole.UserRole, t.run_id)
                item.setData(Qt.ItemDataRole.UserRole + 1, v if isinstance(v, (int, float)) else str(v))
                if col == 2:
                    item.setForeground(QColor(STATUS_COLORS.get(t.status, "#333")))
                self.trials.setItem(row, col, item)
            if t.run_id in keep:
                self.trials.selectRow(row)
        self.trials.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.trials.blockSignals(False)
        self.trials.setSortingEnabled(True)

    # --- importance (off the UI thread) ------------------------------------------------------
    def _request_importance(self, force: bool = False) -> None:
        r = self.report
        if r is None:
            return
        evaluator = self.evaluator.currentData()
        key = (evaluator, tuple((t.run_id, t.value) for t in r.valued()))
        if key == self._importance_key and not force:
            return  # nothing new finished: the bars stand
        self._importance_key = key
        if not self.importance.importances:
            self.importance.set_message("Computing parameter importance…")
        self._importance_worker.submit(lambda: param_importance(r, evaluator),
                                       lambda imp: self.importance.set_importances(imp, EVALUATOR_NAMES[evaluator]),
                                       self._on_importance_failed)

    def _on_importance_failed(self, message: str, trace: str) -> None:
        self.importance.set_message(message[:1].upper() + message[1:] + ".")

    def wait_importance(self, msecs: int = 10_000) -> bool:
        """Block until importance is computed (tests and the bench)."""
        return self._importance_worker.wait(msecs)

    # --- selection -----------------------------------------------------------------------------
    def _pick(self, run_id: int) -> None:
        """A click selects the trial's run; Ctrl+click adds it (or takes it out) for compare."""
        from PySide6.QtWidgets import QApplication

        if QApplication.keyboardModifiers() & Qt.KeyboardModifier.ControlModifier:
            self._picked = [r for r in self._picked if r != run_id] + ([] if run_id in self._picked else [run_id])
        else:
            self._picked = [run_id]
        self.trials_selected.emit(list(self._picked))

    def selected_trial_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.trials.selectionModel().selectedRows()})
        return [int(self.trials.item(r, 0).data(Qt.ItemDataRole.UserRole)) for r in rows]

    def _on_table_selection(self) -> None:
        self._update_buttons()
        ids = self.selected_trial_ids()
        if ids:
            self.trials_selected.emit(ids)

    # --- commands ------------------------------------------------------------------------------
    def _update_buttons(self) -> None:
        status = self.report.status if self.report else None
        self.pause_button.setEnabled(status in ("queued", "running"))
        self.resume_button.setEnabled(status == "paused")
        self.stop_button.setEnabled(status in ACTIVE_SWEEP)
        failed = self._failed_target()
        self.rerun_button.setEnabled(failed is not None)
        self.rerun_button.setToolTip(
            f"Run trial {failed.number}'s parameters again as a new run of this sweep" if failed is not None
            else "No failed trial is selected (select one in the Trials tab)")

    def _failed_target(self) -> Any:
        """The selected failed or crashed trial, else the only failed one."""
        if self.report is None:
            return None
        failed = [t for t in self.report.trials if t.status in RERUNNABLE]
        selected = set(self.selected_trial_ids())
        chosen = [t for t in failed if t.run_id in selected]
        if chosen:
            return chosen[0]
        return failed[0] if len(failed) == 1 else None

    def _command(self, action: str) -> None:
        if self.sweep_id is not None:
            self.command_requested.emit(self.sweep_id, action)

    def _rerun(self) -> None:
        t = self._failed_target()
        if t is not None:
            self.rerun_requested.emit(t.run_id)

    def say(self, text: str, error: bool = False) -> None:
        self.message.setStyleSheet(f"color: {'#c62828' if error else '#2e7d32'};")
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def stop(self) -> None:
        self._refresh.stop()

    def closeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        self._refresh.stop()  # a closed window reads nothing; opening it again re-reads
        super().closeEvent(event)


class _Item(QTableWidgetItem):
    """Sorts by the value it holds (numbers as numbers), not by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(Qt.ItemDataRole.UserRole + 1), other.data(Qt.ItemDataRole.UserRole + 1)
        if isinstance(a, (int, float)) and isinstance(b, (int, float)):
            return a < b
        return str(a) < str(b)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
