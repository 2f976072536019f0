"""Colours follow the system: Qt's palette for widgets (light or dark as the
desktop says) and the same colours for pyqtgraph plots.

pyqtgraph is configured only once something imports it (the shell calls
`sync_pyqtgraph()` before loading a page), so start-up does not pay for it.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


def is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else Qt.ColorScheme.Unknown
    if scheme != Qt.ColorScheme.Unknown:
        return scheme == Qt.ColorScheme.Dark
    return QApplication.palette().color(QPalette.Window).lightness() < 128


def apply(app: QApplication) -> None:
    """Use Fusion (consistent on every platform, honours the palette) and follow scheme changes."""
    app.setStyle("Fusion")
    hints = QGuiApplication.styleHints()
    if hasattr(hints, "colorSchemeChanged"):
        hints.colorSchemeChanged.connect(lambda *_: _on_scheme_changed(app))


def _on_scheme_changed(app: QApplication) -> None:
    app.setPalette(app.style().standardPalette())
    if "pyqtgraph" in sys.modules:
        sync_pyqtgraph()


def plot_colors() -> tuple[str, str]:
    """(background, foreground) for plots, from the current palette."""
    pal = QApplication.palette()
    return pal.color(QPalette.Base).name(), pal.color(QPalette.Text).name()


def sync_pyqtgraph() -> None:
    """Give pyqtgraph the palette's colours (before a page creates its plots)."""
    import pyqtgraph as pg

    background, foreground = plot_colors()
    pg.setConfigOptions(background=background, foreground=foreground, antialias=True)
