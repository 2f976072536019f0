"""The main window: pages, menus and shortcuts, files, status bar, settings,
start-up before torch, and the screenshot script."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget

from app.main_window import MainWindow
from app.menus import templates
from app.pages import PAGES, PageEntry
from app.settings import Settings
from app.state import AppState
from engine.spec import parse_spec

SPEC = {"name": "digits-cnn", "data": {"name": "digits"}, "model": {"blocks": [
    {"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
    {"type": "ReLU"},
    {"type": "Residual", "blocks": [{"type": "Conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}]},
    {"type": "Flatten"},
    {"type": "Linear", "out_features": 10},
]}}


class StandInPage(QWidget):
    """Other engineers' pages are tested on their own; the shell is tested with these."""

    def __init__(self, state):
        super().__init__()
        self.state = state


STAND_INS = [e if e.key == "build" else PageEntry(e.key, e.title, "tests.app.test_shell:StandInPage", e.about, e.icon)
             for e in PAGES]


@pytest.fixture
def window(qtbot, db_url, monkeypatch):
    monkeypatch.setattr("app.main_window.PAGES", STAND_INS)
    state = AppState(db_url)
    win = MainWindow(state)
    win.show()
    qtbot.waitExposed(win)
    yield win
    state.set_dirty(False)  # closing must not stop at the unsaved-changes prompt
    win.close()
    win.deleteLater()


def settle(qtbot, win):
    qtbot.waitUntil(lambda: not win.build_page.summary_service.pending(), timeout=60_000)


def test_sidebar_lists_every_page_and_shortcuts_switch(qtbot, window):
    assert [window.sidebar.item(i).text() for i in range(window.sidebar.count())] == [e.title for e in PAGES]
    assert window.stack.currentWidget().objectName() == "page_build"
    window.activateWindow()
    for i, entry in enumerate(PAGES):
        qtbot.keyClick(window, Qt.Key(Qt.Key_1 + i), Qt.ControlModifier)
        assert window.stack.currentWidget().objectName() == f"page_{entry.key}"
        assert window.sidebar.currentRow() == i
        if entry.key != "build":
            assert isinstance(window.stack.currentWidget(), StandInPage)  # built from the registry
    window.state.page_requested.emit("build")
    assert window.stack.currentWidget() is window.build_page


def test_a_page_that_cannot_be_imported_says_so_and_the_window_lives_on(qtbot, window, monkeypatch):
    entry = PageEntry("later", "Later", "app.pages.not_there:LaterPage", "Charts.", "SP_FileIcon")
    from app.main_window import load_page

    page = load_page(entry, window.state)
    text = " ".join(label.text() for label in page.findChildren(QLabel))
    assert "This page could not be loaded (No module named 'app.pages.not_there')" in text
    assert page.objectName() == "page_later"


def test_status_bar_shows_file_device_and_store(qtbot, window):
    assert window.findChild(QLabel, "status_file").text() == "untitled"
    assert window.findChild(QLabel, "status_db").text() == "runs.db"
    window.probe_device()
    device = window.findChild(QLabel, "status_device")
    qtbot.waitUntil(lambda: device.text() != "looking for GPUs…", timeout=20_000)
    assert device.text() == "CPU only" or "NVIDIA" in device.text() or "GPU" in device.text()
    window.state.status_message.emit("1 running, 2 queued")
    assert window.findChild(QLabel, "status_training").text() == "1 running, 2 queued"
    assert "torch.cuda" not in sys.modules or not __import__("torch").cuda.is_initialized()


def test_save_then_open_round_trips_and_remembers_the_file(qtbot, window, tmp_path):
    state = window.state
    state.set_spec(parse_spec(SPEC))
    assert window.findChild(QLabel, "status_file").text() == "untitled*"
    path = tmp_path / "net.json"
    assert window.files.save_to(path)
    assert json.loads(path.read_text()) == state.spec.to_dict()
    assert window.findChild(QLabel, "status_file").text() == "net.json" and not state.dirty
    saved = state.spec.to_dict()
    assert window.files.new_spec()
    assert state.spec.model.blocks == [] and state.path is None
    assert window.files.open_path(path)
    assert state.spec.to_dict() == saved and state.path == str(path)
    assert Settings().recent_files()[0] == str(path)
    assert Settings().last_spec() == str(path)
    settle(qtbot, window)
    assert window.build_page.model.rowCount() == 5


def test_a_broken_file_is_reported_in_the_status_bar_not_a_dialog(qtbot, window, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "model": {"blocks": [{"type": "Conv3d"}]}}')
    assert not window.files.open_path(bad)
    assert "Conv3d" in window.statusBar().currentMessage()
    assert QApplication.activeModalWidget() is None


def test_dropping_a_json_file_on_the_window_opens_it(qtbot, window, tmp_path):
    path = tmp_path / "dropped.json"
    path.write_text(json.dumps(SPEC))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPoint(400, 300), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    window.dropEvent(event)
    assert window.state.path == str(path)
    assert window.state.spec.name == "digits-cnn"


def test_unsaved_changes_are_asked_about(qtbot, window, monkeypatch):
    window.state.set_spec(parse_spec(SPEC))
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.Cancel)
    assert not window.files.new_spec()
    assert window.state.spec.name == "digits-cnn"
    monkeypatch.setattr(QMessageBox, "exec", lambda self: QMessageBox.Discard)
    assert window.files.new_spec()
    assert window.state.spec.model.blocks == []


def test_new_from_each_template(qtbot, window):
    found = templates()
    if not found:
        pytest.skip("resources/templates has no templates yet")
    for title, path in found:
        assert window.files.new_from_template(path), title
        assert window.state.spec.model.blocks and window.state.path is None and not window.state.dirty


def test_export_as_python_writes_a_module_that_builds(qtbot, window, tmp_path):
    window.state.set_spec(parse_spec(SPEC))
    settle(qtbot, window)
    totals = window.build_page.totals.text()
    out = tmp_path / "net.py"
    assert window.files.export_to(out), window.statusBar().currentMessage()
    code = textwrap.dedent(f"""
        import importlib.util, torch
        spec = importlib.util.spec_from_file_location("net", {str(out)!r})
        mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
        net = mod.DigitsCnn()
        y = net(torch.zeros(2, 1, 8, 8))
        print(sum(p.numel() for p in net.parameters()), tuple(y.shape))
    """)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    count, shape = res.stdout.split(maxsplit=1)
    assert f"params {int(count):,}" in totals
    assert shape.strip() == "(2, 10)"


def test_run_menu_shortcuts_ask_the_train_page(qtbot, window):
    window.activateWindow()
    with qtbot.waitSignal(window.state.launch_requested, timeout=2000):
        qtbot.keyClick(window, Qt.Key_Return, Qt.ControlModifier)
    with qtbot.waitSignal(window.state.stop_requested, timeout=2000):
        window.stop_action.trigger()


def test_window_geometry_is_remembered(qtbot, db_url):
    first = MainWindow(AppState(db_url))
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # inside the offscreen screen (800 × 600)
    qtbot.waitUntil(lambda: first.width() == 700)
    first.close()
    second = MainWindow(AppState(db_url))
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 500)


def _isolated_env(tmp_path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_DATA_HOME=str(tmp_path / "data"),
               LAYERDECK_DB=f"sqlite:///{tmp_path / 'runs.db'}", QT_QPA_PLATFORM="offscreen")
    return env


def test_the_window_paints_before_torch_is_imported(tmp_path):
    env = _isolated_env(tmp_path)
    env["LAYERDECK_STARTUP_PROBE"] = "1"
    res = subprocess.run([sys.executable, "-m", "app"], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "first_paint" in res.stdout and "torch_loaded=False" in res.stdout


def test_screenshots_writes_every_page(tmp_path):
    out = tmp_path / "shots"
    res = subprocess.run([sys.executable, "-m", "app", "--screenshots", str(out)], env=_isolated_env(tmp_path),
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    names = {p.name for p in out.glob("*.png")}
    assert {"build.png", "build_invalid.png"} | {f"{e.key}.png" for e in PAGES} <= names
    assert all((out / n).stat().st_size > 10_000 for n in names)  # real pictures, not blanks


def test_plots_take_the_palette_colours(qtbot):
    import pyqtgraph as pg

    from app import theme

    theme.sync_pyqtgraph()
    background, foreground = theme.plot_colors()
    assert pg.getConfigOption("background") == background
    assert pg.getConfigOption("foreground") == foreground


def test_a_bad_store_url_is_one_line_not_a_traceback(capsys):
    from app.__main__ import main

    assert main(["--db", " "]) == 1
    err = capsys.readouterr().err
    assert err.startswith("layerdeck: --db:") and "Traceback" not in err


class ClosingTrainPage(StandInPage):
    """A Train page stand-in that records launches and answers the close question."""

    def __init__(self, state):
        super().__init__(state)
        self.launches = 0
        self.allow_close = False
        self.asked = 0
        state.launch_requested.connect(self._launch)

    def _launch(self):
        self.launches += 1

    def confirm_close(self) -> bool:
        self.asked += 1
        return self.allow_close


def test_run_launch_from_another_page_opens_the_train_page_and_launches(qtbot, db_url, monkeypatch):
    entries = [PageEntry(e.key, e.title, "tests.app.test_shell:ClosingTrainPage", e.about, e.icon)
               if e.key == "train" else e for e in STAND_INS]
    monkeypatch.setattr("app.main_window.PAGES", entries)
    state = AppState(db_url)
    win = MainWindow(state)
    qtbot.addWidget(win)
    win.show()
    assert win.current_page_key() == "build"
    win.launch_action.trigger()
    train = win.page("train")
    assert win.current_page_key() == "train"
    assert train.launches == 1

    # Runs active and the person cancels the close question: the window stays.
    train.allow_close = False
    assert not win.close()
    assert train.asked == 1 and win.isVisible()
    train.allow_close = True
    assert win.close()
