"""The Monitor page, driven through its widgets, with a fake NVML (two GPUs)
injected as the sampler's NVML module and a real SQLite run store."""
from __future__ import annotations

import os
import sys

import pytest
from PySide6.QtCore import Qt

from app.pages.monitor import MonitorPage
from app.state import AppState
from engine.monitor import NO_GPU_MESSAGE, SystemSampler
from engine.monitor.fake_nvml import FakeNvml

TICK_MS = 40
# Showing a top-level window on the offscreen platform warns about a window
# manager feature it lacks; nothing to do with this page.


def make_page(qtbot, db_url, nvml=None, **kw) -> MonitorPage:
    sampler = SystemSampler(nvml=nvml) if nvml is not None else None
    page = MonitorPage(AppState(db_url), sampler=sampler, interval_ms=TICK_MS, **kw)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    return page


def wait_samples(qtbot, page, n: int = 1) -> None:
    for _ in range(n):
        with qtbot.waitSignal(page.sampled, timeout=5000):
            pass


def test_two_fake_gpus_get_a_panel_each_with_their_names_and_current_values(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    wait_samples(qtbot, page, 2)
    assert [p.title.text() for p in page.gpu_panels] == [
        "GPU 0 · NVIDIA H100 80GB HBM3", "GPU 1 · NVIDIA GeForce RTX 4090"]
    assert not page.gpu_message.isVisible()
    for i, panel in enumerate(page.gpu_panels):
        last = {k.split("/")[1]: b.last for k, b in page.buffers.items() if k.startswith(f"gpu{i}/")}
        assert panel.util.text() == f"{last['util_percent']:.0f} %"
        assert panel.memory.text() == f"{last['mem_used_mb'] / 1024:.1f} / {last['mem_total_mb'] / 1024:.1f} GB"
        assert panel.temp.text() == f"{last['temp_c']:.0f} °C"
        assert panel.power.text() == f"{last['power_w']:.0f} / {last['power_limit_w']:.0f} W"
        assert panel.detail.text() == f"SM {last['sm_clock_mhz']:.0f} MHz"
    assert page.gpu_panels[1].memory.text().endswith("/ 24.0 GB")
    assert page.gpu_panels[0].power.text().endswith("/ 700 W")
    assert page.host_panel.cpu.text().endswith(" %")
    assert page.host_panel.ram.text().endswith(" GB")


def test_values_change_from_one_sample_to_the_next(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    wait_samples(qtbot, page)
    before = page.gpu_panels[0].util.text(), page.gpu_panels[0].memory.text()
    wait_samples(qtbot, page, 2)
    assert (page.gpu_panels[0].util.text(), page.gpu_panels[0].memory.text()) != before


def test_without_nvml_the_page_says_so_in_one_line_and_shows_cpu_and_ram(qtbot, db_url, monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # nvidia-ml-py missing: the page makes its own sampler
    page = make_page(qtbot, db_url)
    wait_samples(qtbot, page)
    assert page.gpu_message.isVisible() and page.gpu_message.text() == NO_GPU_MESSAGE
    assert page.gpu_panels == [] and not page.gpu_area.isVisible()
    assert page.host_panel.cpu.text().endswith(" %")
    assert page.host_panel.width() > 1000  # CPU and RAM fill the page


def test_an_nvml_error_mid_run_is_said_once_and_cpu_keeps_updating(qtbot, db_url):
    fake = FakeNvml()
    page = make_page(qtbot, db_url, fake)
    wait_samples(qtbot, page)
    fake.fail(15)
    wait_samples(qtbot, page, 2)
    assert "GPU is lost" in page.gpu_message.text() and page.gpu_message.isVisible()
    assert page.gpu_panels[0].util.text() == "—"  # no stale number once GPU figures stop
    cpu_points = len(page.buffers["cpu/percent"])
    wait_samples(qtbot, page)
    assert len(page.buffers["cpu/percent"]) == cpu_points + 1


def test_window_selector_sets_the_charts_x_range(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    wait_samples(qtbot, page)
    assert page.window_combo.currentText() == "Last 5 min"
    plots = [p for panel in [*page.gpu_panels, page.host_panel] for p in panel.plots]
    assert all(p.x_range()[0] == pytest.approx(-300, abs=1) for p in plots)
    page.window_combo.setCurrentIndex(page.window_combo.findText("Last 1 min"))
    assert all(p.x_range() == pytest.approx((-60, 0), abs=0.5) for p in plots)
    page.window_combo.setCurrentIndex(page.window_combo.findText("Last 15 min"))
    assert all(p.x_range()[0] == pytest.approx(-900, abs=2) for p in plots)


def test_window_choice_is_remembered(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    page.window_combo.setCurrentIndex(page.window_combo.findText("Last 15 min"))
    again = make_page(qtbot, db_url, FakeNvml())
    assert again.window_combo.currentText() == "Last 15 min"


def test_pause_freezes_the_view_and_resume_continues(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    wait_samples(qtbot, page, 2)
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert page.pause_button.text() == "Resume" and page.paused_label.text() == "View paused"
    frozen = len(page.buffers["gpu0/util_percent"]), page.gpu_panels[0].util.text()
    wait_samples(qtbot, page, 3)
    assert (len(page.buffers["gpu0/util_percent"]), page.gpu_panels[0].util.text()) == frozen
    qtbot.mouseClick(page.pause_button, Qt.MouseButton.LeftButton)
    assert page.pause_button.text() == "Pause"
    wait_samples(qtbot, page)
    assert len(page.buffers["gpu0/util_percent"]) > frozen[0]


def test_workers_table_lists_a_running_run_with_its_memory(qtbot, db_url):
    from engine.store import RunStore

    me = os.getpid()
    with RunStore(db_url) as store:
        run_id = store.create_run({"name": "digits-cnn"}, status="running")
        store.set_status(run_id, "running", pid=me, device="cuda:0")
        store.create_run({"name": "finished-one"}, status="completed")
    page = make_page(qtbot, db_url, FakeNvml(processes={0: [(me, 3174.0)]}))
    qtbot.waitUntil(lambda: page.workers.table.rowCount() == 1, timeout=5000)
    [row] = page.workers.rows_text()
    assert row[0] == f"digits-cnn #{run_id}"  # engine.labels.run_label, as in every list
    assert row[1:3] == ["cuda:0", "3.1 GB"]
    assert row[3].endswith(("MB", "GB")) and row[4] == "running"
    assert page.workers.currentWidget() is page.workers.table


def test_workers_area_says_what_to_do_when_nothing_trains(qtbot, db_url):
    page = make_page(qtbot, db_url, FakeNvml())
    wait_samples(qtbot, page)
    assert page.workers.currentWidget() is page.workers.empty
    assert "Launch one on the Train page" in page.workers.empty.text()


def test_sampling_for_the_page_never_imports_torch(db_url):
    # GPU facts in the GUI come from NVML only: torch (and so CUDA) stays out.
    import subprocess

    code = ("import sys\n"
            "from app.pages.monitor.collect import MonitorCollector\n"
            "from app.widgets.system_strip import SystemStrip\n"
            f"snap = MonitorCollector({db_url!r})()\n"
            "assert 'cpu/percent' in snap.samples and snap.workers == []\n"
            "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
