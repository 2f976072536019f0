"""`layerdeck --screenshots DIR`: render every page offscreen into DIR/<page>.png
from a demo store (the README's pictures), plus the Build page's extra views:
build.png (a template loaded), build_invalid.png (a block that does not fit),
build_branch.png (a branching model, app/build_screenshot.py).

It runs against a throw-away store and throw-away settings, never the user's.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QApplication

from app.pages import PAGES
from engine.status import ACTIVE

SIZE = (1280, 800)
# Used when resources/templates holds no CNN template yet.
FALLBACK_SPEC = {
    "name": "digits-cnn",
    "data": {"name": "digits"},
    "model": {"blocks": [
        {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
        {"type": "BatchNorm2d"},
        {"type": "ReLU"},
        {"type": "MaxPool2d", "kernel_size": 2},
        {"type": "Residual", "blocks": [
            {"type": "Conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1},
            {"type": "ReLU"}]},
        {"type": "Flatten"},
        {"type": "Dropout", "p": 0.2},
        {"type": "Linear", "out_features": 10},
    ]},
}


def settle(ms: int) -> None:
    """Let queued work, timers and repaints run for `ms` milliseconds."""
    app = QApplication.instance()
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def _wait_summary(page, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while page.summary_service.pending() and time.monotonic() < end:
        settle(20)


def _template_path() -> Path | None:
    from app.menus import templates

    found = templates()
    for title, path in found:
        if "cnn" in title.lower() and "digits" in (title + path.name).lower():
            return path
    return next((p for t, p in found if "cnn" in t.lower()), None)


def render_screenshots(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="layerdeck-shots-"))
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(work / "settings"))
    url = f"sqlite:///{work / 'demo.db'}"
    try:
        from engine.demo import create_demo_store
    except ImportError:
        print("engine.demo is missing: pages show an empty store", file=sys.stderr)
    else:
        create_demo_store(url)

    from app.main_window import MainWindow
    from app.state import AppState
    from engine.spec import parse_spec

    state = AppState(url)
    window = MainWindow(state)
    window.resize(*SIZE)
    window.show()
    window.probe_device()
    page = window.build_page

    template = _template_path()
    if template is None or not window.files.new_from_template(template):
        state.set_spec(parse_spec(FALLBACK_SPEC), dirty=False)
    page.select([(0,)])
    _wait_summary(page)
    settle(300)
    written = [_grab(window, out / "build.png")]

    # An invalid model: drop the Flatten, so the Linear after it gets a 4-D input.
    flatten = [i for i, b in enumerate(state.spec.model.blocks) if b.type == "Flatten"]
    if flatten:
        page.select([(flatten[0],)])
        page.delete_selected()
    else:
        page.add_block("Conv2d")
    _wait_summary(page)
    page.select([(0,)])  # the marked row keeps its red text (a selected row would be drawn white)
    settle(300)
    written.append(_grab(window, out / "build_invalid.png"))
    page.undo_stack.undo()
    page.select([(0,)])
    _wait_summary(page)

    for entry in PAGES:
        if entry.key == "build":
            continue
        if entry.key == "monitor":
            # Filled just before its picture: samples taken between the fill and the grab
            # (the page re-reads its workers when runs change) would break the curves.
            _install_demo_monitor(window, state)
        window.show_page(entry.key)
        settle(1500)  # pages read the store and start their timers in the background
        if entry.key == "data":
            _wait(lambda: not window.page("data").loader.pending())
            settle(300)
        if entry.key == "train":
            written.append(_grab_train_mid_run(window, out / "train.png"))
            continue
        written.append(_grab(window, out / f"{entry.key}.png"))
        if entry.key == "runs":
            written.append(_grab_compare(window, out / "runs_compare.png"))
    state.set_dirty(False)  # nothing to ask about on close
    window.close()
    from app.sweep_screenshot import render_sweep_screenshot

    written.append(render_sweep_screenshot(out_dir))  # a store of its own: the pictures above stay as they were
    from app.build_screenshot import render_build_branch

    written.append(render_build_branch(out_dir))  # a branching model, in a wider window of its own
    from app.gallery_screenshot import render_distill, render_gallery

    written += [render_gallery(out_dir), render_distill(out_dir)]  # dialogs: the template gallery, Distill from…
    for path in written:
        print(path)
    return 0


def _wait(done, timeout_s: float = 60) -> None:
    end = time.monotonic() + timeout_s
    while not done() and time.monotonic() < end:
        settle(50)


def _grab_train_mid_run(window, path: Path) -> Path:
    """The Train page with a real run training: the digits CNN in a worker
    process on this machine, grabbed a few epochs in, then stopped (with its
    checkpoint) so nothing is left running."""
    page = window.page("train")
    state = window.state
    spec = state.spec.copy_with(name="digits-cnn-live",
                                training=state.spec.training.model_copy(update={"epochs": 60}))
    state.set_spec(spec, dirty=False)
    _wait(lambda: page.launch_button.isEnabled(), 120)
    run_id = page.launch()
    if run_id is not None:
        row = lambda: page.runs.row(run_id)  # noqa: E731
        _wait(lambda: row() is not None and (row().epoch >= 12 or row().status not in ("queued", "running")), 180)
        settle(500)  # a last redraw of the plots
    shot = _grab(window, path)
    if run_id is not None:
        page.bridge.stop(run_id)
        _wait(lambda: page.runs.row(run_id).status not in ACTIVE, 60)
    return shot


def _install_demo_monitor(window, state) -> None:
    """The Monitor page on two simulated GPUs (engine.monitor's FakeNvml), its
    charts filled with the last minute so the picture shows what a
    person sees after watching a while. The demo's running run is this
    process, so it shows up as a worker using GPU memory."""
    import os

    from app.pages.monitor.collect import backfill
    from app.pages.monitor.page import MonitorPage
    from engine.monitor import SystemSampler
    from engine.monitor.fake_nvml import FakeNvml

    sampler = SystemSampler(nvml=FakeNvml(processes={0: [(os.getpid(), 3174.0)]}))
    page = MonitorPage(state, sampler=sampler)
    page.background.stop()
    # One minute, sampled a tenth of a second apart: CPU percent over shorter
    # bursts reads 0 or 100 and would draw a comb, not what a person sees.
    page.window_combo.setCurrentIndex(page.window_combo.findData(60))
    for snap in backfill(page.collector, 60, pause=0.1):
        page.show_snapshot(snap)
    window.set_page("monitor", page)


def _grab_compare(window, path: Path) -> Path:
    """The Runs page with four completed demo runs selected side by side."""
    page = window.page("runs")
    _wait(lambda: page.model.rowCount() > 0, 30)
    runs = [r for r in state_runs(window.state.store_url) if r.status in ("completed", "stopped")][:4]
    done = []
    page.compare.charts_ready.connect(lambda: done.append(True))
    page.select_runs([r.id for r in runs])
    _wait(lambda: bool(done), 60)
    settle(500)
    return _grab(window, path)


def state_runs(url: str):
    from engine.store import RunStore

    with RunStore(url) as store:
        return store.list_runs()


def _grab(window, path: Path) -> Path:
    window.grab().save(str(path))
    return path
