"""Before the first QApplication: will Qt's xcb (X11) plugin load?

On a fresh Debian/Ubuntu desktop some X11 libraries the plugin links
against are not installed, and Qt then aborts with "could not load the Qt
platform plugin xcb", which names no package. This says which to install
instead. It imports no Qt, so it can run before anything else.
"""
from __future__ import annotations

import ctypes
import os
import sys
from pathlib import Path
from typing import Callable, Mapping

# What PySide6's libQt6XcbQpa / libqxcb link against outside the wheel, and the
# Debian/Ubuntu package that ships each (tests/app/test_platform_check.py
# compares this with the installed plugin's ldd).
XCB_LIBRARIES = {
    "libxcb.so.1": "libxcb1",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
}

Lookup = Callable[[str], bool]


def _bundled_dir() -> Path | None:
    """PySide6's own Qt/lib (found without importing PySide6, which costs start-up time)."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "Qt" / "lib"


def loadable(soname: str) -> bool:
    """True when the dynamic loader finds `soname` (as the Qt plugin's loader would)."""
    bundled = _bundled_dir()
    if bundled is not None and (bundled / soname).exists():
        return True
    try:
        ctypes.CDLL(soname)
    except OSError:
        return False
    return True


def uses_xcb(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """Whether Qt would pick the xcb plugin: Linux, a DISPLAY, and neither
    QT_QPA_PLATFORM nor a Wayland session choosing something else."""
    if not platform.startswith("linux") or not environ.get("DISPLAY"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").strip()
    if chosen:
        return chosen.split(";")[0].split(":")[0] == "xcb"
    return not (environ.get("WAYLAND_DISPLAY") and environ.get("XDG_SESSION_TYPE") == "wayland")


def missing_libraries(lookup: Lookup = loadable) -> list[str]:
    return [soname for soname in XCB_LIBRARIES if not lookup(soname)]


def xcb_problem(environ: Mapping[str, str] | None = None, lookup: Lookup = loadable,
                platform: str = sys.platform) -> str | None:
    """One line naming the packages to install when Qt's xcb plugin would fail to load; else None."""
    environ = os.environ if environ is None else environ
    if not uses_xcb(environ, platform):
        return None
    missing = missing_libraries(lookup)
    if not missing:
        return None
    packages = list(dict.fromkeys(XCB_LIBRARIES[s] for s in missing))
    return (f"layerdeck: Qt's X11 (xcb) plugin cannot load: {', '.join(missing)} not found; "
            f"install them with: sudo apt install {' '.join(packages)}")
