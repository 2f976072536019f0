"""The Train page's "Run on" choice: clusters from the environment and the
user's list, their free resources read off the UI thread (a fake reader
here), and a launch on a cluster going through the bridge with its address."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings, Qt

from app.bridge import RunBridge
from app.pages.train import TrainPage
from app.pages.train.run_on import ADDRESS_ENV, RunOnChooser, configured_clusters
from app.state import AppState
from engine.monitor import SystemSampler
from engine.monitor.fake_nvml import FakeNvml
from tests.app.test_bridge import FakeRunner
from tests.app.test_train_page import digits_mlp, ready


def fake_info(address: str) -> dict[str, float]:
    if address.startswith("down"):
        raise ConnectionError(f"no Ray cluster answers at {address}")
    return {"GPU": 2.0, "CPU": 14.0}


@pytest.fixture
def settings(tmp_path):
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


def test_the_address_variable_is_the_engines():
    from engine.runner.ray_executor import ADDRESS_ENV as ENGINE_ENV

    assert ADDRESS_ENV == ENGINE_ENV


def test_clusters_from_the_environment_and_the_users_list_show_their_free_resources(qtbot, settings, monkeypatch):
    monkeypatch.setenv(ADDRESS_ENV, "head:6379")
    chooser = RunOnChooser(cluster_info=fake_info, settings=settings)
    qtbot.addWidget(chooser)
    assert chooser.cluster() is None and chooser.clusters() == ["head:6379"]
    def line(address):
        return chooser.combo.itemText(chooser.combo.findData(f"ray|{address}"))

    qtbot.waitUntil(lambda: "2 GPUs, 14 CPUs free" in line("head:6379"), timeout=10_000)

    chooser.add_cluster("down:6379")
    assert chooser.cluster() == "down:6379"
    qtbot.waitUntil(lambda: "unreachable: no Ray cluster answers" in line("down:6379"), timeout=10_000)
    assert configured_clusters(settings) == ["head:6379", "down:6379"]  # remembered, the variable's not stored twice
    chooser.add_cluster("down:6379")
    assert chooser.clusters() == ["head:6379", "down:6379"]


class ClusterRunner(FakeRunner):
    """A fake runner that records where each run was asked to go."""

    def __init__(self):
        super().__init__()
        self.places: list = []
        self.executors: list = []

    def add_executor(self, name, factory):
        self.executors.append(name)

    def submit(self, spec, *, name=None, parent_id=None, resume_from=None, on=None):
        self.places.append(on)
        return super().submit(spec, name=name, parent_id=parent_id, resume_from=resume_from)


def test_launching_on_a_cluster_goes_through_the_bridge_with_its_address(qtbot, db_url, settings):
    state = AppState(db_url, digits_mlp(epochs=3, device="cpu"))
    runner = ClusterRunner()
    page = TrainPage(state, bridge=RunBridge(db_url, runner=runner), sampler=SystemSampler(nvml=FakeNvml()))
    qtbot.addWidget(page)
    page.show()
    try:
        ready(qtbot, page)
        qtbot.mouseClick(page.launch_button, Qt.MouseButton.LeftButton)
        assert runner.places == [None] and runner.executors == []  # this machine: the runner's own
        page.run_on._info = fake_info
        page.run_on._settings = settings
        page.run_on.add_cluster("head:6379")
        qtbot.mouseClick(page.launch_button, Qt.MouseButton.LeftButton)
        assert runner.places == [None, "ray:head:6379"] and runner.executors == ["ray:head:6379"]
    finally:
        page.shutdown()


def test_a_cluster_run_on_a_sqlite_store_is_refused_before_any_row(db_url):
    from engine.runner import Runner
    from engine.runner.ray_executor import RemoteStoreError

    runner = Runner(db_url)
    bridge = RunBridge(db_url, runner=runner)
    try:
        with pytest.raises(RemoteStoreError, match="cannot be shared across machines"):
            bridge.submit(digits_mlp(epochs=1, device="cpu"), cluster="head:6379")
        assert runner.store.list_runs() == []
    finally:
        bridge.shutdown()


def test_run_on_lists_this_machines_devices_and_follows_the_specs_device(qtbot, tmp_path, settings):
    state = AppState(f"sqlite:///{tmp_path / 'runs.db'}", digits_mlp())
    sampler = SystemSampler(nvml=FakeNvml())  # two GPUs: an H100 and an RTX 4090
    page = TrainPage(state, bridge=RunBridge(state.store_url, runner=FakeRunner()), sampler=sampler)
    qtbot.addWidget(page)
    run_on = page.run_on
    qtbot.waitUntil(lambda: "cuda:1" in run_on.devices(), timeout=10_000)  # read from (fake) NVML
    assert run_on.devices()[:2] == ["auto", "cpu"] and run_on.cluster() is None
    labels = [run_on.combo.itemText(i) for i in range(run_on.combo.count())]
    assert any(t.startswith("This machine · cuda:0 — ") for t in labels)
    # Picking a device here is the spec's device; picking it in the settings moves "Run on".
    run_on.combo.setCurrentIndex(run_on.combo.findData("local|cuda:1"))
    assert state.spec.training.device == "cuda:1"
    page.settings.select_device("cpu")
    qtbot.waitUntil(lambda: run_on.device() == "cpu")
    assert state.spec.training.device == "cpu"
    # A cluster keeps its place when the device changes: the device then sets what the run asks of it.
    run_on.add_cluster("head:6379")
    page.settings.select_device("auto")
    assert run_on.cluster() == "head:6379" and state.spec.training.device == "auto"
