"""Before Qt's xcb plugin fails with a message that names no package,
LayerDeck names the Debian packages to install, in one line, and exits 1."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

import app.__main__ as gui
from app import platform_check
from app.platform_check import XCB_LIBRARIES, uses_xcb, xcb_problem

X11 = {"DISPLAY": ":0"}


def lacking(*sonames: str):
    """A library lookup that finds everything but `sonames`."""
    return lambda soname: soname not in sonames


@pytest.mark.parametrize("environ, platform, expected", [
    ({"DISPLAY": ":0"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb:nomitshm"}, "linux", True),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"DISPLAY": ":0", "QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0", "XDG_SESSION_TYPE": "x11"}, "linux", True),
    ({}, "linux", False),
    ({"DISPLAY": ":0"}, "darwin", False),
    ({"DISPLAY": ":0"}, "win32", False),
])
def test_only_an_x11_start_on_linux_uses_the_xcb_plugin(environ, platform, expected):
    assert uses_xcb(environ, platform) is expected


def test_missing_libraries_are_named_with_the_packages_to_install():
    problem = xcb_problem(X11, lacking("libxcb-cursor.so.0", "libxcb-icccm.so.4"), "linux")
    assert problem == ("layerdeck: Qt's X11 (xcb) plugin cannot load: libxcb-cursor.so.0, libxcb-icccm.so.4 "
                       "not found; install them with: sudo apt install libxcb-cursor0 libxcb-icccm4")
    assert "\n" not in problem


def test_nothing_is_said_when_every_library_loads_or_xcb_is_not_used():
    assert xcb_problem(X11, lacking(), "linux") is None

    def refuse(soname: str) -> bool:
        raise AssertionError("no library is looked up when Qt will not use xcb")

    assert xcb_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, refuse, "linux") is None


def test_the_app_prints_one_line_and_exits_1_before_creating_a_qapplication(monkeypatch, capsys):
    class NoApp:
        @staticmethod
        def instance():
            return None

        def __init__(self, *_):
            raise AssertionError("no QApplication may be created when xcb cannot load")

    monkeypatch.setattr(gui, "QApplication", NoApp)
    monkeypatch.setattr(platform_check, "xcb_problem", lambda: xcb_problem(
        {"DISPLAY": ":0"}, lacking("libxcb-keysyms.so.1"), "linux"))
    assert gui.main([]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == ["layerdeck: Qt's X11 (xcb) plugin cannot load: libxcb-keysyms.so.1 not found; "
                   "install them with: sudo apt install libxcb-keysyms1"]


@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("ldd") is None, reason="needs ldd")
def test_the_table_covers_every_x11_library_the_installed_plugin_links():
    lib_dir = platform_check._bundled_dir()
    assert lib_dir is not None
    out = subprocess.run(["ldd", str(lib_dir / "libQt6XcbQpa.so.6")], capture_output=True, text=True,
                         timeout=60).stdout
    needed = {line.split()[0] for line in out.splitlines() if line.strip()}
    x11 = {n for n in needed if n.startswith(("libxcb", "libxkbcommon", "libX11-xcb"))}
    assert x11 and x11 <= set(XCB_LIBRARIES), sorted(x11 - set(XCB_LIBRARIES))
