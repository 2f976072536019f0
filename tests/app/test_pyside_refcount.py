"""PySide6 6.12.0 on Python 3.11 drops a reference to None on every void Qt
call; pyqtgraph's painter paths then crash the process. This
fails on such a build, before any plot gets the chance to."""
from __future__ import annotations

import sys

from PySide6.QtGui import QPainterPath


def test_void_qt_calls_keep_none_refcount():
    path = QPainterPath()
    path.clear()  # warm any one-time caches
    before = sys.getrefcount(None)
    for _ in range(1000):
        path.clear()
    moved = sys.getrefcount(None) - before
    assert abs(moved) <= 5, (
        f"1,000 QPainterPath.clear() calls moved sys.getrefcount(None) by {moved}: this PySide6 "
        "leaks None references and will crash inside pyqtgraph; install PySide6-Essentials<6.12")
