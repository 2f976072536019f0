"""The Train page: settings on the left, the runs and their live curves on
the right (docs/ARCHITECTURE.md, "Pages").

The page is a view: the settings edit state.spec; Launch submits it through
the bridge (app.bridge, one per AppState); the bridge's signals update the
run list, the plots and the log. That one stream carries every run the
runner owns: launched here, resumed or cloned from the Runs page, or
adopted from the store (left training by a closed app, started by
`layerdeck train`, or on another machine). Pause, Resume and Stop go back
through the bridge for all of them. Nothing here imports torch or touches
CUDA: the model summary (memory estimate) runs on a background thread, GPU
facts come from NVML.

The shell calls `confirm_close()` before the window closes.
"""
from __future__ import annotations

import json
from typing import Any, Optional

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.bridge import RunBridge, get_bridge
from app.pages.train.closing import Notifier, ask_close
from app.pages.train.distill_picker import DistillSetup
from app.pages.train.live_view import LiveView, latest_text
from app.pages.train.log_pane import LogPane
from app.pages.train.memory import MemoryCheck, describe_fit, process_count
from app.pages.train.model_check import ModelCheck
from app.pages.train.probes import ProbeButtons
from app.pages.train.run_list import RunList, RunRow, first_line
from app.pages.train.run_on import RunOnChooser, launch_kwargs
from app.pages.train.settings_form import SettingsForm
from app.pages.train.sweep_setup import SweepSetup
from app.widgets.system_strip import SystemStrip
from engine.spec import SpecError, parse_spec

OK_COLOUR, WARN_COLOUR, ERROR_COLOUR = "#2f8f46", "#b9770e", "#c0392b"


class TrainPage(QWidget):
    def __init__(self, state: Any, *, bridge: Optional[RunBridge] = None, sampler: Any = None,
                 parent: Optional[QWidget] = None):
        """bridge: default get_bridge(state). sampler: an engine.monitor.SystemSampler
        for the device list and the system strip (tests pass one with a fake NVML)."""
        super().__init__(parent)
        self.setObjectName("page_train")
        self.state = state
        self.bridge = bridge or get_bridge(state)
        self._form_error: Optional[str] = None
        self._model_error: Optional[str] = None
        self._summary: Any = None
        self._latest: dict[int, str] = {}  # run id -> the line over the plots at its last epoch
        self.notifier = Notifier(self)
        self._build_left()
        self._build_right(sampler)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self._left)
        split.addWidget(self._right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([self._left.minimumWidth(), 1000])
        split.setChildrenCollapsible(False)
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 8, 8, 8)
        box.addWidget(split)

        self._model_check = ModelCheck(self)
        self._model_check.ready.connect(self._on_summary)
        self.memory = MemoryCheck()
        self.settings.edited.connect(self._on_edited)
        state.spec_changed.connect(self._on_spec_changed)
        state.launch_requested.connect(self.launch)
        state.stop_requested.connect(self.stop_selected)
        b = self.bridge
        b.owned.connect(self._on_owned)
        b.status.connect(self._on_status)
        b.started.connect(self._on_started)
        b.epoch.connect(self._on_epoch)
        b.metrics.connect(lambda e: self.live.add_points(e.run_id, e.points))
        b.log.connect(lambda e: self.log.append(e.run_id, e.message if e.level == "info"
                                                else f"{e.level}: {e.message}"))
        b.checkpoint.connect(lambda e: self.log.append(
            e.run_id, f"checkpoint ({e.kind}) saved at epoch {e.epoch}: {e.path}"))
        b.finished.connect(self._on_finished)
        self.runs.selected.connect(self._on_selected)
        self.runs.pause_requested.connect(lambda rid: self._command("pause", rid))
        self.runs.resume_requested.connect(lambda rid: self._command("resume", rid))
        self.runs.stop_requested.connect(lambda rid: self._command("stop", rid))
        b.follow_store()  # runs started elsewhere join the stream, now that the slots are connected
        self._on_spec_changed(state.spec)

    # --- layout --------------------------------------------------------------------------
    def _build_left(self) -> None:
        self.settings = SettingsForm(self.state.spec)
        self.json_toggle = QToolButton()
        self.json_toggle.setObjectName("json_toggle")
        self.json_toggle.setText("Spec as JSON")
        self.json_toggle.setCheckable(True)
        self.json_toggle.setArrowType(Qt.ArrowType.RightArrow)
        self.json_toggle.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.json_toggle.setAutoRaise(True)
        self.json_toggle.setToolTip("The full run spec this launch will use (read-only; edit it in the forms "
                                    "or save it with File ▸ Save)")
        self.json_view = QPlainTextEdit()
        self.json_view.setObjectName("spec_json")
        self.json_view.setReadOnly(True)
        self.json_view.setMinimumHeight(220)
        self.json_view.setVisible(False)
        self.json_toggle.toggled.connect(self._fold_json)
        inner = QWidget()
        inner_box = QVBoxLayout(inner)
        inner_box.setContentsMargins(0, 0, 6, 0)
        inner_box.addWidget(self.settings)
        inner_box.addWidget(self.json_toggle, 0, Qt.AlignmentFlag.AlignLeft)
        inner_box.addWidget(self.json_view)
        inner_box.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("settings_scroll")
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.memory_label = QLabel("memory: checking…")
        self.memory_label.setObjectName("memory_estimate")
        self.memory_label.setWordWrap(True)
        self.memory_label.setToolTip("Estimated training memory at this batch size (weights, gradients, "
                                     "optimizer state, activations) against the free memory of the device")
        self.problem_label = QLabel("")
        self.problem_label.setObjectName("launch_problem")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.launch_button = QPushButton("Launch")
        self.launch_button.setObjectName("launch_button")
        self.launch_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MediaPlay))
        self.launch_button.setToolTip("Train the current spec in a worker process (Ctrl+Enter)")
        self.launch_button.setMinimumHeight(32)
        self.launch_button.clicked.connect(self.launch)
        hint = QLabel("Ctrl+Enter")
        hint.setEnabled(False)
        self.run_on = RunOnChooser()
        self.run_on.set_devices(self.settings.device_entries(), self.state.spec.training.device)
        self.run_on.device_chosen.connect(self.settings.select_device)
        launch_row = QHBoxLayout()
        launch_row.addWidget(self.launch_button, 1)
        launch_row.addWidget(hint)
        self.sweeps = SweepSetup(self)  # "Sweep this…" on the settings, the Sweep… dialog, launching
        launch_row.addWidget(self.sweeps.button)

        self._left = QWidget()
        # As wide as the forms need: the scroll area only scrolls vertically.
        bar = scroll.verticalScrollBar().sizeHint().width()
        self._left.setMinimumWidth(max(330, inner.minimumSizeHint().width() + bar + 4))
        left = QVBoxLayout(self._left)
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(scroll, 1)
        left.addWidget(self.memory_label)
        left.addWidget(self.problem_label)
        left.addWidget(self.run_on)
        self.probes = ProbeButtons(self)  # "LR finder…" and "Check before training…", each in its own process
        left.addLayout(self.probes.row)
        self.distill = DistillSetup(self)  # "Distill from…": training.distill's teacher, T and alpha
        self.distill.changed.connect(self._set_distill)
        left.addLayout(self.distill.row)
        left.addLayout(launch_row)

    def _build_right(self, sampler: Any) -> None:
        self.live = LiveView()
        self.strip = SystemStrip.from_sampler(sampler)
        self.strip.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        if self.strip.collector is not None:
            self.strip.collector.collected.connect(self._on_system)
        self.runs = RunList()
        runs_title = QLabel("<b>Runs</b>")
        runs_box = QWidget()
        rb = QVBoxLayout(runs_box)
        rb.setContentsMargins(0, 0, 0, 0)
        rb.setSpacing(2)
        rb.addWidget(runs_title)
        rb.addWidget(self.runs, 1)
        self.log = LogPane(self._log_file)
        top = QWidget()
        tb = QVBoxLayout(top)
        tb.setContentsMargins(0, 0, 0, 0)
        tb.addWidget(self.live, 1)
        tb.addWidget(self.strip)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(runs_box)
        split.addWidget(self.log)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 1)
        split.setSizes([560, 170, 130])
        split.setChildrenCollapsible(False)
        self._right = split

    def _fold_json(self, open_: bool) -> None:
        self.json_view.setVisible(open_)
        self.json_toggle.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)

    def _log_file(self, run_id: int):
        from engine.runner.paths import log_path

        return log_path(self.state.store_url, run_id)

    # --- the spec ------------------------------------------------------------------------------
    def _on_edited(self, data: dict) -> None:
        try:
            spec = parse_spec(data)
        except SpecError as e:
            self._form_error = "; ".join(e.errors)
            self.json_view.setPlainText(json.dumps(data, indent=2))
            self._update_launch()
            return
        self._form_error = None
        self.state.set_spec(spec)

    def _on_spec_changed(self, spec: Any) -> None:
        self._form_error = None
        self.settings.set_spec(spec)
        self.distill.show_spec(spec)
        self.run_on.show_device(spec.training.device)
        self.json_view.setPlainText(spec.to_json())
        self._summary, self._model_error = None, None
        self._model_check.request(spec)
        self._update_launch()

    def _set_distill(self, distill: Any) -> None:
        training = {**self.state.spec.training.model_dump(mode="json"),
                    "distill": distill.model_dump() if distill is not None else None}
        self.state.set_spec(self.state.spec.copy_with(training=training))

    def _on_summary(self, result: Any) -> None:
        self._summary = result.summary
        if result.error:
            self._model_error = result.error
        elif result.summary is not None and result.summary.errors:
            self._model_error = "; ".join(result.summary.errors)
        else:
            self._model_error = None
        self._update_launch()

    def _on_system(self, result: Any) -> None:
        gpus, samples = result
        if [g.index for g in gpus] != sorted(self.settings.gpu_names()) or not self.memory.known:
            self.settings.set_devices(gpus)
            self.run_on.set_devices(self.settings.device_entries(), self.state.spec.training.device)
        self.memory.update(gpus, samples)
        self._update_launch()

    def problem(self) -> Optional[str]:
        """Why the current spec cannot be launched, in words (None: it can)."""
        if self._form_error:
            return f"Fix the settings first: {self._form_error}"
        if self._model_error:
            return f"The model cannot train: {self._model_error}. Fix it on the Build page."
        return None

    def _update_launch(self) -> None:
        problem = self.problem()
        checking = problem is None and self._summary is None
        self.launch_button.setEnabled(problem is None and not checking)
        self.probes.set_enabled(problem is None)
        if problem:
            self.problem_label.setText(f"<span style='color:{ERROR_COLOUR}'>{problem}</span>")
        elif checking:
            self.problem_label.setText("Checking the model…")
        else:
            self.problem_label.setText("")
        self.problem_label.setVisible(bool(self.problem_label.text()))
        if self._summary is None or self._model_error:
            self.memory_label.setText("memory: " + ("—" if self._model_error else "checking…"))
            return
        spec = self.state.spec
        fit = self.memory.fit(self._summary.memory_bytes, spec.training.device, process_count(spec))
        text, level = describe_fit(fit)
        colour = {"ok": OK_COLOUR, "warn": WARN_COLOUR}.get(level)
        self.memory_label.setText(f"<span style='color:{colour}'>{text}</span>" if colour else text)

    # --- launching and commands ---------------------------------------------------------------
    def launch(self) -> Optional[int]:
        """Submit the current spec; returns its run id, or None (the page says why)."""
        if not self.launch_button.isEnabled():
            why = self.problem() or "the model is still being checked; try again in a moment"
            self.state.status_message.emit(f"Cannot launch: {why}")
            return None
        spec = self.state.spec
        try:
            run_id = self.bridge.submit(spec, **launch_kwargs(self.run_on))
        except SpecError as e:
            self._form_error = "; ".join(e.errors)
            self._update_launch()
            return None
        except Exception as e:  # the queue could not start (store unreachable...): say it where it happened
            self.problem_label.setText(f"<span style='color:{ERROR_COLOUR}'>Could not launch: {e}</span>")
            self.problem_label.setVisible(True)
            return None
        if self.runs.row(run_id) is None:  # a runner that announces nothing (tests' fakes)
            self.runs.upsert(RunRow(run_id, spec.name, "queued", total_epochs=spec.training.epochs))
        self.runs.select(run_id)
        self.state.runs_changed.emit()
        self._announce()
        return run_id

    def _command(self, what: str, run_id: int) -> None:
        """Pause, resume or stop any listed run; the row changes when the worker
        has applied it (status / finished), or says at once why it cannot be."""
        row = self.runs.row(run_id)
        name = f" {row.name}" if row else ""
        problem = getattr(self.bridge, what)(run_id)
        if problem:
            self.runs.change(run_id, problem=problem)
            self.log.append(run_id, f"cannot {what}: {problem}")
            self.state.status_message.emit(f"Cannot {what} run #{run_id}: {problem}")
            return
        self.runs.change(run_id, problem=None, stopping=what == "stop")
        doing = {"pause": "Pausing", "resume": "Resuming", "stop": "Stopping"}[what]
        after = {"pause": ": it pauses after its batch",
                 "stop": ": it finishes its batch and saves a checkpoint"}.get(what, "")
        self.state.status_message.emit(f"{doing} run #{run_id}{name}{after}")

    def _can_stop(self, run_id: int) -> bool:
        row = self.runs.row(run_id)
        return row is not None and not row.stopping

    def stop_selected(self) -> None:
        """Run ▸ Stop: the selected run if it is active, else the newest active one."""
        active = [rid for rid in self.runs.active_ids() if self._can_stop(rid)]
        rid = self.runs.selected_id()
        target = rid if rid in active else (max(active) if active else None)
        if target is None:
            self.state.status_message.emit("Nothing to stop: no run is training")
            return
        self._command("stop", target)

    # --- bridge events --------------------------------------------------------------------------
    def _on_owned(self, e: Any) -> None:
        """A run joins the list: launched, resumed elsewhere in this window, or adopted."""
        old = self.runs.row(e.run_id)
        epoch = max(e.epoch, old.epoch if old else 0)
        self.runs.upsert(RunRow(e.run_id, e.name, e.status, epoch=epoch, total_epochs=e.total_epochs,
                                adopted=e.adopted))
        if e.adopted:
            self.log.append(e.run_id, f"following run #{e.run_id} {e.name} ({e.status}), started elsewhere")
        if self.runs.selected_id() is None:
            self.runs.select(e.run_id)
        self._announce()

    def _on_status(self, e: Any) -> None:
        self.runs.change(e.run_id, status=e.status)
        self._announce()

    def _on_started(self, e: Any) -> None:
        row = self.runs.row(e.run_id)
        # Training has begun; a run adopted while paused stays shown paused (its Status said so).
        status = row.status if row is not None and row.status == "paused" else "running"
        self.runs.change(e.run_id, status=status, total_epochs=e.total_epochs)
        if e.steps_per_epoch:  # unknown (0) for a run adopted from the store
            self.live.set_expected_steps(e.run_id, e.total_epochs * e.steps_per_epoch)
        steps = f" of {e.steps_per_epoch} steps" if e.steps_per_epoch else ""
        params = f"{e.num_params:,} parameters, " if e.num_params else ""
        where = f" on {e.device}" if e.device else ""
        self.log.append(e.run_id, f"started{where}: {params}{e.total_epochs} epochs{steps} (pid {e.pid})")
        self._announce()

    def _on_epoch(self, e: Any) -> None:
        self.runs.change(e.run_id, epoch=e.epoch, total_epochs=e.total_epochs, eta_s=e.eta_s)
        self._latest[e.run_id] = latest_text(e.epoch, e.total_epochs, e.metrics)
        if e.run_id == self.live.run_id:
            self.live.set_latest(self._latest[e.run_id])

    def _on_finished(self, e: Any) -> None:
        row = self.runs.change(e.run_id, status=e.status, error=e.error, eta_s=None, stopping=False, problem=None)
        name = row.name if row else ""
        if e.error:
            self.log.append(e.run_id, f"{e.status}: {e.error}")
        line = first_line(e.error)
        text = f"Run #{e.run_id} {name} {e.status}" + (f": {line}" if line else "")
        self._announce(text)
        self.notifier.notify(f"LayerDeck: run {e.status}", text, failed=e.status in ("failed", "crashed"))
        self.state.runs_changed.emit()

    def _announce(self, head: str = "") -> None:
        """The status bar's training summary, after `head` when given."""
        statuses = [self.runs.row(rid).status for rid in self.runs.active_ids()]  # type: ignore[union-attr]
        parts = [f"{statuses.count(s)} {s}" for s in ("running", "paused", "queued") if statuses.count(s)]
        tail = ", ".join(parts) or "nothing training"
        self.state.status_message.emit(f"{head} · {tail}" if head else tail)

    # --- selection and runs from the store ----------------------------------------------------------
    def _on_selected(self, run_id: int) -> None:
        row = self.runs.row(run_id)
        self.live.show_run(run_id, f"{row.name} #{run_id}" if row else f"#{run_id}")
        self.live.set_latest(self._latest.get(run_id, ""))
        self.log.show_run(run_id)
        self.state.set_selected_runs([run_id])

    # --- closing ---------------------------------------------------------------------------------
    def active_runs(self) -> list[int]:
        """Runs launched from this window that are queued or training."""
        return self.bridge.active_runs()

    def confirm_close(self) -> bool:
        """Ask what to do with active runs before the window closes; False: keep the window open.

        Stop: each run finishes its batch, saves a checkpoint and ends stopped.
        Keep: the runs go on in their worker processes (only offered when the
        runner can detach them); the next start shows them from the store.
        """
        active = self.active_runs()
        if not active:
            self.shutdown(stop_runs=True)
            return True
        choice = self._ask_close(len(active), self.bridge.can_detach())
        if choice == "cancel":
            return False
        self.state.status_message.emit(f"Stopping {len(active)} run(s); each saves a checkpoint…"
                                       if choice == "stop" else "Runs keep training in the background")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            self.shutdown(stop_runs=choice == "stop")
        finally:
            QApplication.restoreOverrideCursor()
        return True

    def _ask_close(self, count: int, can_keep: bool) -> str:
        """'stop', 'keep' or 'cancel' (a dialog; tests replace this method)."""
        return ask_close(self, count, can_keep)

    def shutdown(self, stop_runs: bool = True) -> None:
        """Stop timers and let go of the runs (stopping them, or leaving them to train on)."""
        self.strip.stop()
        self.live.stop()
        self.sweeps.shutdown()
        self.bridge.shutdown(stop_runs=stop_runs)
        # Background reads in flight would answer to deleted widgets.
        for wait in (self._model_check.wait, self.strip.collector.wait if self.strip.collector else None):
            if wait is not None:
                wait(5000)

