"""The Train page's settings: optimizer, scheduler, regularization and
training forms, generated from the spec's pydantic models (SpecForm).

The optimizer's and the scheduler's forms swap with their type combo
(engine.spec OPTIMIZERS / SCHEDULERS). The device combo lists the devices
present: auto, cpu and each NVIDIA GPU by its NVML name (the GUI never
initializes CUDA). Beside it, "processes": 1 trains in one process, more
sets training.distributed (data parallel, its backend kept from the spec,
gloo by default). Every edit emits `edited(spec_dict)`: the whole spec as
a dict, not yet validated (the page validates it and says why when it is
not valid).
"""
from __future__ import annotations

from typing import Any, Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QVBoxLayout, QWidget

from app.widgets.spec_form import SpecForm, align_labels, guard_wheel
from engine.spec import OPTIMIZERS, SCHEDULERS, DistributedSpec, RegularizationSpec, RunSpec, TrainingSpec

_SECTIONS = ("data", "model", "optimizer", "scheduler", "regularization", "training")
OPTIMIZER_TIPS = {
    "SGD": "Stochastic gradient descent, with optional (Nesterov) momentum.",
    "Adam": "Adaptive moments; a robust default for most models.",
    "AdamW": "Adam with decoupled weight decay; the usual choice with weight decay.",
    "RMSprop": "Scales steps by a running mean of squared gradients; common for recurrent nets.",
    "Adagrad": "Per-parameter steps that shrink with accumulated gradients; suits sparse features.",
}
SCHEDULER_TIPS = {
    "none": "Keep the learning rate constant (after any warm-up).",
    "StepLR": "Multiply the learning rate by gamma every step_size epochs.",
    "MultiStepLR": "Multiply the learning rate by gamma at each milestone epoch.",
    "ExponentialLR": "Multiply the learning rate by gamma every epoch.",
    "CosineAnnealingLR": "Follow a cosine from the learning rate down to eta_min.",
    "OneCycleLR": "Rise to max_lr, then anneal far below the start (one cycle over the run).",
    "ReduceLROnPlateau": "Drop the learning rate when a metric stops improving.",
}


class _TypedSection(QGroupBox):
    """A type combo and the form of the chosen type (the optimizer, the scheduler)."""

    changed = Signal()

    def __init__(self, title: str, classes: dict[str, type], tips: dict[str, str], object_name: str):
        super().__init__(title)
        self.classes = classes
        self.combo = QComboBox()
        self.combo.setObjectName(object_name)
        guard_wheel(self.combo)
        for name in classes:
            self.combo.addItem(name, name)
            self.combo.setItemData(self.combo.count() - 1, tips.get(name, classes[name].__doc__ or name),
                                   Qt.ItemDataRole.ToolTipRole)
        self.combo.setToolTip(f"The {title.lower()}; its settings follow below")
        type_row = QFormLayout()
        type_row.setContentsMargins(0, 0, 0, 0)
        self.type_label = QLabel("type")
        self.type_label.setToolTip(self.combo.toolTip())
        type_row.addRow(self.type_label, self.combo)
        self._box = QVBoxLayout(self)
        self._box.setSpacing(4)
        self._box.addLayout(type_row)
        self.form: Optional[SpecForm] = None
        self._set_form(next(iter(classes)), {})
        self.combo.currentIndexChanged.connect(self._on_type)

    def _set_form(self, type_name: str, values: dict[str, Any]) -> None:
        if self.form is not None:
            self._box.removeWidget(self.form)
            self.form.hide()  # now: deleteLater waits for the event loop
            self.form.deleteLater()
        self.form = SpecForm(self.classes[type_name], values, exclude=("type",))
        self.form.changed.connect(lambda _v: self.changed.emit())
        self._box.addWidget(self.form)
        self.type_name = type_name

    def _on_type(self) -> None:
        name = self.combo.currentData()
        if name != self.type_name:
            self._set_form(name, {})  # the new type's defaults: its lr range differs (SGD 0.01, Adam 1e-3)
            self.changed.emit()

    def set_value(self, value: dict[str, Any]) -> None:
        name = value.get("type") or next(iter(self.classes))
        values = {k: v for k, v in value.items() if k != "type"}
        if name != self.type_name:
            self.combo.blockSignals(True)
            self.combo.setCurrentIndex(max(0, self.combo.findData(name)))
            self.combo.blockSignals(False)
            self._set_form(name, values)
            self.changed.emit()  # only realigns: the settings form is not emitting while it updates
        else:
            assert self.form is not None
            self.form.set_values(values)

    def value(self) -> dict[str, Any]:
        assert self.form is not None
        return {"type": self.type_name, **self.form.values()}


class SettingsForm(QWidget):
    edited = Signal(dict)
    """The user changed a setting (payload: the whole spec as a dict, not yet validated)."""

    def __init__(self, spec: RunSpec, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("train_settings")
        self._base = spec.to_dict()
        self._updating = False

        self.run_form = SpecForm(RunSpec, exclude=_SECTIONS)
        run_box = QGroupBox("Run")
        QVBoxLayout(run_box).addWidget(self.run_form)

        self.optimizer = _TypedSection("Optimizer", OPTIMIZERS, OPTIMIZER_TIPS, "optimizer_type")
        self.scheduler = _TypedSection("Scheduler", SCHEDULERS, SCHEDULER_TIPS, "scheduler_type")

        self.regularization = SpecForm(RegularizationSpec)
        reg_box = QGroupBox("Regularization")
        reg_layout = QVBoxLayout(reg_box)
        note = QLabel("Weight decay is set with the optimizer.")
        note.setObjectName("hint")
        note.setEnabled(False)  # drawn in the palette's muted colour
        reg_layout.addWidget(self.regularization)
        reg_layout.addWidget(note)

        # distill: set by the page's "Distill from…" picker (a run of the store, not a number to type).
        self.training = SpecForm(TrainingSpec, exclude=("device", "distributed", "distill"))
        self.device = QComboBox()
        self.device.setObjectName("device_combo")
        guard_wheel(self.device)
        self.device.setToolTip(TrainingSpec.model_fields["device"].description)
        train_box = QGroupBox("Training")
        train_layout = QVBoxLayout(train_box)
        device_row = QFormLayout()
        device_row.setContentsMargins(0, 0, 0, 0)
        self.device_label = device_label = QLabel("device")
        device_label.setToolTip(self.device.toolTip())
        device_row.addRow(device_label, self.device)
        self.processes = QSpinBox()
        self.processes.setObjectName("processes_spin")
        nproc = DistributedSpec.model_fields["nproc"]
        self.processes.setRange(1, max(m.le for m in nproc.metadata if getattr(m, "le", None) is not None))
        guard_wheel(self.processes)
        self.processes.setToolTip("1: one process. More: data-parallel training in that many processes on "
                                  "this machine (torchrun), each on batch_size / processes samples of every "
                                  "batch; the batch size stays the global one.")
        self.processes_label = QLabel("processes")
        self.processes_label.setToolTip(self.processes.toolTip())
        device_row.addRow(self.processes_label, self.processes)
        train_layout.addWidget(self.training)
        train_layout.addLayout(device_row)

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        for w in (run_box, self.optimizer, self.scheduler, reg_box, train_box):
            box.addWidget(w)
        box.addStretch(1)

        self._gpus: list[Any] = []
        self.set_devices([])
        for form in (self.run_form, self.regularization, self.training):
            form.changed.connect(self._emit)
        for section in (self.optimizer, self.scheduler):
            section.changed.connect(self._align)  # a new type brings a new form
            section.changed.connect(self._emit)
        self.device.currentIndexChanged.connect(self._emit)
        self.processes.valueChanged.connect(self._emit)
        self.set_spec(spec)
        self._align()

    def _align(self) -> None:
        labels = [*self.run_form.all_labels(), self.optimizer.type_label, self.scheduler.type_label,
                  *self.regularization.all_labels(), *self.training.all_labels(), self.device_label,
                  self.processes_label]
        for section in (self.optimizer, self.scheduler):
            if section.form is not None:
                labels += section.form.all_labels()
        align_labels(labels)

    # --- devices -------------------------------------------------------------------------
    def set_devices(self, gpus: list[Any]) -> None:
        """Fill the device combo: auto, cpu, then cuda:N — <NVML name> per GPU."""
        current = self.device.currentData() or self._base["training"]["device"]
        self._gpus = list(gpus)
        self.device.blockSignals(True)
        self.device.clear()
        auto = f"auto — {gpus[0].name}" if gpus else "auto — CPU (no NVIDIA GPU found)"
        self.device.addItem(auto, "auto")
        self.device.addItem("cpu", "cpu")
        for g in gpus:
            self.device.addItem(f"cuda:{g.index} — {g.name}", f"cuda:{g.index}")
        self._select_device(current)
        self.device.blockSignals(False)

    def _select_device(self, device: str) -> None:
        i = self.device.findData(device)
        if i < 0:  # a spec written on another machine: show it, say it is missing here
            self.device.addItem(f"{device} (not found on this machine)", device)
            i = self.device.count() - 1
        self.device.setCurrentIndex(i)

    def device_entries(self) -> list[tuple[str, str]]:
        """The device list as (label, device) pairs, for the Train page's "Run on"."""
        return [(self.device.itemText(i), self.device.itemData(i)) for i in range(self.device.count())]

    def select_device(self, device: str) -> None:
        """Choose `device` (the spec follows, as when the user picks it here)."""
        if self.device.currentData() != device:
            self._select_device(device)

    def gpu_names(self) -> dict[int, str]:
        return {g.index: g.name for g in self._gpus}

    # --- spec ------------------------------------------------------------------------------
    def set_spec(self, spec: RunSpec) -> None:
        """Show `spec` without emitting `edited` (the page calls it when state.spec changes)."""
        d = spec.to_dict()
        self._base = d
        self._updating = True
        try:
            self.run_form.set_values({"name": d["name"], "seed": d["seed"]})
            self.optimizer.set_value(d["optimizer"])
            self.scheduler.set_value(d["scheduler"])
            self.regularization.set_values(d["regularization"])
            self.training.set_values(d["training"])
            self.device.blockSignals(True)
            self._select_device(d["training"]["device"])
            self.device.blockSignals(False)
            self.processes.blockSignals(True)
            self.processes.setValue((d["training"].get("distributed") or {}).get("nproc", 1))
            self.processes.blockSignals(False)
        finally:
            self._updating = False

    def spec_dict(self) -> dict[str, Any]:
        """The spec as the form shows it (data and model from the last spec set)."""
        d = dict(self._base)
        d.update(self.run_form.values())
        d["optimizer"] = self.optimizer.value()
        d["scheduler"] = self.scheduler.value()
        d["regularization"] = self.regularization.values()
        d["training"] = {**self.training.values(), "device": self.device.currentData() or "auto",
                         "distributed": self._distributed(), "distill": self._base["training"].get("distill")}
        return d

    def _distributed(self) -> Optional[dict[str, Any]]:
        n = self.processes.value()
        if n <= 1:
            return None
        backend = (self._base["training"].get("distributed") or {}).get("backend", "gloo")
        return {"nproc": n, "backend": backend}

    def _emit(self, *_: Any) -> None:
        if not self._updating:
            self.edited.emit(self.spec_dict())
