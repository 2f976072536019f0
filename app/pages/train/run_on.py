"""The Train page's "Run on" choice: this machine, or a Ray cluster.

Clusters come from LAYERDECK_RAY_ADDRESS and a list the user adds to (kept in
QSettings). Each shows its free GPUs and CPUs, read from Ray off the UI
thread (connecting to a cluster takes seconds). The page launches with
`bridge.submit(spec, cluster=chooser.cluster())`.
"""
from __future__ import annotations

import json
import os
from typing import Any, Callable, Optional

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QInputDialog, QLabel, QToolButton, QWidget

from app.background import Background

# engine.runner.ray_executor.ADDRESS_ENV (not imported: engine.runner loads torch; a test checks they agree)
ADDRESS_ENV = "LAYERDECK_RAY_ADDRESS"
SETTINGS_KEY = "clusters/ray_addresses"
THIS_MACHINE = "This machine"

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
    """A combo box of places to run and a button to add a cluster."""

    changed = Signal()  # the choice changed (or a cluster's line was refreshed)

    def __init__(self, parent: Optional[QWidget] = None, *, cluster_info: Optional[ClusterInfo] = None,
                 settings: Optional[QSettings] = None):
        """cluster_info(address) -> {"GPU": n, "CPU": n}, called off the UI thread (tests pass a fake)."""
        super().__init__(parent)
        self._info = cluster_info or engine_cluster_info
        self._settings = settings
        self._background = Background(self, threads=2, name="cluster-info")
        self.combo = QComboBox()
        self.combo.setObjectName("run_on")
        self.combo.setToolTip("Where the run trains: this machine (the spec's device), or a Ray cluster "
                              "(needs a PostgreSQL store every node reaches)")
        self.combo.addItem(f"{THIS_MACHINE} (the spec's device)", None)
        self.add_button = QToolButton()
        self.add_button.setObjectName("add_cluster")
        self.add_button.setText("Add cluster…")
        self.add_button.clicked.connect(self._ask_address)
        box = QHBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addWidget(QLabel("Run on"))
        box.addWidget(self.combo, 1)
        box.addWidget(self.add_button)
        self.combo.currentIndexChanged.connect(lambda *_: self.changed.emit())
        for address in configured_clusters(settings):
            self._add_item(address)

    def cluster(self) -> Optional[str]:
        """The chosen cluster's address, or None for this machine."""
        return self.combo.currentData()

    def clusters(self) -> list[str]:
        return [self.combo.itemData(i) for i in range(1, self.combo.count())]

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
        self.combo.setCurrentIndex(self.clusters().index(address) + 1)

    def refresh(self) -> None:
        """Read every cluster's free resources again."""
        for address in self.clusters():
            self._read(address)

    def _add_item(self, address: str) -> None:
        self.combo.addItem(f"Ray cluster {address} · checking…", address)
        self._read(address)

    def _read(self, address: str) -> None:
        info = self._info
        self._background.submit(lambda: info(address), lambda free: self._show(address, describe_free(free)),
                                lambda message, _trace: self._show(address, f"unreachable: {message}"))

    def _show(self, address: str, text: str) -> None:
        if address in self.clusters():
            self.combo.setItemText(self.clusters().index(address) + 1, f"Ray cluster {address} · {text}")
            self.changed.emit()

    def _ask_address(self) -> None:
        address, ok = QInputDialog.getText(self, "Add a Ray cluster", "The head node's address (host:6379):")
        if ok:
            self.add_cluster(address)


def launch_kwargs(chooser: Any) -> dict[str, Any]:
    """bridge.submit's keyword for the chosen place (none for this machine)."""
    cluster = chooser.cluster() if chooser is not None else None
    return {"cluster": cluster} if cluster else {}
