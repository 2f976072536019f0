"""The Train page's "Run on" choice: one of this machine's devices, or a Ray cluster.

This machine's devices (auto, cpu, each NVIDIA GPU by name) are the settings
form's device list, kept in step with it: choosing one here sets the spec's
training.device. Clusters come from LAYERDECK_RAY_ADDRESS and a list the user
adds to (kept in QSettings); each shows its free GPUs and CPUs, read from Ray
off the UI thread (connecting to a cluster takes seconds), and a run there
asks for the resources the spec's device names. The page launches with
`bridge.submit(spec, cluster=chooser.cluster())`.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QToolButton, QWidget

from app.background import Background

# engine.runner.ray_executor.ADDRESS_ENV (not imported: engine.runner loads torch; a test checks they agree)
ADDRESS_ENV = "LAYERDECK_RAY_ADDRESS"
SETTINGS_KEY = "clusters/ray_addresses"
THIS_MACHINE = "This machine"
LOCAL, CLUSTER = "local", "ray"  # item data: "local|<device>" or "ray|<address>" (findData compares strings)


def _data(kind: str, value: str) -> str:
    return f"{kind}|{value}"


def _parse(data: Any) -> tuple[str, str]:
    kind, _, value = str(data or f"{LOCAL}|").partition("|")
    return kind, value

ClusterInfo = Callable[[str], dict[str, float]]


def engine_cluster_info(address: str) -> dict[str, float]:
    from engine.runner.ray_executor import free_resources

    return free_resources(address)


def configured_clusters(settings: Optional[QSettings] = None) -> list[str]:
    """LAYERDECK_RAY_ADDRESS first, then the addresses the user added, each once."""
    saved = (settings or QSettings()).value(SETTINGS_KEY, "[]")
    try:
        added = [str(a) for a in json.loads(saved)] if isinstance(saved, str) else []
    except ValueError:
        added = []
    env = os.environ.get(ADDRESS_ENV, "").strip()
    return list(dict.fromkeys([a for a in [env, *added] if a]))


def describe_free(free: dict[str, float]) -> str:
    gpus, cpus = int(free.get("GPU", 0)), int(free.get("CPU", 0))
    return f"{gpus} GPU{'s' if gpus != 1 else ''}, {cpus} CPU{'s' if cpus != 1 else ''} free"


class RunOnChooser(QWidget):
    """A combo box of places to run (this machine's devices, then clusters) and a button to add a cluster."""

    changed = Signal()  # the choice changed (or a cluster's line was refreshed)
    device_chosen = Signal(str)  # the user picked one of this machine's devices

    def __init__(self, parent: Optional[QWidget] = None, *, cluster_info: Optional[ClusterInfo] = None,
                 settings: Optional[QSettings] = None):
        """cluster_info(address) -> {"GPU": n, "CPU": n}, called off the UI thread (tests pass a fake)."""
        super().__init__(parent)
        self._info = cluster_info or engine_cluster_info
        self._settings = settings
        self._background = Background(self, threads=2, name="cluster-info")
        self.combo = QComboBox()
        self.combo.setObjectName("run_on")
        self.combo.setToolTip("Where the run trains: one of this machine's devices, or a Ray cluster "
                              "(needs a PostgreSQL store every node reaches; the run asks it for the "
                              "resources the spec's device names)")
        self.add_button = QToolButton()
        self.add_button.setObjectName("add_cluster")
        self.add_button.setText("+")
        self.add_button.setToolTip("Add a Ray cluster: its head node's address (host:6379)")
        # The closed box shows what fits; its list is as wide as its longest line.
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(16)
        self.add_button.clicked.connect(self._ask_address)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Run on"))
        box.addWidget(self.combo, 1)
        box.addWidget(self.add_button)
        self.set_devices([("auto", "auto"), ("cpu", "cpu")])
        self.combo.currentIndexChanged.connect(self._on_index)
        for address in configured_clusters(settings):
            self._add_item(address)

    # --- what is chosen ---------------------------------------------------------------------
    def cluster(self) -> Optional[str]:
        """The chosen cluster's address, or None for this machine."""
        kind, value = _parse(self.combo.currentData())
        return value if kind == CLUSTER else None

    def device(self) -> Optional[str]:
        """The chosen device of this machine, or None when a cluster is chosen."""
        kind, value = _parse(self.combo.currentData())
        return value if kind == LOCAL else None

    def clusters(self) -> list[str]:
        return [d[1] for d in self._items() if d[0] == CLUSTER]

    def devices(self) -> list[str]:
        return [d[1] for d in self._items() if d[0] == LOCAL]

    def _items(self) -> list[tuple[str, str]]:
        return [_parse(self.combo.itemData(i)) for i in range(self.combo.count())]

    # --- this machine -------------------------------------------------------------------------
    def set_devices(self, entries: list[tuple[str, str]], current: Optional[str] = None) -> None:
        """This machine's devices as (label, device) pairs (the settings form's list),
        `current` chosen unless a cluster is."""
        keep_cluster = self.cluster()
        chosen = current or self.device()
        self.combo.blockSignals(True)
        for i in reversed(range(self.combo.count())):
            if _parse(self.combo.itemData(i))[0] == LOCAL:
                self.combo.removeItem(i)
        for i, (label, device) in enumerate(entries):
            short = label.replace(" (no NVIDIA GPU found)", "")  # the settings form says it; here it clips
            self.combo.insertItem(i, f"{THIS_MACHINE} · {short}", _data(LOCAL, device))
            self.combo.setItemData(i, f"{THIS_MACHINE} · {label}", Qt.ItemDataRole.ToolTipRole)
        if keep_cluster is None:
            self._select((LOCAL, chosen or (entries[0][1] if entries else "auto")))
        self.combo.blockSignals(False)

    def show_device(self, device: str) -> None:
        """The spec's device changed elsewhere: follow it, unless a cluster is chosen."""
        if self.cluster() is None and self.device() != device:
            self.combo.blockSignals(True)
            self._select((LOCAL, device))
            self.combo.blockSignals(False)
            self.changed.emit()

    def _select(self, choice: tuple[str, str]) -> None:
        data = _data(*choice)
        i = self.combo.findData(data)
        if i < 0 and choice[0] == LOCAL:  # a spec from another machine: the settings form says it is missing
            self.combo.insertItem(len(self.devices()), f"{THIS_MACHINE} · {choice[1]} (not found here)", data)
            i = self.combo.findData(data)
        self.combo.setCurrentIndex(max(i, 0))

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self._fit_popup()
        super().showEvent(event)

    def _fit_popup(self) -> None:
        view = self.combo.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + 24)

    def _on_index(self, *_: Any) -> None:
        device = self.device()
        if device is not None:
            self.device_chosen.emit(device)
        self.changed.emit()

    # --- clusters -------------------------------------------------------------------------------
    def add_cluster(self, address: str) -> None:
        """Remember `address` (QSettings), list it and choose it."""
        address = address.strip()
        if not address:
            return
        if address not in self.clusters():
            settings = self._settings or QSettings()
            saved = [a for a in configured_clusters(settings) if a != os.environ.get(ADDRESS_ENV, "").strip()]
            settings.setValue(SETTINGS_KEY, json.dumps([*saved, address]))
            self._add_item(address)
        self._select((CLUSTER, address))

    def refresh(self) -> None:
        """Read every cluster's free resources again."""
        for address in self.clusters():
            self._read(address)

    def _add_item(self, address: str) -> None:
        self.combo.addItem(f"Ray cluster {address} · checking…", _data(CLUSTER, address))
        self._read(address)

    def _read(self, address: str) -> None:
        info = self._info
        self._background.submit(lambda: info(address), lambda free: self._show(address, describe_free(free)),
                                lambda message, _trace: self._show(address, f"unreachable: {message}"))

    def _show(self, address: str, text: str) -> None:
        i = self.combo.findData(_data(CLUSTER, address))
        if i >= 0:
            self.combo.setItemText(i, f"Ray cluster {address} · {text}")
            self.combo.setItemData(i, f"Ray cluster {address} · {text}", Qt.ItemDataRole.ToolTipRole)
            self._fit_popup()
            self.changed.emit()

    def _ask_address(self) -> None:
        address, ok = QInputDialog.getText(self, "Add a Ray cluster", "The head node's address (host:6379):")
        if ok:
            self.add_cluster(address)


def launch_kwargs(chooser: Any) -> dict[str, Any]:
    """bridge.submit's keyword for the chosen place (none for this machine)."""
    cluster = chooser.cluster() if chooser is not None else None
    return {"cluster": cluster} if cluster else {}
